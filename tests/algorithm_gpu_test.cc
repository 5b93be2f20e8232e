// The TrajOpt iteration on the CUDA executor (label: gpu; skips without a usable GPU):
// device-resident (inside an iteration only per-condition scalars cross to the host: the
// byte counter stays below a per-condition allowance and far below one sample batch) and
// equal to the CPU executor on the same samples.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "gpsx/envs/task.h"
#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx/host/device.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx_test/reference.h"
#include "gpsx_test/run_program.h"
#include "gpsx_test/temp_dir.h"
#include "gpsx_test/transfers.h"

namespace gpsx {
namespace {

constexpr int kM = 8, kN = 5, kT = 40;
// Per condition and iteration: statuses, etas, step multipliers, KL, passes, the summary
// rows and the GMM's per-EM-iteration log-likelihood and status (fixed EM iterations).
constexpr std::uint64_t kScalarBytesPerCondition = 2048;

std::vector<double> host(const Executor& ex, const Buffer<double>& b) {
  std::vector<double> h(static_cast<std::size_t>(b.size()));
  download(ex, b.data(), h.size(), h.data());
  return h;
}

struct GpuRun {
  std::vector<double> K, Fm, Cm, eta;
  std::vector<std::uint64_t> transferred;  // per iteration
  int failures = 0;
};

GpuRun run_iterations(const Executor& ex, int iterations) {
  const envs::Task task = envs::load_task(envs::find_task("reacher2"));
  const CostTable table = compile_cost(envs::task_cost(task, kM), task.dX(), task.dU(), kM);
  CostModelStorage cost = make_cost_model(ex, table);
  TrajOptAlgorithmSettings s;
  s.dynamics.gmm.max_iterations = 2;  // where EM converges is decided by rounding
  s.dynamics.max_clusters = 8;
  TrajOptAlgorithm a = make_traj_opt_algorithm(ex, kM, kT, task.dX(), task.dU(), kN, s);
  envs::SimSamplingOptions opt;
  opt.jacobians = true;
  const std::vector<double> x0 = envs::initial_states(task, kM, opt.ee_velocity);
  const std::vector<double> gains(task.dU(), 1.0), acc(task.dU(), 0.0);
  std::vector<std::uint32_t> st(kM);
  lingauss::LqrInitSettings<double> init;
  init.dt = task.control_dt();
  init.init_var = 0.1;
  init_lqr(ex, init, x0.data(), gains.data(), acc.data(), a.ctrl, st.data());
  envs::SimSamples samples;
  SamplingWorkspace ws;
  GpuRun r;
  for (int i = 0; i < iterations; ++i) {
    const std::uint64_t before = test::transferred_bytes();
    opt.sampling.stream = static_cast<std::uint32_t>(i);
    envs::sample_task(ex, task, a.ctrl, kN, opt, samples, ws);
    const SampleBatch b{kN, samples.X.data(), samples.U.data(), samples.jac.data(),
                        samples.status.data()};
    r.failures += traj_opt_iteration(ex, a, cost.model, b).failures();
    r.transferred.push_back(test::transferred_bytes() - before);
  }
  r.K = host(ex, a.ctrl.K), r.Fm = host(ex, a.Fm), r.Cm = host(ex, a.Cm), r.eta = host(ex, a.eta);
  return r;
}

TEST(TrajOptAlgorithmGpu, IterationsStayOnTheDeviceAndMatchTheCpu) {
  const GpuStatus g = gpu_status();
  if (!g.gpu.usable) GTEST_SKIP() << "no usable GPU: " << g.gpu.reason;
  const GpuRun gpu = run_iterations(cuda_executor(), 1);
  const GpuRun cpu = run_iterations(cpu_executor(2), 1);
  EXPECT_EQ(gpu.failures, 0);
  const std::uint64_t batch_bytes = std::uint64_t(kM) * kN * kT * 7 * sizeof(double);
  for (std::uint64_t t : gpu.transferred) {
    EXPECT_LE(t, kScalarBytesPerCondition * kM) << "more than per-condition scalars crossed";
    EXPECT_LT(t, batch_bytes / 4) << "a sample batch crossed to the host";
  }
  EXPECT_TRUE(test::near_rel(gpu.Cm, cpu.Cm, 1e-12, 1e-300, "Cm"));
  EXPECT_TRUE(test::near_rel(gpu.Fm, cpu.Fm, 1e-6, 1e-12, "Fm"));
  EXPECT_TRUE(test::near_rel(gpu.K, cpu.K, 1e-6, 1e-12, "new K"));
  EXPECT_TRUE(test::near_rel(gpu.eta, cpu.eta, 1e-6, 1e-300, "eta"));
}

TEST(TrajOptAlgorithmGpu, SeveralIterationsRunWithoutFailures) {
  const GpuStatus g = gpu_status();
  if (!g.gpu.usable) GTEST_SKIP() << "no usable GPU: " << g.gpu.reason;
  const GpuRun gpu = run_iterations(cuda_executor(), 3);
  EXPECT_EQ(gpu.failures, 0);
  for (std::uint64_t t : gpu.transferred) EXPECT_LE(t, kScalarBytesPerCondition * kM);
}

// `gpsx run` end to end on the GPU: the default experiment, shortened, completes without a
// failed condition, and its first iteration's sample costs equal the CPU run's (the
// sampler is the same functor; dynamics and LQR differ in round-off only afterwards).
TEST(TrajOptAlgorithmGpu, RunCommandOnTheGpu) {
  const GpuStatus g = gpu_status();
  if (!g.gpu.usable) GTEST_SKIP() << "no usable GPU: " << g.gpu.reason;
  test::TempDir tmp("gpu_run");
  const std::string args = "run reacher2 --set iterations=3 --set T=40 --quiet --threads 2 --out ";
  const auto gpu = test::run_gpsx(args + tmp.path() + "/gpu --device cuda");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  const auto cpu = test::run_gpsx(args + tmp.path() + "/cpu --device cpu");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  const auto rows = [](const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    return lines;
  };
  const auto g_rows = rows(tmp.path() + "/gpu/metrics.csv"), c_rows = rows(tmp.path() + "/cpu/metrics.csv");
  ASSERT_EQ(g_rows.size(), c_rows.size());
  for (const std::string& r : g_rows) EXPECT_EQ(r.find(",failed,"), std::string::npos) << r;
  // Iteration 0: the same sampling functor on both (round-off apart), the same costs.
  const auto sample_cost = [](const std::string& r) {
    std::size_t p = 0;
    for (int c = 0; c < 4; ++c) p = r.find(',', p) + 1;
    return std::stod(r.substr(p, r.find(',', p) - p));
  };
  for (std::size_t i = 1; i <= 4 && i < g_rows.size(); ++i) {
    const double a = sample_cost(g_rows[i]), b = sample_cost(c_rows[i]);
    EXPECT_NEAR(a, b, 1e-8 * std::abs(b)) << g_rows[i] << "\n" << c_rows[i];
  }
}

}  // namespace
}  // namespace gpsx
