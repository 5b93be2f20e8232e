// Batched simulation over E environments: each call is one gpsx::for_each over the
// environments with a kernels/ functor (rigid_body.h); no allocation per environment.
// On a CUDA executor every pointer must be a device pointer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/envs/model.h"
#include "gpsx/envs/task.h"
#include "gpsx/host/executor.h"
#include "gpsx/kernels/rigid_body.h"

namespace gpsx::envs {

struct StepOptions {
  double dt = 0.01;              // physics step [s]
  int substeps = 1;              // physics steps per call (ctrl held)
  int integrator = rb::kEuler;   // rb::Integrator
  bool enforce_limits = true;    // clamp q into joint ranges (rb::enforce_range)
  bool simd = true;              // CPU: advance a SIMD pack of environments per item
                                 //   (rb::StepBatchLanes); same math, same results
};

// The step options a task implies (model timestep and integrator, task substeps).
StepOptions step_options(const Task& task);

// One control step for all environments.
template <class T>
void step(const Executor& ex, const rb::ChainModel<T>& model, const StepOptions& opt,
          std::int64_t E,
          T* q,                  // (E x nv) in/out
          T* qd,                 // (E x nv) in/out
          const T* ctrl,         // (E x nu)
          T* qacc,               // (E x nv) out, may be null
          std::uint32_t* status  // (E) OR-ed StatusBits, may be null
);

// The same over host Data (CPU executor; a CUDA executor is refused): checks Data's shape
// against the model.
template <class T>
void step(const Executor& ex, const rb::ChainModel<T>& model, const StepOptions& opt, Data<T>& d);

// Accelerations from joint torques (no actuators, no range handling).
template <class T>
void accelerations(const Executor& ex, const rb::ChainModel<T>& model, std::int64_t E,
                   const T* q,            // (E x nv)
                   const T* qd,           // (E x nv)
                   const T* tau,          // (E x nv)
                   T* qacc,               // (E x nv) out
                   std::uint32_t* status  // (E) out, may be null
);

// The kernels' form of a sensor list; throws std::invalid_argument naming a bad sensor,
// site index or convention (rb::EeVelocity).
template <class T>
rb::SensorList sensor_list(const rb::ChainModel<T>& model, const std::vector<int>& sensors,
                           const std::vector<int>& ee_sites, int ee_velocity);

// State assembly x (E x dX) for the task's sensor list. End-effector point velocities:
// J qd (rb::kEeVelocityExact), or zeros as at the first step of the reference's
// finite-difference convention (rb::kEeVelocityDifference).
template <class T>
void observe(const Executor& ex, const rb::ChainModel<T>& model, const std::vector<int>& sensors,
             const std::vector<int>& ee_sites, std::int64_t E,
             const T* q,   // (E x nv)
             const T* qd,  // (E x nv)
             T* x,         // (E x dX)
             int ee_velocity = rb::kEeVelocityExact);

// End-effector point Jacobians J (E x 3 nee x nv): rows 3p..3p+2 are d(point p)/dq.
template <class T>
void ee_jacobians(const Executor& ex, const rb::ChainModel<T>& model, const std::vector<int>& ee_sites,
                  std::int64_t E,
                  const T* q,   // (E x ldq), nv used per row
                  T* J,         // (E x 3 nee x nv)
                  int ldq = 0   // row stride of q, 0: nv
);

// Uniform random controls in the actuator ranges, reproducible from (seed, step).
template <class T>
void random_controls(const Executor& ex, const rb::ChainModel<T>& model, std::uint64_t seed,
                     std::uint64_t step_index, std::int64_t E,
                     T* ctrl  // (E x nu) out
);

}  // namespace gpsx::envs
