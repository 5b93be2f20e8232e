// Kernel launch helpers: the CUDA side of gpsx::for_each. Include only from .cu files.
#pragma once

#include <algorithm>
#include <cstdint>

#include "gpsx/cuda/check.h"
#include "gpsx/cuda/runtime.h"

namespace gpsx::cuda {

constexpr int kBlockSize = 256;
constexpr std::int64_t kMaxGrid = 1 << 20;

template <class F>
__global__ void for_each_kernel(std::int64_t n, F f) {
  const std::int64_t stride = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < n; i += stride)
    f(i);
}

template <class F>
__global__ void for_each_2d_kernel(std::int64_t n0, std::int64_t n1, F f) {
  const std::int64_t n = n0 * n1;
  const std::int64_t stride = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       k < n; k += stride)
    f(k / n1, k % n1);
}

inline unsigned grid_for(std::int64_t n) {
  return static_cast<unsigned>(std::min<std::int64_t>((n + kBlockSize - 1) / kBlockSize, kMaxGrid));
}

template <class F>
void for_each(Stream stream, std::int64_t n, const F& f) {
  if (n <= 0) return;
  for_each_kernel<F><<<grid_for(n), kBlockSize, 0, static_cast<cudaStream_t>(stream.handle)>>>(n, f);
  GPSX_CUDA_CHECK(cudaGetLastError());
}

template <class F>
void for_each_2d(Stream stream, std::int64_t n0, std::int64_t n1, const F& f) {
  if (n0 <= 0 || n1 <= 0) return;
  for_each_2d_kernel<F><<<grid_for(n0 * n1), kBlockSize, 0,
                          static_cast<cudaStream_t>(stream.handle)>>>(n0, n1, f);
  GPSX_CUDA_CHECK(cudaGetLastError());
}

}  // namespace gpsx::cuda

// Explicit instantiation of a launcher for one functor type (in a .cu file). F(i) for
// the 1-D form, F(i, j) for the 2-D form.
#define GPSX_CUDA_INSTANTIATE_FOR_EACH(F) \
  template void gpsx::cuda::for_each<F>(gpsx::cuda::Stream, std::int64_t, const F&);
#define GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(F)                                               \
  template void gpsx::cuda::for_each_2d<F>(gpsx::cuda::Stream, std::int64_t, std::int64_t, \
                                           const F&);
