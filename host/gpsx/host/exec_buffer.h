// A workspace array in the memory an executor works on: host memory for the CPU
// executor, device memory for the CUDA executor. Allocated once (resize keeps the memory
// when size and kind already match) and handed to functors as a raw pointer.
#pragma once

#include <cstddef>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"

namespace gpsx {

inline Location memory_of(const Executor& ex) {
  return ex.is_cuda() ? Location::kDevice : Location::kHost;
}

template <class T>
class ExecBuffer {
 public:
  ExecBuffer() = default;
  ExecBuffer(const Executor& ex, std::size_t n) { resize(ex, n); }

  // Reallocates (zero-filled; contents are not kept) unless size and memory kind match.
  void resize(const Executor& ex, std::size_t n) {
    const auto count = static_cast<std::int64_t>(n);
    if (count == buf_.size() && memory_of(ex) == buf_.location()) return;
    buf_ = Buffer<T>("workspace", Shape{count}, memory_of(ex));
  }

  T* data() { return buf_.data(); }
  const T* data() const { return buf_.data(); }
  std::size_t size() const { return static_cast<std::size_t>(buf_.size()); }

 private:
  Buffer<T> buf_;
};

// Copies n elements from host memory into executor memory (waits for the copy).
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

}  // namespace gpsx
