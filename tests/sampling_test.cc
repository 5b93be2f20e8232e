// Batched sampling: Philox normal fills, reproducibility across thread counts, sample
// statistics of a known controller on a linear-Gaussian system against the analytic
// mean / covariance, noise shaping inside rollouts, torque limits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "gpsx/host/sampling.h"

namespace gpsx {
namespace {

TEST(Philox, FilledNormalsHaveUnitMoments) {
  const int n = 200000;
  std::vector<double> z(n);
  rng::fill_normal(42u, 3u, 1u, n, z.data());
  double mean = 0, m2 = 0, m4 = 0;
  for (double v : z) mean += v;
  mean /= n;
  for (double v : z) {
    m2 += (v - mean) * (v - mean);
    m4 += std::pow(v - mean, 4);
  }
  m2 /= n;
  m4 /= n;
  EXPECT_NEAR(mean, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(m2, 1.0, 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(m4, 3.0, 5 * std::sqrt(96.0 / n));
}

// A linear-Gaussian plant and controller with fixed, mildly random coefficients.
struct Problem {
  int M, T, dX, dU;
  std::vector<double> F, f, W_chol, x0;  // plant
  ControllerBatch ctrl;
  sampling::LinearGaussianSystem<double> system(std::uint64_t seed) const {
    return {T, dX, dU, F.data(), f.data(), W_chol.data(), seed, 7u, false};
  }
};

Problem make_problem(int M, int T, int dX, int dU, double process_noise) {
  Problem p{M, T, dX, dU, {}, {}, {}, {}, ControllerBatch(cpu_executor(1), M, T, dX, dU)};
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  const int dxu = dX + dU;
  p.F.resize(static_cast<std::size_t>(M) * T * dX * dxu);
  p.f.resize(static_cast<std::size_t>(M) * T * dX);
  p.W_chol.assign(static_cast<std::size_t>(M) * T * dX * dX, 0.0);
  p.x0.resize(static_cast<std::size_t>(M) * dX);
  for (int m = 0; m < M; ++m)
    for (int t = 0; t < T; ++t) {
      double* F = &p.F[(m * T + t) * dX * dxu];
      for (int i = 0; i < dX; ++i)
        for (int j = 0; j < dxu; ++j) F[i * dxu + j] = (i == j ? 0.9 : 0.0) + u(rng);
      for (int i = 0; i < dX; ++i) p.f[(m * T + t) * dX + i] = u(rng);
      double* C = &p.W_chol[(m * T + t) * dX * dX];
      for (int i = 0; i < dX; ++i)
        for (int j = i; j < dX; ++j) C[i * dX + j] = i == j ? process_noise : 0.3 * process_noise * u(rng);
    }
  for (double& v : p.x0) v = 3 * u(rng);
  for (std::int64_t i = 0; i < p.ctrl.K.size(); ++i) p.ctrl.K.data()[i] = u(rng);
  for (std::int64_t i = 0; i < p.ctrl.k.size(); ++i) p.ctrl.k.data()[i] = u(rng);
  for (int mt = 0; mt < M * T; ++mt) {
    double* C = p.ctrl.chol_pol_covar.data() + mt * dU * dU;
    double* S = p.ctrl.pol_covar.data() + mt * dU * dU;
    for (int i = 0; i < dU; ++i)
      for (int j = 0; j < dU; ++j) C[i * dU + j] = j < i ? 0.0 : (i == j ? 0.5 + 0.5 * std::abs(u(rng)) : u(rng));
    for (int i = 0; i < dU; ++i)  // pol_covar = C^T C
      for (int j = 0; j < dU; ++j) {
        double s = 0;
        for (int q = 0; q < dU; ++q) s += C[q * dU + i] * C[q * dU + j];
        S[i * dU + j] = s;
      }
  }
  return p;
}

::testing::AssertionResult test_near(const std::vector<float>& got, const std::vector<double>& ref,
                                     double rtol) {
  double scale = 0, worst = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(got[i] - ref[i]));
  if (worst <= rtol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst |err| " << worst << " > " << rtol << " * " << scale;
}

struct Samples {
  std::vector<double> X, U;
  std::vector<std::uint32_t> status;
};

Samples run(const Problem& p, const Executor& ex, int N, const SamplingOptions& o,
            const double* u_min = nullptr, const double* u_max = nullptr) {
  Samples s{std::vector<double>(static_cast<std::size_t>(p.M) * N * p.T * p.dX),
            std::vector<double>(static_cast<std::size_t>(p.M) * N * p.T * p.dU),
            std::vector<std::uint32_t>(p.M, ~0u)};
  SamplingWorkspace ws;
  sample_lin_gauss(ex, p.ctrl, p.system(o.seed), N, o, p.x0.data(), u_min, u_max, s.X.data(),
                   s.U.data(), s.status.data(), ws);
  return s;
}

TEST(Sampling, SameSeedSameSamplesOnAnyThreadCount) {
  const Problem p = make_problem(5, 20, 4, 2, 0.1);
  SamplingOptions o;
  o.seed = 0x1234abcdULL;
  const Samples one = run(p, cpu_executor(1), 7, o);
  for (int threads : {0, 2, 3}) {
    const Samples many = run(p, cpu_executor(threads), 7, o);
    EXPECT_EQ(one.X, many.X) << threads << " threads";
    EXPECT_EQ(one.U, many.U) << threads << " threads";
  }
  for (auto s : one.status) EXPECT_EQ(s, kOk);
  // another stream (iteration) or seed gives other samples
  SamplingOptions other = o;
  other.stream = 1;
  EXPECT_NE(run(p, cpu_executor(1), 7, other).U, one.U);
  other = o;
  other.seed += 1;
  EXPECT_NE(run(p, cpu_executor(1), 7, other).U, one.U);
}

TEST(Sampling, EachSampleDependsOnlyOnItsConditionAndIndex) {
  const Problem p = make_problem(3, 10, 4, 2, 0.1);
  SamplingOptions o;
  o.seed = 99;
  const int N1 = 4, N2 = 9;
  const Samples a = run(p, cpu_executor(0), N1, o), b = run(p, cpu_executor(0), N2, o);
  const std::size_t per = static_cast<std::size_t>(p.T) * p.dX;
  for (int m = 0; m < p.M; ++m)
    for (int n = 0; n < N1; ++n)
      for (std::size_t i = 0; i < per; ++i)
        ASSERT_EQ(a.X[(m * N1 + n) * per + i], b.X[(m * N2 + n) * per + i]);
}

// Forward-propagates the exact Gaussian marginals of the closed loop:
// u = K x + k + C^T n, x' = F [x; u] + f + W^T w.
void analytic_marginals(const Problem& p, int m, std::vector<double>& mu,
                        std::vector<double>& sigma) {
  const int dX = p.dX, dU = p.dU, dxu = dX + dU, T = p.T;
  mu.assign(static_cast<std::size_t>(T) * dxu, 0.0);
  sigma.assign(static_cast<std::size_t>(T) * dxu * dxu, 0.0);
  std::vector<double> mx(p.x0.begin() + m * dX, p.x0.begin() + (m + 1) * dX), Sx(dX * dX, 0.0);
  for (int t = 0; t < T; ++t) {
    const int mt = m * T + t;
    const double* K = p.ctrl.K.data() + mt * dU * dX;
    const double* k = p.ctrl.k.data() + mt * dU;
    const double* Su = p.ctrl.pol_covar.data() + mt * dU * dU;
    double* mu_t = &mu[t * dxu];
    double* S = &sigma[t * dxu * dxu];
    for (int i = 0; i < dX; ++i) mu_t[i] = mx[i];
    for (int i = 0; i < dU; ++i) {
      mu_t[dX + i] = k[i];
      for (int j = 0; j < dX; ++j) mu_t[dX + i] += K[i * dX + j] * mx[j];
    }
    // joint covariance [[Sx, Sx K^T], [K Sx, K Sx K^T + Su]]
    std::vector<double> KS(dU * dX, 0.0);
    for (int i = 0; i < dU; ++i)
      for (int j = 0; j < dX; ++j)
        for (int q = 0; q < dX; ++q) KS[i * dX + j] += K[i * dX + q] * Sx[q * dX + j];
    for (int i = 0; i < dX; ++i)
      for (int j = 0; j < dX; ++j) S[i * dxu + j] = Sx[i * dX + j];
    for (int i = 0; i < dU; ++i)
      for (int j = 0; j < dX; ++j) S[(dX + i) * dxu + j] = S[j * dxu + dX + i] = KS[i * dX + j];
    for (int i = 0; i < dU; ++i)
      for (int j = 0; j < dU; ++j) {
        double v = Su[i * dU + j];
        for (int q = 0; q < dX; ++q) v += KS[i * dX + q] * K[j * dX + q];
        S[(dX + i) * dxu + dX + j] = v;
      }
    if (t + 1 == T) break;
    const double* F = p.F.data() + mt * dX * dxu;
    const double* W = p.W_chol.data() + mt * dX * dX;
    for (int i = 0; i < dX; ++i) {
      mx[i] = p.f[mt * dX + i];
      for (int j = 0; j < dxu; ++j) mx[i] += F[i * dxu + j] * mu_t[j];
    }
    for (int i = 0; i < dX; ++i)
      for (int j = 0; j < dX; ++j) {
        double v = 0;
        for (int a = 0; a < dxu; ++a)
          for (int b = 0; b < dxu; ++b) v += F[i * dxu + a] * S[a * dxu + b] * F[j * dxu + b];
        for (int q = 0; q < dX; ++q) v += W[q * dX + i] * W[q * dX + j];
        Sx[i * dX + j] = v;
      }
  }
}

TEST(Sampling, StatisticsMatchTheAnalyticClosedLoopMarginals) {
  const Problem p = make_problem(2, 6, 3, 2, 0.2);
  const int N = 40000, dX = p.dX, dU = p.dU, dxu = dX + dU;
  SamplingOptions o;
  o.seed = 2024;
  o.noise.smooth = false;  // i.i.d. noise: the marginals are exactly Gaussian
  const Samples s = run(p, cpu_executor(0), N, o);
  for (int m = 0; m < p.M; ++m) {
    std::vector<double> mu, sigma;
    analytic_marginals(p, m, mu, sigma);
    for (int t = 0; t < p.T; ++t) {
      std::vector<double> mean(dxu, 0.0), cov(dxu * dxu, 0.0), y(dxu);
      auto load = [&](int n) {
        const std::size_t snt = (static_cast<std::size_t>(m) * N + n) * p.T + t;
        for (int i = 0; i < dX; ++i) y[i] = s.X[snt * dX + i];
        for (int i = 0; i < dU; ++i) y[dX + i] = s.U[snt * dU + i];
      };
      for (int n = 0; n < N; ++n) {
        load(n);
        for (int i = 0; i < dxu; ++i) mean[i] += y[i] / N;
      }
      for (int n = 0; n < N; ++n) {
        load(n);
        for (int i = 0; i < dxu; ++i)
          for (int j = 0; j < dxu; ++j) cov[i * dxu + j] += (y[i] - mean[i]) * (y[j] - mean[j]) / N;
      }
      const double* S = &sigma[t * dxu * dxu];
      for (int i = 0; i < dxu; ++i) {
        const double se_mean = std::sqrt(S[i * dxu + i] / N) + 1e-12;
        EXPECT_NEAR(mean[i], mu[t * dxu + i], 5 * se_mean) << "m " << m << " t " << t << " i " << i;
        for (int j = 0; j < dxu; ++j) {
          // standard error of a Gaussian sample covariance
          const double se = std::sqrt((S[i * dxu + i] * S[j * dxu + j] + S[i * dxu + j] * S[i * dxu + j]) / N) + 1e-12;
          EXPECT_NEAR(cov[i * dxu + j], S[i * dxu + j], 5 * se) << "m " << m << " t " << t << " (" << i << "," << j << ")";
        }
      }
    }
  }
}

TEST(Sampling, SmoothedRenormalisedNoiseReachesTheActions) {
  // K = 0, k = 0, C = I: u is the shaped noise; each column has unit population variance.
  Problem p = make_problem(2, 12, 4, 3, 0.0);
  std::fill(p.ctrl.K.data(), p.ctrl.K.data() + p.ctrl.K.size(), 0.0);
  std::fill(p.ctrl.k.data(), p.ctrl.k.data() + p.ctrl.k.size(), 0.0);
  for (int mt = 0; mt < p.M * p.T; ++mt)
    for (int i = 0; i < p.dU; ++i)
      for (int j = 0; j < p.dU; ++j) p.ctrl.chol_pol_covar.data()[mt * p.dU * p.dU + i * p.dU + j] = i == j;
  SamplingOptions o;  // reference defaults: smooth, sigma 2, renormalise
  o.seed = 3;
  const int N = 5;
  const Samples s = run(p, cpu_executor(0), N, o);
  for (int mn = 0; mn < p.M * N; ++mn)
    for (int i = 0; i < p.dU; ++i) {
      double mean = 0, var = 0, lag1 = 0;
      const double* u = &s.U[static_cast<std::size_t>(mn) * p.T * p.dU];
      for (int t = 0; t < p.T; ++t) mean += u[t * p.dU + i] / p.T;
      for (int t = 0; t < p.T; ++t) var += (u[t * p.dU + i] - mean) * (u[t * p.dU + i] - mean) / p.T;
      EXPECT_NEAR(var, 1.0, 1e-12);
      for (int t = 1; t < p.T; ++t) lag1 += (u[t * p.dU + i] - mean) * (u[(t - 1) * p.dU + i] - mean);
      EXPECT_GT(lag1 / (p.T - 1), 0.3);  // smoothed: neighbouring steps strongly correlated
    }
}

TEST(Sampling, ActionsAreClampedToTorqueLimits) {
  Problem p = make_problem(2, 10, 4, 2, 0.1);
  for (std::int64_t i = 0; i < p.ctrl.chol_pol_covar.size(); ++i) p.ctrl.chol_pol_covar.data()[i] *= 20;
  const std::vector<double> lo = {-0.5, -1.0}, hi = {0.5, 2.0};
  SamplingOptions o;
  o.seed = 11;
  const Samples s = run(p, cpu_executor(0), 8, o, lo.data(), hi.data());
  int at_limit = 0;
  for (std::size_t i = 0; i < s.U.size(); ++i) {
    const int d = static_cast<int>(i % 2);
    EXPECT_GE(s.U[i], lo[d]);
    EXPECT_LE(s.U[i], hi[d]);
    at_limit += (s.U[i] == lo[d] || s.U[i] == hi[d]);
  }
  EXPECT_GT(at_limit, 0);
}

// Single precision (allowed on the GPU): the same rollout functor in float follows the
// double trajectories to float accuracy (same counters, normals rounded to float).
TEST(Sampling, FloatRolloutsFollowDouble) {
  const Problem p = make_problem(2, 15, 4, 2, 0.1);
  SamplingOptions o;
  o.seed = 5;
  const int N = 3;
  const Samples d = run(p, cpu_executor(1), N, o);
  auto to_float = [](const double* x, std::size_t n) { return std::vector<float>(x, x + n); };
  const auto F = to_float(p.F.data(), p.F.size()), f = to_float(p.f.data(), p.f.size()),
             W = to_float(p.W_chol.data(), p.W_chol.size()), x0 = to_float(p.x0.data(), p.x0.size()),
             K = to_float(p.ctrl.K.data(), p.ctrl.K.size()), k = to_float(p.ctrl.k.data(), p.ctrl.k.size()),
             C = to_float(p.ctrl.chol_pol_covar.data(), p.ctrl.chol_pol_covar.size());
  using System = sampling::LinearGaussianSystem<float>;
  using Rollout = sampling::RolloutLinGauss<float, System>;
  std::vector<float> X(d.X.size()), U(d.U.size());
  std::vector<std::uint32_t> status(p.M * N);
  Rollout r{N, p.T, p.dX, p.dU, x0.data(), K.data(), k.data(), C.data(), nullptr, nullptr,
            o.noise, o.seed, o.stream,
            System{p.T, p.dX, p.dU, F.data(), f.data(), W.data(), o.seed, 7u, false},
            X.data(), U.data(), nullptr, status.data()};
  std::vector<float> scratch(static_cast<std::size_t>(p.M) * N * r.scratch_size());
  r.scratch = scratch.data();
  for_each_2d(cpu_executor(0), p.M, N, r);
  for (auto st : status) EXPECT_EQ(st, kOk);
  EXPECT_TRUE(test_near(X, d.X, 1e-4));
  EXPECT_TRUE(test_near(U, d.U, 1e-4));
}

TEST(Sampling, RejectsBadArguments) {
  const Problem p = make_problem(1, 4, 4, 2, 0.1);
  SamplingOptions o;
  std::vector<double> X(4 * 4), U(4 * 2);
  std::uint32_t st;
  SamplingWorkspace ws;
  EXPECT_THROW(sample_lin_gauss(cpu_executor(1), p.ctrl, p.system(0), 0, o, p.x0.data(), nullptr,
                                nullptr, X.data(), U.data(), &st, ws),
               std::invalid_argument);
  o.noise.sigma = 0;
  EXPECT_THROW(sample_lin_gauss(cpu_executor(1), p.ctrl, p.system(0), 1, o, p.x0.data(), nullptr,
                                nullptr, X.data(), U.data(), &st, ws),
               std::invalid_argument);
}

}  // namespace
}  // namespace gpsx
