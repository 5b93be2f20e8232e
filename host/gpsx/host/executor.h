// Batched execution: run one GPS_HD functor over a 1-D or 2-D index space on the CPU
// (OpenMP) or on the GPU (CUDA, explicit stream). The functor is the same code on both.
//
//   struct Scale { double* x; double a;                      // (n)
//     GPS_HD void operator()(std::int64_t i) const { x[i] *= a; } };
//   gpsx::for_each(ex, n, Scale{x, 2.0});
//
// On the CUDA executor the pointers must be device pointers and the functor type must
// be instantiated in a .cu file (GPSX_CUDA_INSTANTIATE_FOR_EACH); CUDA launches are
// asynchronous on ex.stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "gpsx/cuda/runtime.h"

namespace gpsx {

enum class Backend { kCpu, kCuda };

struct Executor {
  Backend backend = Backend::kCpu;
  int threads = 1;       // CPU: OpenMP threads used by for_each (>= 1)
  cuda::Stream stream;   // CUDA: the stream of every launch, copy and library call
  std::shared_ptr<void> stream_owner;  // CUDA: destroys `stream` with the last copy

  bool is_cuda() const { return backend == Backend::kCuda; }
  std::string describe() const;  // "cpu (2 threads)" / "cuda (stream 0x...)"
};

// A CPU executor with `threads` threads (0 = all hardware threads).
Executor cpu_executor(int threads = 0);
// A CUDA executor with its own (non-blocking) stream; `threads` serve its host-side work.
// Needs a usable GPU (make_executor checks for one).
Executor cuda_executor(int threads = 0);
int hardware_threads();

[[noreturn]] void throw_cuda_not_built();

// Runs f(i) for i in [0, n) on `threads` CPU threads only: for host-only functors (e.g.
// SIMD packs of the same kernel code) and as the CPU branch of for_each.
template <class F>
void for_each_cpu(int threads, std::int64_t n, const F& f) {
  if (threads <= 1 || n == 1) {  // no parallel region for work one thread does anyway
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

template <class F>
void for_each_cpu_2d(int threads, std::int64_t n0, std::int64_t n1, const F& f) {
  if (threads <= 1 || n0 * n1 == 1) {
    for (std::int64_t i = 0; i < n0; ++i)
      for (std::int64_t j = 0; j < n1; ++j) f(i, j);
    return;
  }
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n0; ++i)
    for (std::int64_t j = 0; j < n1; ++j) f(i, j);
}

template <class F>
void for_each(const Executor& ex, std::int64_t n, const F& f) {
  static_assert(std::is_trivially_copyable_v<F>, "functors are copied to the device");
  if (n <= 0) return;
  if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
    cuda::for_each(ex.stream, n, f);
    return;
#else
    throw_cuda_not_built();
#endif
  }
  for_each_cpu(ex.threads, n, f);
}

template <class F>
void for_each_2d(const Executor& ex, std::int64_t n0, std::int64_t n1, const F& f) {
  static_assert(std::is_trivially_copyable_v<F>, "functors are copied to the device");
  if (n0 <= 0 || n1 <= 0) return;
  if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
    cuda::for_each_2d(ex.stream, n0, n1, f);
    return;
#else
    throw_cuda_not_built();
#endif
  }
  for_each_cpu_2d(ex.threads, n0, n1, f);
}

// Waits for all work queued on the executor (no-op on the CPU).
void synchronize(const Executor& ex);

}  // namespace gpsx
