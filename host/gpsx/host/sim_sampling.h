// From a task config to samples and a cost expansion: linear-Gaussian controllers sampled
// on the rigid-arm simulator (M conditions x N samples x T steps, one executor call), with
// observations, end-effector Jacobians for CostFK, and the task's `cost:` expanded along
// the samples (Algorithm._eval_cost). Conditions are the task's, cycled when M exceeds
// their number. All buffers are executor memory unless marked host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/envs/task.h"
#include "gpsx/host/cost.h"
#include "gpsx/host/buffer.h"
#include "gpsx/host/lin_gauss.h"
#include "gpsx/host/sampling.h"
#include "gpsx/kernels/rigid_body.h"
#include "gpsx/kernels/sim_sampling.h"

namespace gpsx::envs {

struct SimSamplingOptions {
  SamplingOptions sampling;                     // seed, stream, noise (reference defaults)
  int ee_velocity = rb::kEeVelocityDifference;  // rb::EeVelocity; the reference's by default
  std::vector<int> obs_sensors;                 // observation sensor list; empty: no obs
  bool jacobians = false;                       // record ee Jacobians (needed by fk costs)
  bool cpu_lanes = true;  // CPU: physics of 4 rollouts per SIMD pack (same results bit for bit)
};

// How sample_task runs its rollouts (the `run` of sample_lin_gauss): with cpu_lanes on a CPU
// executor, 4 rollouts share each physics step as one SIMD pack (rb::RolloutArmLanes, the
// same results bit for bit); else one rollout per work item.
struct ArmRollouts {
  bool cpu_lanes = true;
  void operator()(const Executor& ex, int M, int N,
                  const sampling::RolloutLinGauss<double, rb::ArmDynamics<double>>& f) const;
};

struct SimSamples {
  int M = 0, N = 0, T = 0, dX = 0, dU = 0, dO = 0;
  int jac_rows = 0, jac_cols = 0;     // 3 nee x nv when recorded
  Buffer<double> X;               // (M x N x T x dX)
  Buffer<double> U;               // (M x N x T x dU) applied controls, clamped to the
                                      //   model's ctrl range (torque = gear x control;
                                      //   gear 1 in the shipped arms)
  Buffer<double> obs;             // (M x N x T x dO) when obs_sensors are given
  Buffer<double> jac;             // (M x N x T x jac_rows x jac_cols) when recorded
  std::vector<std::uint32_t> status;  // (M) host, StatusBits OR-ed over the samples
};

// Initial states x0 (M x dX, host) of the task's conditions (cycled over M).
std::vector<double> initial_states(const Task& task, int M, int ee_velocity);

// The task's control limits lo, hi (dU, host): the model's ctrl range, infinite where
// a control is unlimited.
void control_limits(const Task& task, std::vector<double>& lo, std::vector<double>& hi);

// The simulator as sampling dynamics for the task (its step options and state layout).
// Throws std::invalid_argument when the state lacks JOINT_ANGLES or JOINT_VELOCITIES.
rb::ArmDynamics<double> arm_dynamics(const Task& task, int ee_velocity);

// Samples ctrl (M conditions, T steps, dX / dU of the task) for N samples per condition
// from the task's conditions. Throws std::invalid_argument on shape mismatches or a state
// without JOINT_ANGLES and JOINT_VELOCITIES.
void sample_task(const Executor& ex, const Task& task, const ControllerBatch& ctrl, int N,
                 const SimSamplingOptions& options, SimSamples& out, SamplingWorkspace& ws);

// Named blocks of the task's state (JOINT_ANGLES, ... as in the sensor list).
StateLayout state_layout(const Task& task);

// The `cost:` of the task's YAML for M conditions (condition_targets applied). Throws
// ConfigError when there is none.
CostDesc task_cost(const Task& task, int M);

// Fills the per-condition targets of desc for M conditions (the task's, cycled over M):
// `target: ee_target` / `target: joint_target` blocks get the conditions' ee_target /
// joint_target; blocks with one target per task condition are cycled too. Throws
// ConfigError naming the term and the condition when a target has the wrong size.
void condition_targets(const Task& task, CostDesc& desc, int M);

struct SampleCosts {
  Buffer<double> cs;              // (M x N x T) per-sample costs
  Buffer<double> cc;              // (M x T)
  Buffer<double> cv;              // (M x T x dXU)
  Buffer<double> Cm;              // (M x T x dXU x dXU)
  std::vector<std::uint32_t> status;  // (M) host
};

// eval_cost of `cost` (compiled for s.M conditions) along the samples.
void eval_sample_costs(const Executor& ex, const cost::CostModel<double>& cost,
                       const SimSamples& s, SampleCosts& out, EvalCostWorkspace& ws);

}  // namespace gpsx::envs
