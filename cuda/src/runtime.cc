#include "gpsx/cuda/runtime.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "gpsx/cuda/check.h"

namespace gpsx::cuda {

void throw_error(const char* library, const char* expr, int code, const char* what,
                 const char* file, int line) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + library + " call " +
              expr + " failed with " + what + " (" + std::to_string(code) + ")");
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "unknown cuBLAS status";
  }
}

const char* cusolver_status_name(cusolverStatus_t s) {
  switch (s) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    default: return "unknown cuSOLVER status";
  }
}

std::string unsupported_architecture(int major, int minor, const std::string& architectures) {
  const int cc = 10 * major + minor;
  std::size_t at = 0;
  while (at <= architectures.size()) {
    std::size_t end = architectures.find_first_of(";, ", at);
    if (end == std::string::npos) end = architectures.size();
    const std::string a = architectures.substr(at, end - at);
    at = end + 1;
    if (a.empty()) continue;
    if (a == "all" || a == "all-major" || a == "native") return "";
    const int arch = std::atoi(a.c_str());
    const bool real_only = a.find("-real") != std::string::npos;
    if (real_only ? (arch / 10 == major && arch <= cc) : arch <= cc) return "";
  }
  return "this gpsx was built for CUDA architectures " + architectures + ", which cannot run on " +
         "this GPU (compute capability " + std::to_string(major) + "." + std::to_string(minor) +
         "); rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(cc);
}

GpuInfo probe() {
  GpuInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);  // 0 without a driver
  const cudaError_t err = cudaGetDeviceCount(&info.device_count);
  if (err != cudaSuccess) {
    info.device_count = 0;
    info.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(err) + " (" +
                  cudaGetErrorString(err) + ")";
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice)
      info.reason += "; no NVIDIA driver or GPU on this machine";
    cudaGetLastError();  // clear the sticky-free error state
    return info;
  }
  if (info.device_count == 0) {
    info.reason = "the CUDA runtime found no GPU";
    return info;
  }
  cudaDeviceProp prop{};
  const cudaError_t perr = cudaGetDeviceProperties(&prop, info.device);
  if (perr != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorName(perr);
    return info;
  }
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.total_memory = prop.totalGlobalMem;
  info.reason = unsupported_architecture(prop.major, prop.minor, GPSX_CUDA_ARCHITECTURES);
  info.usable = info.reason.empty();
  return info;
}

void* malloc_device(std::size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  GPSX_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void free_device(void* ptr) noexcept {
  if (ptr) cudaFree(ptr);
}

void zero_device(void* ptr, std::size_t bytes, Stream stream) {
  if (bytes == 0) return;
  const auto s = static_cast<cudaStream_t>(stream.handle);
  GPSX_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, s));
  GPSX_CUDA_CHECK(cudaStreamSynchronize(s));
}

namespace {
std::atomic<std::uint64_t> g_host_to_device{0}, g_device_to_host{0};
}  // namespace

TransferBytes transfer_bytes() {
  TransferBytes t;
  t.host_to_device = g_host_to_device.load();
  t.device_to_host = g_device_to_host.load();
  return t;
}

void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind, Stream stream) {
  if (bytes == 0) return;
  if (kind == CopyKind::kHostToDevice) g_host_to_device += bytes;
  if (kind == CopyKind::kDeviceToHost) g_device_to_host += bytes;
  const cudaMemcpyKind k = kind == CopyKind::kHostToDevice   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::kDeviceToHost ? cudaMemcpyDeviceToHost
                                                             : cudaMemcpyDeviceToDevice;
  const auto s = static_cast<cudaStream_t>(stream.handle);
  GPSX_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, s));
  // Device to device on an executor's stream stays queued, ordered with its kernels; a
  // copy that touches host memory returns only when the host may use that memory, and
  // one on the legacy stream (buffers made without an executor) waits as well.
  if (kind != CopyKind::kDeviceToDevice || s == nullptr) GPSX_CUDA_CHECK(cudaStreamSynchronize(s));
}

Stream create_stream() {
  cudaStream_t s = nullptr;
  GPSX_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return Stream{s};
}

void destroy_stream(Stream stream) noexcept {
  if (stream.handle) cudaStreamDestroy(static_cast<cudaStream_t>(stream.handle));
}

void synchronize(Stream stream) {
  GPSX_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream.handle)));
}

}  // namespace gpsx::cuda
