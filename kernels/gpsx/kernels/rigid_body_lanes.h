// CPU fast path of the batched step: the SAME rigid_body.h math instantiated on a SIMD
// pack Lanes<S, W> (lanes.h), so one call advances W environments at once. g++ only
// (vector extensions); the CUDA executor runs rb::StepBatch, one environment per thread.
#pragma once

#include <cstdint>

#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/rigid_body.h"

namespace gpsx::rb {

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
    const S* ctrl = scalar.ctrl;
    S* qacc = scalar.qacc;
    const int n = model.nbody;
    std::int64_t env[W];
    for (int l = 0; l < W; ++l) {
      const std::int64_t e = p * W + l;
      env[l] = e < E ? e : E - 1;
    }
    P qe[kMaxDof], ve[kMaxDof], tau[kMaxDof], a[kMaxDof];
    for (int l = 0; l < W; ++l) {
      S tau_l[kMaxDof];
      actuator_torques(model, ctrl + env[l] * model.nu, tau_l);
      for (int i = 0; i < n; ++i) {
        qe[i].set_lane(l, q[env[l] * n + i]);
        ve[i].set_lane(l, qd[env[l] * n + i]);
        tau[i].set_lane(l, tau_l[i]);
      }
    }
    std::uint32_t st = kOk;
    const P dtp(scalar.dt);
    for (int s = 0; s < scalar.substeps && st == kOk; ++s) {
      st |= integrate(model_lanes, scalar.integrator, dtp, tau, qe, ve, a);
      if (scalar.enforce_limits) {
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
    }
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
