// The rigid-arm simulator as the dynamics of batched linear-Gaussian sampling
// (sampling.h), and observations of the sampled states. Only glue: the step is
// rb::step_env and the state / observation assembly is rb::assemble_state, the same
// per-environment functions the batched simulator (rb::StepBatch, rb::ObserveBatch) runs.
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/rigid_body.h"

namespace gpsx::rb {

// Dynamics functor for sampling::RolloutLinGauss: x_next = assemble(step_env(q, qd, u)),
// with q, qd read from the JOINT_ANGLES / JOINT_VELOCITIES blocks of x (the state must
// contain both: it is the simulator's whole state). u (nu) are actuator controls,
// clamped to the model's ctrl range inside step_env as well.
template <class T>
struct ArmDynamics {
  ChainModel<T> model;
  T dt = T(0);               // physics step [s]
  int substeps = 1;          // physics steps per control step
  int integrator = kEuler;
  int enforce_limits = 1;
  T control_dt = T(0);       // substeps x dt: the finite-difference ee velocity step
  SensorList state;          // blocks of x
  int q_offset = 0;          // JOINT_ANGLES block of x
  int qd_offset = 0;         // JOINT_VELOCITIES block of x

  GPS_HD int scratch_size() const { return 0; }

  GPS_HD std::uint32_t operator()(std::int64_t, std::int64_t, int, const T* x, const T* u,
                                  T* x_next, T*) const {
    const int n = model.nbody;
    T q[kMaxDof], qd[kMaxDof];
    for (int i = 0; i < n; ++i) {
      q[i] = x[q_offset + i];
      qd[i] = x[qd_offset + i];
    }
    const std::uint32_t st =
        step_env(model, dt, substeps, integrator, enforce_limits, q, qd, u, static_cast<T*>(nullptr));
    assemble_state(model, state, q, qd, x + q_offset, control_dt, x_next);
    return st;
  }
};

// Observations of sampled states: obs[r] = assemble(obs sensors) of row r of X, rows
// grouped in trajectories of `steps` (the previous row feeds finite-difference
// velocities; the first row of a trajectory has none). for_each over M x N x T rows.
template <class T>
struct ObserveSamples {
  ChainModel<T> model;
  SensorList sensors;        // observation blocks
  int steps = 0;             // T
  int dX = 0, dO = 0;
  int q_offset = 0, qd_offset = 0;  // joint blocks of x
  T control_dt = T(0);
  const T* X = nullptr;      // (M x N x T x dX)
  T* obs = nullptr;          // (M x N x T x dO)

  GPS_HD void operator()(std::int64_t r) const {
    const T* x = X + r * dX;
    const T* q_prev = r % steps == 0 ? static_cast<const T*>(nullptr) : x - dX + q_offset;
    assemble_state(model, sensors, x + q_offset, x + qd_offset, q_prev, control_dt, obs + r * dO);
  }
};

}  // namespace gpsx::rb
