// AlgorithmTrajOpt of the reference, batched over M conditions and resident in the
// executor's memory: one iteration of guided trajectory optimisation on given samples.
//
//   TrajOptAlgorithm alg = make_traj_opt_algorithm(ex, M, T, dX, dU, N, settings);
//   init_controllers(...)  -> alg.ctrl           (init_lqr / init_pd, lin_gauss.h)
//   for each iteration:
//     samples = sample alg.ctrl                  (the runner: sim_sampling.h)
//     IterationReport r = traj_opt_iteration(ex, alg, cost, samples);
//
// traj_opt_iteration is the paper's algorithm box, one visible call per phase:
//   traj_opt_eval_cost         costs and their derivatives along the samples
//   traj_opt_update_dynamics   prior update + per-step fit + initial state
//   traj_opt_update_step_size  Laplace estimates -> new step multiplier (from iteration 1)
//   traj_opt_update_controllers  KL-constrained LQR with the eta dual search
//   traj_opt_advance           new controllers become current; estimates for the next step
// Every array is allocated once by make_traj_opt_algorithm; inside an iteration only
// per-condition scalars (statuses, etas, step multipliers, estimates) reach the host.
//
// Failures stay per condition: a condition whose samples, costs, fit or LQR fail keeps its
// last good controller, eta and step multiplier for that iteration, its status says which
// phase failed, and the other conditions go on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/cost.h"
#include "gpsx/host/dynamics.h"
#include "gpsx/host/executor.h"
#include "gpsx/host/lin_gauss.h"
#include "gpsx/host/traj_opt.h"

namespace gpsx {

// AlgorithmTrajOpt hyperparameters (reference defaults, ../shared/reference/README.md).
struct TrajOptAlgorithmSettings {
  double kl_step = 0.2;             // KL bound per step: total kl_step * step_mult * T
  double min_step_mult = 0.01;
  double max_step_mult = 10.0;
  double init_eta = 1.0;            // carried over between iterations
  double init_step_mult = 1.0;
  double initial_state_var = 1e-6;  // floor of the x0 variance
  int inner_iterations = 1;         // C-steps per iteration
  TrajOptSettings lqr;              // eta search (base_kl_step is taken from kl_step)
  DynamicsPriorSettings dynamics;   // DynamicsLRPrior + DynamicsPriorGMM
};

// One iteration's samples in executor memory: drawn by the runner, or given (tests).
struct SampleBatch {
  int N = 0;
  const double* X = nullptr;    // (M x N x T x dX)
  const double* U = nullptr;    // (M x N x T x dU)
  const double* jac = nullptr;  // (M x N x T x jac_rows x jac_cols), null without fk costs
  const std::uint32_t* status = nullptr;  // (M) host StatusBits of the sampler, or null
};

// Which phase a condition failed in (bits of ConditionOutcome::failed).
enum PhaseBits : std::uint32_t {
  kPhaseSamples = 1u << 0,    // non-finite or invalid samples
  kPhaseCost = 1u << 1,       // cost evaluation
  kPhaseDynamics = 1u << 2,   // prior update, fit or initial state
  kPhaseStepSize = 1u << 3,   // non-finite Laplace estimates (multiplier kept)
  kPhaseLqr = 1u << 4,        // no positive-definite eta up to max_eta, or non-finite
                              // (an eta search that runs out of passes is a warning: the
                              // reference takes its last controller, and so do we)
};
// "samples+lqr" etc.; "" when none.
std::string phase_names(std::uint32_t phases);

// Per-condition outcome of one iteration (host, M entries each).
struct IterationReport {
  int iteration = 0;
  std::vector<std::uint32_t> failed;     // PhaseBits; a failed condition kept its controller
  std::vector<std::uint32_t> status;     // StatusBits OR-ed over the phases
  std::vector<std::string> message;      // first failure's (or warning's) message, "" when ok
  std::vector<double> sample_cost;       // mean over samples of the summed cost
  std::vector<double> eta;               // eta after the C-step
  std::vector<double> step_mult;         // multiplier the C-step used
  std::vector<double> kl;                // total KL of the new controller
  std::vector<double> kl_bound;          // kl_step * step_mult * T
  std::vector<double> predicted;         // predicted improvement (NaN at iteration 0)
  std::vector<double> actual;            // actual improvement (NaN at iteration 0)
  std::vector<int> lqr_passes;           // backward+forward passes of the eta search
  int gmm_clusters = 0;
  int gmm_em_iterations = 0;             // most EM iterations over conditions
  double seconds_cost = 0, seconds_dynamics = 0, seconds_step = 0, seconds_lqr = 0;
  int failures() const;
};

// The state of M conditions carried between iterations and the iteration's arrays, all
// in the executor's memory.
struct TrajOptAlgorithm {
  int M = 0, T = 0, dX = 0, dU = 0, N = 0;
  int iteration = 0;                 // iterations completed
  TrajOptAlgorithmSettings settings;

  ControllerBatch ctrl;              // current controllers: the samples are drawn with these
  ControllerBatch new_ctrl;          // the C-step's output
  DynamicsPrior prior;               // prior data set and GMM
  Buffer<double> eta;                // (M)
  Buffer<double> step_mult;          // (M)
  // Laplace estimates the next step adjustment needs, set by traj_opt_advance:
  // L(controller the samples were drawn with, this iteration's fit) and
  // L(new controller, this iteration's fit), summed over time.
  Buffer<double> laplace_prev;       // (M)
  Buffer<double> laplace_predicted;  // (M)

  // This iteration's fitted models and cost expansion (lqr::BatchInputs).
  Buffer<double> Fm;                 // (M x T x dX x (dX+dU))
  Buffer<double> fv;                 // (M x T x dX)
  Buffer<double> dyn_covar;          // (M x T x dX x dX)
  Buffer<double> x0mu;               // (M x dX)
  Buffer<double> x0sigma;            // (M x dX x dX)
  Buffer<double> Cm;                 // (M x T x (dX+dU) x (dX+dU))
  Buffer<double> cv;                 // (M x T x (dX+dU))
  Buffer<double> cc;                 // (M x T)
  Buffer<double> cs;                 // (M x N x T) per-sample costs

  // Per-iteration scratch, sized once.
  Buffer<double> kl;                 // (M)
  Buffer<int> passes;                // (M)
  Buffer<std::uint32_t> lqr_status;  // (M)
  Buffer<std::uint32_t> failed;      // (M) PhaseBits of this iteration, executor memory
  Buffer<double> scalars;            // (M x kScalars) per-condition results for the host
  Buffer<double> laplace;            // (M x T) estimate_cost output
  Buffer<double> workspace;          // the largest phase workspace
  EvalCostWorkspace cost_ws;

  IterationReport report;            // the current iteration's, filled phase by phase
};

// Allocates every array of a run: M conditions, T steps, N samples per iteration.
// eta and step_mult start at the settings' values. The controllers are uninitialised:
// fill alg.ctrl with init_lqr / init_pd (or a checkpoint) before the first iteration.
TrajOptAlgorithm make_traj_opt_algorithm(const Executor& ex, int M, int T, int dX, int dU,
                                         int N, const TrajOptAlgorithmSettings& settings);

// The phases, in the order traj_opt_iteration runs them. init_assignment (M x P of the
// prior's GMM points, executor memory) replaces the GMM's random initial assignment when it
// is (re)initialised (tests replaying the reference); null draws from Philox.
void traj_opt_begin(const Executor& ex, TrajOptAlgorithm& alg, const SampleBatch& samples);
void traj_opt_eval_cost(const Executor& ex, TrajOptAlgorithm& alg,
                        const cost::CostModel<double>& cost, const SampleBatch& samples);
void traj_opt_update_dynamics(const Executor& ex, TrajOptAlgorithm& alg,
                              const SampleBatch& samples, const int* init_assignment = nullptr);
void traj_opt_update_step_size(const Executor& ex, TrajOptAlgorithm& alg);
void traj_opt_update_controllers(const Executor& ex, TrajOptAlgorithm& alg);
void traj_opt_advance(const Executor& ex, TrajOptAlgorithm& alg);

// Before the iteration, for a condition whose samples failed (sample_status[m] != 0, host):
// its newest N trajectories of the prior data set are written over its batch in X
// (M x N x T x dX) and U (M x N x T x dU), so that the prior update re-appends good data
// instead of a diverged batch that would poison the condition's GMM for as long as it stays
// in the data set. The condition is still reported failed and keeps its controller. Before
// the prior holds N trajectories (the first iteration) nothing can be repeated and the batch
// stays. Returns the number of conditions replaced.
int traj_opt_replace_failed_samples(const Executor& ex, const TrajOptAlgorithm& alg,
                                    const std::uint32_t* sample_status, double* X, double* U);

// All phases in order; returns alg.report.
const IterationReport& traj_opt_iteration(const Executor& ex, TrajOptAlgorithm& alg,
                                          const cost::CostModel<double>& cost,
                                          const SampleBatch& samples,
                                          const int* init_assignment = nullptr);

}  // namespace gpsx
