// One condition's KL-constrained LQR problem (the C-step of GPS), with the conventions of
// the cbfinn/gps reference (TrajOptLQRPython; ../shared/reference/README.md, pitfalls 1-6):
// sizes, the fitted model, the constraint per mode, controller views, and the anchor's
// precision that the cost terms (lqr_riccati.h) and the KL (lqr_kl.h) both need.
//
// Layout (one condition, time first): joint vector [x; u], n = dX + dU.
// All functions run on raw pointers + caller scratch, never allocate, and compile under
// g++ and nvcc alike.
#pragma once

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

// x > lo ? x : lo (a NaN x gives lo). Lanes (lanes.h) overloads it lane-wise, so the same
// kernel code clips each lane of a SIMD pack on its own.
template <class Real>
GPS_HD GPS_INLINE Real clip_below(Real x, Real lo) {
  return x > lo ? x : lo;
}

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

// The default per-step hook of backward_sweep and forward_kl: nothing. A hook is called
// with t before step t reads its inputs (the CPU SIMD-pack search stages a new lane's
// inputs there, lqr_lanes.h); it must not change what the step computes.
struct NoStepHook {
  GPS_HD void operator()(int) const {}
};

}  // namespace gpsx::lqr
