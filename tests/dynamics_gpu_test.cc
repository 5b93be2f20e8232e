// Dynamics fitting and the GMM prior on the CUDA executor (ctest label gpu): cuSOLVER
// batched Cholesky + cuBLAS GEMM E-/M-steps and the same per-(m, t) functors as the CPU
// path, compared with the CPU executor on the golden data set and on a random batch with
// a faulty condition. Skips without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gpsx/host/device.h"
#include "gpsx/host/dynamics.h"
#include "gpsx/kernels/hd.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using test::near_rel;
using Vec = std::vector<double>;

// GPU GEMMs sum in another order than Eigen, and EM amplifies round-off a little: the
// README's tolerance for a fit after our own EM.
constexpr double kRtol = 1e-6;

#define GPSX_REQUIRE_GPU()                                                 \
  do {                                                                     \
    const GpuStatus s_ = gpu_status();                                     \
    if (!s_.gpu.usable) GTEST_SKIP() << "no usable GPU: " << s_.gpu.reason; \
  } while (0)

struct Batch {
  int M, N, T, dX, dU;
  Vec X, U;  // (M x N x T x dX), (M x N x T x dU)
};

struct Outcome {
  GmmUpdateReport em;
  DynamicsPrior prior;
  FitReport fit, lr, init;
  Vec Fm, fv, cov, mu0, Phi, Fm_lr, fv_lr, cov_lr, x0mu, x0sigma;
};

Outcome run(const Executor& ex, const DynamicsPriorSettings& s, const Batch& b,
            const Vec& X_fit) {
  const int M = b.M, T = b.T, dX = b.dX, dXU = b.dX + b.dU, D = 2 * b.dX + b.dU;
  Outcome o;
  o.prior = make_dynamics_prior(M, T, dX, b.dU, s);
  o.em = dynamics_prior_update(ex, s, o.prior, b.N, b.X.data(), b.U.data());
  const std::size_t MT = static_cast<std::size_t>(M) * T;
  o.Fm.assign(MT * dX * dXU, 0.0);
  o.fv.assign(MT * dX, 0.0);
  o.cov.assign(MT * dX * dX, 0.0);
  o.mu0.assign(MT * D, 0.0);
  o.Phi.assign(MT * D * D, 0.0);
  o.fit = dynamics_fit_prior(ex, s, o.prior, b.N, X_fit.data(), b.U.data(), o.Fm.data(),
                             o.fv.data(), o.cov.data(), {o.mu0.data(), o.Phi.data()});
  o.Fm_lr.assign(o.Fm.size(), 0.0);
  o.fv_lr.assign(o.fv.size(), 0.0);
  o.cov_lr.assign(o.cov.size(), 0.0);
  o.lr = dynamics_fit_lr(ex, M, b.N, T, dX, b.dU, X_fit.data(), b.U.data(), 1e-6,
                         o.Fm_lr.data(), o.fv_lr.data(), o.cov_lr.data());
  o.x0mu.assign(static_cast<std::size_t>(M) * dX, 0.0);
  o.x0sigma.assign(static_cast<std::size_t>(M) * dX * dX, 0.0);
  o.init = dynamics_initial_state(ex, s, &o.prior, M, b.N, T, dX, X_fit.data(), 1e-6,
                                  o.x0mu.data(), o.x0sigma.data());
  return o;
}

// Slice of condition m of an (M x inner) array.
Vec condition(const Vec& a, int M, int m) {
  const std::size_t inner = a.size() / M;
  return Vec(a.begin() + m * inner, a.begin() + (m + 1) * inner);
}

void expect_same(const Outcome& gpu, const Outcome& cpu, int M, int skip_fit = -1) {
  for (int m = 0; m < M; ++m) {
    SCOPED_TRACE("condition " + std::to_string(m));
    EXPECT_EQ(gpu.em.status[m], cpu.em.status[m]) << gpu.em.message[m];
    EXPECT_EQ(gpu.em.iterations[m], cpu.em.iterations[m]);
    EXPECT_EQ(gpu.em.stop[m], cpu.em.stop[m]);
    EXPECT_EQ(gpu.fit.status[m], cpu.fit.status[m]) << gpu.fit.message[m];
    EXPECT_EQ(gpu.lr.status[m], cpu.lr.status[m]) << gpu.lr.message[m];
    EXPECT_EQ(gpu.init.status[m], cpu.init.status[m]);
    if (cpu.em.status[m] != kOk) continue;
    EXPECT_TRUE(near_rel(condition(gpu.prior.gmm.mu, M, m), condition(cpu.prior.gmm.mu, M, m),
                         kRtol, 1e-12, "gmm mu"));
    EXPECT_TRUE(near_rel(condition(gpu.prior.gmm.sigma, M, m),
                         condition(cpu.prior.gmm.sigma, M, m), kRtol, 1e-12, "gmm sigma"));
    EXPECT_TRUE(near_rel(condition(gpu.x0mu, M, m), condition(cpu.x0mu, M, m), kRtol, 1e-12, "x0mu"));
    EXPECT_TRUE(near_rel(condition(gpu.x0sigma, M, m), condition(cpu.x0sigma, M, m), kRtol,
                         1e-12, "x0sigma"));
    if (m == skip_fit) continue;
    const struct {
      const Vec* g;
      const Vec* c;
      const char* what;
    } arrays[] = {{&gpu.Fm, &cpu.Fm, "Fm"},           {&gpu.fv, &cpu.fv, "fv"},
                  {&gpu.cov, &cpu.cov, "dyn_covar"},  {&gpu.mu0, &cpu.mu0, "prior mu0"},
                  {&gpu.Phi, &cpu.Phi, "prior Phi"},  {&gpu.Fm_lr, &cpu.Fm_lr, "LR Fm"},
                  {&gpu.fv_lr, &cpu.fv_lr, "LR fv"},  {&gpu.cov_lr, &cpu.cov_lr, "LR dyn_covar"}};
    for (const auto& a : arrays)
      EXPECT_TRUE(near_rel(condition(*a.g, M, m), condition(*a.c, M, m), kRtol, 1e-12, a.what));
  }
}

TEST(DynamicsGpu, GoldenDataMatchesCpu) {
  GPSX_REQUIRE_GPU();
  const json ref = test::load_reference("dynamics_fit.json");
  const json& X = ref["data"]["X"];
  const json& U = ref["data"]["U"];
  Batch b{1, static_cast<int>(X.size()), static_cast<int>(X[0].size()),
          static_cast<int>(X[0][0].size()), static_cast<int>(U[0][0].size()), flatten(X),
          flatten(U)};
  DynamicsPriorSettings s;
  const Outcome cpu = run(cpu_executor(1), s, b, b.X);
  const Outcome gpu = run(make_executor(DeviceChoice::kCuda, 0), s, b, b.X);
  ASSERT_EQ(cpu.em.status[0], kOk) << cpu.em.message[0];
  expect_same(gpu, cpu, 1);
}

// Random linear-Gaussian systems, one per condition; condition 3's fit batch has a NaN.
TEST(DynamicsGpu, RandomBatchMatchesCpu) {
  GPSX_REQUIRE_GPU();
  Batch b{6, 5, 30, 4, 2, {}, {}};
  std::mt19937_64 rng(17);
  std::normal_distribution<double> g(0.0, 1.0);
  b.X.assign(static_cast<std::size_t>(b.M) * b.N * b.T * b.dX, 0.0);
  b.U.assign(static_cast<std::size_t>(b.M) * b.N * b.T * b.dU, 0.0);
  for (int m = 0; m < b.M; ++m) {
    Vec A(b.dX * (b.dX + b.dU));
    for (double& a : A) a = 0.3 * g(rng);
    for (int n = 0; n < b.N; ++n) {
      double* x = b.X.data() + (static_cast<std::size_t>(m) * b.N + n) * b.T * b.dX;
      double* u = b.U.data() + (static_cast<std::size_t>(m) * b.N + n) * b.T * b.dU;
      for (int i = 0; i < b.dX; ++i) x[i] = g(rng);
      for (int t = 0; t < b.T; ++t) {
        for (int i = 0; i < b.dU; ++i) u[t * b.dU + i] = g(rng);
        if (t + 1 == b.T) break;
        for (int i = 0; i < b.dX; ++i) {
          double v = 0.05 * g(rng) + 0.1 * std::sin(x[t * b.dX + (i + 1) % b.dX]);
          for (int j = 0; j < b.dX; ++j) v += A[i * (b.dX + b.dU) + j] * x[t * b.dX + j];
          for (int j = 0; j < b.dU; ++j) v += A[i * (b.dX + b.dU) + b.dX + j] * u[t * b.dU + j];
          x[(t + 1) * b.dX + i] = v;
        }
      }
    }
  }
  Vec X_fit = b.X;
  X_fit[((3 * b.N + 1) * b.T + 7) * b.dX + 2] = std::nan("");
  DynamicsPriorSettings s;
  s.min_samples_per_cluster = 20;
  const Outcome cpu = run(cpu_executor(2), s, b, X_fit);
  const Outcome gpu = run(make_executor(DeviceChoice::kCuda, 0), s, b, X_fit);
  EXPECT_NE(gpu.fit.status[3] & kNonFinite, 0u) << gpu.fit.message[3];
  EXPECT_NE(gpu.lr.status[3] & kNonFinite, 0u) << gpu.lr.message[3];
  expect_same(gpu, cpu, b.M, 3);
}

}  // namespace
}  // namespace gpsx
