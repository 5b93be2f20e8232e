// Return-code checks for the CUDA runtime, cuBLAS and cuSOLVER: throw with file and line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <stdexcept>
#include <string>

namespace gpsx::cuda {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const char* library, const char* expr, int code,
                              const char* what, const char* file, int line);
const char* cublas_status_name(cublasStatus_t s);
const char* cusolver_status_name(cusolverStatus_t s);

}  // namespace gpsx::cuda

#define GPSX_CUDA_CHECK(expr)                                                           \
  do {                                                                                  \
    const cudaError_t gpsx_err_ = (expr);                                               \
    if (gpsx_err_ != cudaSuccess)                                                       \
      ::gpsx::cuda::throw_error("CUDA", #expr, static_cast<int>(gpsx_err_),             \
                                cudaGetErrorName(gpsx_err_), __FILE__, __LINE__);       \
  } while (0)

#define GPSX_CUBLAS_CHECK(expr)                                                         \
  do {                                                                                  \
    const cublasStatus_t gpsx_err_ = (expr);                                            \
    if (gpsx_err_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::gpsx::cuda::throw_error("cuBLAS", #expr, static_cast<int>(gpsx_err_),           \
                                ::gpsx::cuda::cublas_status_name(gpsx_err_), __FILE__,  \
                                __LINE__);                                              \
  } while (0)

#define GPSX_CUSOLVER_CHECK(expr)                                                       \
  do {                                                                                  \
    const cusolverStatus_t gpsx_err_ = (expr);                                          \
    if (gpsx_err_ != CUSOLVER_STATUS_SUCCESS)                                           \
      ::gpsx::cuda::throw_error("cuSOLVER", #expr, static_cast<int>(gpsx_err_),         \
                                ::gpsx::cuda::cusolver_status_name(gpsx_err_),          \
                                __FILE__, __LINE__);                                    \
  } while (0)
