// KL-constrained LQR for one condition (the C-step of GPS), with the conventions of the
// cbfinn/gps reference (TrajOptLQRPython; ../shared/reference/README.md, pitfalls 1-6):
//
//   augmented_cost_terms  fCm, fcv = cost / eta + KL term to the anchor controller (per
//                    mode), the cost Hessian's part added by riccati_step
//   riccati_step     computeQ -> gains (Cholesky of Quu) -> V, one time step
//   backward_pass    the sweep t = T-1..0, restarted with eta_entry + del on non-PD Quu
//   forward_kl       Gaussian marginals of the new controller, per-step KL (clipped at 0),
//                    Laplace cost estimate
//   dual_search      log-space bisection on eta until KL ~ kl_bound (50 iterations)
//   kl_step          traj_distr_kl for any joint marginal (the reference's formula);
//                    forward_kl uses the equal state-marginal form kl_step_alt, cheaper
//
// Products go through la::gemm_nn_fma / gemm_tn_fma (vectorisable inner loops, fused
// multiply-adds where the target has them); the rounding therefore differs from numpy's in
// the last bits (golden data agree to ~1e-14 relative, KL ~1e-13).
//
// Layout (one condition, time first): joint vector [x; u], n = dX + dU.
// All functions run on raw pointers + caller scratch (sizes from *_scratch_size), return
// StatusBits, never allocate, and compile under g++ and nvcc alike.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/lin_gauss.h"
#include "gpsx/kernels/linalg.h"

namespace gpsx::lqr {

struct Dims {
  int T = 0;   // time steps
  int dX = 0;  // state size
  int dU = 0;  // action size
  GPS_HD int n() const { return dX + dU; }
};

// Which algorithm the C-step serves; decides the KL anchor and the cost combination.
enum class Mode : int {
  kTrajOpt = 0,  // anchor = previous controller; fC = C / eta + KL(prev)
  kMdgps = 1,    // anchor = policy linearisation; fC = (C + eta KL(pol)) / eta
  kBadmm = 2,    // fC = (C - lambda + eta KL(prev) + w_t KL(pol)) / (eta + w_t), V scaled
};

// Fitted model of one condition (read-only).
template <class Real>
struct TrajInfo {
  const Real* Fm;         // (T x dX x n)   x_{t+1} mean = Fm [x; u] + fv
  const Real* fv;         // (T x dX)
  const Real* dyn_covar;  // (T x dX x dX)
  const Real* x0mu;       // (dX)
  const Real* x0sigma;    // (dX x dX)
  const Real* Cm;         // (T x n x n)    full cost Hessian
  const Real* cv;         // (T x n)
  const Real* cc;         // (T)
};

// Linear-Gaussian controller u = K x + k + noise (read-only view). Fields a use does not
// need may be null: an anchor needs K, k, chol_pol_covar; inv_pol_covar null means
// "derive the precision from chol_pol_covar" (the reference does so for policies).
template <class Real>
struct ControllerView {
  const Real* K;               // (T x dU x dX)
  const Real* k;               // (T x dU)
  const Real* pol_covar;       // (T x dU x dU)
  const Real* chol_pol_covar;  // (T x dU x dU) upper: C^T C = pol_covar
  const Real* inv_pol_covar;   // (T x dU x dU)
};

// Writable controller: the project's linear-Gaussian controller view.
template <class Real>
using Controller = lingauss::Controller<Real>;

template <class Real>
GPS_HD ControllerView<Real> view_of(const Controller<Real>& c) {
  return {c.K, c.k, c.pol_covar, c.chol_pol_covar, c.inv_pol_covar};
}

// What the new controller is constrained to, per mode.
template <class Real>
struct Constraint {
  Mode mode = Mode::kTrajOpt;
  ControllerView<Real> prev;    // previous controller (traj_opt, BADMM anchor)
  ControllerView<Real> policy;  // pol_K, pol_k, chol_pol_S (MDGPS anchor, BADMM term)
  const Real* pol_wt;           // (T)            BADMM only
  const Real* lambda_K;         // (T x dU x dX)  BADMM only
  const Real* lambda_k;         // (T x dU)       BADMM only

  // The controller the KL divergence (and thus the dual search) is measured against.
  GPS_HD const ControllerView<Real>& kl_anchor() const {
    return mode == Mode::kMdgps ? policy : prev;
  }
};

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

// Optional outputs of a forward pass (any field may be null).
template <class Real>
struct ForwardRecord {
  Real* mu;        // (T x n)      state-action marginal means
  Real* sigma;     // (T x n x n)  state-action marginal covariances
  Real* kl;        // (T)          per-step KL, clipped at 0
  Real* cost;      // (T)          Laplace cost estimate per step
};

// Reference constants of TrajOptLQRPython.
template <class Real>
struct SearchSettings {
  Real kl_bound = Real(3);      // total KL bound kl_step * step_mult * T
  Real min_eta = Real(1e-8);    // bracket
  Real max_eta = Real(1e16);    // bracket; a non-PD retry reaching it fails
  Real del0 = Real(1e-4);       // first non-PD eta increment (doubles)
  int max_iterations = 50;      // dual iterations
};

// Optional per-iteration trace of the dual search (arrays of max_iterations; any null).
template <class Real>
struct SearchTrace {
  Real* eta_used;  // eta after non-PD retries
  Real* kl;        // total KL of that iteration
  int* attempts;   // backward sweeps tried in that iteration
};

// x > lo ? x : lo (a NaN x gives lo). Lanes (lanes.h) overloads it lane-wise, so the same
// kernel code clips each lane of a SIMD pack on its own.
template <class Real>
GPS_HD GPS_INLINE Real clip_below(Real x, Real lo) {
  return x > lo ? x : lo;
}

// ---- scratch -----------------------------------------------------------------------------

// Elements of Real scratch a backward sweep needs.
GPS_HD inline std::size_t backward_scratch_size(const Dims& d) {
  const std::size_t X = d.dX, U = d.dU, n = d.n();
  return 2 * (X * X + X)  // value function at t and t+1
         + n * n + n      // Q
         + X * n + X      // W = Vxx' Fm, h = Vx' + Vxx' fv
         + 5 * U * U      // Cholesky, precisions, transpose, symmetric precision
         + U * X + U;     // P K, P k
}

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

// Scratch for one full dual search (backward and forward run one after the other).
GPS_HD inline std::size_t search_scratch_size(const Dims& d) {
  const std::size_t b = backward_scratch_size(d), f = forward_scratch_size(d);
  return b > f ? b : f;
}

// ---- small pieces ------------------------------------------------------------------------

// P (U x U) = (C^T C)^-1 from the upper Cholesky factor C; tmp (U x U).
template <class Real>
GPS_HD void precision_from_upper_cholesky(int U, const Real* C, Real* P, Real* tmp) {
  la::transpose(U, U, C, U, tmp, U);  // lower factor L = C^T
  la::cholesky_inverse(U, tmp, U, P, U);
}

// The anchor's precision at t: its inv_pol_covar when given, else derived from chol.
template <class Real>
GPS_HD const Real* anchor_precision(const Dims& d, const ControllerView<Real>& a, int t, Real* P,
                                    Real* tmp) {
  const int uu = d.dU * d.dU;
  if (a.inv_pol_covar) return a.inv_pol_covar + t * uu;
  precision_from_upper_cholesky(d.dU, a.chol_pol_covar + t * uu, P, tmp);
  return P;
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
    // times 1 / eta: n^2 divisions would cost a third of the step's products
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

// The default per-step hook of backward_sweep and forward_kl: nothing. A hook is called
// with t before step t reads its inputs (the CPU SIMD-pack search stages a new lane's
// inputs there, lqr_lanes.h); it must not change what the step computes.
struct NoStepHook {
  GPS_HD void operator()(int) const {}
};

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

// State of one condition's dual search between passes.
template <class Real>
struct DualState {
  Real lo, hi;  // bracket: eta with KL above / below the bound seen so far
  Real eta;     // eta of the next pass
  int itr;      // passes done
};

template <class Real>
GPS_HD DualState<Real> dual_start(const SearchSettings<Real>& s, Real eta) {
  return {s.min_eta, s.max_eta, eta, 0};
}

// The reference's bookkeeping after pass number st->itr (already counted) of one condition:
// bs = its backward status, used = the eta that succeeded, div / finite = its forward KL.
// Returns true when the search ends, with *status, *eta (the reference's returned eta) and
// *kl set (*kl left as is when the backward pass failed); else st->eta is the next eta.
// Shared by dual_search and the SIMD-lane search (lqr_lanes.h), so both decide alike.
template <class Real>
GPS_HD bool dual_iteration_end(const SearchSettings<Real>& s, std::uint32_t bs, Real used,
                               bool finite, Real div, DualState<Real>* st, Real* eta, Real* kl,
                               std::uint32_t* status) {
  using std::fabs;
  using std::sqrt;
  if (bs != kOk) {
    *eta = used;
    *status = bs;
    return true;
  }
  *kl = div;
  if (!finite) {
    *eta = used;
    *status = kNonFinite;
    return true;
  }
  const Real c = div - s.kl_bound;
  if (fabs(c) < Real(0.1) * s.kl_bound) {
    *eta = used;
    *status = kOk;
    return true;
  }
  if (c < Real(0)) {  // eta too big
    st->hi = used;
    const Real geom = sqrt(st->lo * st->hi);
    st->eta = geom > Real(0.1) * st->hi ? geom : Real(0.1) * st->hi;
  } else {  // eta too small
    st->lo = used;
    const Real geom = sqrt(st->lo * st->hi);
    st->eta = geom < Real(10) * st->lo ? geom : Real(10) * st->lo;
  }
  if (st->itr >= s.max_iterations) {
    *eta = st->eta;  // the next proposal, not the eta of the returned controller
    *status = kNotConverged;
    return true;
  }
  return false;
}

// The sequential dual search from state *st (dual_search below starts it fresh; the
// SIMD-lane search finishes its last conditions with it). Arguments as dual_search's.
template <class Real>
GPS_HD std::uint32_t dual_search_from(const Dims& d, const TrajInfo<Real>& info,
                                      const Constraint<Real>& con, const SearchSettings<Real>& s,
                                      DualState<Real>* st, Real* eta, const Controller<Real>& out,
                                      const ForwardRecord<Real>& rec,
                                      const SearchTrace<Real>& trace, Real* kl, int* iterations,
                                      Real* scratch) {
  const BackwardRecord<Real> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  *iterations = st->itr;
  while (st->itr < s.max_iterations) {
    int attempts = 0;
    Real used = st->eta;
    const std::uint32_t bs = backward_pass(d, info, con, st->eta, s.del0, s.max_eta, out,
                                           no_record, &used, &attempts, scratch);
    const int itr = st->itr++;
    *iterations = st->itr;
    bool finite = true;
    Real div = Real(0);
    if (bs == kOk) {
      div = forward_kl(d, info, view_of(out), con.kl_anchor(), rec, scratch, &finite);
      if (trace.eta_used) trace.eta_used[itr] = used;
      if (trace.kl) trace.kl[itr] = div;
      if (trace.attempts) trace.attempts[itr] = attempts;
    }
    std::uint32_t status = kOk;
    if (dual_iteration_end(s, bs, used, finite, div, st, eta, kl, &status)) return status;
  }
  *eta = st->eta;
  return kNotConverged;
}

// Sequential dual search of the reference (pitfall 5) for one condition. eta: in = start
// (the previous iteration's eta), out = the reference's returned eta (the converged eta,
// or the next proposal when the iterations run out). out receives the controller of the
// last iteration, rec its forward marginals and per-step KL, *kl its total KL (left as
// is when a backward pass fails: kNotPositiveDefinite | kLimitReached, kNonFinite).
// Status: kOk, kNotConverged, kNotPositiveDefinite|kLimitReached, kNonFinite.
template <class Real>
GPS_HD std::uint32_t dual_search(const Dims& d, const TrajInfo<Real>& info,
                                 const Constraint<Real>& con, const SearchSettings<Real>& s,
                                 Real* eta, const Controller<Real>& out,
                                 const ForwardRecord<Real>& rec, const SearchTrace<Real>& trace,
                                 Real* kl, int* iterations, Real* scratch) {
  DualState<Real> st = dual_start(s, *eta);
  return dual_search_from(d, info, con, s, &st, eta, out, rec, trace, kl, iterations, scratch);
}

// Algorithm._set_new_mult: the next step multiplier from predicted and actual improvement.
template <class Real>
GPS_HD Real new_step_mult(Real predicted, Real actual, Real step_mult, Real min_step_mult,
                          Real max_step_mult) {
  const Real diff = predicted - actual;
  Real mult = predicted / (Real(2) * (diff > Real(1e-4) ? diff : Real(1e-4)));
  mult = mult < Real(0.1) ? Real(0.1) : (mult > Real(5) ? Real(5) : mult);
  Real next = mult * step_mult;
  next = next > max_step_mult ? max_step_mult : next;
  return next < min_step_mult ? min_step_mult : next;
}

}  // namespace gpsx::lqr

// ---- batched per-condition functors (run by gpsx::for_each on the CPU or the GPU) ------------

namespace gpsx::lqr {

// p + i * stride, or null for an unused (null) batch array.
template <class Real>
GPS_HD const Real* at(const Real* p, std::int64_t stride, std::int64_t i) {
  return p ? p + i * stride : p;
}

// M conditions' inputs, condition-major with time first inside a condition.
template <class Real>
struct BatchInputs {
  Dims d;
  // fitted models
  const Real* Fm;         // (M x T x dX x n)
  const Real* fv;         // (M x T x dX)
  const Real* dyn_covar;  // (M x T x dX x dX)
  const Real* x0mu;       // (M x dX)
  const Real* x0sigma;    // (M x dX x dX)
  const Real* Cm;         // (M x T x n x n)
  const Real* cv;         // (M x T x n)
  const Real* cc;         // (M x T)
  // constraint (null where the mode does not use it)
  Mode mode;
  const Real* prev_K;               // (M x T x dU x dX)  traj_opt, BADMM
  const Real* prev_k;               // (M x T x dU)
  const Real* prev_chol_pol_covar;  // (M x T x dU x dU)  upper
  const Real* prev_inv_pol_covar;   // (M x T x dU x dU)
  const Real* pol_K;                // (M x T x dU x dX)  MDGPS, BADMM
  const Real* pol_k;                // (M x T x dU)
  const Real* chol_pol_S;           // (M x T x dU x dU)  upper
  const Real* pol_wt;               // (M x T)            BADMM
  const Real* lambda_K;             // (M x T x dU x dX)  BADMM
  const Real* lambda_k;             // (M x T x dU)       BADMM

  GPS_HD TrajInfo<Real> info(std::int64_t m) const {
    const std::int64_t T = d.T, X = d.dX, n = d.n();
    return {Fm + m * T * X * n, fv + m * T * X, dyn_covar + m * T * X * X, x0mu + m * X,
            x0sigma + m * X * X,  Cm + m * T * n * n, cv + m * T * n, cc + m * T};
  }
  GPS_HD Constraint<Real> constraint(std::int64_t m) const {
    const std::int64_t T = d.T, X = d.dX, U = d.dU;
    Constraint<Real> c;
    c.mode = mode;
    c.prev = {at(prev_K, T * U * X, m), at(prev_k, T * U, m), nullptr,
              at(prev_chol_pol_covar, T * U * U, m), at(prev_inv_pol_covar, T * U * U, m)};
    c.policy = {at(pol_K, T * U * X, m), at(pol_k, T * U, m), nullptr,
                at(chol_pol_S, T * U * U, m), nullptr};
    c.pol_wt = at(pol_wt, T, m);
    c.lambda_K = at(lambda_K, T * U * X, m);
    c.lambda_k = at(lambda_k, T * U, m);
    return c;
  }
};

// Elements of one controller (K, k, pol_covar, chol_pol_covar, inv_pol_covar).
GPS_HD inline std::size_t controller_size(const Dims& d) {
  const std::size_t T = d.T, X = d.dX, U = d.dU;
  return T * (U * X + U + 3 * U * U);
}

// A batch of M controllers stored as five arrays (lin_gauss.h).
template <class Real>
using BatchController = lingauss::BatchController<Real>;

// A controller packed in one contiguous block of controller_size(d) elements.
template <class Real>
GPS_HD Controller<Real> packed_controller(const Dims& d, Real* p) {
  const std::size_t T = d.T, X = d.dX, U = d.dU;
  Controller<Real> c;
  c.K = p;
  c.k = c.K + T * U * X;
  c.pol_covar = c.k + T * U;
  c.chol_pol_covar = c.pol_covar + T * U * U;
  c.inv_pol_covar = c.chol_pol_covar + T * U * U;
  return c;
}

// Per-condition dual-search settings shared by the batch; kl_bound per condition is
// base_kl_step * step_mult[m] * T.
template <class Real>
struct BatchSearch {
  Real base_kl_step;
  Real min_eta, max_eta, del0;
  int max_iterations;
  const Real* step_mult;  // (M)
  GPS_HD SearchSettings<Real> settings(const Dims& d, std::int64_t m) const {
    SearchSettings<Real> s;
    s.kl_bound = base_kl_step * step_mult[m] * Real(d.T);
    s.min_eta = min_eta;
    s.max_eta = max_eta;
    s.del0 = del0;
    s.max_iterations = max_iterations;
    return s;
  }
};

// Per-condition results.
template <class Real>
struct BatchResult {
  Real* eta;               // (M) in: start eta; out: the returned eta
  Real* kl;                // (M) total KL of the returned controller
  int* passes;             // (M) sequential backward+forward passes used
  std::uint32_t* status;   // (M) StatusBits
};

// Sequential search: one call runs the whole reference dual search of condition m.
template <class Real>
struct SequentialSearchFn {
  BatchInputs<Real> in;
  BatchSearch<Real> search;
  BatchController<Real> out;
  BatchResult<Real> res;
  Real* scratch;              // (M x search_scratch_size)
  GPS_HD void operator()(std::int64_t m) const { run(m, scratch + m * search_scratch_size(in.d)); }
  // The search of condition m with scratch s (search_scratch_size elements).
  GPS_HD void run(std::int64_t m, Real* s) const {
    const Dims& d = in.d;
    const ForwardRecord<Real> none{nullptr, nullptr, nullptr, nullptr};
    const SearchTrace<Real> no_trace{nullptr, nullptr, nullptr};
    res.status[m] = dual_search(d, in.info(m), in.constraint(m), search.settings(d, m),
                                res.eta + m, out.at(m, d.T, d.dX, d.dU), none, no_trace, res.kl + m,
                                res.passes + m, s);
  }
};

// Parallel search, state per condition: bracket and progress.
template <class Real>
struct Bracket {
  Real lo, hi;   // eta with KL above / below the bound seen so far
  Real active;   // 1 while searching
};

// Parallel search, one pass: candidate e of condition m runs backward + forward at
// cand_eta[m][e] into its own controller block.
template <class Real>
struct CandidatePassFn {
  BatchInputs<Real> in;
  Real del0, max_eta;
  int E;                        // candidates per condition
  const Bracket<Real>* bracket; // (M)
  const Real* cand_eta;         // (M x E)
  Real* cand_used;              // (M x E) eta after non-PD retries
  Real* cand_kl;                // (M x E)
  Real* cand_status;            // (M x E) StatusBits as a number
  Real* cand_ctrl;              // (M x E x controller_size)
  Real* scratch;                // (M x E x search_scratch_size)
  GPS_HD void operator()(std::int64_t m, std::int64_t e) const {
    if (bracket[m].active == Real(0)) return;
    const Dims& d = in.d;
    const std::int64_t i = m * E + e;
    const Controller<Real> ctrl = packed_controller(d, cand_ctrl + i * controller_size(d));
    Real* s = scratch + i * search_scratch_size(d);
    const BackwardRecord<Real> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    const TrajInfo<Real> info = in.info(m);
    const Constraint<Real> con = in.constraint(m);
    int attempts = 0;
    std::uint32_t st = backward_pass(d, info, con, cand_eta[i], del0, max_eta, ctrl, no_record,
                                     cand_used + i, &attempts, s);
    Real kl = Real(0);
    if (st == kOk) {
      bool finite = true;
      const ForwardRecord<Real> none{nullptr, nullptr, nullptr, nullptr};
      kl = forward_kl(d, info, view_of(ctrl), con.kl_anchor(), none, s, &finite);
      if (!finite) st = kNonFinite;
    }
    cand_kl[i] = kl;
    cand_status[i] = Real(st);
  }
};

// Parallel search, after a pass: take a converged candidate (same criterion as the
// reference: |KL - bound| < 0.1 bound) or narrow [lo, hi] from all candidates at once
// and place the next E candidates inside it (log-spaced; x10 / x0.1 steps while one side
// is still open, as the reference's rule does).
template <class Real>
struct NarrowBracketFn {
  Dims d;
  BatchSearch<Real> search;
  int E;
  Bracket<Real>* bracket;       // (M)
  Real* cand_eta;               // (M x E)
  const Real* cand_used;        // (M x E)
  const Real* cand_kl;          // (M x E)
  const Real* cand_status;      // (M x E)
  const Real* cand_ctrl;        // (M x E x controller_size)
  BatchController<Real> out;
  BatchResult<Real> res;
  GPS_HD void operator()(std::int64_t m) const {
    using std::exp;
    using std::fabs;
    using std::log;
    Bracket<Real>& b = bracket[m];
    if (b.active == Real(0)) return;
    const Real bound = search.settings(d, m).kl_bound;
    ++res.passes[m];
    int best = -1;       // converged candidate with the smallest |con|
    int closest = -1;    // fallback when the passes run out
    std::uint32_t failed = 0;
    for (int e = 0; e < E; ++e) {
      const std::int64_t i = m * E + e;
      const std::uint32_t st = static_cast<std::uint32_t>(cand_status[i]);
      if (st != kOk) {
        failed |= st;
        continue;
      }
      const Real c = cand_kl[i] - bound;
      if (closest < 0 || fabs(c) < fabs(cand_kl[m * E + closest] - bound)) closest = e;
      if (fabs(c) < Real(0.1) * bound) {
        if (best < 0 || fabs(c) < fabs(cand_kl[m * E + best] - bound)) best = e;
      } else if (c < Real(0)) {
        if (cand_used[i] < b.hi) b.hi = cand_used[i];
      } else if (cand_used[i] > b.lo) {
        b.lo = cand_used[i];
      }
    }
    const bool out_of_passes = res.passes[m] >= search.max_iterations;
    if (best >= 0 || closest < 0 || out_of_passes) {
      b.active = Real(0);
      const int pick = best >= 0 ? best : closest;
      if (pick < 0) {  // every candidate failed
        res.status[m] = failed;
        return;
      }
      const std::int64_t i = m * E + pick;
      res.eta[m] = cand_used[i];
      res.kl[m] = cand_kl[i];
      res.status[m] = best >= 0 ? kOk : kNotConverged;
      const Controller<Real> src =
          packed_controller(d, const_cast<Real*>(cand_ctrl) + i * controller_size(d));
      const Controller<Real> dst = out.at(m, d.T, d.dX, d.dU);
      const std::int64_t T = d.T, X = d.dX, U = d.dU;
      la::copy(1, T * U * X, src.K, 0, dst.K, 0);
      la::copy(1, T * U, src.k, 0, dst.k, 0);
      la::copy(1, T * U * U, src.pol_covar, 0, dst.pol_covar, 0);
      la::copy(1, T * U * U, src.chol_pol_covar, 0, dst.chol_pol_covar, 0);
      la::copy(1, T * U * U, src.inv_pol_covar, 0, dst.inv_pol_covar, 0);
      return;
    }
    const bool lo_open = !(b.lo > search.min_eta), hi_open = !(b.hi < search.max_eta);
    for (int e = 0; e < E; ++e) {
      Real eta;
      if (hi_open)
        eta = b.lo * exp(Real(e + 1) * log(Real(10)));
      else if (lo_open)
        eta = b.hi * exp(-Real(e + 1) * log(Real(10)));
      else
        eta = exp(log(b.lo) + Real(e + 1) / Real(E + 1) * (log(b.hi) - log(b.lo)));
      cand_eta[m * E + e] = eta < search.max_eta ? eta : search.max_eta;
    }
  }
};

// Parallel search, start: open bracket and E candidates around the start eta
// (eta0 * 10^(e - E/2), so eta0 itself is one of them).
template <class Real>
struct StartParallelFn {
  BatchSearch<Real> search;
  int E;
  Bracket<Real>* bracket;  // (M)
  Real* cand_eta;          // (M x E)
  BatchResult<Real> res;
  GPS_HD void operator()(std::int64_t m) const {
    using std::exp;
    using std::log;
    bracket[m] = {search.min_eta, search.max_eta, Real(1)};
    res.passes[m] = 0;
    res.status[m] = kNotConverged;
    for (int e = 0; e < E; ++e)
      cand_eta[m * E + e] = res.eta[m] * exp(Real(e - E / 2) * log(Real(10)));
  }
};

// Laplace cost estimate (estimate_cost) of M controllers.
template <class Real>
struct EstimateCostFn {
  BatchInputs<Real> in;
  BatchController<Real> ctrl;
  Real* cost;     // (M x T)
  Real* scratch;  // (M x forward_scratch_size)
  GPS_HD void operator()(std::int64_t m) const {
    const Dims& d = in.d;
    estimate_cost(d, in.info(m), view_of(ctrl.at(m, d.T, d.dX, d.dU)), cost + m * d.T,
                  scratch + m * forward_scratch_size(d));
  }
};

}  // namespace gpsx::lqr
