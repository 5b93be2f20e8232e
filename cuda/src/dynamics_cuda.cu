// Library calls of the CUDA dynamics / GMM path (see gpsx/cuda/dynamics_cuda.h). Row-major
// buffers are passed to the column-major libraries as their transposes.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include "gpsx/cuda/check.h"
#include "gpsx/cuda/dynamics_cuda.h"

namespace gpsx::cuda {
namespace {

// One cuBLAS and one cuSOLVER handle per host thread, created on first use.
struct Handles {
  cublasHandle_t blas = nullptr;
  cusolverDnHandle_t solver = nullptr;
  ~Handles() {
    if (blas) cublasDestroy(blas);
    if (solver) cusolverDnDestroy(solver);
  }
};

Handles& handles() {
  thread_local Handles h;
  return h;
}

cublasHandle_t blas_on(Stream stream) {
  Handles& h = handles();
  if (!h.blas) GPSX_CUBLAS_CHECK(cublasCreate(&h.blas));
  GPSX_CUBLAS_CHECK(cublasSetStream(h.blas, static_cast<cudaStream_t>(stream.handle)));
  return h.blas;
}

cusolverDnHandle_t solver_on(Stream stream) {
  Handles& h = handles();
  if (!h.solver) GPSX_CUSOLVER_CHECK(cusolverDnCreate(&h.solver));
  GPSX_CUSOLVER_CHECK(cusolverDnSetStream(h.solver, static_cast<cudaStream_t>(stream.handle)));
  return h.solver;
}

}  // namespace

void gemm_strided_batched(Stream stream, bool trans_a, bool trans_b, int m, int n, int k,
                          const double* A, int lda, std::int64_t stride_a, const double* B,
                          int ldb, std::int64_t stride_b, double beta, double* C, int ldc,
                          std::int64_t stride_c, int batch) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major
  // buffer read column-major is the transpose: the operation flags carry over unchanged.
  const double one = 1.0;
  GPSX_CUBLAS_CHECK(cublasDgemmStridedBatched(
      blas_on(stream), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      n, m, k, &one, B, ldb, stride_b, A, lda, stride_a, &beta, C, ldc, stride_c, batch));
}

namespace {
// ptrs[b] = A + b n n: the pointer array cuSOLVER's batched factorisation reads.
__global__ void matrix_pointers_kernel(double* A, std::int64_t stride, int batch, double** ptrs) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b < batch) ptrs[b] = A + b * stride;
}
}  // namespace

void cholesky_lower_batched(Stream stream, int n, double* A, int batch, int* info,
                            double** ptrs) {
  if (batch <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream.handle);
  constexpr int kThreads = 256;
  matrix_pointers_kernel<<<(batch + kThreads - 1) / kThreads, kThreads, 0, s>>>(
      A, static_cast<std::int64_t>(n) * n, batch, ptrs);
  GPSX_CUDA_CHECK(cudaGetLastError());
  // The column-major upper factor U (A = U^T U) of the transposed buffer is, read
  // row-major, the lower factor L = U^T.
  GPSX_CUSOLVER_CHECK(cusolverDnDpotrfBatched(solver_on(stream), CUBLAS_FILL_MODE_UPPER, n,
                                              ptrs, n, info, batch));
}

}  // namespace gpsx::cuda
