#include "gpsx/host/executor.h"

#include <omp.h>

#include <cstdio>
#include <stdexcept>
#include <thread>

namespace gpsx {

int hardware_threads() {
  const int n = omp_get_num_procs();
  return n > 0 ? n : static_cast<int>(std::thread::hardware_concurrency());
}

Executor cpu_executor(int threads) {
  if (threads < 0) throw std::invalid_argument("thread count must be >= 0 (0 = all), got " +
                                               std::to_string(threads));
  Executor ex;
  ex.backend = Backend::kCpu;
  ex.threads = threads == 0 ? hardware_threads() : threads;
  return ex;
}

Executor cuda_executor(int threads) {
#if GPSX_HAVE_CUDA
  Executor ex = cpu_executor(threads);
  ex.backend = Backend::kCuda;
  ex.stream = cuda::create_stream();
  ex.stream_owner = std::shared_ptr<void>(ex.stream.handle, [](void* s) {
    cuda::destroy_stream(cuda::Stream{s});
  });
  return ex;
#else
  (void)threads;
  throw_cuda_not_built();
#endif
}

std::string Executor::describe() const {
  if (is_cuda()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "cuda (stream %p)", stream.handle);
    return buf;
  }
  return "cpu (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
}

void throw_cuda_not_built() {
  throw std::runtime_error(
      "this gpsx was built without CUDA (GPSX_CUDA=OFF or nvcc not found at configure "
      "time); use --device cpu");
}

void synchronize(const Executor& ex) {
  if (!ex.is_cuda()) return;
#if GPSX_HAVE_CUDA
  cuda::synchronize(ex.stream);
#else
  throw_cuda_not_built();
#endif
}

}  // namespace gpsx
