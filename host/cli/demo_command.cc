// `gpsx demo`: a tiny batched workload (Gaussian random walks over conditions x samples)
// that exercises the chosen executor end to end and checks the result statistically.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "commands.h"
#include "gpsx/host/buffer.h"
#include "gpsx/host/device.h"
#include "gpsx/host/nvtx.h"
#include "gpsx/kernels/random_walk.h"

namespace gpsx::cli {

namespace {
struct DemoOptions {
  int conditions = 256;
  int samples = 64;
  int steps = 100;
  int dim = 3;
};
}  // namespace

void add_demo_command(CLI::App& app, const GlobalOptions& global) {
  auto opts = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo", "Batched random-walk demo on the chosen executor");
  cmd->add_option("--conditions", opts->conditions, "M")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--samples", opts->samples, "N per condition")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", opts->steps, "T")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dim", opts->dim, "dimensions (1..8)")->check(CLI::Range(1, 8))
      ->capture_default_str();
  cmd->callback([opts, &global] {
    const Executor ex = command_executor(global);
    const int M = opts->conditions, N = opts->samples;
    Buffer<double> dist2(ex, "final_dist2", {M, N});  // (M x N)
    const RandomWalk<double> walk{global.seed, N, opts->steps, opts->dim, 1.0, dist2.data()};

    const auto t0 = std::chrono::steady_clock::now();
    {
      NvtxRange range("demo.random_walk");
      for_each_2d(ex, M, N, walk);
      synchronize(ex);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Buffer<double> host = dist2.to(Location::kHost);

    double mean = 0.0, m2 = 0.0;
    const std::int64_t n = host.size();
    for (std::int64_t i = 0; i < n; ++i) mean += host[i];
    mean /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) m2 += (host[i] - mean) * (host[i] - mean);
    const double stderr_mean = std::sqrt(m2 / static_cast<double>(n - 1 > 0 ? n - 1 : 1) /
                                         static_cast<double>(n));
    const double expected = static_cast<double>(opts->steps) * opts->dim;
    const double z = stderr_mean > 0 ? (mean - expected) / stderr_mean : 0.0;
    const double steps = static_cast<double>(n) * opts->steps;
    std::printf("executor: %s\n", ex.describe().c_str());
    std::printf("random walks: %d conditions x %d samples x %d steps x %d dims\n", M, N,
                opts->steps, opts->dim);
    std::printf("mean squared distance %.4f (expected %.1f, z = %+.2f)\n", mean, expected, z);
    std::printf("time %.4f s, %.3g walk-steps/s\n", seconds, steps / seconds);
    if (std::abs(z) > 5.0) throw std::runtime_error("demo statistics off by more than 5 sigma");
  });
}

}  // namespace gpsx::cli
