// CPU fast path of sampling on the rigid-arm simulator: W rollouts advance in lockstep and
// their physics steps run as one SIMD pack (rb::step_env_lanes, the same rigid_body.h math
// on Lanes<S, W>). Noise, actions and states are the scalar rollout's own code per lane
// (sampling::RolloutLinGauss, rb::ArmDynamics), so the results equal the scalar path's bit
// for bit. g++ only (vector extensions); the CUDA executor runs RolloutLinGauss, one
// rollout per thread.
#pragma once

#include <cstdint>

#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/rigid_body_lanes.h"
#include "gpsx/kernels/sampling.h"
#include "gpsx/kernels/sim_sampling.h"

namespace gpsx::rb {

// Item p runs rollouts r = p W + l (r = m N + n) over all steps. Lanes past the last
// rollout repeat it and store nothing. A pack step that reports any status is redone lane
// by lane with ArmDynamics, so statuses stay exact per rollout.
template <class S, int W>
struct RolloutArmLanes {
  using P = Lanes<S, W>;
  sampling::RolloutLinGauss<S, ArmDynamics<S>> scalar;  // inputs, outputs, the per-lane code
  ChainModel<P> model_lanes;                            // scalar.dynamics.model on W lanes
  std::int64_t rollouts = 0;                            // M x N

  static std::int64_t items(std::int64_t r) { return (r + W - 1) / W; }

  void operator()(std::int64_t p) const {
    const auto& f = scalar;
    const ArmDynamics<S>& dyn = f.dynamics;
    const ChainModel<S>& model = dyn.model;
    const int nv = model.nbody, dX = f.dX, dU = f.dU;
    const int valid = rollouts - p * W < W ? static_cast<int>(rollouts - p * W) : W;
    std::int64_t m[W], n[W];
    S* Xs[W];
    S* Us[W];
    S* n_t[W];
    S* dyn_scratch[W];
    std::uint32_t st[W];
    for (int l = 0; l < valid; ++l) {
      const std::int64_t r = p * W + l;
      m[l] = r / f.samples;
      n[l] = r % f.samples;
      Xs[l] = f.X + r * f.steps * dX;
      Us[l] = f.U + r * f.steps * dU;
      S* noise_scratch = f.scratch + r * f.scratch_size();
      n_t[l] = noise_scratch + noise::noise_scratch_size(f.steps, f.noise);
      dyn_scratch[l] = n_t[l] + dU;
      rng::fill_normal(f.seed, sampling::noise_stream(m[l], f.stream),
                       sampling::noise_block(n[l], 0u), f.steps * dU, Us[l]);
      st[l] = noise::generate_noise(f.steps, dU, f.noise, Us[l], noise_scratch);
      for (int i = 0; i < dX; ++i) Xs[l][i] = f.x0[m[l] * dX + i];
    }
    for (int t = 0; t < f.steps; ++t) {
      for (int l = 0; l < valid; ++l) {
        const std::int64_t mt = m[l] * f.steps + t;
        S* u = Us[l] + t * dU;
        for (int i = 0; i < dU; ++i) n_t[l][i] = u[i];
        lingauss::act(dX, dU, f.K + mt * dU * dX, f.k + mt * dU, f.chol_pol_covar + mt * dU * dU,
                      Xs[l] + t * dX, n_t[l], f.u_min, f.u_max, u);
      }
      if (t + 1 == f.steps) break;
      P qe[kMaxDof], ve[kMaxDof], a[kMaxDof];
      const S* ctrl[W];
      for (int l = 0; l < W; ++l) {
        const int src = l < valid ? l : valid - 1;
        const S* x = Xs[src] + t * dX;
        ctrl[l] = Us[src] + t * dU;
        for (int i = 0; i < nv; ++i) {
          qe[i].set_lane(l, x[dyn.q_offset + i]);
          ve[i].set_lane(l, x[dyn.qd_offset + i]);
        }
      }
      const std::uint32_t pack = step_env_lanes(model, model_lanes, dyn.dt, dyn.substeps,
                                                dyn.integrator, dyn.enforce_limits, ctrl, qe, ve,
                                                a);
      for (int l = 0; l < valid; ++l) {
        const S* x = Xs[l] + t * dX;
        S* x_next = Xs[l] + (t + 1) * dX;
        if (pack != kOk) {
          st[l] |= dyn(m[l], n[l], t, x, Us[l] + t * dU, x_next, dyn_scratch[l]);
        } else {
          S q[kMaxDof], qd[kMaxDof];
          for (int i = 0; i < nv; ++i) {
            q[i] = qe[i].lane(l);
            qd[i] = ve[i].lane(l);
          }
          assemble_state(model, dyn.state, q, qd, x + dyn.q_offset, dyn.control_dt, x_next);
        }
        for (int i = 0; i < dX; ++i)
          if (!is_finite(x_next[i])) st[l] |= kNonFinite;
      }
    }
    for (int l = 0; l < valid; ++l) f.status[p * W + l] = st[l];
  }
};

}  // namespace gpsx::rb
