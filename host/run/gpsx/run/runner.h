// `gpsx run`: a TrajOpt experiment from a config (experiment.h) into a run directory:
//
//   RUN_DIR/config.yaml          the fully resolved config (every default filled in)
//   RUN_DIR/progress.log         the per-iteration progress lines printed on stdout
//   RUN_DIR/metrics.csv|.jsonl   one row per iteration x condition (deterministic: a
//                                resumed run writes the same bytes as an uninterrupted one)
//   RUN_DIR/iterations.csv|.jsonl  one row per iteration: summaries and phase times
//   RUN_DIR/ckpt-NNNNNN.npz      checkpoint after iteration NNNNNN (checkpoint.h), newest kept
//
// Each iteration: sample N rollouts per condition with the current controllers -> costs ->
// dynamics -> step size -> KL-LQR (algorithm_traj_opt.h) -> a noise-free rollout of each new
// controller -> metrics -> checkpoint. Ctrl-C (SIGINT) or SIGTERM stops at the next phase
// boundary, keeps the last complete checkpoint and exits with kExitInterrupted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpsx::run {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;       // I/O or internal errors
constexpr int kExitBadInput = 2;      // config, CLI flag or checkpoint refused; nothing written
constexpr int kExitInterrupted = 130; // SIGINT / SIGTERM

struct RunOptions {
  std::string config;                 // experiment name or .yaml path (a fresh run)
  std::vector<std::string> sets;      // "key.path=value" overrides
  std::string out;                    // run directory (default runs/<name>-<UTC time>)
  std::string resume;                 // run directory to resume (instead of config)
  std::optional<std::uint64_t> seed;  // overrides the config's seed
  std::string device = "auto";        // auto | cpu | cuda
  std::optional<int> threads;         // CPU threads (default: all; on resume the run's)
  bool quiet = false;                 // no progress on stdout (the log still gets it)
};

// Runs (or resumes) an experiment; returns the process exit status. Errors are printed to
// stderr with the file, key or flag they concern.
int run_experiment(const RunOptions& options);

// Installs the SIGINT / SIGTERM handlers that ask a running experiment to stop at the next
// phase boundary (the CLI calls it; tests may raise the flag through request_stop()).
void install_stop_handlers();
void request_stop();

}  // namespace gpsx::run
