// CPU fast path of the sequential eta search: the SAME pass code (backward_sweep in
// lqr_riccati.h, forward_kl in lqr_kl.h) instantiated on a SIMD pack Lanes<S, W>
// (lanes.h), so one pass runs W conditions at W different etas, one condition per lane:
// every product is a contiguous W-wide load and multiply, with no horizontal sums. g++
// only (vector extensions); the CUDA executor runs SequentialSearchFn, one condition per
// thread.
//
// Each lane keeps the reference's per-condition search (dual_iteration_end): its own eta,
// bracket, pass count and convergence. A lane whose search ends hands out its condition's
// results and takes the next condition of its worker's queue. A pack pass in which any
// lane fails (non-PD Quu, non-finite value) is redone lane by lane with the scalar
// backward_pass (non-PD restarts with del doubling) and forward_kl, so statuses, etas and
// controllers are bit-identical to the scalar search (lane arithmetic is the same IEEE
// operations in the same order). A new condition's inputs are staged into its lane step by
// step inside its first pass (Stager). When a worker's queue runs dry, finished lanes are
// parked on a pass they already passed while the others finish in the pack; the last
// open search finishes with the scalar dual_search_from. Why it is laid out so (pack
// costs, store forwarding): benchmarks/RESULTS.md, "Notes moved from the kernels".
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/lqr_batch.h"
#include "gpsx/kernels/lqr_dual_search.h"
#include "gpsx/kernels/lqr_kl.h"
#include "gpsx/kernels/lqr_riccati.h"

namespace gpsx::lqr {

// One condition's inputs in pack layout: element i of lane l at [i].lane(l).
template <class P>
struct PackInputs {
  P* Fm;          // (T x dX x n)
  P* fv;          // (T x dX)
  P* dyn_covar;   // (T x dX x dX)
  P* x0mu;        // (dX)
  P* x0sigma;     // (dX x dX)
  P* Cm;          // (T x n x n)
  P* cv;          // (T x n)
  P* prev_K;      // (T x dU x dX)
  P* prev_k;      // (T x dU)
  P* prev_chol;   // (T x dU x dU)
  P* prev_inv;    // (T x dU x dU)
  P* pol_K;       // (T x dU x dX)
  P* pol_k;       // (T x dU)
  P* chol_pol_S;  // (T x dU x dU)
  P* pol_wt;      // (T)
  P* lambda_K;    // (T x dU x dX)
  P* lambda_k;    // (T x dU)
  P* end;         // first element after the block
};

// Carves PackInputs from p (staged_size(d) packs).
template <class P>
PackInputs<P> carve_pack_inputs(const Dims& d, P* p) {
  const std::size_t T = d.T, X = d.dX, U = d.dU, n = d.n();
  PackInputs<P> s;
  s.Fm = p;
  s.fv = s.Fm + T * X * n;
  s.dyn_covar = s.fv + T * X;
  s.x0mu = s.dyn_covar + T * X * X;
  s.x0sigma = s.x0mu + X;
  s.Cm = s.x0sigma + X * X;
  s.cv = s.Cm + T * n * n;
  s.prev_K = s.cv + T * n;
  s.prev_k = s.prev_K + T * U * X;
  s.prev_chol = s.prev_k + T * U;
  s.prev_inv = s.prev_chol + T * U * U;
  s.pol_K = s.prev_inv + T * U * U;
  s.pol_k = s.pol_K + T * U * X;
  s.chol_pol_S = s.pol_k + T * U;
  s.pol_wt = s.chol_pol_S + T * U * U;
  s.lambda_K = s.pol_wt + T;
  s.lambda_k = s.lambda_K + T * U * X;
  s.end = s.lambda_k + T * U;
  return s;
}

// Packs per condition that carve_pack_inputs lays out (cc is not needed by the search).
inline std::size_t staged_size(const Dims& d) {
  const std::size_t T = d.T, X = d.dX, U = d.dU, n = d.n();
  return T * X * n + T * X + T * X * X + X + X * X + T * n * n + T * n  // model
         + T * U * X + T * U + 2 * T * U * U                            // previous controller
         + T * U * X + T * U + T * U * U                                // policy
         + T + T * U * X + T * U;                                       // BADMM terms
}

template <class S, int W>
struct SequentialSearchLanes {
  using P = Lanes<S, W>;
  SequentialSearchFn<S> scalar;  // inputs, settings, outputs; the per-condition fallback
  std::int64_t M = 0;
  int workers = 1;               // items; worker w searches conditions [w M / workers, ...)
  S* workspace = nullptr;        // (workers x worker_size)

  struct Lane {
    std::int64_t m;      // condition; -1 once parked (its search ended, the queue is empty)
    S kl_bound;          // the condition's total KL bound
    Bracket<S> st;
    bool pending;        // the condition's per-step inputs are not all staged yet
    bool has_good;       // good_eta is set
    S good_eta;          // an eta whose pack pass succeeded for this condition
  };

  // Scalar elements per worker: scalar scratch, then (aligned) staged inputs, a pack
  // controller and pack scratch.
  static std::size_t worker_size(const Dims& d) {
    return search_scratch_size(d) + W +
           W * (staged_size(d) + controller_size(d) + search_scratch_size(d));
  }

  void operator()(std::int64_t w) const {
    const Dims& d = scalar.in.d;
    const std::int64_t begin = w * M / workers, end = (w + 1) * M / workers;
    S* base = workspace + w * worker_size(d);
    S* scalar_scratch = base;
    if (end - begin < W) {  // too few conditions to fill a pack
      for (std::int64_t m = begin; m < end; ++m) scalar.run(m, scalar_scratch);
      return;
    }
    S* after = scalar_scratch + search_scratch_size(d);
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(after), align = alignof(P);
    P* packs = reinterpret_cast<P*>((a + align - 1) / align * align);
    const PackInputs<P> pin = carve_pack_inputs(d, packs);
    const Controller<P> ctrl = packed_controller(d, pin.end);
    P* pack_scratch = pin.end + controller_size(d);
    const TrajInfo<P> info{pin.Fm, pin.fv, pin.dyn_covar, pin.x0mu, pin.x0sigma, pin.Cm, pin.cv,
                           nullptr};
    const Constraint<P> con = pack_constraint(pin);
    const BackwardRecord<P> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    const ForwardRecord<P> no_forward{nullptr, nullptr, nullptr, nullptr};

    Lane lane[W];
    std::int64_t next = begin;
    for (int l = 0; l < W; ++l) load(pin, l, next++, &lane[l]);
    const Stager stage_backward{this, &pin, lane, true}, stage_forward{this, &pin, lane, false};
    // Once the queue is empty, a lane whose search ends is parked: it repeats a pass that
    // succeeded for its condition (same lane arithmetic, so it cannot fail) while the
    // others finish in the pack. The last open search finishes on the scalar path (below),
    // which is then cheaper than a pack pass.
    int open = W;
    bool can_park = true;
    while (open >= 2 && can_park) {
      P eta;
      for (int l = 0; l < W; ++l)
        eta.set_lane(l, lane[l].m >= 0 ? lane[l].st.eta : lane[l].good_eta);
      bool finite = true;
      P div(0);
      const std::uint32_t bs =
          backward_sweep(d, info, con, eta, ctrl, no_record, pack_scratch, stage_backward);
      if (bs == kOk) {
        div = forward_kl(d, info, view_of(ctrl), con.kl_anchor(), no_forward, pack_scratch,
                         &finite, stage_forward);
        for (Lane& L : lane) L.pending = false;  // every step has been staged
      }
      const bool pack_ok = bs == kOk && finite;
      for (int l = 0; l < W; ++l) {
        Lane& L = lane[l];
        const std::int64_t m = L.m;
        if (m < 0) continue;  // parked
        const S used = L.st.eta;
        ++L.st.passes;
        scalar.res.passes[m] = L.st.passes;
        std::uint32_t status = kOk;
        bool done;
        if (pack_ok) {
          L.has_good = true;
          L.good_eta = used;
          done = dual_iteration_end(scalar.search, L.kl_bound, kOk, used, true, div.lane(l),
                                    &L.st, scalar.res.eta + m, scalar.res.kl + m, &status);
          if (done) store_controller(ctrl, l, scalar.out.at(m, d.T, d.dX, d.dU));
        } else {  // this lane's pass again with the scalar code (its own non-PD restarts)
          done = scalar_pass(m, used, &L, scalar_scratch, &status);
        }
        if (!done) continue;
        scalar.res.status[m] = status;
        if (next < end) {
          load(pin, l, next++, &L);
        } else {
          L.m = -1, --open;
          can_park = can_park && L.has_good;  // no safe eta to repeat: finish the rest scalar
        }
      }
    }
    // the open searches of the last conditions
    const ForwardRecord<S> none{nullptr, nullptr, nullptr, nullptr};
    const SearchTrace<S> no_trace{nullptr, nullptr, nullptr};
    for (int l = 0; l < W; ++l) {
      const std::int64_t m = lane[l].m;
      if (m < 0) continue;
      const BatchResult<S>& res = scalar.res;
      res.status[m] = dual_search_from(d, scalar.in.info(m), scalar.in.constraint(m),
                                       scalar.search, lane[l].kl_bound, &lane[l].st, res.eta + m,
                                       scalar.out.at(m, d.T, d.dX, d.dU), none, no_trace,
                                       res.kl + m, res.passes + m, scalar_scratch);
    }
  }

 private:
  // Null where the batch leaves an input out (as BatchInputs::constraint).
  Constraint<P> pack_constraint(const PackInputs<P>& p) const {
    const BatchInputs<S>& in = scalar.in;
    const auto pick = [](const S* given, P* staged) { return given ? staged : nullptr; };
    Constraint<P> c;
    c.mode = in.mode;
    c.prev = {pick(in.prev_K, p.prev_K), pick(in.prev_k, p.prev_k), nullptr,
              pick(in.prev_chol_pol_covar, p.prev_chol), pick(in.prev_inv_pol_covar, p.prev_inv)};
    c.policy = {pick(in.pol_K, p.pol_K), pick(in.pol_k, p.pol_k), nullptr,
                pick(in.chol_pol_S, p.chol_pol_S), nullptr};
    c.pol_wt = pick(in.pol_wt, p.pol_wt);
    c.lambda_K = pick(in.lambda_K, p.lambda_K);
    c.lambda_k = pick(in.lambda_k, p.lambda_k);
    return c;
  }

  // Copies block `block` (of `count` elements) of input src into lane l of dst's block;
  // src null: the batch does not use that input.
  static void put(P* dst, const S* src, std::size_t count, std::int64_t block, int l) {
    if (!src) return;
    src += block * static_cast<std::int64_t>(count);
    S* lane = reinterpret_cast<S*>(dst) + l;  // GCC vectors alias their element type
    for (std::size_t i = 0; i < count; ++i) lane[i * W] = src[i];
  }

  // Stages the inputs of step t of condition m into lane l: the backward sweep's, or the
  // forward pass's (dyn_covar; it also reads the backward ones, staged before).
  void stage_step(const PackInputs<P>& p, int l, std::int64_t m, int t, bool backward) const {
    const BatchInputs<S>& in = scalar.in;
    const Dims& d = in.d;
    const std::size_t X = d.dX, U = d.dU, n = d.n();
    const std::int64_t mt = m * d.T + t;  // block of step t of condition m
    if (!backward) {
      put(p.dyn_covar + t * X * X, in.dyn_covar, X * X, mt, l);
      return;
    }
    put(p.Fm + t * X * n, in.Fm, X * n, mt, l);
    put(p.fv + t * X, in.fv, X, mt, l);
    put(p.Cm + t * n * n, in.Cm, n * n, mt, l);
    put(p.cv + t * n, in.cv, n, mt, l);
    put(p.prev_K + t * U * X, in.prev_K, U * X, mt, l);
    put(p.prev_k + t * U, in.prev_k, U, mt, l);
    put(p.prev_chol + t * U * U, in.prev_chol_pol_covar, U * U, mt, l);
    put(p.prev_inv + t * U * U, in.prev_inv_pol_covar, U * U, mt, l);
    put(p.pol_K + t * U * X, in.pol_K, U * X, mt, l);
    put(p.pol_k + t * U, in.pol_k, U, mt, l);
    put(p.chol_pol_S + t * U * U, in.chol_pol_S, U * U, mt, l);
    put(p.pol_wt + t, in.pol_wt, 1, mt, l);  // step t reads t + 1 too: staged before it
    put(p.lambda_K + t * U * X, in.lambda_K, U * X, mt, l);
    put(p.lambda_k + t * U, in.lambda_k, U, mt, l);
  }

  // Stages the steps of the lanes whose condition is new during the pass, each just before
  // the pass reads it, so the pack lines are written while the pass fetches them anyway.
  struct Stager {
    const SequentialSearchLanes* search;
    const PackInputs<P>* pin;
    const Lane* lane;  // (W)
    bool backward;
    // Called before step t in pass order (backward: T-1 .. 0, forward: 0 .. T-1). Stages
    // the step after t in that order, one step ahead, so the lane's scalar stores are done
    // before the pass reads the packs with vector loads.
    void operator()(int t) const {
      const int T = search->scalar.in.d.T;
      const int first = backward ? T - 1 : 0, ahead = backward ? t - 1 : t + 1;
      for (int l = 0; l < W; ++l) {
        if (!lane[l].pending) continue;
        if (t == first) search->stage_step(*pin, l, lane[l].m, t, backward);
        if (ahead >= 0 && ahead < T) search->stage_step(*pin, l, lane[l].m, ahead, backward);
      }
    }
  };

  // Condition m into lane l, search started; its per-step inputs are staged by the next
  // pass (Stager).
  void load(const PackInputs<P>& p, int l, std::int64_t m, Lane* L) const {
    const BatchInputs<S>& in = scalar.in;
    const Dims& d = in.d;
    const std::size_t X = d.dX;
    put(p.x0mu, in.x0mu, X, m, l);
    put(p.x0sigma, in.x0sigma, X * X, m, l);
    L->m = m;
    L->kl_bound = scalar.search.kl_bound(d, scalar.step_mult[m]);
    L->st = dual_start(scalar.search, scalar.res.eta[m]);
    L->pending = true;
    L->has_good = false;
    L->good_eta = S(0);
    scalar.res.passes[m] = 0;
  }

  // Lane l of the pack controller into one condition's controller.
  void store_controller(const Controller<P>& src, int l, const Controller<S>& dst) const {
    const Dims& d = scalar.in.d;
    const std::size_t T = d.T, X = d.dX, U = d.dU;
    const auto get = [l](const P* s, S* t, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) t[i] = s[i].lane(l);
    };
    get(src.K, dst.K, T * U * X);
    get(src.k, dst.k, T * U);
    get(src.pol_covar, dst.pol_covar, T * U * U);
    get(src.chol_pol_covar, dst.chol_pol_covar, T * U * U);
    get(src.inv_pol_covar, dst.inv_pol_covar, T * U * U);
  }

  // The pass at eta `used` of lane L's condition with the scalar code, as dual_search_from
  // does it; its controller goes straight to the output. True when the search ends.
  bool scalar_pass(std::int64_t m, S used, Lane* L, S* s, std::uint32_t* status) const {
    const BatchInputs<S>& in = scalar.in;
    const Dims& d = in.d;
    const TrajInfo<S> info = in.info(m);
    const Constraint<S> con = in.constraint(m);
    const Controller<S> out = scalar.out.at(m, d.T, d.dX, d.dU);
    const BackwardRecord<S> no_record{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    const ForwardRecord<S> none{nullptr, nullptr, nullptr, nullptr};
    int attempts = 0;
    S eta_ok = used;
    const std::uint32_t bs = backward_pass(d, info, con, used, scalar.search.del0,
                                           scalar.search.max_eta, out, no_record, &eta_ok,
                                           &attempts, s);
    bool finite = true;
    S div = S(0);
    if (bs == kOk) div = forward_kl(d, info, view_of(out), con.kl_anchor(), none, s, &finite);
    return dual_iteration_end(scalar.search, L->kl_bound, bs, eta_ok, finite, div, &L->st,
                              scalar.res.eta + m, scalar.res.kl + m, status);
  }
};

}  // namespace gpsx::lqr
