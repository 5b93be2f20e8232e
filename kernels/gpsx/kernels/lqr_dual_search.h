// The eta dual search of one condition's KL-constrained LQR: the settings of both search
// modes, the per-condition search state (Bracket), the reference's convergence rule and
// bookkeeping, and the sequential search of the reference (log-space bisection on eta
// until the total KL is within 10% of the bound; pitfall 5 of
// ../shared/reference/README.md). The batch functors of both modes are in lqr_batch.h.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/lqr_kl.h"
#include "gpsx/kernels/lqr_problem.h"
#include "gpsx/kernels/lqr_riccati.h"

namespace gpsx::lqr {

// How a batch searches eta.
enum class EtaSearch {
  kSequential,  // the reference's bisection, one backward+forward pass at a time
  kParallel,    // `candidates` etas per condition per pass, bracket narrowed from all
};

// Settings of the eta search (defaults: the reference's constants of TrajOptLQRPython).
// The host API takes SearchSettings<double> (gpsx::TrajOptSettings); kernels get as<Real>().
template <class Real>
struct SearchSettings {
  Real base_kl_step = Real(0.2);  // KL bound per step; total bound = base * step_mult * T
  Real min_eta = Real(1e-8);      // bracket
  Real max_eta = Real(1e16);      // bracket; a non-PD retry reaching it fails
  Real del0 = Real(1e-4);         // first non-PD eta increment (doubles)
  int max_iterations = 50;        // passes (dual iterations) per condition
  EtaSearch search = EtaSearch::kSequential;  // batch search mode
  int candidates = 4;             // kParallel: etas evaluated per condition per pass
  // kSequential on the CPU executor with M >= kTrajOptLanes: run kTrajOptLanes conditions
  // per SIMD pack (lqr_lanes.h); results are bit-identical to the per-condition path.
  bool cpu_lanes = true;

  // The total KL bound of a condition with step multiplier step_mult.
  GPS_HD Real kl_bound(const Dims& d, Real step_mult) const {
    return base_kl_step * step_mult * Real(d.T);
  }

  // The same settings in scalar type R.
  template <class R>
  GPS_HD SearchSettings<R> as() const {
    SearchSettings<R> s;
    s.base_kl_step = R(base_kl_step);
    s.min_eta = R(min_eta);
    s.max_eta = R(max_eta);
    s.del0 = R(del0);
    s.max_iterations = max_iterations;
    s.search = search;
    s.candidates = candidates;
    s.cpu_lanes = cpu_lanes;
    return s;
  }
};

// Optional per-iteration trace of the dual search (arrays of max_iterations; any null).
template <class Real>
struct SearchTrace {
  Real* eta_used;  // eta after non-PD retries
  Real* kl;        // total KL of that iteration
  int* attempts;   // backward sweeps tried in that iteration
};

// Scratch for one full dual search (backward and forward run one after the other).
GPS_HD inline std::size_t search_scratch_size(const Dims& d) {
  const std::size_t b = backward_scratch_size(d), f = forward_scratch_size(d);
  return b > f ? b : f;
}

// One condition's search state between passes, in both modes.
template <class Real>
struct Bracket {
  Real lo, hi;  // eta with KL above / below the bound seen so far
  Real eta;     // sequential search: eta of the next pass
  int passes;   // passes done
  int active;   // 1 while the search goes on
};

template <class Real>
GPS_HD Bracket<Real> dual_start(const SearchSettings<Real>& s, Real eta) {
  return {s.min_eta, s.max_eta, eta, 0, 1};
}

// The reference's stop rule: the total KL is within 10% of the bound.
template <class Real>
GPS_HD bool kl_converged(Real kl, Real kl_bound) {
  using std::fabs;
  return fabs(kl - kl_bound) < Real(0.1) * kl_bound;
}

// The reference's bookkeeping after pass number st->passes (already counted) of one
// condition: bs = its backward status, used = the eta that succeeded, div / finite = its
// forward KL. Returns true when the search ends (st->active = 0), with *status, *eta (the
// reference's returned eta) and *kl set (*kl left as is when the backward pass failed);
// else st->eta is the next eta. Shared by dual_search and the SIMD-lane search
// (lqr_lanes.h), so both decide alike.
template <class Real>
GPS_HD bool dual_iteration_end(const SearchSettings<Real>& s, Real kl_bound, std::uint32_t bs,
                               Real used, bool finite, Real div, Bracket<Real>* st, Real* eta,
                               Real* kl, std::uint32_t* status) {
  using std::sqrt;
  const auto end = [st, eta, status](Real returned, std::uint32_t why) {
    *eta = returned;
    *status = why;
    st->active = 0;
    return true;
  };
  if (bs != kOk) return end(used, bs);
  *kl = div;
  if (!finite) return end(used, kNonFinite);
  if (kl_converged(div, kl_bound)) return end(used, kOk);
  if (div - kl_bound < Real(0)) {  // eta too big
    st->hi = used;
    const Real geom = sqrt(st->lo * st->hi);
    st->eta = geom > Real(0.1) * st->hi ? geom : Real(0.1) * st->hi;
  } else {  // eta too small
    st->lo = used;
    const Real geom = sqrt(st->lo * st->hi);
    st->eta = geom < Real(10) * st->lo ? geom : Real(10) * st->lo;
  }
  // the next proposal, not the eta of the returned controller
  if (st->passes >= s.max_iterations) return end(st->eta, kNotConverged);
  return false;
}

// The sequential dual search from state *st (dual_search below starts it fresh; the
// SIMD-lane search finishes its last conditions with it). Arguments as dual_search's.
template <class Real>
GPS_HD std::uint32_t dual_search_from(const Dims& d, const TrajInfo<Real>& info,
                                      const Constraint<Real>& con, const SearchSettings<Real>& s,
                                      Real kl_bound, Bracket<Real>* st, Real* eta,
                                      const Controller<Real>& out, const ForwardRecord<Real>& rec,
                                      const SearchTrace<Real>& trace, Real* kl, int* iterations,
                                      Real* scratch) {
  const BackwardRecord<Real> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  *iterations = st->passes;
  while (st->passes < s.max_iterations) {
    int attempts = 0;
    Real used = st->eta;
    const std::uint32_t bs = backward_pass(d, info, con, st->eta, s.del0, s.max_eta, out,
                                           no_record, &used, &attempts, scratch);
    const int itr = st->passes++;
    *iterations = st->passes;
    bool finite = true;
    Real div = Real(0);
    if (bs == kOk) {
      div = forward_kl(d, info, view_of(out), con.kl_anchor(), rec, scratch, &finite);
      if (trace.eta_used) trace.eta_used[itr] = used;
      if (trace.kl) trace.kl[itr] = div;
      if (trace.attempts) trace.attempts[itr] = attempts;
    }
    std::uint32_t status = kOk;
    if (dual_iteration_end(s, kl_bound, bs, used, finite, div, st, eta, kl, &status))
      return status;
  }
  *eta = st->eta;
  return kNotConverged;
}

// Sequential dual search of the reference (pitfall 5) for one condition with total KL
// bound kl_bound (s.kl_bound). eta: in = start (the previous iteration's eta), out = the
// reference's returned eta (the converged eta, or the next proposal when the iterations
// run out). out receives the controller of the last iteration, rec its forward marginals
// and per-step KL, *kl its total KL (left as is when a backward pass fails:
// kNotPositiveDefinite | kLimitReached, kNonFinite). scratch: search_scratch_size.
// Status: kOk, kNotConverged, kNotPositiveDefinite|kLimitReached, kNonFinite.
template <class Real>
GPS_HD std::uint32_t dual_search(const Dims& d, const TrajInfo<Real>& info,
                                 const Constraint<Real>& con, const SearchSettings<Real>& s,
                                 Real kl_bound, Real* eta, const Controller<Real>& out,
                                 const ForwardRecord<Real>& rec, const SearchTrace<Real>& trace,
                                 Real* kl, int* iterations, Real* scratch) {
  Bracket<Real> st = dual_start(s, *eta);
  return dual_search_from(d, info, con, s, kl_bound, &st, eta, out, rec, trace, kl, iterations,
                          scratch);
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
