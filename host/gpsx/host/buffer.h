// The one owning buffer type: an array that knows its name, shape and where it lives (host
// or device memory), and the stream its copies go to.
//
//   gpsx::Buffer<double> X(ex, "X", {M, N, T, dX});   // the executor's memory, zero-filled
//   gpsx::Buffer<double> h("X", X.shape());            // host memory
//   h.copy_from(X);                                     // checked: shapes must match
//
// Kernels receive raw pointers (data()); shapes are checked at API boundaries with
// check_shape(), which names the buffer and both shapes. A buffer made for an executor
// zero-fills and copies on that executor's stream (device memory) so that copies are
// ordered with its kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpsx/cuda/runtime.h"
#include "gpsx/host/executor.h"

namespace gpsx {

enum class Location { kHost, kDevice };
const char* location_name(Location loc);

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) { validate(); }
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) { validate(); }

  int rank() const { return static_cast<int>(dims_.size()); }
  std::int64_t operator[](int axis) const { return dims_.at(static_cast<std::size_t>(axis)); }
  std::int64_t size() const;  // number of elements (1 for rank 0)
  const std::vector<std::int64_t>& dims() const { return dims_; }
  std::string str() const;    // "(2 x 15 x 6)"
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }

 private:
  void validate() const;
  std::vector<std::int64_t> dims_;
};

struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Throws ShapeError "<what>: expected shape (..), got (..)" when they differ.
void check_shape(const std::string& what, const Shape& got, const Shape& expected);

namespace detail {
void* allocate(Location loc, std::size_t bytes, cuda::Stream stream);  // zero-filled
void deallocate(Location loc, void* ptr) noexcept;
void copy_bytes(void* dst, Location dst_loc, const void* src, Location src_loc,
                std::size_t bytes, cuda::Stream stream);
}  // namespace detail

// Host memory for the CPU executor, device memory for the CUDA executor.
inline Location memory_of(const Executor& ex) {
  return ex.is_cuda() ? Location::kDevice : Location::kHost;
}

template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::string name, Shape shape, Location loc = Location::kHost,
         cuda::Stream stream = {})
      : name_(std::move(name)), shape_(std::move(shape)), loc_(loc), stream_(stream) {
    data_ = static_cast<T*>(detail::allocate(loc_, bytes(), stream_));
  }
  // In the executor's memory, on its stream (kept alive as long as the buffer).
  Buffer(const Executor& ex, std::string name, Shape shape)
      : Buffer(std::move(name), std::move(shape), memory_of(ex), ex.stream) {
    stream_owner_ = ex.stream_owner;
  }
  // A one-dimensional array of n elements in the executor's memory.
  Buffer(const Executor& ex, std::size_t n, std::string name = "workspace")
      : Buffer(ex, std::move(name), Shape{static_cast<std::int64_t>(n)}) {}
  ~Buffer() { detail::deallocate(loc_, data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  std::int64_t size() const { return shape_.size(); }
  std::size_t bytes() const { return static_cast<std::size_t>(size()) * sizeof(T); }
  Location location() const { return loc_; }
  const std::string& name() const { return name_; }

  // Host element access (throws for device buffers: their memory is not addressable here).
  T& operator[](std::int64_t i) { return host_data()[i]; }
  const T& operator[](std::int64_t i) const { return const_cast<Buffer*>(this)->host_data()[i]; }

  // Copies src into this buffer, across host/device as needed, on the stream of the
  // device side (this buffer's when both are device memory); shapes must match.
  void copy_from(const Buffer& src) {
    gpsx::check_shape("copy '" + src.name_ + "' into '" + name_ + "'", src.shape_, shape_);
    const cuda::Stream s = loc_ == Location::kDevice ? stream_ : src.stream_;
    detail::copy_bytes(data_, loc_, src.data_, src.loc_, bytes(), s);
  }
  // A copy of this buffer in `loc` (same stream).
  Buffer to(Location loc) const {
    Buffer out(name_, shape_, loc, stream_);
    out.stream_owner_ = stream_owner_;
    out.copy_from(*this);
    return out;
  }
  // Reallocates as n zero-filled elements in the executor's memory unless the size and
  // memory kind already match (then the contents are kept and the executor's stream
  // adopted). For workspaces sized once.
  void resize(const Executor& ex, std::size_t n) {
    if (static_cast<std::int64_t>(n) == size() && memory_of(ex) == loc_ && shape_.rank() == 1) {
      stream_ = ex.stream;
      stream_owner_ = ex.stream_owner;
      return;
    }
    *this = Buffer(ex, n, name_.empty() ? "workspace" : name_);
  }
  void check_shape(const Shape& expected) const {
    gpsx::check_shape("buffer '" + name_ + "'", shape_, expected);
  }

 private:
  T* host_data() {
    if (loc_ != Location::kHost)
      throw std::logic_error("buffer '" + name_ + "' lives in device memory; copy it to the "
                             "host before reading elements");
    return data_;
  }
  void swap(Buffer& o) noexcept {
    std::swap(name_, o.name_);
    std::swap(shape_, o.shape_);
    std::swap(loc_, o.loc_);
    std::swap(data_, o.data_);
    std::swap(stream_, o.stream_);
    std::swap(stream_owner_, o.stream_owner_);
  }

  std::string name_;
  Shape shape_{0};
  Location loc_ = Location::kHost;
  cuda::Stream stream_;
  std::shared_ptr<void> stream_owner_;  // a CUDA executor's stream outlives its buffers
  T* data_ = nullptr;
};

// Copies n elements from host memory into executor memory on the executor's stream
// (waits for the copy). For per-condition scalars and one-time set-up, never batches.
template <class T>
void upload(const Executor& ex, const T* host_src, std::size_t n, T* exec_dst) {
  detail::copy_bytes(exec_dst, memory_of(ex), host_src, Location::kHost, n * sizeof(T),
                     ex.stream);
}

// Copies n elements from executor memory into host memory (waits for the copy).
template <class T>
void download(const Executor& ex, const T* exec_src, std::size_t n, T* host_dst) {
  detail::copy_bytes(host_dst, Location::kHost, exec_src, memory_of(ex), n * sizeof(T),
                     ex.stream);
}

// Copies n elements between two arrays of executor memory, queued on its stream (no wait).
template <class T>
void copy_within(const Executor& ex, const T* src, std::size_t n, T* dst) {
  detail::copy_bytes(dst, memory_of(ex), src, memory_of(ex), n * sizeof(T), ex.stream);
}

}  // namespace gpsx
