// The work behind `gpsx sim` and `gpsx sample`, returning what the commands print.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/envs/task.h"
#include "gpsx/host/executor.h"

namespace gpsx::cli {

// `gpsx sim`: batched rollout with random controls from the task's conditions (cycled
// over environments). Timing excludes setup.
struct SimReport {
  std::string executor;
  std::int64_t envs = 0;
  int steps = 0;                   // control steps
  int substeps = 0;
  double seconds = 0;
  double env_steps_per_s = 0;      // control steps x envs / s
  double physics_steps_per_s = 0;  // x substeps
  std::int64_t failed_envs = 0;    // envs with a non-ok status
  double mean_final_q0 = 0;        // a checksum of the final state
};
SimReport run_sim(const envs::Task& task, const Executor& ex, std::int64_t envs, int steps,
                  bool use_float, std::uint64_t seed);

// `gpsx sample`: init_lqr / init_pd controllers on the task's conditions, N samples
// each, then the task cost. Timing covers sampling only (controller, noise, simulator).
struct SampleReport {
  std::string executor;
  int M = 0, N = 0, T = 0;
  double seconds = 0;
  double samples_per_s = 0;           // M x N x T steps / s
  std::vector<double> mean_cost;      // (M) mean over samples of the summed per-step cost
  std::vector<std::uint32_t> status;  // (M)
};
SampleReport run_sample(const envs::Task& task, const Executor& ex, int M, int N, int T,
                        const std::string& init, std::uint64_t seed);

}  // namespace gpsx::cli
