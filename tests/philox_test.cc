#include "gpsx/kernels/philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gpsx/host/executor.h"
#include "gpsx_test/probe_functors.h"

namespace gpsx::rng {
namespace {

// Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors).
TEST(Philox, KnownAnswers) {
  struct Kat {
    Philox4x32 ctr;
    std::uint32_t k0, k1;
    Philox4x32 expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 got = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, BlockLayoutIsIndexThenStreamWithSeedAsKey) {
  const std::uint64_t seed = 0x299f31d0a4093822ull;
  const Philox4x32 got = random_block(seed, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
  EXPECT_EQ(got.v[0], 0xd16cfe09u);
  EXPECT_EQ(got.v[3], 0x24126ea1u);
}

TEST(Philox, SameStreamOnAnyThreadCount) {
  const std::int64_t n = 20000;
  std::vector<double> a(n), b(n);
  std::vector<std::uint32_t> ra(4 * n), rb(4 * n);
  for_each(cpu_executor(1), n, test::MixFunctor{99, a.data(), ra.data()});
  for_each(cpu_executor(0), n, test::MixFunctor{99, b.data(), rb.data()});
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(a, b);
}

TEST(Philox, UniformStaysInsideTheOpenInterval) {
  EXPECT_GT(uniform_open(0, 0), 0.0);
  EXPECT_LT(uniform_open(0xffffffff, 0xffffffff), 1.0);
}

TEST(Philox, NormalsHaveUnitMomentsAndDifferAcrossSeedsAndStreams) {
  const int n = 400000;
  double sum = 0, sum2 = 0, sum4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = normal(11, 0, static_cast<std::uint64_t>(i));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
  }
  // Standard errors: mean 1/sqrt(n) = 1.6e-3, variance sqrt(2/n) = 2.2e-3,
  // fourth moment sqrt(96/n) = 1.5e-2; bounds are 5 standard errors.
  EXPECT_NEAR(sum / n, 0.0, 8e-3);
  EXPECT_NEAR(sum2 / n, 1.0, 1.1e-2);
  EXPECT_NEAR(sum4 / n, 3.0, 7.5e-2);
  EXPECT_NE(normal(11, 0, 5), normal(12, 0, 5));
  EXPECT_NE(normal(11, 0, 5), normal(11, 1, 5));
}

}  // namespace
}  // namespace gpsx::rng
