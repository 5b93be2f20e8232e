#include "gpsx/host/device.h"

namespace gpsx {

DeviceChoice parse_device(std::string_view text) {
  if (text == "auto") return DeviceChoice::kAuto;
  if (text == "cpu") return DeviceChoice::kCpu;
  if (text == "cuda") return DeviceChoice::kCuda;
  throw std::invalid_argument("invalid device '" + std::string(text) +
                              "': expected auto, cpu or cuda");
}

GpuStatus gpu_status() {
  GpuStatus s;
#if GPSX_HAVE_CUDA
  s.compiled = true;
  s.gpu = cuda::probe();
#else
  s.gpu.reason = "gpsx was built without CUDA (GPSX_CUDA=OFF or nvcc not found)";
#endif
  return s;
}

Executor make_executor(DeviceChoice choice, int threads, std::string* notice) {
  if (choice == DeviceChoice::kCpu) return cpu_executor(threads);
  const GpuStatus status = gpu_status();
  if (status.gpu.usable) return cuda_executor(threads);
  if (choice == DeviceChoice::kCuda)
    throw DeviceError("--device cuda: no usable GPU: " + status.gpu.reason);
  if (notice) *notice = "gpsx: no usable GPU (" + status.gpu.reason + "); running on the CPU";
  return cpu_executor(threads);
}

}  // namespace gpsx
