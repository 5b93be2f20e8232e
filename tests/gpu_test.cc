// GPU tests (ctest label gpu): the CUDA executor against the CPU executor on the same
// functors, device buffers, cuBLAS/cuSOLVER. They skip, saying why, without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gpsx/cuda/check.h"
#include "gpsx/host/buffer.h"
#include "gpsx/host/device.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/random_walk.h"
#include "gpsx_test/probe_functors.h"

namespace gpsx {
namespace {

#define GPSX_REQUIRE_GPU()                                                \
  do {                                                                    \
    const GpuStatus s_ = gpu_status();                                    \
    if (!s_.gpu.usable) GTEST_SKIP() << "no usable GPU: " << s_.gpu.reason; \
  } while (0)

Executor cuda_executor() { return make_executor(DeviceChoice::kCuda, 0); }

TEST(GpuExecutor, SameFunctorOnCudaAndCpu) {
  GPSX_REQUIRE_GPU();
  const std::int64_t n = 100000;
  std::vector<double> cpu_out(n);
  std::vector<std::uint32_t> cpu_raw(4 * n);
  for_each(cpu_executor(0), n, test::MixFunctor{42, cpu_out.data(), cpu_raw.data()});

  const Executor ex = cuda_executor();
  Buffer<double> out("out", {n}, Location::kDevice);
  Buffer<std::uint32_t> raw("raw", {4 * n}, Location::kDevice);
  for_each(ex, n, test::MixFunctor{42, out.data(), raw.data()});
  synchronize(ex);
  const Buffer<double> got = out.to(Location::kHost);
  const Buffer<std::uint32_t> got_raw = raw.to(Location::kHost);
  // Integer streams are bit-identical; values that go through log/sin/cos/exp agree to
  // the last-ulp accuracy of CUDA's and glibc's libm.
  ASSERT_EQ(0, std::memcmp(got_raw.data(), cpu_raw.data(), cpu_raw.size() * 4));
  for (std::int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], cpu_out[i], 1e-13 * (1.0 + std::abs(cpu_out[i]))) << "item " << i;
}

TEST(GpuExecutor, TwoDimensionalRandomWalkMatchesCpu) {
  GPSX_REQUIRE_GPU();
  const int M = 64, N = 32;
  std::vector<double> cpu(M * N);
  for_each_2d(cpu_executor(0), M, N, RandomWalk<double>{3, N, 50, 3, 1.0, cpu.data()});
  const Executor ex = cuda_executor();
  Buffer<double> d("d", {M, N}, Location::kDevice);
  for_each_2d(ex, M, N, RandomWalk<double>{3, N, 50, 3, 1.0, d.data()});
  synchronize(ex);
  const Buffer<double> got = d.to(Location::kHost);
  for (int i = 0; i < M * N; ++i) ASSERT_NEAR(got[i], cpu[i], 1e-11 * (1 + cpu[i]));
}

TEST(GpuBuffer, RoundTripAndShapeCheck) {
  GPSX_REQUIRE_GPU();
  Buffer<float> h("h", {3, 5});
  for (int i = 0; i < 15; ++i) h[i] = static_cast<float>(i) - 7.f;
  const Buffer<float> d = h.to(Location::kDevice);
  const Buffer<float> d2 = d.to(Location::kDevice);
  const Buffer<float> back = d2.to(Location::kHost);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(back[i], h[i]);
  Buffer<float> wrong("wrong", {5, 3}, Location::kDevice);
  EXPECT_THROW(wrong.copy_from(d), ShapeError);
  EXPECT_THROW((void)d[0], std::logic_error);
}

TEST(GpuLibraries, CublasGemmMatchesKernelGemm) {
  GPSX_REQUIRE_GPU();
  const int m = 7, n = 5, k = 9;
  std::vector<double> A(m * k), B(k * n), C(m * n);
  for (int i = 0; i < m * k; ++i) A[i] = std::sin(0.3 * i);
  for (int i = 0; i < k * n; ++i) B[i] = std::cos(0.7 * i);
  la::gemm(false, false, m, n, k, 1.0, A.data(), k, B.data(), n, 0.0, C.data(), n);

  Buffer<double> hA("A", {m, k}), hB("B", {k, n});
  std::memcpy(hA.data(), A.data(), A.size() * 8);
  std::memcpy(hB.data(), B.data(), B.size() * 8);
  const Buffer<double> dA = hA.to(Location::kDevice), dB = hB.to(Location::kDevice);
  Buffer<double> dC("C", {m, n}, Location::kDevice);
  cublasHandle_t handle;
  GPSX_CUBLAS_CHECK(cublasCreate(&handle));
  const double one = 1.0, zero = 0.0;
  // Row-major C = A B is column-major C^T = B^T A^T.
  GPSX_CUBLAS_CHECK(cublasDgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, dB.data(), n,
                                dA.data(), k, &zero, dC.data(), n));
  GPSX_CUBLAS_CHECK(cublasDestroy(handle));
  const Buffer<double> got = dC.to(Location::kHost);
  for (int i = 0; i < m * n; ++i) EXPECT_NEAR(got[i], C[i], 1e-13);
}

TEST(GpuLibraries, CusolverCholeskyMatchesKernelCholesky) {
  GPSX_REQUIRE_GPU();
  const int n = 6;
  std::vector<double> A(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) A[i * n + j] = 1.0 / (1 + i + j) + (i == j ? 2.0 : 0.0);
  std::vector<double> L = A;
  ASSERT_EQ(la::cholesky_lower(n, L.data(), n), kOk);

  Buffer<double> h("A", {n, n});
  std::memcpy(h.data(), A.data(), A.size() * 8);
  Buffer<double> d = h.to(Location::kDevice);
  Buffer<int> info("info", {1}, Location::kDevice);
  cusolverDnHandle_t handle;
  GPSX_CUSOLVER_CHECK(cusolverDnCreate(&handle));
  int lwork = 0;
  // Column-major upper factor of a symmetric matrix == row-major lower factor.
  GPSX_CUSOLVER_CHECK(
      cusolverDnDpotrf_bufferSize(handle, CUBLAS_FILL_MODE_UPPER, n, d.data(), n, &lwork));
  Buffer<double> work("work", {lwork}, Location::kDevice);
  GPSX_CUSOLVER_CHECK(cusolverDnDpotrf(handle, CUBLAS_FILL_MODE_UPPER, n, d.data(), n,
                                       work.data(), lwork, info.data()));
  GPSX_CUSOLVER_CHECK(cusolverDnDestroy(handle));
  EXPECT_EQ(info.to(Location::kHost)[0], 0);
  const Buffer<double> got = d.to(Location::kHost);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) EXPECT_NEAR(got[i * n + j], L[i * n + j], 1e-13);
}

}  // namespace
}  // namespace gpsx
