// Batched buffers that know their shape and where they live (host or device memory).
//
//   gpsx::Buffer<double> X("X", {M, N, T, dX});             // host, zero-filled
//   gpsx::Buffer<double> dX_("X", X.shape(), Location::kDevice);
//   dX_.copy_from(X);                                        // checked: shapes must match
//
// Kernels receive raw pointers (data()); shapes are checked at API boundaries with
// check_shape(), which names the buffer and both shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpsx/cuda/runtime.h"

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
void* allocate(Location loc, std::size_t bytes);        // zero-filled
void deallocate(Location loc, void* ptr) noexcept;
void copy_bytes(void* dst, Location dst_loc, const void* src, Location src_loc,
                std::size_t bytes, cuda::Stream stream);
}  // namespace detail

template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::string name, Shape shape, Location loc = Location::kHost)
      : name_(std::move(name)), shape_(std::move(shape)), loc_(loc) {
    data_ = static_cast<T*>(detail::allocate(loc_, bytes()));
  }
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

  // Copies src into this buffer, across host/device as needed; shapes must match.
  void copy_from(const Buffer& src, cuda::Stream stream = {}) {
    gpsx::check_shape("copy '" + src.name_ + "' into '" + name_ + "'", src.shape_, shape_);
    detail::copy_bytes(data_, loc_, src.data_, src.loc_, bytes(), stream);
  }
  // A copy of this buffer in `loc`.
  Buffer to(Location loc, cuda::Stream stream = {}) const {
    Buffer out(name_, shape_, loc);
    out.copy_from(*this, stream);
    return out;
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
  }

  std::string name_;
  Shape shape_{0};
  Location loc_ = Location::kHost;
  T* data_ = nullptr;
};

}  // namespace gpsx
