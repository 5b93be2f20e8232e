// A typed array in the memory an executor works on: host memory for the CPU executor,
// device memory for the CUDA executor. Workspaces are allocated once with these and
// handed to functors as raw pointers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "gpsx/host/executor.h"

namespace gpsx {

template <class T>
class ExecBuffer {
 public:
  ExecBuffer() = default;
  ExecBuffer(const Executor& ex, std::size_t n) { resize(ex, n); }
  ExecBuffer(const ExecBuffer&) = delete;
  ExecBuffer& operator=(const ExecBuffer&) = delete;
  ExecBuffer(ExecBuffer&& o) noexcept { *this = std::move(o); }
  ExecBuffer& operator=(ExecBuffer&& o) noexcept {
    if (this != &o) {
      release();
      host_ = std::move(o.host_);
      device_ = std::exchange(o.device_, nullptr);
      size_ = std::exchange(o.size_, 0);
      on_device_ = std::exchange(o.on_device_, false);
    }
    return *this;
  }
  ~ExecBuffer() { release(); }

  // Reallocates (contents are not kept) unless the size and memory kind already match.
  void resize(const Executor& ex, std::size_t n) {
    if (n == size_ && ex.is_cuda() == on_device_) return;
    release();
    size_ = n;
    on_device_ = ex.is_cuda();
    if (on_device_) {
#if GPSX_HAVE_CUDA
      if (n) device_ = static_cast<T*>(cuda::malloc_device(n * sizeof(T)));
#else
      throw_cuda_not_built();
#endif
    } else {
      host_.assign(n, T());
    }
  }

  T* data() { return device_ ? device_ : host_.data(); }
  const T* data() const { return device_ ? device_ : host_.data(); }
  std::size_t size() const { return size_; }

 private:
  void release() noexcept {
#if GPSX_HAVE_CUDA
    if (device_) cuda::free_device(device_);
#endif
    device_ = nullptr;
    host_.clear();
    size_ = 0;
    on_device_ = false;
  }
  std::vector<T> host_;
  T* device_ = nullptr;
  std::size_t size_ = 0;
  bool on_device_ = false;
};

// Copies n elements from host memory into executor memory (waits for the copy).
template <class T>
void upload(const Executor& ex, const T* host_src, std::size_t n, T* exec_dst) {
  if (n == 0) return;
  if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
    cuda::copy(exec_dst, host_src, n * sizeof(T), cuda::CopyKind::kHostToDevice, ex.stream);
#else
    throw_cuda_not_built();
#endif
  } else {
    std::copy(host_src, host_src + n, exec_dst);
  }
}

// Copies n elements from executor memory into host memory (waits for the copy).
template <class T>
void download(const Executor& ex, const T* exec_src, std::size_t n, T* host_dst) {
  if (n == 0) return;
  if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
    cuda::copy(host_dst, exec_src, n * sizeof(T), cuda::CopyKind::kDeviceToHost, ex.stream);
#else
    throw_cuda_not_built();
#endif
  } else {
    std::copy(exec_src, exec_src + n, host_dst);
  }
}

}  // namespace gpsx
