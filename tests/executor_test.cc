#include "gpsx/host/executor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gpsx/kernels/random_walk.h"
#include "gpsx_test/probe_functors.h"

namespace gpsx {
namespace {

constexpr std::int64_t kItems = 100000;

struct MixResult {
  std::vector<double> out = std::vector<double>(kItems, -1.0);
  std::vector<std::uint32_t> raw = std::vector<std::uint32_t>(4 * kItems, 0);
};

MixResult run_mix(const Executor& ex) {
  MixResult r;
  for_each(ex, kItems, test::MixFunctor{42, r.out.data(), r.raw.data()});
  return r;
}

TEST(Executor, SameResultsOnOneThreadAndAllThreads) {
  const MixResult one = run_mix(cpu_executor(1));
  const MixResult all = run_mix(cpu_executor(0));
  const MixResult odd = run_mix(cpu_executor(3));  // more threads than cores, uneven split
  ASSERT_EQ(0, std::memcmp(one.out.data(), all.out.data(), kItems * sizeof(double)));
  ASSERT_EQ(0, std::memcmp(one.out.data(), odd.out.data(), kItems * sizeof(double)));
  ASSERT_EQ(one.raw, all.raw);
  for (double v : one.out) ASSERT_NE(v, -1.0) << "an item was not visited";
}

TEST(Executor, TwoDimensionalIndexSpaceVisitsEveryPairOnce) {
  const int M = 37, N = 11;
  std::vector<double> a(M * N, -1.0), b(M * N, -1.0);
  for_each_2d(cpu_executor(1), M, N, RandomWalk<double>{5, N, 20, 2, 0.5, a.data()});
  for_each_2d(cpu_executor(0), M, N, RandomWalk<double>{5, N, 20, 2, 0.5, b.data()});
  EXPECT_EQ(a, b);
  for (double v : a) EXPECT_GE(v, 0.0);
}

TEST(Executor, EmptyRangeDoesNothing) {
  std::vector<double> out(4, 7.0);
  std::vector<std::uint32_t> raw(16, 0);
  for_each(cpu_executor(0), 0, test::MixFunctor{1, out.data(), raw.data()});
  for_each_2d(cpu_executor(0), 0, 5, RandomWalk<double>{1, 5, 1, 1, 1.0, out.data()});
  EXPECT_EQ(out, std::vector<double>(4, 7.0));
}

TEST(Executor, ThreadCountIsValidated) {
  EXPECT_EQ(cpu_executor(1).threads, 1);
  EXPECT_EQ(cpu_executor(0).threads, hardware_threads());
  EXPECT_THROW(cpu_executor(-2), std::invalid_argument);
  EXPECT_EQ(cpu_executor(2).describe(), "cpu (2 threads)");
}

}  // namespace
}  // namespace gpsx
