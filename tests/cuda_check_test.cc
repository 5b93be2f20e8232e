// Return-code checks name the call, the error, the file and the line. Runs without a GPU
// (the runtime's "no driver" error is a real failing call).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gpsx/cuda/check.h"
#include "gpsx/cuda/runtime.h"

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

// A pre-Hopper GPU cannot run an sm_90-only build; PTX runs on later GPUs, SASS only
// within its major version.
TEST(CudaProbe, ArchitecturesDecideWhichGpusAreUsable) {
  EXPECT_EQ(unsupported_architecture(9, 0, "90"), "");
  EXPECT_EQ(unsupported_architecture(10, 0, "90"), "");         // PTX of compute_90
  EXPECT_EQ(unsupported_architecture(9, 0, "80-real;90-real"), "");
  EXPECT_NE(unsupported_architecture(10, 0, "90-real"), "");    // SASS only, other major
  EXPECT_EQ(unsupported_architecture(8, 6, "80-real"), "");     // same major, later minor
  EXPECT_EQ(unsupported_architecture(7, 5, "all-major"), "");
  const std::string why = unsupported_architecture(8, 0, "90");
  EXPECT_THAT(why, HasSubstr("architectures 90"));
  EXPECT_THAT(why, HasSubstr("compute capability 8.0"));
  EXPECT_THAT(why, HasSubstr("-DCMAKE_CUDA_ARCHITECTURES=80"));
}

}  // namespace
}  // namespace gpsx::cuda
