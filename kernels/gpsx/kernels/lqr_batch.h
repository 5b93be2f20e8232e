// Batched per-condition functors of the KL-constrained LQR C-step, run by gpsx::for_each
// on the CPU or the GPU: the batch's inputs and results, the sequential search (one
// condition per call, lqr_dual_search.h) and the parallel search (E candidate etas per
// condition per pass, the bracket narrowed from all of them), and the cost estimate.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/lin_gauss.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/lqr_dual_search.h"
#include "gpsx/kernels/lqr_kl.h"
#include "gpsx/kernels/lqr_problem.h"
#include "gpsx/kernels/lqr_riccati.h"

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
  SearchSettings<Real> search;
  const Real* step_mult;      // (M) condition m's bound: search.kl_bound(d, step_mult[m])
  BatchController<Real> out;
  BatchResult<Real> res;
  Real* scratch;              // (M x search_scratch_size)
  GPS_HD void operator()(std::int64_t m) const { run(m, scratch + m * search_scratch_size(in.d)); }
  // The search of condition m with scratch s (search_scratch_size elements).
  GPS_HD void run(std::int64_t m, Real* s) const {
    const Dims& d = in.d;
    const ForwardRecord<Real> none{nullptr, nullptr, nullptr, nullptr};
    const SearchTrace<Real> no_trace{nullptr, nullptr, nullptr};
    res.status[m] = dual_search(d, in.info(m), in.constraint(m), search,
                                search.kl_bound(d, step_mult[m]), res.eta + m,
                                out.at(m, d.T, d.dX, d.dU), none, no_trace, res.kl + m,
                                res.passes + m, s);
  }
};

// Parallel search, one pass: candidate e of condition m runs backward + forward at
// cand_eta[m][e] into its own controller block.
template <class Real>
struct CandidatePassFn {
  BatchInputs<Real> in;
  SearchSettings<Real> search;  // E = search.candidates per condition
  const Bracket<Real>* bracket; // (M)
  const Real* cand_eta;         // (M x E)
  Real* cand_used;              // (M x E) eta after non-PD retries
  Real* cand_kl;                // (M x E)
  Real* cand_status;            // (M x E) StatusBits as a number
  Real* cand_ctrl;              // (M x E x controller_size)
  Real* scratch;                // (M x E x search_scratch_size)
  GPS_HD void operator()(std::int64_t m, std::int64_t e) const {
    if (!bracket[m].active) return;
    const Dims& d = in.d;
    const std::int64_t i = m * search.candidates + e;
    const Controller<Real> ctrl = packed_controller(d, cand_ctrl + i * controller_size(d));
    Real* s = scratch + i * search_scratch_size(d);
    const BackwardRecord<Real> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    const TrajInfo<Real> info = in.info(m);
    const Constraint<Real> con = in.constraint(m);
    int attempts = 0;
    std::uint32_t st = backward_pass(d, info, con, cand_eta[i], search.del0, search.max_eta,
                                     ctrl, no_record, cand_used + i, &attempts, s);
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

// Parallel search, after a pass: take a converged candidate (kl_converged, the reference's
// rule) or narrow [lo, hi] from all candidates at once and place the next E candidates
// inside it (log-spaced; x10 / x0.1 steps while one side is still open, as the reference's
// rule does).
template <class Real>
struct NarrowBracketFn {
  Dims d;
  SearchSettings<Real> search;  // E = search.candidates per condition
  const Real* step_mult;        // (M)
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
    if (!b.active) return;
    const int E = search.candidates;
    const Real bound = search.kl_bound(d, step_mult[m]);
    res.passes[m] = ++b.passes;
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
      if (kl_converged(cand_kl[i], bound)) {
        if (best < 0 || fabs(c) < fabs(cand_kl[m * E + best] - bound)) best = e;
      } else if (c < Real(0)) {
        if (cand_used[i] < b.hi) b.hi = cand_used[i];
      } else if (cand_used[i] > b.lo) {
        b.lo = cand_used[i];
      }
    }
    const bool out_of_passes = b.passes >= search.max_iterations;
    if (best >= 0 || closest < 0 || out_of_passes) {
      b.active = 0;
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
  SearchSettings<Real> search;  // E = search.candidates per condition
  Bracket<Real>* bracket;  // (M)
  Real* cand_eta;          // (M x E)
  BatchResult<Real> res;
  GPS_HD void operator()(std::int64_t m) const {
    using std::exp;
    using std::log;
    const int E = search.candidates;
    bracket[m] = dual_start(search, res.eta[m]);
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
