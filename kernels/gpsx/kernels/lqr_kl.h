// The forward pass of one condition's KL-constrained LQR (lqr_problem.h): the Gaussian
// marginals of a controller through the fitted dynamics, the per-step KL to the anchor
// (clipped at 0), and the Laplace cost estimate.
//
//   kl_step      traj_distr_kl for any joint marginal (the reference's formula)
//   kl_step_alt  the same from the state marginal only; forward_kl uses it (cheaper)
//   forward_kl   marginals, KL and cost estimate over t = 0..T-1
//
// Products go through la::gemm_nn_fma and friends (fused multiply-adds where the target
// has them): golden KL values agree to ~1e-13 relative.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/linalg_fma.h"
#include "gpsx/kernels/lqr_problem.h"

namespace gpsx::lqr {

// Optional outputs of a forward pass (any field may be null).
template <class Real>
struct ForwardRecord {
  Real* mu;        // (T x n)      state-action marginal means
  Real* sigma;     // (T x n x n)  state-action marginal covariances
  Real* kl;        // (T)          per-step KL, clipped at 0
  Real* cost;      // (T)          Laplace cost estimate per step
};

// Elements of Real scratch a forward pass with KL needs.
GPS_HD inline std::size_t forward_scratch_size(const Dims& d) {
  const std::size_t X = d.dX, U = d.dU, n = d.n();
  const std::size_t kl = 3 * U * U + 2 * U * X + 2 * U + X * X;  // kl_step (covers kl_step_alt)
  return X * X + X                // state marginal
         + n * n + n              // state-action marginal
         + 3 * X * X + 2 * X * U  // closed-loop propagation
         + 2 * U * U              // anchor precision
         + kl;
}

// KL(new || anchor) of the action conditionals at one step, averaged over the joint
// marginal N(mu, sigma) of [x; u] (traj_distr_kl, pitfall 6): clipped at 0.
// Kn, kn, Cn: new gains and upper Cholesky factor; Ka, ka, Ca: anchor's.
// scratch: 3 U^2 + 2 U X + 2 U + X^2. *finite is set false when the value is not finite.
template <class Real>
GPS_HD Real kl_step(const Dims& d, const Real* mu, const Real* sigma, const Real* Kn,
                    const Real* kn, const Real* Cn, const Real* Ka, const Real* ka,
                    const Real* Ca, Real* scratch, bool* finite) {
  const int X = d.dX, U = d.dU, n = d.n(), uu = U * U;
  Real* Pn = scratch;
  Real* Pa = Pn + uu;
  Real* tmp = Pa + uu;
  Real* Gn = tmp + uu;
  Real* Ga = Gn + U * X;
  Real* gn = Ga + U * X;
  Real* ga = gn + U;
  Real* D = ga + U;  // (X x X)
  precision_from_upper_cholesky(U, Cn, Pn, tmp);
  precision_from_upper_cholesky(U, Ca, Pa, tmp);
  la::gemm_nn_fma_set(U, X, U, Real(1), Pn, U, Kn, X, Gn, X);
  la::gemm_nn_fma_set(U, X, U, Real(1), Pa, U, Ka, X, Ga, X);
  la::gemv(false, U, U, Real(1), Pn, U, kn, Real(0), gn);
  la::gemv(false, U, U, Real(1), Pa, U, ka, Real(0), ga);

  // quad = sum_ij (sigma + mu mu^T)_ij dM_ij with dM = M_new - M_anchor,
  // M = [[K^T P K, -K^T P], [-P K, P]]; lin = mu . (v_new - v_anchor), v = [K^T P k; -P k].
  la::gemm_tn_fma_set(X, X, U, Real(1), Kn, X, Gn, X, D, X);  // D = dM_xx
  la::gemm_tn_fma(X, X, U, Real(-1), Ka, X, Ga, X, D, X, false);
  Real quad = Real(0), lin = Real(0);
  for (int i = 0; i < X; ++i) {
    const Real* Si = sigma + i * n;
    const Real* Di = D + i * X;
    quad += la::dot_split4(X, Di, Si) + mu[i] * la::dot_split4(X, Di, mu);
    for (int b = 0; b < U; ++b) {
      const Real dm = -(Gn[b * X + i] - Ga[b * X + i]);
      quad += dm * (sigma[i * n + X + b] + sigma[(X + b) * n + i] + Real(2) * mu[i] * mu[X + b]);
    }
    Real dv = Real(0);
    for (int a = 0; a < U; ++a) dv += Kn[a * X + i] * gn[a] - Ka[a * X + i] * ga[a];
    lin += mu[i] * dv;
  }
  for (int a = 0; a < U; ++a) {
    for (int b = 0; b < U; ++b)
      quad += (Pn[a * U + b] - Pa[a * U + b]) *
              (sigma[(X + a) * n + X + b] + mu[X + a] * mu[X + b]);
    lin -= mu[X + a] * (gn[a] - ga[a]);
  }
  const Real c_new = Real(0.5) * la::dot(U, kn, gn);
  const Real c_anchor = Real(0.5) * la::dot(U, ka, ga);
  const Real kl = Real(-0.5) * quad - lin - c_new + c_anchor -
                  Real(0.5) * la::cholesky_logdet(U, Cn, U) +  // same diagonal as the lower factor
                  Real(0.5) * la::cholesky_logdet(U, Ca, U);
  if (!is_finite(kl)) *finite = false;
  return clip_below(kl, Real(0));
}

// The same KL from the state marginal only (traj_distr_kl_alt): mu_x (X), sigma_x (X x X)
// with row stride lds; equal to kl_step when the joint marginal is the new controller's.
// Needs the new covariance and the anchor's precision P_a. With dK = Ka - Kn,
// dk = ka - kn, r = dK x + dk:
//   2 KL = logdet_a - logdet_n - U + tr(P_a cov_n) + E[r^T P_a r],
//   E[r^T P_a r] = dk^T P_a dk + mu^T dK^T P_a dK mu + tr(dK^T P_a dK sigma) + 2 dk^T P_a dK mu.
// scratch: 3 U X + 2 U. Clipped at 0.
template <class Real>
GPS_HD Real kl_step_alt(const Dims& d, const Real* mu_x, const Real* sigma_x, int lds,
                        const Real* Kn, const Real* kn, const Real* cov_n, const Real* Cn,
                        const Real* Ka, const Real* ka, const Real* Ca, const Real* inv_a,
                        Real* scratch, bool* finite) {
  const int X = d.dX, U = d.dU;
  Real* dK = scratch;     // (U x X)
  Real* r = dK + U * X;   // (U x X) P_a dK
  Real* dk = r + U * X;   // (U)
  Real* s = dk + U;       // (U) P_a dk
  Real* Y = s + U;        // (U x X) rows (P_a dK)_a sigma
  for (int i = 0; i < U * X; ++i) dK[i] = Ka[i] - Kn[i];
  for (int a = 0; a < U; ++a) dk[a] = ka[a] - kn[a];
  la::gemm_nn_fma_set(U, X, U, Real(1), inv_a, U, dK, X, r, X);
  la::gemv(false, U, U, Real(1), inv_a, U, dk, Real(0), s);
  Real tr = Real(0);
  for (int a = 0; a < U; ++a)
    for (int b = 0; b < U; ++b) tr += inv_a[a * U + b] * cov_n[b * U + a];
  la::gemm_nn_fma_set(U, X, X, Real(1), r, X, sigma_x, lds, Y, X);  // sigma symmetric
  Real quad = la::dot(U, dk, s);
  for (int a = 0; a < U; ++a) {
    const Real* dKa = dK + a * X;
    const Real PdKmu = la::dot_split4(X, r + a * X, mu_x);
    quad += la::dot_split4(X, dKa, mu_x) * PdKmu + Real(2) * dk[a] * PdKmu + la::dot_split4(X, dKa, Y + a * X);
  }
  const Real kl = Real(0.5) * (la::cholesky_logdet(U, Ca, U) - la::cholesky_logdet(U, Cn, U) -
                               Real(U) + tr + quad);
  if (!is_finite(kl)) *finite = false;
  return clip_below(kl, Real(0));
}

// Expected cost at one step under N(mu, sigma) (the reference's estimate_cost term).
template <class Real>
GPS_HD Real expected_cost_step(int n, const Real* mu, const Real* sigma, const Real* C,
                               const Real* c, Real cc) {
  Real tr = Real(0), quad = Real(0);
  for (int i = 0; i < n; ++i) {
    Real row = Real(0);
    for (int j = 0; j < n; ++j) {
      tr += sigma[i * n + j] * C[i * n + j];
      row += C[i * n + j] * mu[j];
    }
    quad += mu[i] * row;
  }
  return cc + Real(0.5) * tr + Real(0.5) * quad + la::dot(n, mu, c);
}

// Forward pass of the controller through the fitted dynamics (state-action marginals),
// with the per-step KL to `anchor` (when anchor.K is non-null) and the Laplace cost
// estimate. Returns the summed (clipped) KL. scratch: forward_scratch_size. before_step:
// as backward_sweep's (x0mu, x0sigma are read before step 0's call).
template <class Real, class StepHook = NoStepHook>
GPS_HD Real forward_kl(const Dims& d, const TrajInfo<Real>& info, const ControllerView<Real>& ctrl,
                       const ControllerView<Real>& anchor, const ForwardRecord<Real>& rec,
                       Real* scratch, bool* finite, const StepHook& before_step = StepHook()) {
  const int X = d.dX, U = d.dU, n = d.n(), uu = U * U;
  Real* Sxx = scratch;       // (X x X)
  Real* mx = Sxx + X * X;    // (X)
  Real* S = mx + X;          // (n x n)
  Real* m = S + n * n;       // (n)
  Real* Acl = m + n;         // (X x X) closed-loop dynamics
  Real* AclT = Acl + X * X;  // (X x X)
  Real* AS = AclT + X * X;   // (X x X) Acl Sxx
  Real* BP = AS + X * X;     // (X x U) B pol_covar
  Real* Bt = BP + X * U;     // (U x X)
  Real* P = Bt + U * X;      // (U x U) anchor precision
  Real* Ptmp = P + uu;       // (U x U)
  Real* kl_scratch = Ptmp + uu;
  la::copy(X, X, info.x0sigma, X, Sxx, X);
  la::copy(1, X, info.x0mu, X, mx, X);
  Real total = Real(0);
  const bool joint = rec.mu || rec.sigma || rec.cost;
  for (int t = 0; t < d.T; ++t) {
    before_step(t);
    const Real* K = ctrl.K + t * U * X;
    // mu = [mx; K mx + k] (the propagation reads mx from m)
    la::copy(1, X, mx, X, m, X);
    for (int a = 0; a < U; ++a) m[X + a] = ctrl.k[t * U + a];
    la::gemv(false, U, X, Real(1), K, X, mx, Real(1), m + X);
    if (joint) {  // sigma = [[Sxx, Sxx K^T], [K Sxx, K Sxx K^T + pol_covar]]
      la::copy(X, X, Sxx, X, S, n);
      for (int i = 0; i < X; ++i)
        for (int a = 0; a < U; ++a) S[i * n + X + a] = la::dot_split4(X, Sxx + i * X, K + a * X);
      la::transpose(X, U, S + X, n, S + X * n, n);
      la::copy(U, U, ctrl.pol_covar + t * uu, U, S + X * n + X, n);
      la::gemm_nn_fma(U, U, X, Real(1), K, X, S + X, n, S + X * n + X, n);
      if (rec.mu) la::copy(1, n, m, n, rec.mu + t * n, n);
      if (rec.sigma) la::copy(n, n, S, n, rec.sigma + t * n * n, n);
      if (rec.cost)
        rec.cost[t] = expected_cost_step(n, m, S, info.Cm + t * n * n, info.cv + t * n, info.cc[t]);
    }

    if (anchor.K) {  // KL of the action conditionals under the new state marginal
      const Real* Pa = anchor_precision(d, anchor, t, P, Ptmp);
      const Real kl = kl_step_alt(d, mx, Sxx, X, K, ctrl.k + t * U, ctrl.pol_covar + t * uu,
                                  ctrl.chol_pol_covar + t * uu, anchor.K + t * U * X,
                                  anchor.k + t * U, anchor.chol_pol_covar + t * uu, Pa,
                                  kl_scratch, finite);
      if (rec.kl) rec.kl[t] = kl;
      total += kl;
    }

    if (t + 1 < d.T) {  // x' ~ N(Fm mu + fv, Fm sigma Fm^T + dyn_covar)
      const Real* F = info.Fm + t * X * n;
      // With F = [A B] and the closed loop Acl = A + B K:
      // Fm sigma Fm^T = Acl Sxx Acl^T + B pol_covar B^T, Fm mu = Acl mx + B k.
      const Real* B = F + X;
      la::gemm_nn_fma_from(X, X, U, Real(1), B, n, K, X, F, n, Acl, X, false);
      la::gemm_nn_fma_set(X, X, X, Real(1), Acl, X, Sxx, X, AS, X);
      la::gemm_nn_fma_set(X, U, U, Real(1), B, n, ctrl.pol_covar + t * uu, U, BP, U);
      la::transpose(X, X, Acl, X, AclT, X);
      la::transpose(X, U, B, n, Bt, X);
      la::gemm_nn_fma_from(X, X, X, Real(1), AS, X, AclT, X, info.dyn_covar + t * X * X, X,
                           Sxx, X, true);
      la::gemm_nn_fma(X, X, U, Real(1), BP, U, Bt, X, Sxx, X, true);
      la::mirror_upper(X, Sxx, X);
      for (int i = 0; i < X; ++i) mx[i] = info.fv[t * X + i];
      la::gemv_t_fma(X, X, Real(1), AclT, X, m, mx);
      la::gemv_t_fma(U, X, Real(1), Bt, X, ctrl.k + t * U, mx);
    }
  }
  return total;
}

// Laplace approximation of the expected cost per step (estimate_cost) of a controller.
template <class Real>
GPS_HD void estimate_cost(const Dims& d, const TrajInfo<Real>& info,
                          const ControllerView<Real>& ctrl, Real* cost, Real* scratch) {
  bool finite = true;
  const ControllerView<Real> none{nullptr, nullptr, nullptr, nullptr, nullptr};
  forward_kl(d, info, ctrl, none, ForwardRecord<Real>{nullptr, nullptr, nullptr, cost}, scratch,
             &finite);
}

}  // namespace gpsx::lqr
