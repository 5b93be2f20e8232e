// Batched sampling of linear-Gaussian controllers over M conditions x N samples on any
// per-step dynamics functor (see kernels/gpsx/kernels/sampling.h for its interface), and
// batched noise shaping. Same seed and stream -> identical samples on any thread count.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"
#include "gpsx/host/lin_gauss.h"
#include "gpsx/kernels/noise.h"
#include "gpsx/kernels/sampling.h"

namespace gpsx {

struct SamplingOptions {
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;     // e.g. the iteration: fresh samples from the same seed
  noise::NoiseSettings noise;   // reference agent defaults: smooth, sigma 2, renormalise
};

// Sized on the first call and reused by later calls of the same shape (a run keeps one).
struct SamplingWorkspace {
  Buffer<double> scratch;         // (M x N x rollout scratch)
  Buffer<std::uint32_t> status;   // (M x N)
  std::vector<std::uint32_t> status_host;
  Buffer<double> x0, u_min, u_max;  // (M x dX), (dU), (dU): sample_task's per-condition inputs
  std::vector<double> inputs_host;  // their host values at the last upload (x0, u_min, u_max)
};

// Reduces (M x N) per-sample status words in executor memory to one word per condition.
void reduce_sample_status(const Executor& ex, SamplingWorkspace& ws, int M, int N,
                          std::uint32_t* status);

// Runs a rollout functor over (M, N) on the executor: the default of sample_lin_gauss.
struct RolloutOnExecutor {
  template <class F>
  void operator()(const Executor& ex, int M, int N, const F& f) const {
    for_each_2d(ex, M, N, f);
  }
};

// Rolls out ctrl on `dynamics` for N samples of each condition:
// u_t = K_t x_t + k_t + chol_t^T n_t, n from Philox(seed; stream, m, n) shaped by
// generate_noise, u clamped to [u_min, u_max]; X and U store the visited states and the
// applied (clamped) actions. Pointers are executor memory; status is host (M). `run` gets the
// ready sampling::RolloutLinGauss functor (a dynamics with a faster CPU path wraps it).
template <class Dynamics, class Run = RolloutOnExecutor>
void sample_lin_gauss(const Executor& ex, const ControllerBatch& ctrl, const Dynamics& dynamics,
                      int N, const SamplingOptions& options,
                      const double* x0,     // (M x dX)
                      const double* u_min,  // (dU) or null
                      const double* u_max,  // (dU) or null
                      double* X,            // (M x N x T x dX)
                      double* U,            // (M x N x T x dU)
                      std::uint32_t* status, SamplingWorkspace& ws, const Run& run = Run()) {
  if (ctrl.M <= 0 || ctrl.K.size() == 0)
    throw std::invalid_argument("sample_lin_gauss: controller batch is not allocated");
  if (N <= 0) throw std::invalid_argument("sample_lin_gauss: N must be > 0, got " + std::to_string(N));
  if (!x0 || !X || !U) throw std::invalid_argument("sample_lin_gauss: x0, X and U are required");
  if (options.noise.smooth && !(options.noise.sigma > 0))
    throw std::invalid_argument("sample_lin_gauss: noise sigma must be > 0 when smoothing, got " +
                                std::to_string(options.noise.sigma));
  if (static_cast<std::int64_t>(ctrl.T) * ctrl.dU / 2 + 1 >= sampling::kDynamicsBlock)
    throw std::invalid_argument("sample_lin_gauss: T x dU too large for the noise counter");
  using F = sampling::RolloutLinGauss<double, Dynamics>;
  F f{N, ctrl.T, ctrl.dX, ctrl.dU, x0, ctrl.K.data(), ctrl.k.data(), ctrl.chol_pol_covar.data(),
      u_min, u_max, options.noise, options.seed, options.stream, dynamics, X, U, nullptr, nullptr};
  const std::size_t mn = static_cast<std::size_t>(ctrl.M) * N;
  ws.scratch.resize(ex, mn * static_cast<std::size_t>(f.scratch_size()));
  ws.status.resize(ex, mn);
  f.scratch = ws.scratch.data();
  f.status = ws.status.data();
  run(ex, ctrl.M, N, f);
  reduce_sample_status(ex, ws, ctrl.M, N, status);
}

// generate_noise on B given raw standard-normal draws in place (executor memory);
// status (B) host.
void generate_noise(const Executor& ex, const noise::NoiseSettings& settings, int B, int T,
                    int dU, double* noise,  // (B x T x dU)
                    std::uint32_t* status);

}  // namespace gpsx
