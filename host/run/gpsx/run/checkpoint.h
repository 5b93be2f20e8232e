// Checkpoints of a TrajOpt run: everything the next iteration reads, so that a resumed run
// continues bit for bit (with the same thread count): the controllers, etas, step
// multipliers and the Laplace estimates of the step adjustment, the dynamics prior's data
// set and GMM (with its random-draw counter), the iteration, the thread count and the
// byte sizes of the metrics files at that point. Stored as NumPy .npz (archive.h), one
// array per field, readable with numpy.load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/algorithm_traj_opt.h"

namespace gpsx::run {

constexpr const char* kCheckpointKind = "gpsx-checkpoint-trajopt";

// What a checkpoint holds besides the algorithm's arrays.
struct CheckpointMeta {
  std::int64_t iteration = 0;            // iterations completed
  std::int64_t threads = 0;              // CPU threads of the run (bitwise resume needs the same)
  std::string config;                    // the resolved config the run was started with
  std::vector<std::uint64_t> file_sizes; // metrics/progress files' bytes, in the runner's order
};

// Writes alg's state after `meta.iteration` iterations to `path` atomically.
void save_checkpoint(const Executor& ex, const TrajOptAlgorithm& alg, const CheckpointMeta& meta,
                     const std::string& path);

// Restores alg (made by make_traj_opt_algorithm with the run's sizes) from `path`; throws
// ArchiveError (corrupt, truncated, wrong version) or ConfigError-like std::runtime_error
// naming the file when the checkpoint does not match alg's sizes.
CheckpointMeta load_checkpoint(const Executor& ex, TrajOptAlgorithm& alg, const std::string& path);

// "ckpt-000012.npz" for iteration 12.
std::string checkpoint_name(std::int64_t iteration);
// Checkpoint files in `dir`, newest (highest iteration) first.
std::vector<std::string> list_checkpoints(const std::string& dir);

}  // namespace gpsx::run
