// CPU fast path of the batched step: the SAME rigid_body.h math instantiated on a SIMD
// pack Lanes<S, W> (lanes.h), so one call advances W environments at once. g++ only
// (vector extensions); the CUDA executor runs rb::StepBatch, one environment per thread.
#pragma once

#include <cstdint>

#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/rigid_body.h"

namespace gpsx::rb {

// One control step of W environments on a pack, as step_env does it for one: torques from
// each lane's controls ctrl[l] (nu), `substeps` integrations of the pack, range enforcement
// lane by lane. qe, ve (nv packs) in/out, a (nv packs) out. Returns the pack's status: any
// lane's singular H or non-finite value (the caller then redoes the lanes with step_env).
template <class S, int W>
std::uint32_t step_env_lanes(const ChainModel<S>& model, const ChainModel<Lanes<S, W>>& model_lanes,
                             S dt, int substeps, int integrator, int enforce_limits,
                             const S* const* ctrl, Lanes<S, W>* qe, Lanes<S, W>* ve,
                             Lanes<S, W>* a) {
  using P = Lanes<S, W>;
  const int n = model.nbody;
  P tau[kMaxDof];
  for (int l = 0; l < W; ++l) {
    S tau_l[kMaxDof];
    actuator_torques(model, ctrl[l], tau_l);
    for (int i = 0; i < n; ++i) tau[i].set_lane(l, tau_l[i]);
  }
  std::uint32_t st = kOk;
  const P dtp(dt);
  for (int s = 0; s < substeps && st == kOk; ++s) {
    st |= integrate(model_lanes, integrator, dtp, tau, qe, ve, a);
    if (!enforce_limits) continue;
    for (int l = 0; l < W; ++l) {
      S ql[kMaxDof], vl[kMaxDof];
      for (int i = 0; i < n; ++i) {
        ql[i] = qe[i].lane(l);
        vl[i] = ve[i].lane(l);
      }
      enforce_range(model, ql, vl);
      for (int i = 0; i < n; ++i) {
        qe[i].set_lane(l, ql[i]);
        ve[i].set_lane(l, vl[i]);
      }
    }
  }
  return st;
}

// Item p advances environments [p W, min(E, (p + 1) W)). Lanes past E repeat the last
// environment and are not stored. If the pack reports any status (a singular H or a
// non-finite value in some lane) the pack is redone environment by environment with the
// scalar step_env, so statuses stay exact per environment.
template <class S, int W>
struct StepBatchLanes {
  using P = Lanes<S, W>;
  StepBatch<S> scalar;          // the batch as the scalar path runs it (and the fallback)
  ChainModel<P> model_lanes;    // scalar.model broadcast to W lanes
  std::int64_t E = 0;           // number of environments

  static std::int64_t items(std::int64_t envs) { return (envs + W - 1) / W; }

  void operator()(std::int64_t p) const {
    const ChainModel<S>& model = scalar.model;
    S* q = scalar.q;
    S* qd = scalar.qd;
    S* qacc = scalar.qacc;
    const int n = model.nbody;
    std::int64_t env[W];
    const S* ctrl[W];
    P qe[kMaxDof], ve[kMaxDof], a[kMaxDof];
    for (int l = 0; l < W; ++l) {
      const std::int64_t e = p * W + l;
      env[l] = e < E ? e : E - 1;
      ctrl[l] = scalar.ctrl + env[l] * model.nu;
      for (int i = 0; i < n; ++i) {
        qe[i].set_lane(l, q[env[l] * n + i]);
        ve[i].set_lane(l, qd[env[l] * n + i]);
      }
    }
    const std::uint32_t st = step_env_lanes(model, model_lanes, scalar.dt, scalar.substeps,
                                            scalar.integrator, scalar.enforce_limits, ctrl, qe,
                                            ve, a);
    const int valid = E - p * W < W ? static_cast<int>(E - p * W) : W;
    if (st != kOk) {
      for (int l = 0; l < valid; ++l) scalar(env[l]);
      return;
    }
    for (int l = 0; l < valid; ++l) {
      const std::int64_t e = env[l];
      for (int i = 0; i < n; ++i) {
        q[e * n + i] = qe[i].lane(l);
        qd[e * n + i] = ve[i].lane(l);
        if (qacc) qacc[e * n + i] = a[i].lane(l);
      }
    }
  }
};

}  // namespace gpsx::rb
