// Device-path pieces of the batched GMM shared by gmm.cc and dynamics.cc (CUDA executor,
// device buffers). Internal to the host library.
#pragma once

#include <cstdint>

#include "gpsx/host/executor.h"

namespace gpsx::detail {

// E-step on the GPU: logobs (M x P x K) = log(mass_k N(x | mu_k, sigma_k)) of points
// X (M x P x D) with a cuSOLVER batched Cholesky of every sigma (M x K x D x D), whitened
// residuals as one cuBLAS strided-batched GEMM over all points, the rest in gmm.h
// functors. mu (M x K x D), logmass (M x K); status (M) per condition. All device memory.
void gmm_estep_device(const Executor& ex, int M, int K, int P, int D, const double* X,
                      const double* mu, const double* sigma, const double* logmass,
                      double* logobs, std::uint32_t* status);

}  // namespace gpsx::detail
