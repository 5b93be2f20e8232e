// Golden: generate_noise.json — the reference's generate_noise applied to the stored raw
// draws, every case, rtol 1e-12 (README).
#include <gtest/gtest.h>

#include "gpsx/host/sampling.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;

constexpr double kRtol = 1e-12;

TEST(GenerateNoiseGolden, EveryCaseMatchesReference) {
  const json ref = test::load_reference("generate_noise.json");
  const Executor ex = cpu_executor(1);
  ASSERT_FALSE(ref.at("cases").empty());
  int index = 0;
  for (const auto& c : ref.at("cases")) {
    const int T = c.at("T").get<int>(), dU = c.at("dU").get<int>();
    noise::NoiseSettings s;
    s.smooth = c.at("smooth_noise").get<bool>();
    s.sigma = c.at("smooth_noise_var").get<double>();
    s.renormalize = c.at("smooth_noise_renormalize").get<bool>();
    std::vector<double> noise = flatten(c.at("raw"));
    ASSERT_EQ(noise.size(), static_cast<std::size_t>(T * dU));
    std::uint32_t status = ~0u;
    generate_noise(ex, s, 1, T, dU, noise.data(), &status);
    EXPECT_EQ(status, kOk) << "case " << index;
    EXPECT_TRUE(test::near_rel(noise, flatten(c.at("result")), kRtol, 1e-300,
                               "case " + std::to_string(index) + " (T " + std::to_string(T) +
                                   ", sigma " + std::to_string(s.sigma) + ")"));
    ++index;
  }
}

// The whole file as one batch on several threads gives the same numbers (cases with equal
// T, dU, settings share a batch).
TEST(GenerateNoiseGolden, BatchedOnThreadsEqualsSingle) {
  const json ref = test::load_reference("generate_noise.json");
  for (const auto& c : ref.at("cases")) {
    const int T = c.at("T").get<int>(), dU = c.at("dU").get<int>();
    noise::NoiseSettings s{c.at("smooth_noise").get<bool>(), c.at("smooth_noise_var").get<double>(),
                           c.at("smooth_noise_renormalize").get<bool>()};
    const std::vector<double> raw = flatten(c.at("raw"));
    const int B = 7;
    std::vector<double> batch;
    for (int b = 0; b < B; ++b) batch.insert(batch.end(), raw.begin(), raw.end());
    std::vector<std::uint32_t> status(B);
    generate_noise(cpu_executor(0), s, B, T, dU, batch.data(), status.data());
    std::vector<double> single = raw;
    std::uint32_t st;
    generate_noise(cpu_executor(1), s, 1, T, dU, single.data(), &st);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < T * dU; ++i) ASSERT_EQ(batch[b * T * dU + i], single[i]);
  }
}

TEST(GenerateNoise, ReflectIndexIsHalfSampleSymmetricWithPeriod2T) {
  // d c b a | a b c d | d c b a | a b ...
  const int n = 4;
  const int expected[] = {1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1};  // i = -2 .. 9
  for (int i = -2; i <= 9; ++i) EXPECT_EQ(noise::reflect_index(i, n), expected[i + 2]) << i;
  EXPECT_EQ(noise::reflect_index(-9, n), noise::reflect_index(-1, n));
  EXPECT_EQ(noise::gaussian_radius(2.0), 8);
  EXPECT_EQ(noise::gaussian_radius(1.0), 4);
}

TEST(GenerateNoise, SingleStepHasZeroVarianceAndIsFlagged) {
  std::vector<double> noise = {0.3, -1.2};  // T = 1: population variance 0
  std::uint32_t status = 0;
  generate_noise(cpu_executor(1), noise::NoiseSettings{}, 1, 1, 2, noise.data(), &status);
  EXPECT_TRUE(status & kNonFinite);
}

}  // namespace
}  // namespace gpsx
