// The CUDA layer as seen from plain C++ (g++): declarations only, no CUDA headers.
// Implemented in cuda/ and linked only when gpsx is built with CUDA (GPSX_HAVE_CUDA=1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gpsx::cuda {

// A CUDA stream; a null handle is the legacy default stream.
struct Stream {
  void* handle = nullptr;
};

// What the runtime says about the GPU. Never throws: without a driver or GPU the
// runtime's error is turned into `reason`.
struct GpuInfo {
  bool usable = false;
  int device_count = 0;
  int device = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory = 0;
  int runtime_version = 0;  // e.g. 13000
  int driver_version = 0;   // 0 when no driver is installed
  std::string reason;       // why not usable, empty when usable
};
// Not usable either: a GPU whose compute capability none of the build's architectures can
// run. Empty when `architectures` (CMAKE_CUDA_ARCHITECTURES, e.g. "90" or "80-real;90")
// covers major.minor, else why not. "NN" and "NN-virtual" carry PTX that the driver
// compiles for any later GPU; "NN-real" runs on the same major version only.
std::string unsupported_architecture(int major, int minor, const std::string& architectures);
GpuInfo probe();

void* malloc_device(std::size_t bytes);
void free_device(void* ptr) noexcept;
void zero_device(void* ptr, std::size_t bytes, Stream stream);  // waits for completion

enum class CopyKind { kHostToDevice, kDeviceToHost, kDeviceToDevice };
// Copies bytes on `stream`. Waits for the copy to finish when it reads or writes host
// memory or runs on the legacy stream; device-to-device copies on a created stream stay
// queued (ordered with that stream's kernels).
void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind, Stream stream);

// Bytes copied between host and device by copy() since the process started (all threads):
// lets a test assert that a phase moves only per-condition scalars.
struct TransferBytes {
  std::uint64_t host_to_device = 0;
  std::uint64_t device_to_host = 0;
  std::uint64_t total() const { return host_to_device + device_to_host; }
};
TransferBytes transfer_bytes();

Stream create_stream();
void destroy_stream(Stream stream) noexcept;
void synchronize(Stream stream);

// Runs f(i) for i in [0, n) on the GPU. Defined in gpsx/cuda/launch.cuh; each functor
// type is instantiated in a .cu file with GPSX_CUDA_INSTANTIATE_FOR_EACH(F). A missing
// instantiation is a link error, never a silent CPU fallback.
template <class F>
void for_each(Stream stream, std::int64_t n, const F& f);
// Runs f(i, j) for i in [0, n0), j in [0, n1).
template <class F>
void for_each_2d(Stream stream, std::int64_t n0, std::int64_t n1, const F& f);

}  // namespace gpsx::cuda
