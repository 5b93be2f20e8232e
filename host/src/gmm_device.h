// Device-path pieces of the batched GMM shared by gmm.cc and dynamics.cc (CUDA executor,
// device buffers). Internal to the host library.
#pragma once

#include <cstdint>

#include "gpsx/host/exec_buffer.h"
#include "gpsx/host/executor.h"

namespace gpsx::detail {

// Device workspace of gmm_estep_device, allocated once per batch shape.
struct EstepDeviceWork {
  ExecBuffer<double> chol;           // (M x K x D x D)
  ExecBuffer<double> Linv;           // (M x K x D x D)
  ExecBuffer<double> logc;           // (M x K)
  ExecBuffer<double> R;              // (M x K x P x D) residuals
  ExecBuffer<double> Z;              // (M x K x P x D) whitened residuals
  ExecBuffer<int> info;              // (M x K)
  ExecBuffer<std::uint32_t> status;  // (M x K)

  void resize(const Executor& ex, int M, int K, int P, int D) {
    const std::size_t MK = static_cast<std::size_t>(M) * K, DD = static_cast<std::size_t>(D) * D;
    chol.resize(ex, MK * DD);
    Linv.resize(ex, MK * DD);
    logc.resize(ex, MK);
    R.resize(ex, MK * P * D);
    Z.resize(ex, MK * P * D);
    info.resize(ex, MK);
    status.resize(ex, MK);
  }
};

// E-step on the GPU: logobs (M x P x K) = log(mass_k N(x | mu_k, sigma_k)) of points
// X (M x P x D) with a cuSOLVER batched Cholesky of every sigma (M x K x D x D), whitened
// residuals as one cuBLAS strided-batched GEMM over all points, the rest in gmm.h
// functors. mu (M x K x D), logmass (M x K); status (M) per condition. All device memory.
void gmm_estep_device(const Executor& ex, int M, int K, int P, int D, const double* X,
                      const double* mu, const double* sigma, const double* logmass,
                      double* logobs, std::uint32_t* status, EstepDeviceWork& work);

}  // namespace gpsx::detail
