#include "gpsx/host/buffer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gpsx/host/device.h"
#include "gpsx/host/workspace.h"

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

// A workspace layout: measuring and carving agree, every array is 64-byte aligned even
// from a base that is not, and a too small workspace is refused.
TEST(Workspace, CarveMeasuresAlignsAndRefusesTooLittle) {
  const auto layout = [](Carve& c) {
    double* a = c.take<double>(3);
    int* b = c.take<int>(5);
    double* d = c.take<double>(17);
    return std::vector<void*>{a, b, d};
  };
  Carve measure;
  layout(measure);
  const std::size_t need = measure.elements();
  std::vector<double> mem(need + 1);
  Carve real(mem.data() + 1, need);  // 8 bytes past an aligned vector start at best
  const std::vector<void*> p = layout(real);
  for (void* q : p) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 64, 0u);
  EXPECT_GE(static_cast<char*>(p[2]) + 17 * sizeof(double),
            static_cast<char*>(p[1]) + 5 * sizeof(int));
  EXPECT_LE(static_cast<char*>(p[2]) + 17 * sizeof(double),
            reinterpret_cast<char*>(mem.data() + 1 + need));
  Carve small(mem.data(), need / 2);
  EXPECT_THROW(layout(small), std::invalid_argument);
}

// The chunk size is the largest that fits, by the layout's own measure.
TEST(Workspace, ChunkCapacityIsTheLargestThatFits) {
  const auto elements_for = [](int Mc) { return std::size_t(100) + 37 * std::size_t(Mc) + Mc % 3; };
  EXPECT_EQ(chunk_capacity(50, elements_for(1) - 1, elements_for), 0);
  for (int want : {1, 2, 7, 31, 50})
    EXPECT_EQ(chunk_capacity(50, elements_for(want), elements_for), want) << want;
  EXPECT_EQ(chunk_capacity(50, std::size_t(1) << 40, elements_for), 50);
}

}  // namespace
}  // namespace gpsx
