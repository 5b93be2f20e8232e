// What a `gpsx run` holds while it runs (runner.h): the experiment, the executor, the
// algorithm's device-resident state, the samplers' buffers and the run directory's open
// files, and the steps of the run loop. Allocated once per run: an iteration allocates
// nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx/run/experiment.h"
#include "gpsx/run/metrics.h"
#include "gpsx/run/runner.h"

namespace gpsx::run {

// A refused flag, run directory or checkpoint: exit status kExitBadInput.
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where the final distance is measured: the end-effector points (3 coordinates each) or
// the joint angles (one point), against each condition's target.
struct DistanceTarget {
  int offset = 0, dim = 0, point = 0;
  std::string what;            // "end-effector" / "joint"
  std::vector<double> values;  // (M x dim)
};

// Per-iteration phase times (seconds).
struct PhaseTimes {
  double sample = 0, cost = 0, dynamics = 0, step = 0, lqr = 0, eval = 0, checkpoint = 0;
  double total() const { return sample + cost + dynamics + step + lqr + eval + checkpoint; }
};

struct RunState {
  Experiment exp;
  Executor ex;
  std::string dir;
  bool quiet = false;
  int last_checkpoint = 0;   // iterations covered by the newest checkpoint on disk

  CostTable cost_table;
  CostModelStorage cost;
  TrajOptAlgorithm alg;
  envs::SimSamplingOptions sampling;
  envs::SimSamples samples;       // this iteration's N rollouts per condition
  SamplingWorkspace sampling_ws;
  ControllerBatch eval_ctrl;      // the new controllers without noise (chol = 0)
  envs::SimSamples eval_samples;  // one noise-free rollout per condition
  SamplingWorkspace eval_ws;

  DistanceTarget target;
  Buffer<double> target_values;   // (M x dim)
  Buffer<double> distances;       // (M x N) final distances of the samples
  Buffer<double> eval_distance;   // (M) final distance of the noise-free rollout
  Buffer<double> stats;           // (2 x M) mean, max of the samples' distances

  std::unique_ptr<MetricsWriter> metrics;     // per iteration x condition
  std::unique_ptr<MetricsWriter> iterations;  // per iteration
  std::string progress_path;
  PhaseTimes times;
};

// Builds the run's state for `exp` (executor, cost, algorithm, buffers); on resume the
// caller passes the run's recorded thread count in options.
void prepare(RunState& run, Experiment exp, const RunOptions& options);
// A fresh run in the (new, empty) directory: config.yaml, run.json, empty metrics, the
// initial controllers.
void start_fresh(RunState& run, const std::string& dir);
// Loads dir/config.yaml, prepares, restores the newest checkpoint (or starts over when
// there is none) and truncates the metrics to it. Throws BadInput / ArchiveError when the
// run directory or the checkpoint is refused.
void open_for_resume(RunState& run, const std::string& dir, const RunOptions& options);

// Prints where the run writes and what it runs.
void announce(const RunState& run, const std::string& dir);
// One iteration up to the new controllers and their evaluation; `boundary(next_phase)` is
// called between phases (it throws to stop the run).
void run_iteration(RunState& run, void (*boundary)(const char* next_phase));
// Metrics, progress line and checkpoint of the iteration just run.
void finish_iteration(RunState& run);
// The final summary line (and where the results are).
void summarize(const RunState& run);

}  // namespace gpsx::run
