// cuBLAS / cuSOLVER calls of the batched GMM EM and dynamics fit on the CUDA executor:
// batched GEMMs over all points and batched Cholesky factorisations, on row-major device
// buffers, queued on the caller's stream. No CUDA types here: host code calls these.
#pragma once

#include <cstdint>

#include "gpsx/cuda/runtime.h"

namespace gpsx::cuda {

// C_b = op(A_b) op(B_b) + beta C_b for b in [0, batch); row-major op(A) (m x k), op(B)
// (k x n), C (m x n) with leading dimensions lda / ldb / ldc and element strides between
// consecutive batch members.
void gemm_strided_batched(Stream stream, bool trans_a, bool trans_b, int m, int n, int k,
                          const double* A, int lda, std::int64_t stride_a, const double* B,
                          int ldb, std::int64_t stride_b, double beta, double* C, int ldc,
                          std::int64_t stride_c, int batch);

// In-place lower Cholesky factors of `batch` row-major SPD matrices A (batch x n x n,
// contiguous), lower triangle read; the strict upper triangle is cuSOLVER workspace
// afterwards (garbage). Asynchronous on `stream`; nothing is allocated or copied.
// info (batch, device memory): 0, or the order of the first non-positive leading minor.
// ptrs (batch, device memory): caller scratch for cuSOLVER's array of matrix pointers.
void cholesky_lower_batched(Stream stream, int n, double* A, int batch, int* info,
                            double** ptrs);

}  // namespace gpsx::cuda
