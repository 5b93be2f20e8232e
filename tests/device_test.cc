#include "gpsx/host/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "gpsx_test/run_program.h"

namespace gpsx {
namespace {

using ::testing::HasSubstr;

using test::CommandResult;
using test::run_gpsx;

TEST(Device, ParsesTheThreeChoicesAndRejectsOthers) {
  EXPECT_EQ(parse_device("auto"), DeviceChoice::kAuto);
  EXPECT_EQ(parse_device("cpu"), DeviceChoice::kCpu);
  EXPECT_EQ(parse_device("cuda"), DeviceChoice::kCuda);
  try {
    parse_device("gpu");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "invalid device 'gpu': expected auto, cpu or cuda");
  }
}

TEST(Device, CpuIsAlwaysAvailable) {
  const Executor ex = make_executor(DeviceChoice::kCpu, 1);
  EXPECT_FALSE(ex.is_cuda());
  EXPECT_EQ(ex.threads, 1);
}

TEST(Device, CudaWithoutGpuIsAClearErrorAndAutoFallsBack) {
  const GpuStatus status = gpu_status();
  if (status.gpu.usable) {
    EXPECT_TRUE(make_executor(DeviceChoice::kCuda, 0).is_cuda());
    std::string notice;
    EXPECT_TRUE(make_executor(DeviceChoice::kAuto, 0, &notice).is_cuda());
    EXPECT_TRUE(notice.empty());
    return;
  }
  EXPECT_FALSE(status.gpu.reason.empty());
  try {
    make_executor(DeviceChoice::kCuda, 0);
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--device cuda: no usable GPU: "));
    EXPECT_THAT(e.what(), HasSubstr(status.gpu.reason));
  }
  std::string notice;
  const Executor ex = make_executor(DeviceChoice::kAuto, 0, &notice);
  EXPECT_FALSE(ex.is_cuda());
  EXPECT_THAT(notice, HasSubstr("running on the CPU"));
  EXPECT_EQ(notice.find('\n'), std::string::npos) << "the notice is one line";
}

TEST(DeviceCli, CudaWithoutGpuExitsNonZeroWithOneLine) {
  if (gpu_status().gpu.usable) GTEST_SKIP() << "a GPU is usable here";
  const CommandResult r = run_gpsx("--device cuda demo --conditions 2 --samples 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("gpsx: error: --device cuda: no usable GPU"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(DeviceCli, AutoFallsBackToCpuAndRuns) {
  const CommandResult r = run_gpsx("--device auto demo --conditions 8 --samples 8 --steps 10");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (!gpu_status().gpu.usable) {
    EXPECT_THAT(r.output, HasSubstr("running on the CPU"));
    EXPECT_THAT(r.output, HasSubstr("executor: cpu"));
  }
}

TEST(DeviceCli, BadFlagValueIsRejected) {
  const CommandResult r = run_gpsx("--device gpu demo");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--device"));
}

TEST(DeviceCli, VersionReportsBuildAndGpu) {
  const CommandResult r = run_gpsx("version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("CUDA executor: "));
  EXPECT_THAT(r.output, HasSubstr("GPU: "));
  EXPECT_THAT(r.output, HasSubstr("Torch: "));
  EXPECT_THAT(r.output, HasSubstr("CPU threads: "));
  EXPECT_THAT(r.output, HasSubstr("Models: /"));  // the build tree's envs/models
}

}  // namespace
}  // namespace gpsx
