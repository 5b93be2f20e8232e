// Dynamics fitting and the GMM prior on the CUDA executor (ctest label gpu): cuSOLVER
// batched Cholesky + cuBLAS GEMM E-/M-steps and the same per-(m, t) functors as the CPU
// path, compared with the CPU executor on the golden data set and on a random batch with
// a faulty condition. Skips without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/device.h"
#include "gpsx/host/dynamics.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/hd.h"
#include "gpsx_test/reference.h"
#include "gpsx_test/transfers.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using test::near_rel;
using Vec = std::vector<double>;

// GPU GEMMs sum in another order than Eigen, and EM amplifies round-off a little: the
// README's tolerance for a fit after our own EM.
constexpr double kRtol = 1e-6;
// Where EM stops by convergence is decided by rounding (|ll - prev| against 1e-5 prev), so
// both executors run a fixed number of iterations, short of convergence on these data.
constexpr int kEmIterations = 2;

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
  GmmParameters gmm;
  FitReport fit, lr, init;
  Vec Fm, fv, cov, mu0, Phi, Fm_lr, fv_lr, cov_lr, x0mu, x0sigma;
  std::uint64_t transferred = 0;  // host<->device bytes inside the dynamics calls
};

// An array of executor memory holding v.
Buffer<double> on(const Executor& ex, const char* name, const Vec& v) {
  Buffer<double> b(ex, name, {static_cast<std::int64_t>(v.size())});
  upload(ex, v.data(), v.size(), b.data());
  return b;
}
Vec host(const Executor& ex, const Buffer<double>& b) {
  Vec v(static_cast<std::size_t>(b.size()));
  download(ex, b.data(), v.size(), v.data());
  return v;
}

// The GPS iteration's dynamics phase on `ex`: arrays allocated once in its memory, then
// the four calls, which move only per-condition scalars across (counted).
Outcome run(const Executor& ex, const DynamicsPriorSettings& s, const Batch& b,
            const Vec& X_fit) {
  const int M = b.M, T = b.T, dX = b.dX, dXU = b.dX + b.dU, D = 2 * b.dX + b.dU;
  const std::int64_t MT = static_cast<std::int64_t>(M) * T;
  Outcome o;
  DynamicsPrior prior = make_dynamics_prior(ex, M, T, dX, b.dU, s);
  Buffer<double> ws(ex, dynamics_workspace_size(ex, prior, b.N));
  const Buffer<double> X = on(ex, "X", b.X), U = on(ex, "U", b.U), Xf = on(ex, "X fit", X_fit);
  Buffer<double> Fm(ex, "Fm", {MT * dX * dXU}), fv(ex, "fv", {MT * dX}), cov(ex, "cov", {MT * dX * dX});
  Buffer<double> mu0(ex, "mu0", {MT * D}), Phi(ex, "Phi", {MT * D * D});
  Buffer<double> Fm_lr(ex, "Fm lr", {MT * dX * dXU}), fv_lr(ex, "fv lr", {MT * dX}),
      cov_lr(ex, "cov lr", {MT * dX * dX});
  Buffer<double> x0mu(ex, "x0mu", {M * dX}), x0sigma(ex, "x0sigma", {M * dX * dX});

  const std::uint64_t before = test::transferred_bytes();
  o.em = dynamics_prior_update(ex, s, prior, b.N, X.data(), U.data(), ws.data(), ws.size());
  o.fit = dynamics_fit_prior(ex, s, prior, b.N, Xf.data(), U.data(), Fm.data(), fv.data(),
                             cov.data(), ws.data(), ws.size(), {mu0.data(), Phi.data()});
  o.lr = dynamics_fit_lr(ex, M, b.N, T, dX, b.dU, Xf.data(), U.data(), 1e-6, Fm_lr.data(),
                         fv_lr.data(), cov_lr.data(), ws.data(), ws.size());
  o.init = dynamics_initial_state(ex, s, &prior, M, b.N, T, dX, Xf.data(), 1e-6, x0mu.data(),
                                  x0sigma.data(), ws.data(), ws.size());
  o.transferred = test::transferred_bytes() - before;

  o.gmm = gmm_parameters(ex, prior.gmm);
  o.Fm = host(ex, Fm), o.fv = host(ex, fv), o.cov = host(ex, cov);
  o.mu0 = host(ex, mu0), o.Phi = host(ex, Phi);
  o.Fm_lr = host(ex, Fm_lr), o.fv_lr = host(ex, fv_lr), o.cov_lr = host(ex, cov_lr);
  o.x0mu = host(ex, x0mu), o.x0sigma = host(ex, x0sigma);
  return o;
}

// Only per-condition scalars cross: per EM iteration a log-likelihood, a status and an
// active flag (16 bytes), plus a few dozen bytes of statuses per call; far below one
// batch of samples.
void expect_only_scalars_moved(const Outcome& gpu, const Batch& b, const DynamicsPriorSettings& s) {
  const std::uint64_t scalars = static_cast<std::uint64_t>(b.M) * (16 * s.gmm.max_iterations + 256);
  const std::uint64_t batch = static_cast<std::uint64_t>(b.M) * b.N * b.T * (b.dX + b.dU) * 8;
  EXPECT_LE(gpu.transferred, scalars) << "host<->device bytes inside the dynamics calls";
  EXPECT_LT(gpu.transferred, batch / 10);
}

// Slice of condition m of an (M x inner) array.
Vec condition(const Vec& a, int M, int m) {
  const std::size_t inner = a.size() / M;
  return Vec(a.begin() + m * inner, a.begin() + (m + 1) * inner);
}

void expect_same(const Outcome& gpu, const Outcome& cpu, int M, int skip_fit = -1) {
  for (int m = 0; m < M; ++m) {
    SCOPED_TRACE("condition " + std::to_string(m));
    if (cpu.em.status[m] == kOk) {
      ASSERT_EQ(cpu.em.stop[m], gmm::kEmMaxIterations) << "the comparison needs a fixed count";
    }
    EXPECT_EQ(gpu.em.status[m], cpu.em.status[m]) << gpu.em.message[m];
    EXPECT_EQ(gpu.em.iterations[m], cpu.em.iterations[m]);
    EXPECT_EQ(gpu.em.stop[m], cpu.em.stop[m]);
    EXPECT_EQ(gpu.fit.status[m], cpu.fit.status[m]) << gpu.fit.message[m];
    EXPECT_EQ(gpu.lr.status[m], cpu.lr.status[m]) << gpu.lr.message[m];
    EXPECT_EQ(gpu.init.status[m], cpu.init.status[m]);
    if (cpu.em.status[m] != kOk) continue;
    EXPECT_TRUE(near_rel(condition(gpu.gmm.mu, M, m), condition(cpu.gmm.mu, M, m), kRtol, 1e-12,
                         "gmm mu"));
    EXPECT_TRUE(near_rel(condition(gpu.gmm.sigma, M, m), condition(cpu.gmm.sigma, M, m), kRtol,
                         1e-12, "gmm sigma"));
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
  s.gmm.max_iterations = kEmIterations;
  const Outcome cpu = run(cpu_executor(1), s, b, b.X);
  const Outcome gpu = run(make_executor(DeviceChoice::kCuda, 0), s, b, b.X);
  ASSERT_EQ(cpu.em.status[0], kOk) << cpu.em.message[0];
  expect_same(gpu, cpu, 1);
  expect_only_scalars_moved(gpu, b, s);
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
  s.gmm.max_iterations = kEmIterations;
  const Outcome cpu = run(cpu_executor(2), s, b, X_fit);
  const Outcome gpu = run(make_executor(DeviceChoice::kCuda, 0), s, b, X_fit);
  EXPECT_NE(gpu.fit.status[3] & kNonFinite, 0u) << gpu.fit.message[3];
  EXPECT_NE(gpu.lr.status[3] & kNonFinite, 0u) << gpu.lr.message[3];
  expect_same(gpu, cpu, b.M, 3);
  expect_only_scalars_moved(gpu, b, s);
}

}  // namespace
}  // namespace gpsx
