// The CPU EM's pack kernels (gmm.h, "EM products over packs of points") against direct
// sums, on sizes that need padding (D and P not multiples of the blocks), with SIMD packs
// and with plain scalars; and the pack operations they rely on (lanes.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gpsx/host/executor.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/gmm_batch.h"
#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/linalg_fma.h"

namespace gpsx {
namespace {

struct EmProblem {
  int D = 0, P = 0;
  std::vector<double> x;      // (P x D)
  std::vector<double> mu;     // (D)
  std::vector<double> L;      // (D x D) Cholesky factor of a random SPD matrix
  std::vector<double> w;      // (P)
};

EmProblem make_problem(int D, int P, unsigned seed) {
  EmProblem p;
  p.D = D;
  p.P = P;
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  p.x.resize(static_cast<std::size_t>(P) * D);
  for (double& v : p.x) v = 3.0 + normal(gen);  // offset: centring must happen before whitening
  p.mu.resize(D);
  for (double& v : p.mu) v = 3.0 + 0.5 * normal(gen);
  std::vector<double> A(static_cast<std::size_t>(D) * 2 * D);
  for (double& v : A) v = normal(gen);
  p.L.assign(static_cast<std::size_t>(D) * D, 0.0);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j <= i; ++j) {
      double s = i == j ? 0.5 : 0.0;
      for (int k = 0; k < 2 * D; ++k) s += A[i * 2 * D + k] * A[j * 2 * D + k] / (2 * D);
      p.L[i * D + j] = s;
    }
  EXPECT_EQ(la::cholesky_lower(D, p.L.data(), D), kOk);
  p.w.resize(P);
  for (double& v : p.w) v = std::exp(normal(gen)) / P;
  return p;
}

// Points (P x D) in the kernels' dimension-major layout: Dp rows of ldx packs of W lanes.
template <class T, int W>
std::vector<T> points_dimension_major(const EmProblem& p, int Dp, int ldx) {
  std::vector<T> xt(static_cast<std::size_t>(Dp) * ldx, T(0));
  for (int n = 0; n < p.P; ++n)
    for (int i = 0; i < p.D; ++i) {
      T& pack = xt[static_cast<std::size_t>(i) * ldx + n / W];
      if constexpr (W == 1)
        pack = p.x[n * p.D + i];
      else
        pack.set_lane(n % W, p.x[n * p.D + i]);
    }
  return xt;
}

template <class T, int W>
double lane_of(const T& pack, int l) {
  if constexpr (W == 1)
    return pack;
  else
    return pack.lane(l);
}

// |L^-1 (x - mu)|^2 per point and sum_n w_n x_n x_n^T, sum_n w_n x_n from plain loops.
template <class T, int W>
void check_em_kernels(int D, int P, unsigned seed) {
  SCOPED_TRACE("D = " + std::to_string(D) + ", P = " + std::to_string(P) + ", lanes = " +
               std::to_string(W));
  constexpr int kPacks = 3;
  const EmProblem p = make_problem(D, P, seed);
  const int Dp = gmm::em_padded_dim(D);
  ASSERT_EQ(Dp % gmm::kEmDimBlock, 0);
  ASSERT_GE(Dp, D);
  const int packs = (P + W - 1) / W;
  const int ldx = (packs + kPacks - 1) / kPacks * kPacks;
  const std::vector<T> xt = points_dimension_major<T, W>(p, Dp, ldx);

  std::vector<double> packed(gmm::whiten_packed_size(Dp), -1.0), mu(Dp, 0.0);
  for (int i = 0; i < D; ++i) mu[i] = p.mu[i];
  gmm::whiten_pack_factor(D, Dp, p.L.data(), D, packed.data());
  std::vector<T> zt(static_cast<std::size_t>(Dp) * kPacks), q(ldx);
  for (int t = 0; t < ldx; t += kPacks)
    gmm::whitened_sq_norms<kPacks>(Dp, packed.data(), mu.data(), xt.data() + t, ldx, zt.data(),
                                   q.data() + t);
  std::vector<double> z(D);
  for (int n = 0; n < P; ++n) {
    for (int i = 0; i < D; ++i) z[i] = p.x[n * D + i] - p.mu[i];
    la::solve_lower(D, 1, p.L.data(), D, z.data(), 1);
    const double want = la::dot(D, z.data(), z.data());
    const double got = lane_of<T, W>(q[n / W], n % W);
    ASSERT_NEAR(got, want, 1e-12 * want) << "point " << n;
  }

  std::vector<T> w(ldx, T(0)), wxt(xt.size(), T(7));
  for (int n = 0; n < P; ++n) {
    if constexpr (W == 1)
      w[n] = p.w[n];
    else
      w[n / W].set_lane(n % W, p.w[n]);
  }
  std::vector<double> mean(Dp, -1.0), XX(static_cast<std::size_t>(Dp) * Dp, -1.0);
  gmm::weighted_points(Dp, ldx, w.data(), xt.data(), ldx, wxt.data(), mean.data());
  gmm::weighted_scatter_lower(Dp, ldx, xt.data(), wxt.data(), ldx, XX.data(), Dp);
  for (int i = 0; i < Dp; ++i) {
    double m = 0.0;
    for (int n = 0; n < P; ++n) m += i < D ? p.w[n] * p.x[n * D + i] : 0.0;
    ASSERT_NEAR(mean[i], m, 1e-13 * (1.0 + std::fabs(m))) << "mean " << i;
    for (int j = 0; j <= i; ++j) {
      double s = 0.0;
      for (int n = 0; n < P; ++n)
        if (i < D && j < D) s += p.w[n] * p.x[n * D + i] * p.x[n * D + j];
      ASSERT_NEAR(XX[i * Dp + j], s, 1e-13 * (1.0 + std::fabs(s))) << "XX " << i << ", " << j;
    }
  }
}

TEST(EmKernels, PacksMatchDirectSums) {
  check_em_kernels<Lanes<double, 4>, 4>(59, 495, 1);  // the benchmark's sizes
  check_em_kernels<Lanes<double, 4>, 4>(33, 37, 2);
  check_em_kernels<Lanes<double, 4>, 4>(1, 1, 3);
}

TEST(EmKernels, ScalarsMatchDirectSums) {
  check_em_kernels<double, 1>(13, 29, 4);
  check_em_kernels<double, 1>(24, 3, 5);
}

// The pack fused multiply-add (a vector instruction where the pack is one register) equals
// std::fma in every lane; lane_sum adds the lanes in order; sqrt is std::sqrt per lane.
template <class S, int W>
void check_pack_fma() {
  std::mt19937 gen(W);
  std::normal_distribution<S> normal;
  for (int rep = 0; rep < 100; ++rep) {
    Lanes<S, W> a, b, c;
    for (int l = 0; l < W; ++l) {
      a.set_lane(l, normal(gen));
      b.set_lane(l, normal(gen));
      c.set_lane(l, normal(gen));
    }
    const Lanes<S, W> r = mul_add(a, b, c);
    S sum = r.lane(0);
    for (int l = 0; l < W; ++l) {
#if defined(__FMA__)
      ASSERT_EQ(r.lane(l), std::fma(a.lane(l), b.lane(l), c.lane(l)));
#else
      ASSERT_EQ(r.lane(l), a.lane(l) * b.lane(l) + c.lane(l));
#endif
      if (l > 0) sum += r.lane(l);
    }
    ASSERT_EQ(lane_sum(r), sum);
    // sqrt (a vector instruction where the pack is one register) is the scalar sqrt per
    // lane, over a wide range; a negative lane gives NaN in that lane only
    Lanes<S, W> x;
    for (int l = 0; l < W; ++l) x.set_lane(l, std::exp(S(20) * normal(gen)));
    x.set_lane(rep % W, -x.lane(rep % W));
    const Lanes<S, W> root = sqrt(x);
    for (int l = 0; l < W; ++l) {
      if (l == rep % W) {
        ASSERT_TRUE(std::isnan(root.lane(l)));
      } else {
        ASSERT_EQ(root.lane(l), std::sqrt(x.lane(l)));
      }
    }
  }
}

TEST(EmKernels, PackArithmeticIsPerLaneScalar) {
  check_pack_fma<double, 4>();
  check_pack_fma<float, 8>();
  check_pack_fma<double, 2>();
  check_pack_fma<float, 4>();
  check_pack_fma<double, 8>();  // two registers: the lane loop
}

// The device path's per-point and per-cluster EM steps (responsibilities, log-likelihood,
// masses) give the same bits as the per-condition kernels the CPU path uses, also when a
// condition is inactive (left untouched) and when a point's log observations are all -inf.
TEST(EmKernels, ItemParallelStepsEqualPerConditionKernels) {
  const int M = 3, P = 37, K = 5;
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(-3.0, 4.0);
  std::vector<double> logobs(M * P * K);
  for (double& v : logobs) v = g(rng);
  for (int k = 0; k < K; ++k) logobs[(1 * P + 4) * K + k] = -INFINITY;
  std::vector<double> logw(M * P * K), lse(M * P), ll(M);
  const Executor ex = cpu_executor(2);
  for_each_2d(ex, M, P, gmm::ResponsibilitiesStep<double>{P, K, logobs.data(), logw.data(), lse.data()});
  for_each(ex, M, gmm::LoglikSumStep<double>{P, lse.data(), ll.data()});
  const std::vector<int> active{1, 0, 1};
  std::vector<double> col_lse(M * K, 7.0), logmass(M * K, 7.0), mass(M * K, 7.0);
  for_each_2d(ex, M, K, gmm::ColumnLseStep<double>{P, K, active.data(), logw.data(), col_lse.data()});
  for_each(ex, M, gmm::MassStep<double>{K, active.data(), col_lse.data(), logmass.data(), mass.data()});
  for (int m = 0; m < M; ++m) {
    std::vector<double> w(P * K), c(K), lm(K), ms(K);
    double s = 0.0;
    for (int n = 0; n < P; ++n)
      s += gmm::responsibilities_row(K, logobs.data() + (m * P + n) * K, w.data() + n * K);
    EXPECT_EQ(std::memcmp(&s, &ll[m], sizeof s), 0) << "condition " << m;
    EXPECT_EQ(std::memcmp(w.data(), logw.data() + m * P * K, w.size() * sizeof(double)), 0);
    if (!active[m]) {
      for (int k = 0; k < K; ++k) EXPECT_EQ(mass[m * K + k], 7.0);
      continue;
    }
    gmm::mstep_mass(P, K, w.data(), c.data(), lm.data(), ms.data());
    EXPECT_EQ(std::memcmp(lm.data(), logmass.data() + m * K, K * sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(ms.data(), mass.data() + m * K, K * sizeof(double)), 0);
  }
}

}  // namespace
}  // namespace gpsx
