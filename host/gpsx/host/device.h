// Run-time choice of the executor: --device auto|cpu|cuda.
//   cpu   the OpenMP executor;
//   cuda  the CUDA executor, or a one-line error naming why no GPU is usable;
//   auto  cuda when a GPU is usable, else cpu with a one-line notice.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "gpsx/cuda/runtime.h"
#include "gpsx/host/executor.h"

namespace gpsx {

enum class DeviceChoice { kAuto, kCpu, kCuda };

// Throws std::invalid_argument "invalid device 'x': expected auto, cpu or cuda".
DeviceChoice parse_device(std::string_view text);

struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What this build and machine offer. Without CUDA compiled in, `gpu.reason` says so.
struct GpuStatus {
  bool compiled = false;  // gpsx built with the CUDA executor
  cuda::GpuInfo gpu;      // usable + reason
};
GpuStatus gpu_status();

// Builds the executor. `notice` (may be null) receives the auto-fallback line.
// Throws DeviceError for cuda without a usable GPU.
Executor make_executor(DeviceChoice choice, int threads, std::string* notice = nullptr);

}  // namespace gpsx
