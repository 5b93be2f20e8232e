#include "gpsx/host/buffer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gpsx/host/device.h"

namespace gpsx {
namespace {

using ::testing::HasSubstr;

TEST(Buffer, KnowsShapeSizeAndLocationAndStartsZeroed) {
  Buffer<double> x("X", {2, 5, 15, 6});
  EXPECT_EQ(x.size(), 2 * 5 * 15 * 6);
  EXPECT_EQ(x.shape().str(), "(2 x 5 x 15 x 6)");
  EXPECT_EQ(x.location(), Location::kHost);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(x.data()) % 64, 0u);
  for (std::int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], 0.0);
}

TEST(Buffer, CopyBetweenEqualShapesCopiesValues) {
  Buffer<float> a("a", {3, 4}), b("b", {3, 4});
  for (int i = 0; i < 12; ++i) a[i] = static_cast<float>(i) * 0.5f;
  b.copy_from(a);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(b[i], a[i]);
  const Buffer<float> c = a.to(Location::kHost);
  EXPECT_EQ(c[11], 5.5f);
}

TEST(Buffer, CopyWithMismatchedShapeIsRejectedWithBothShapes) {
  Buffer<double> a("K", {2, 3}), b("K_new", {3, 2});
  try {
    b.copy_from(a);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'K'"));
    EXPECT_THAT(e.what(), HasSubstr("'K_new'"));
    EXPECT_THAT(e.what(), HasSubstr("expected shape (3 x 2), got (2 x 3)"));
  }
}

TEST(Buffer, CheckShapeNamesTheBuffer) {
  Buffer<double> x("X", {5, 15, 7});
  EXPECT_NO_THROW(x.check_shape({5, 15, 7}));
  try {
    x.check_shape({5, 15, 6});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "buffer 'X': expected shape (5 x 15 x 6), got (5 x 15 x 7)");
  }
}

TEST(Buffer, NegativeDimensionIsRejected) {
  EXPECT_THROW(Shape({3, -1}), ShapeError);
}

TEST(Buffer, MoveTransfersOwnership) {
  Buffer<int> a("a", {4});
  a[2] = 9;
  Buffer<int> b = std::move(a);
  EXPECT_EQ(b[2], 9);
  EXPECT_EQ(b.name(), "a");
}

TEST(Buffer, DeviceBufferWithoutGpuFailsClearly) {
  if (gpu_status().gpu.usable) GTEST_SKIP() << "a GPU is usable here; covered by gpu tests";
  try {
    Buffer<double> d("X", {4}, Location::kDevice);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    // Either CUDA is not compiled in, or the runtime reports why it cannot allocate.
    EXPECT_THAT(e.what(), ::testing::AnyOf(HasSubstr("built without CUDA"),
                                           HasSubstr("cudaMalloc")));
  }
}

}  // namespace
}  // namespace gpsx
