// Return-code checks name the call, the error, the file and the line. Runs without a GPU
// (the runtime's "no driver" error is a real failing call).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gpsx/cuda/check.h"

namespace gpsx::cuda {
namespace {

using ::testing::HasSubstr;

TEST(CudaCheck, FailingRuntimeCallThrowsWithFileAndLine) {
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
    GTEST_SKIP() << "a GPU is present; this test needs a failing runtime call";
  try {
    GPSX_CUDA_CHECK(cudaSetDevice(0));
    FAIL() << "expected gpsx::cuda::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cuda_check_test.cc:"));
    EXPECT_THAT(e.what(), HasSubstr("CUDA call cudaSetDevice(0) failed with cudaError"));
  }
}

TEST(CudaCheck, LibraryStatusesAreNamed) {
  EXPECT_THROW(GPSX_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED), Error);
  try {
    GPSX_CUSOLVER_CHECK(CUSOLVER_STATUS_INVALID_VALUE);
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cuSOLVER call"));
    EXPECT_THAT(e.what(), HasSubstr("CUSOLVER_STATUS_INVALID_VALUE (3)"));
  }
  EXPECT_NO_THROW(GPSX_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

}  // namespace
}  // namespace gpsx::cuda
