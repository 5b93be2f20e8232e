// KL-constrained LQR on the CUDA executor (ctest label gpu): the same GPS_HD functors as
// the CPU tests, run on the GPU for a batch of golden problems (one broken with a NaN),
// in both search modes, compared with the CPU executor. Skips without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/device.h"
#include "gpsx/host/traj_opt.h"
#include "gpsx_test/reference.h"
#include "gpsx_test/transfers.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using Vec = std::vector<double>;

// Batched traj_opt inputs of M conditions cycling over the golden problems; condition 2
// gets a NaN in its dynamics.
struct HostBatch {
  lqr::Dims d;
  int M;
  std::vector<Vec> arrays;  // Fm, fv, dyn_covar, x0mu, x0sigma, Cm, cv, cc, K, k, chol, inv
};

HostBatch golden_batch(int M) {
  const json ref = test::load_reference("lqr_backward.json");
  HostBatch b{{ref["dims"]["T"].get<int>(), ref["dims"]["dX"].get<int>(),
               ref["dims"]["dU"].get<int>()},
              M,
              std::vector<Vec>(12)};
  const char* ti[] = {"Fm", "fv", "dyn_covar", "x0mu", "x0sigma", "Cm", "cv", "cc"};
  const char* pd[] = {"K", "k", "chol_pol_covar", "inv_pol_covar"};
  for (int m = 0; m < M; ++m) {
    const json& p = ref["problems"][m % ref["problems"].size()];
    for (int i = 0; i < 8; ++i) {
      const Vec v = flatten(p["traj_info"][ti[i]]);
      b.arrays[i].insert(b.arrays[i].end(), v.begin(), v.end());
    }
    for (int i = 0; i < 4; ++i) {
      const Vec v = flatten(p["prev_traj_distr"][pd[i]]);
      b.arrays[8 + i].insert(b.arrays[8 + i].end(), v.begin(), v.end());
    }
  }
  const std::size_t per = b.arrays[0].size() / M;
  b.arrays[0][2 * per + 40] = std::nan("");
  return b;
}

struct Outcome {
  Vec ctrl, eta, kl;
  std::vector<int> passes;
  std::vector<std::uint32_t> status;
  std::uint64_t transferred = 0;  // host<->device bytes inside traj_opt_update
  std::uint64_t input_bytes = 0;  // the batch of LQR inputs
};

// Runs traj_opt_update on `ex` with every array in `loc` memory.
Outcome run(const Executor& ex, Location loc, const HostBatch& b, const TrajOptSettings& s) {
  const lqr::Dims d = b.d;
  const int M = b.M;
  const auto put = [&](const Vec& v, const char* name) {
    Buffer<double> h(name, {static_cast<std::int64_t>(v.size())});
    std::memcpy(h.data(), v.data(), v.size() * sizeof(double));
    return loc == Location::kHost ? std::move(h) : h.to(loc);
  };
  std::vector<Buffer<double>> in;
  for (std::size_t i = 0; i < b.arrays.size(); ++i) in.push_back(put(b.arrays[i], "input"));
  lqr::BatchInputs<double> bi{};
  bi.d = d;
  bi.Fm = in[0].data();
  bi.fv = in[1].data();
  bi.dyn_covar = in[2].data();
  bi.x0mu = in[3].data();
  bi.x0sigma = in[4].data();
  bi.Cm = in[5].data();
  bi.cv = in[6].data();
  bi.cc = in[7].data();
  bi.mode = lqr::Mode::kTrajOpt;
  bi.prev_K = in[8].data();
  bi.prev_k = in[9].data();
  bi.prev_chol_pol_covar = in[10].data();
  bi.prev_inv_pol_covar = in[11].data();

  const std::int64_t cs = lqr::controller_size(d), T = d.T, X = d.dX, U = d.dU;
  Buffer<double> ctrl("ctrl", {M * cs}, loc);
  double* c = ctrl.data();
  const lqr::BatchController<double> out{c, c + M * T * U * X, c + M * T * (U * X + U),
                                         c + M * T * (U * X + U + U * U),
                                         c + M * T * (U * X + U + 2 * U * U)};
  Buffer<double> eta = put(Vec(M, 1.0), "eta"), kl = put(Vec(M, 0.0), "kl");
  Buffer<double> step_mult = put(Vec(M, 1.0), "step_mult");
  Buffer<int> passes("passes", {M}, loc);
  Buffer<std::uint32_t> status("status", {M}, loc);
  const std::size_t wsize = traj_opt_workspace_size(d, M, s);
  Buffer<double> ws("workspace", {static_cast<std::int64_t>(wsize)}, loc);
  const std::uint64_t before = test::transferred_bytes();
  traj_opt_update(ex, d, M, bi, step_mult.data(), s, out,
                  lqr::BatchResult<double>{eta.data(), kl.data(), passes.data(), status.data()},
                  ws.data(), wsize);
  synchronize(ex);
  const std::uint64_t transferred = test::transferred_bytes() - before;
  std::uint64_t input_bytes = 0;
  for (const Vec& a : b.arrays) input_bytes += a.size() * sizeof(double);
  const auto get = [](const auto& buf) {
    const auto h = buf.to(Location::kHost);
    return std::vector<std::remove_cv_t<std::remove_reference_t<decltype(h[0])>>>(
        h.data(), h.data() + h.size());
  };
  return {get(ctrl), get(eta), get(kl), get(passes), get(status), transferred, input_bytes};
}

TEST(LqrGpu, CudaExecutorMatchesCpu) {
  const GpuStatus g = gpu_status();
  if (!g.gpu.usable) GTEST_SKIP() << "no usable GPU: " << g.gpu.reason;
  const HostBatch b = golden_batch(8);
  for (const auto search : {EtaSearch::kSequential, EtaSearch::kParallel}) {
    SCOPED_TRACE(search == EtaSearch::kSequential ? "sequential" : "parallel");
    TrajOptSettings s;
    s.search = search;
    const Outcome cpu = run(cpu_executor(0), Location::kHost, b, s);
    const Outcome gpu = run(make_executor(DeviceChoice::kCuda, 0), Location::kDevice, b, s);
    EXPECT_TRUE(gpu.status[2] & kNonFinite);
    // The memory contract: per-condition scalars at most, never the batch.
    EXPECT_LT(gpu.transferred, gpu.input_bytes / 100) << "host<->device bytes in the update";
    for (int m = 0; m < b.M; ++m) {
      EXPECT_EQ(gpu.status[m], cpu.status[m]) << "condition " << m;
      EXPECT_EQ(gpu.passes[m], cpu.passes[m]) << "condition " << m;
      if (cpu.status[m] != kOk) continue;
      EXPECT_NEAR(gpu.eta[m], cpu.eta[m], 1e-9 * cpu.eta[m]) << "condition " << m;
      EXPECT_NEAR(gpu.kl[m], cpu.kl[m], 1e-9 * (1 + cpu.kl[m])) << "condition " << m;
    }
    // controllers of the good conditions agree to round-off (FMA contraction on the GPU);
    // the arrays are field-major over the batch (K of all conditions, then k, ...)
    const std::size_t T = b.d.T, X = b.d.dX, U = b.d.dU;
    double worst = 0, scale = 0;
    std::size_t offset = 0;
    for (const std::size_t field : {T * U * X, T * U, T * U * U, T * U * U, T * U * U}) {
      for (int m = 0; m < b.M; ++m) {
        if (cpu.status[m] != kOk) continue;
        for (std::size_t i = 0; i < field; ++i) {
          const std::size_t at = offset + m * field + i;
          worst = std::max(worst, std::abs(gpu.ctrl[at] - cpu.ctrl[at]));
          scale = std::max(scale, std::abs(cpu.ctrl[at]));
        }
      }
      offset += b.M * field;
    }
    EXPECT_LE(worst, 1e-9 * scale);
  }
}

}  // namespace
}  // namespace gpsx
