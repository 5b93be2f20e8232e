// linalg.h on SIMD packs (lanes.h): the register-blocked loops must give every lane exactly
// the scalar kernel's result on that lane's data (same operations in the same order), at
// sizes that exercise the full blocks and the remainders.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/linalg_fma.h"

namespace gpsx {
namespace {

constexpr int kW = 4;
using Pack = Lanes<double, kW>;

// Random (rows x cols) packs and the same data per lane as plain doubles.
struct Data {
  std::vector<Pack> packs;
  std::vector<std::vector<double>> lanes;  // (kW) x (rows x cols)
  Data(int size, std::mt19937& gen) : packs(size), lanes(kW, std::vector<double>(size)) {
    std::normal_distribution<double> normal;
    for (int i = 0; i < size; ++i)
      for (int l = 0; l < kW; ++l) {
        lanes[l][i] = normal(gen);
        packs[i].set_lane(l, lanes[l][i]);
      }
  }
  ::testing::AssertionResult same(const char* what) const {
    for (std::size_t i = 0; i < packs.size(); ++i)
      for (int l = 0; l < kW; ++l)
        if (packs[i].lane(l) != lanes[l][i])
          return ::testing::AssertionFailure()
                 << what << ": entry " << i << " lane " << l << " pack " << packs[i].lane(l)
                 << " scalar " << lanes[l][i];
    return ::testing::AssertionSuccess();
  }
};

// A well-conditioned lower Cholesky factor per lane (n x n).
Data lower_factor(int n, std::mt19937& gen) {
  Data L(n * n, gen);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      for (int l = 0; l < kW; ++l) {
        double& x = L.lanes[l][i * n + j];
        x = j > i ? 0.0 : (j == i ? 2.0 + std::abs(x) : 0.3 * x);
        L.packs[i * n + j].set_lane(l, x);
      }
    }
  return L;
}

TEST(LinalgPacks, BlockedSolveIsScalarSolvePerLane) {
  std::mt19937 gen(3);
  for (const int n : {1, 3, 7}) {
    for (const int nrhs : {1, 7, 8, 9, 26}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " nrhs " << nrhs);
      const Data L = lower_factor(n, gen);
      Data B(n * nrhs, gen);
      la::cholesky_solve_rows_recip(n, nrhs, L.packs.data(), n, B.packs.data(), nrhs);
      for (int l = 0; l < kW; ++l)
        la::cholesky_solve_rows_recip(n, nrhs, L.lanes[l].data(), n, B.lanes[l].data(), nrhs);
      EXPECT_TRUE(B.same("solve"));
    }
    const Data L = lower_factor(n, gen);
    Data inv(n * n, gen);
    la::cholesky_inverse_rows_recip(n, L.packs.data(), n, inv.packs.data(), n);
    for (int l = 0; l < kW; ++l)
      la::cholesky_inverse_rows_recip(n, L.lanes[l].data(), n, inv.lanes[l].data(), n);
    EXPECT_TRUE(inv.same("inverse"));
  }
}

TEST(LinalgPacks, BlockedTransposedGemvIsScalarPerLane) {
  std::mt19937 gen(4);
  for (const int m : {1, 7, 26}) {
    for (const int n : {1, 7, 8, 17, 33}) {
      SCOPED_TRACE(::testing::Message() << "m " << m << " n " << n);
      const int lda = n + 2;
      const Data A(m * lda, gen), x(m, gen), alpha(1, gen);
      Data y(n, gen);
      la::gemv_t_fma(m, n, alpha.packs[0], A.packs.data(), lda, x.packs.data(), y.packs.data());
      for (int l = 0; l < kW; ++l)
        la::gemv_t_fma(m, n, alpha.lanes[l][0], A.lanes[l].data(), lda, x.lanes[l].data(),
                       y.lanes[l].data());
      EXPECT_TRUE(y.same("gemv_t"));
    }
  }
}

// C = D + alpha A B with the register-blocked products starting from D (upper_only: the
// upper triangle, the part defined there), against the scalar copy-then-accumulate.
TEST(LinalgPacks, ProductFromSeparateStartIsScalarPerLane) {
  std::mt19937 gen(5);
  for (const bool upper : {false, true}) {
    // column tails n % 4 = 0..3 and row tails of the blocks (m % 3, m % 8)
    for (const auto& [m, n, k] :
         {std::array<int, 3>{26, 26, 7}, std::array<int, 3>{26, 26, 26}, std::array<int, 3>{9, 9, 5},
          std::array<int, 3>{11, 17, 3}, std::array<int, 3>{7, 26, 26}, std::array<int, 3>{26, 7, 7},
          std::array<int, 3>{7, 7, 3}, std::array<int, 3>{33, 33, 26}, std::array<int, 3>{26, 23, 5},
          std::array<int, 3>{20, 20, 4}}) {
      if (upper && m != n) continue;
      SCOPED_TRACE(::testing::Message() << m << " x " << n << " x " << k << " upper " << upper);
      const int lda = k + 1, ldb = n + 3, ldd = n + 2;
      const Data A(m * lda, gen), B(k * ldb, gen), D(m * ldd, gen), alpha(1, gen);
      Data C(m * n, gen);
      la::gemm_nn_fma_from(m, n, k, alpha.packs[0], A.packs.data(), lda, B.packs.data(), ldb,
                           D.packs.data(), ldd, C.packs.data(), n, upper);
      for (int l = 0; l < kW; ++l)
        la::gemm_nn_fma_from(m, n, k, alpha.lanes[l][0], A.lanes[l].data(), lda,
                             B.lanes[l].data(), ldb, D.lanes[l].data(), ldd, C.lanes[l].data(),
                             n, upper);
      if (upper) {  // below the diagonal the entries are not all written
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < i; ++j)
            for (int l = 0; l < kW; ++l) {
              C.lanes[l][i * n + j] = 0.0;
              C.packs[i * n + j].set_lane(l, 0.0);
            }
      }
      EXPECT_TRUE(C.same("gemm_nn_fma_from"));
    }
  }
}

}  // namespace
}  // namespace gpsx
