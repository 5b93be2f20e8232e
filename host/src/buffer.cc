#include "gpsx/host/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "gpsx/host/executor.h"

namespace gpsx {

const char* location_name(Location loc) { return loc == Location::kHost ? "host" : "device"; }

void Shape::validate() const {
  for (std::size_t i = 0; i < dims_.size(); ++i)
    if (dims_[i] < 0)
      throw ShapeError("shape " + str() + ": dimension " + std::to_string(i) +
                       " is negative");
}

std::int64_t Shape::size() const {
  std::int64_t n = 1;
  for (auto d : dims_) n *= d;
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += " x ";
    s += std::to_string(dims_[i]);
  }
  return s + ")";
}

void check_shape(const std::string& what, const Shape& got, const Shape& expected) {
  if (got != expected)
    throw ShapeError(what + ": expected shape " + expected.str() + ", got " + got.str());
}

namespace detail {

constexpr std::size_t kHostAlignment = 64;  // cache line / AVX-512

void* allocate(Location loc, std::size_t bytes, cuda::Stream stream) {
  if (bytes == 0) return nullptr;
  if (loc == Location::kHost) {
    const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    void* p = std::aligned_alloc(kHostAlignment, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return p;
  }
#if GPSX_HAVE_CUDA
  void* p = cuda::malloc_device(bytes);
  cuda::zero_device(p, bytes, stream);
  return p;
#else
  throw_cuda_not_built();
#endif
}

void deallocate(Location loc, void* ptr) noexcept {
  if (!ptr) return;
  if (loc == Location::kHost) {
    std::free(ptr);
    return;
  }
#if GPSX_HAVE_CUDA
  cuda::free_device(ptr);
#endif
}

void copy_bytes(void* dst, Location dst_loc, const void* src, Location src_loc,
                std::size_t bytes, cuda::Stream stream) {
  if (bytes == 0) return;
  if (dst_loc == Location::kHost && src_loc == Location::kHost) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if GPSX_HAVE_CUDA
  const auto kind = dst_loc == Location::kHost   ? cuda::CopyKind::kDeviceToHost
                    : src_loc == Location::kHost ? cuda::CopyKind::kHostToDevice
                                                 : cuda::CopyKind::kDeviceToDevice;
  cuda::copy(dst, src, bytes, kind, stream);
#else
  throw_cuda_not_built();
#endif
}

}  // namespace detail
}  // namespace gpsx
