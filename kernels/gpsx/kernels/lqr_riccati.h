// The backward pass of one condition's KL-constrained LQR (lqr_problem.h):
//
//   augmented_cost_terms  fCm, fcv = cost / eta + KL term to the anchor controller (per
//                    mode), the cost Hessian's part added by riccati_step
//   riccati_step     computeQ -> gains (Cholesky of Quu) -> V, one time step
//   backward_sweep   the sweep t = T-1..0 at one eta
//   backward_pass    the sweeps restarted with eta_entry + del on non-PD Quu
//
// Products go through la::gemm_nn_fma / gemm_tn_fma (fused multiply-adds where the target
// has them); the rounding therefore differs from numpy's in the last bits (golden data
// agree to ~1e-14 relative). Functions return StatusBits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/linalg_fma.h"
#include "gpsx/kernels/lqr_problem.h"

namespace gpsx::lqr {

// Optional per-step records of a backward sweep (any field may be null).
template <class Real>
struct BackwardRecord {
  Real* fCm;  // (T x n x n)  symmetric part
  Real* fcv;  // (T x n)
  Real* Qtt;  // (T x n x n)
  Real* Qt;   // (T x n)
  Real* Vxx;  // (T x dX x dX)
  Real* Vx;   // (T x dX)
};

// Elements of Real scratch a backward sweep needs.
GPS_HD inline std::size_t backward_scratch_size(const Dims& d) {
  const std::size_t X = d.dX, U = d.dU, n = d.n();
  return 2 * (X * X + X)  // value function at t and t+1
         + n * n + n      // Q
         + X * n + X      // W = Vxx' Fm, h = Vx' + Vxx' fv
         + 5 * U * U      // Cholesky, precisions, transpose, symmetric precision
         + U * X + U;     // P K, P k
}

// Upper triangle of Q (n x n) += w [[K^T P K, -K^T P], [-P K, P]] with P replaced by its
// symmetric part (the Hessian the reference symmetrises in computeQ), q (n) += w [K^T P k;
// -P k]: the Hessian and gradient of w/2 (u - K x - k)^T P (u - K x - k). set: the upper
// triangle of Q is set to the term instead. Ps, G (U x X), g: scratch.
template <class Real>
GPS_HD void add_kl_term(const Dims& d, const Real* K, const Real* k, const Real* P, Real w,
                        bool set, Real* Q, Real* q, Real* Ps, Real* G, Real* g) {
  const int X = d.dX, U = d.dU, n = d.n();
  for (int a = 0; a < U; ++a)
    for (int b = 0; b < U; ++b) Ps[a * U + b] = Real(0.5) * (P[a * U + b] + P[b * U + a]);
  la::gemm_nn_fma_set(U, X, U, Real(1), Ps, U, K, X, G, X);  // Ps K
  la::gemv(false, U, U, Real(1), P, U, k, Real(0), g);       // P k
  if (set)
    la::gemm_tn_fma_set(X, X, U, w, K, X, G, X, Q, n, true);  // K^T Ps K, upper
  else
    la::gemm_tn_fma(X, X, U, w, K, X, G, X, Q, n, true);
  const auto put = [set](Real& entry, Real v) { entry = set ? v : entry + v; };
  for (int i = 0; i < X; ++i)
    for (int b = 0; b < U; ++b) put(Q[i * n + X + b], -(w * G[b * X + i]));
  for (int a = 0; a < U; ++a)
    for (int b = a; b < U; ++b) put(Q[(X + a) * n + X + b], w * Ps[a * U + b]);
  for (int a = 0; a < U; ++a) {
    for (int i = 0; i < X; ++i) q[i] += w * K[a * X + i] * g[a];
    q[X + a] -= w * g[a];
  }
}

// fCm[t], fcv[t] of the reference's compute_costs (max_ent_traj = 0), in two parts: the
// KL and multiplier terms (upper triangle of their symmetric part) into Q, all of fcv into
// q; the return value s is the factor the cost Hessian enters with, the symmetric part of
// fCm being sym(Cm[t]) s + Q (CostHessianPlus adds it; riccati_step does so inside its
// product, which reads Cm[t] while it computes). scratch: 4 U^2 + U X + U.
template <class Real>
GPS_HD Real augmented_cost_terms(const Dims& d, const TrajInfo<Real>& info,
                                 const Constraint<Real>& con, Real eta, int t, Real* Q, Real* q,
                                 Real* scratch) {
  const int X = d.dX, U = d.dU, n = d.n(), uu = U * U;
  Real* P = scratch;
  Real* P2 = P + uu;
  Real* tmp = P2 + uu;
  Real* Ps = tmp + uu;
  Real* G = Ps + uu;
  Real* g = G + U * X;
  const Real* c = info.cv + t * n;
  const ControllerView<Real>& prev = con.prev;
  const ControllerView<Real>& pol = con.policy;
  if (con.mode == Mode::kTrajOpt) {
    // times 1 / eta instead of n^2 divisions (cost: benchmarks/RESULTS.md, "Notes moved
    // from the kernels")
    const Real inv_eta = Real(1) / eta;
    for (int i = 0; i < n; ++i) q[i] = c[i] * inv_eta;
    const Real* Pa = anchor_precision(d, prev, t, P, tmp);
    add_kl_term(d, prev.K + t * U * X, prev.k + t * U, Pa, Real(1), true, Q, q, Ps, G, g);
    return inv_eta;
  }
  la::copy(1, n, c, n, q, n);
  Real denom = eta;
  if (con.mode == Mode::kMdgps) {
    const Real* Pp = anchor_precision(d, pol, t, P, tmp);
    add_kl_term(d, pol.K + t * U * X, pol.k + t * U, Pp, eta, true, Q, q, Ps, G, g);
  } else {  // BADMM: two KL terms, Lagrange multipliers on the action rows/columns
    const Real wt = con.pol_wt[t];
    const Real* Pt = anchor_precision(d, prev, t, P, tmp);
    add_kl_term(d, prev.K + t * U * X, prev.k + t * U, Pt, eta, true, Q, q, Ps, G, g);
    const Real* Pp = anchor_precision(d, pol, t, P2, tmp);
    add_kl_term(d, pol.K + t * U * X, pol.k + t * U, Pp, wt, false, Q, q, Ps, G, g);
    const Real* lK = con.lambda_K + t * U * X;
    for (int a = 0; a < U; ++a) {
      q[X + a] -= con.lambda_k[t * U + a];
      for (int i = 0; i < X; ++i) Q[i * n + X + a] -= lK[a * X + i];
    }
    denom = eta + wt;
  }
  const Real inv_denom = Real(1) / denom;
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) Q[i * n + j] *= inv_denom;
  for (int i = 0; i < n; ++i) q[i] *= inv_denom;
  return inv_denom;
}

// Q_ij + s (C_ij + C_ji) / 2: the entries of fCm from augmented_cost_terms' parts (n x n).
template <class Real>
struct CostHessianPlus {
  const Real* Q;
  const Real* C;
  Real s;
  int n;
  GPS_HD Real operator()(int i, int j) const {
    return Q[i * n + j] + Real(0.5) * (C[i * n + j] + C[j * n + i]) * s;
  }
};

// The upper triangle of Q += s sym(C) (n x n), completing fCm.
template <class Real>
GPS_HD void add_cost_hessian(int n, const Real* C, Real s, Real* Q) {
  const CostHessianPlus<Real> sum{Q, C, s, n};
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) Q[i * n + j] = sum(i, j);
}

// One Riccati step at time t. In: the upper triangle of sym(fCm[t]) = sym(C) c_scale + Q
// (augmented_cost_terms; C null: Q holds all of it), q = fcv[t]; Vxx1, Vx1 = value at t+1
// (null at t = T-1), scaled by v_scale (BADMM). Out: the upper triangle of Q = Qtt
// (symmetric), q = Qt; the controller at t; Vxx, Vx at t (short form, pitfall 3).
// scratch: X n + X + U^2.
// Returns kNotPositiveDefinite when Quu has no Cholesky factor (kNonFinite if not finite).
template <class Real>
GPS_HD std::uint32_t riccati_step(const Dims& d, int t, const Real* Fm, const Real* fv,
                                  const Real* Vxx1, const Real* Vx1, Real v_scale,
                                  const Real* C, Real c_scale, Real* Q, Real* q,
                                  const Controller<Real>& out, Real* Vxx, Real* Vx,
                                  Real* scratch) {
  const int X = d.dX, U = d.dU, n = d.n(), uu = U * U;
  Real* W = scratch;     // (X x n)
  Real* h = W + X * n;   // (X)
  Real* L = h + X;       // (U x U)

  // computeQ: Q = sym(fCm) + s Fm^T Vxx' Fm,  q = fcv + s Fm^T (Vx' + Vxx' fv). Q is
  // symmetric, so only its upper triangle is formed and read below (the strict lower
  // triangle is stale; callers that need all of Q mirror it). The product starts each
  // entry from fCm's, so Cm is read while the product computes, not in a pass of its own.
  if (Vxx1) {
    la::gemm_nn_fma_set(X, n, X, Real(1), Vxx1, X, Fm, n, W, n);
    if (C)
      la::gemm_tn_fma_start(n, n, X, v_scale, Fm, n, W, n, CostHessianPlus<Real>{Q, C, c_scale, n},
                            Q, n, true);
    else
      la::gemm_tn_fma(n, n, X, v_scale, Fm, n, W, n, Q, n, true);
    for (int i = 0; i < X; ++i) h[i] = Vx1[i];
    la::gemv_t_fma(X, X, Real(1), Vxx1, X, fv, h);  // Vxx' symmetric: Vxx'^T fv
    la::gemv_t_fma(X, n, v_scale, Fm, n, h, q);
  } else if (C) {
    add_cost_hessian(n, C, c_scale, Q);
  }
  const auto sym = [Q, n](int i, int j) { return i <= j ? Q[i * n + j] : Q[j * n + i]; };

  // gains: Quu = L L^T; K = -Quu^-1 Qux, k = -Quu^-1 Qu; covariance = Quu^-1.
  for (int a = 0; a < U; ++a)
    for (int b = a; b < U; ++b)
      if (!is_finite(sym(X + a, X + b))) return kNonFinite;
  for (int a = 0; a < U; ++a)
    for (int b = 0; b < U; ++b) L[a * U + b] = sym(X + a, X + b);
  if (la::cholesky_lower(U, L, U) != kOk) return kNotPositiveDefinite;

  Real* inv_cov = out.inv_pol_covar + t * uu;
  Real* cov = out.pol_covar + t * uu;
  Real* chol = out.chol_pol_covar + t * uu;
  Real* K = out.K + t * U * X;
  Real* k = out.k + t * U;
  for (int a = 0; a < U; ++a)
    for (int b = 0; b < U; ++b) inv_cov[a * U + b] = sym(X + a, X + b);
  la::cholesky_inverse_rows_recip(U, L, U, cov, U);
  la::copy(U, U, cov, U, chol, U);  // upper factor of the covariance (reference's chol)
  if (la::cholesky_lower(U, chol, U) != kOk) return kNotPositiveDefinite;
  for (int a = 0; a < U; ++a)
    for (int b = a + 1; b < U; ++b) {
      chol[a * U + b] = chol[b * U + a];
      chol[b * U + a] = Real(0);
    }
  // solved negated: the same values as negating the solutions (rounding is symmetric)
  for (int a = 0; a < U; ++a) k[a] = -q[X + a];
  for (int a = 0; a < U; ++a)
    for (int i = 0; i < X; ++i) K[a * X + i] = -Q[i * n + X + a];
  la::cholesky_solve_rows_recip(U, 1, L, U, k, 1);
  la::cholesky_solve_rows_recip(U, X, L, U, K, X);

  // V: Vxx = Qxx + Qxu K, symmetric (Qxu K = -Qxu Quu^-1 Qux): the upper triangle is
  // formed and mirrored. Vx = Qx + Qxu k.
  la::gemm_nn_fma_from(X, X, U, Real(1), Q + X, n, K, X, Q, n, Vxx, X, true);
  la::mirror_upper(X, Vxx, X);
  for (int i = 0; i < X; ++i) Vx[i] = q[i];
  la::gemv(false, X, U, Real(1), Q + X, n, k, Real(1), Vx);
  return kOk;
}

// One backward sweep t = T-1..0 at fixed eta. scratch: backward_scratch_size.
template <class Real, class StepHook = NoStepHook>
GPS_HD std::uint32_t backward_sweep(const Dims& d, const TrajInfo<Real>& info,
                                    const Constraint<Real>& con, Real eta,
                                    const Controller<Real>& out, const BackwardRecord<Real>& rec,
                                    Real* scratch, const StepHook& before_step = StepHook()) {
  const int X = d.dX, U = d.dU, n = d.n();
  Real* V[2] = {scratch, scratch + X * X};       // Vxx at t and t+1, swapped per step
  Real* v[2] = {V[1] + X * X, V[1] + X * X + X};
  Real* Q = v[1] + X;
  Real* q = Q + n * n;
  Real* step = q + n;                             // X n + X + U^2
  Real* cost = step + X * n + X + U * U;          // 4 U^2 + U X + U
  int cur = 0;
  for (int t = d.T - 1; t >= 0; --t) {
    before_step(t);
    const Real c_scale = augmented_cost_terms(d, info, con, eta, t, Q, q, cost);
    const Real* C = info.Cm + t * n * n;  // still to add to Q (in riccati_step's product)
    if (rec.fCm) {  // sym(fCm): the reference's fCm where the cost Hessian is symmetric
      add_cost_hessian(n, C, c_scale, Q);
      C = nullptr;
      la::mirror_upper(n, Q, n);
      la::copy(n, n, Q, n, rec.fCm + t * n * n, n);
    }
    if (rec.fcv) la::copy(1, n, q, n, rec.fcv + t * n, n);
    const bool last = t == d.T - 1;
    Real scale = Real(1);
    if (con.mode == Mode::kBadmm && !last)
      scale = (con.pol_wt[t + 1] + eta) / (con.pol_wt[t] + eta);
    const std::uint32_t s =
        riccati_step(d, t, info.Fm + t * X * n, info.fv + t * X, last ? nullptr : V[1 - cur],
                     last ? nullptr : v[1 - cur], scale, C, c_scale, Q, q, out, V[cur], v[cur],
                     step);
    if (s != kOk) return s;
    if (rec.Qtt) {
      la::mirror_upper(n, Q, n);  // riccati_step formed the upper triangle
      la::copy(n, n, Q, n, rec.Qtt + t * n * n, n);
    }
    if (rec.Qt) la::copy(1, n, q, n, rec.Qt + t * n, n);
    if (rec.Vxx) la::copy(X, X, V[cur], X, rec.Vxx + t * X * X, X);
    if (rec.Vx) la::copy(1, X, v[cur], X, rec.Vx + t * X, X);
    cur = 1 - cur;
  }
  return kOk;
}

// The reference's backward(): sweeps at eta_entry; when Quu is not PD at some t, the
// whole sweep restarts at eta_entry + del with del = del0, 2 del0, 4 del0, ... (pitfall
// 4). *eta_out is the eta that succeeded, *attempts counts sweeps. A retry reaching
// max_eta fails with kNotPositiveDefinite | kLimitReached; non-finite Quu stops at once.
template <class Real>
GPS_HD std::uint32_t backward_pass(const Dims& d, const TrajInfo<Real>& info,
                                   const Constraint<Real>& con, Real eta_entry, Real del0,
                                   Real max_eta, const Controller<Real>& out,
                                   const BackwardRecord<Real>& rec, Real* eta_out, int* attempts,
                                   Real* scratch) {
  Real eta = eta_entry;
  Real del = del0;
  *attempts = 0;
  for (;;) {
    ++*attempts;
    const std::uint32_t s = backward_sweep(d, info, con, eta, out, rec, scratch);
    *eta_out = eta;
    if (s == kOk) return kOk;
    if (s & kNonFinite) return s;
    eta = eta_entry + del;
    del *= Real(2);
    if (eta >= max_eta) {
      *eta_out = eta;
      return kNotPositiveDefinite | kLimitReached;
    }
  }
}

}  // namespace gpsx::lqr
