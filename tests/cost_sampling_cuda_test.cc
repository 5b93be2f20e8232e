// The CUDA executor runs the same cost, initialisation and sampling functors as the CPU:
// results agree with the CPU / the reference. Skips where no GPU is usable.
#include <gtest/gtest.h>

#include "gpsx/host/cost.h"
#include "gpsx/host/lin_gauss.h"
#include "gpsx/host/sampling.h"
#include "gpsx_test/eval_cost_case.h"
#include "gpsx_test/transfers.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;

Executor cuda_or_skip_reason(std::string* reason) {
#if GPSX_HAVE_CUDA
  const cuda::GpuInfo info = cuda::probe();
  if (!info.usable) {
    *reason = info.reason;
    return Executor{};
  }
  return cuda_executor(0);
#else
  *reason = "built without CUDA";
  return Executor{};
#endif
}

#define GPSX_REQUIRE_GPU(ex)                             \
  std::string skip_reason;                               \
  const Executor ex = cuda_or_skip_reason(&skip_reason); \
  if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;

template <class T>
Buffer<T> to_device(const Executor& ex, const std::vector<T>& v) {
  Buffer<T> b(ex, v.size());
  upload(ex, v.data(), v.size(), b.data());
  return b;
}
template <class T>
std::vector<T> to_host(const Executor& ex, const Buffer<T>& b) {
  std::vector<T> v(b.size());
  download(ex, b.data(), b.size(), v.data());
  return v;
}

TEST(CudaExecutor, EvalCostMatchesReference) {
  GPSX_REQUIRE_GPU(ex);
  const json ref = test::load_reference("kl_and_costs.json").at("eval_cost");
  const json& conds = ref.at("conditions");
  const test::EvalCostCase batch = test::eval_cost_case(ref);
  const int M = batch.M, N = batch.N, T = batch.T, dX = batch.dX, dU = batch.dU;
  const int dxu = dX + dU;
  const CostTable table = compile_cost(batch.cost, dX, dU, M);  // from eval_cost.cost_params
  ASSERT_EQ(table.jac_rows, batch.jac_rows);
  ASSERT_EQ(table.jac_cols, batch.jac_cols);
  CostModelStorage model = make_cost_model(ex, table);
  auto dX_ = to_device(ex, batch.X), dU_ = to_device(ex, batch.U), djac = to_device(ex, batch.jac);
  Buffer<double> cs(ex, M * N * T), cc(ex, M * T), cv(ex, M * T * dxu), Cm(ex, M * T * dxu * dxu);
  std::vector<std::uint32_t> status(M);
  EvalCostWorkspace ws;
  // A first call sizes the workspace; the second is an iteration's: scalars only cross.
  eval_cost(ex, model.model, M, N, T, dX, dU, dX_.data(), dU_.data(), djac.data(), cs.data(),
            cc.data(), cv.data(), Cm.data(), status.data(), ws);
  const std::uint64_t before = test::transferred_bytes();
  eval_cost(ex, model.model, M, N, T, dX, dU, dX_.data(), dU_.data(), djac.data(), cs.data(),
            cc.data(), cv.data(), Cm.data(), status.data(), ws);
  const std::uint64_t sample_bytes = (batch.X.size() + batch.U.size() + batch.jac.size()) * 8;
  EXPECT_LT(test::transferred_bytes() - before, sample_bytes / 10) << "host<->device bytes";
  const auto hcs = to_host(ex, cs), hcc = to_host(ex, cc), hcv = to_host(ex, cv), hCm = to_host(ex, Cm);
  for (int m = 0; m < M; ++m) {
    EXPECT_EQ(status[m], kOk);
    EXPECT_TRUE(test::near_rel(&hcs[m * N * T], flatten(conds[m].at("cs")), 1e-12, 1e-300, "cs"));
    EXPECT_TRUE(test::near_rel(&hcc[m * T], flatten(conds[m].at("cc")), 1e-12, 1e-300, "cc"));
    EXPECT_TRUE(test::near_rel(&hcv[m * T * dxu], flatten(conds[m].at("cv")), 1e-12, 1e-300, "cv"));
    EXPECT_TRUE(test::near_rel(&hCm[m * T * dxu * dxu], flatten(conds[m].at("Cm")), 1e-12, 1e-300, "Cm"));
  }
}

TEST(CudaExecutor, InitLqrAndSamplingMatchTheCpu) {
  GPSX_REQUIRE_GPU(gpu);
  const Executor cpu = cpu_executor(0);
  const int M = 3, T = 12, dX = 6, dU = 2, N = 4;
  const std::vector<double> x0 = {0.1, -0.2, 0.0, 0.3, 0.5, 0.0, -0.4, 0.2, 0.1, 0.0, 0.0, 1.0,
                                  0.7, 0.7, -0.1, 0.2, 0.0, 0.0};
  const std::vector<double> gains = {0.8, 1.2}, acc = {0.0, 0.1};
  ControllerBatch c_cpu(cpu, M, T, dX, dU), c_gpu(gpu, M, T, dX, dU);
  std::vector<std::uint32_t> s_cpu(M), s_gpu(M);
  init_lqr(cpu, {}, x0.data(), gains.data(), acc.data(), c_cpu, s_cpu.data());
  init_lqr(gpu, {}, x0.data(), gains.data(), acc.data(), c_gpu, s_gpu.data());
  EXPECT_EQ(s_cpu, s_gpu);
  const auto K_gpu = to_host(gpu, c_gpu.K);
  EXPECT_TRUE(test::near_rel(K_gpu, std::vector<double>(c_cpu.K.data(), c_cpu.K.data() + c_cpu.K.size()),
                             1e-12, 1e-300, "init_lqr K"));
  // guessed dynamics as the plant, shared by all conditions
  std::vector<double> F(T * dX * (dX + dU), 0.0), f(T * dX, 0.0);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < dX; ++i) F[(t * dX + i) * (dX + dU) + i] = 0.98;
  auto F_gpu = to_device(gpu, F), f_gpu = to_device(gpu, f), x0_gpu = to_device(gpu, x0);
  SamplingOptions o;
  o.seed = 77;
  const sampling::LinearGaussianSystem<double> sys_cpu{T, dX, dU, F.data(), f.data(), nullptr, o.seed, 0u, true};
  const sampling::LinearGaussianSystem<double> sys_gpu{T, dX, dU, F_gpu.data(), f_gpu.data(), nullptr, o.seed, 0u, true};
  std::vector<double> X(M * N * T * dX), U(M * N * T * dU);
  Buffer<double> Xg(gpu, X.size()), Ug(gpu, U.size());
  SamplingWorkspace ws_cpu, ws_gpu;
  sample_lin_gauss(cpu, c_cpu, sys_cpu, N, o, x0.data(), nullptr, nullptr, X.data(), U.data(), s_cpu.data(), ws_cpu);
  sample_lin_gauss(gpu, c_gpu, sys_gpu, N, o, x0_gpu.data(), nullptr, nullptr, Xg.data(), Ug.data(), s_gpu.data(), ws_gpu);
  EXPECT_EQ(s_cpu, s_gpu);
  // same counters, same math; only device libm / FMA contraction rounding differs
  EXPECT_TRUE(test::near_rel(to_host(gpu, Xg), X, 1e-10, 1e-300, "X"));
  EXPECT_TRUE(test::near_rel(to_host(gpu, Ug), U, 1e-10, 1e-300, "U"));
}

}  // namespace
}  // namespace gpsx
