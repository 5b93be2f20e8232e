// Batched sampling throughput: steps/s = M x N x T per second, each step = controller
// (K x + k + C^T n), shaped noise (Philox + generate_noise) and one dynamics step, for
// M = 1 .. 4096 conditions on 1 thread and on all threads.
//
// Plant: a stable, deterministic linear time-varying system with the 7-DoF arm's sizes
// (dX = 20: 7 joint angles, 7 velocities, two 3-D end-effector points; dU = 7), so all
// randomness is the action noise, as on the simulator. The arm simulator version follows
// when the simulator is merged (its step replaces LinearGaussianSystem).
//
// Baseline, same run: the reference's structure in plain C++ — one condition and one
// sample at a time, noise from std::mt19937_64 + std::normal_distribution shaped by the
// same generate_noise, Eigen dynamic-size products per step.
//
// Last line: one JSON object with all figures.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "gpsx/host/sampling.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kDX = 20, kDU = 7, kT = 50, kN = 5;

struct Plant {
  std::vector<double> F, f;  // (T x dX x dXU), (T x dX)
};

Plant make_plant() {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  const int dxu = kDX + kDU;
  Plant p{std::vector<double>(kT * kDX * dxu), std::vector<double>(kT * kDX)};
  for (int t = 0; t < kT; ++t)
    for (int i = 0; i < kDX; ++i) {
      for (int j = 0; j < dxu; ++j) p.F[(t * kDX + i) * dxu + j] = (i == j ? 0.95 : 0.0) + 0.01 * u(rng);
      p.f[t * kDX + i] = 0.01 * u(rng);
    }
  return p;
}

void fill_controller(gpsx::ControllerBatch& c) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(-0.05, 0.05);
  for (std::size_t i = 0; i < c.K.size(); ++i) c.K.data()[i] = u(rng);
  for (std::size_t i = 0; i < c.k.size(); ++i) c.k.data()[i] = u(rng);
  for (int mt = 0; mt < c.M * c.T; ++mt)
    for (int i = 0; i < kDU; ++i)
      for (int j = 0; j < kDU; ++j)
        c.chol_pol_covar.data()[(mt * kDU + i) * kDU + j] = i == j ? 0.3 : (j > i ? u(rng) : 0.0);
}

// Seconds per call: the best of 5 trials of at least min_seconds each (the machine is
// shared, so the minimum is the least disturbed figure).
template <class Fn>
double time_per_call(Fn&& fn, double min_seconds = 0.08) {
  double best = 1e300;
  for (int trial = 0; trial < 5; ++trial) {
    int calls = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

// Reference-structured serial sampler (see header comment).
double baseline_rollouts(const Plant& p, gpsx::ControllerBatch& c, const std::vector<double>& x0,
                         int M, std::vector<double>& X, std::vector<double>& U) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  gpsx::noise::NoiseSettings settings;
  std::vector<double> scratch(gpsx::noise::noise_scratch_size(kT, settings));
  const int dxu = kDX + kDU;
  double checksum = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < kN; ++n) {
      Eigen::MatrixXd noise(kT, kDU);
      for (int t = 0; t < kT; ++t)
        for (int i = 0; i < kDU; ++i) noise(t, i) = n01(rng);
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> shaped = noise;
      gpsx::noise::generate_noise(kT, kDU, settings, shaped.data(), scratch.data());
      Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(&x0[m * kDX], kDX);
      for (int t = 0; t < kT; ++t) {
        const int mt = m * kT + t;
        using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<const RowMat> K(c.K.data() + mt * kDU * kDX, kDU, kDX);
        Eigen::Map<const Eigen::VectorXd> k(c.k.data() + mt * kDU, kDU);
        Eigen::Map<const RowMat> C(c.chol_pol_covar.data() + mt * kDU * kDU, kDU, kDU);
        const Eigen::VectorXd u = K * x + k + C.transpose() * shaped.row(t).transpose();
        const std::size_t snt = (static_cast<std::size_t>(m) * kN + n) * kT + t;
        Eigen::Map<Eigen::VectorXd>(&X[snt * kDX], kDX) = x;
        Eigen::Map<Eigen::VectorXd>(&U[snt * kDU], kDU) = u;
        if (t + 1 == kT) break;
        Eigen::Map<const RowMat> F(p.F.data() + t * kDX * dxu, kDX, dxu);
        Eigen::VectorXd xu(dxu);
        xu << x, u;
        x = F * xu + Eigen::Map<const Eigen::VectorXd>(p.f.data() + t * kDX, kDX);
      }
      checksum += x(0);
    }
  return checksum;
}

}  // namespace

int main() {
  const Plant plant = make_plant();
  const int all = gpsx::hardware_threads();
  std::printf("batched linear-Gaussian sampling: dX %d, dU %d, T %d, N %d, steps = M*N*T\n", kDX,
              kDU, kT, kN);
  std::printf("%6s %16s %16s %16s %10s %10s\n", "M", "ours 1 thr", "ours all thr", "baseline",
              "1thr/base", "all/base");
  nlohmann::json results = nlohmann::json::array();
  for (int M : {1, 4, 16, 64, 256, 1024, 4096}) {
    gpsx::ControllerBatch ctrl(gpsx::cpu_executor(1), M, kT, kDX, kDU);
    fill_controller(ctrl);
    std::vector<double> x0(static_cast<std::size_t>(M) * kDX, 0.1);
    std::vector<double> X(static_cast<std::size_t>(M) * kN * kT * kDX), U(static_cast<std::size_t>(M) * kN * kT * kDU);
    std::vector<std::uint32_t> status(M);
    gpsx::SamplingOptions options;
    options.seed = 1234;
    const gpsx::sampling::LinearGaussianSystem<double> system{
        kT, kDX, kDU, plant.F.data(), plant.f.data(), nullptr, options.seed, 0u, true};
    gpsx::SamplingWorkspace ws;
    auto ours = [&](int threads) {
      const gpsx::Executor ex = gpsx::cpu_executor(threads);
      return time_per_call([&] {
        gpsx::sample_lin_gauss(ex, ctrl, system, kN, options, x0.data(), nullptr, nullptr,
                               X.data(), U.data(), status.data(), ws);
      });
    };
    const double steps = static_cast<double>(M) * kN * kT;
    const double ours1 = steps / ours(1);
    const double ours_all = steps / ours(all);
    for (auto s : status)
      if (s != gpsx::kOk) std::fprintf(stderr, "warning: status %s\n", gpsx::status_name(s));
    volatile double sink = 0;
    const double baseline = steps / time_per_call([&] { sink = sink + baseline_rollouts(plant, ctrl, x0, M, X, U); });
    std::printf("%6d %16.4g %16.4g %16.4g %10.2f %10.2f\n", M, ours1, ours_all, baseline,
                ours1 / baseline, ours_all / baseline);
    results.push_back({{"M", M},
                       {"ours_1thread_steps_per_s", ours1},
                       {"ours_all_threads_steps_per_s", ours_all},
                       {"baseline_steps_per_s", baseline},
                       {"ratio_1thread_vs_baseline", ours1 / baseline},
                       {"ratio_all_threads_vs_baseline", ours_all / baseline}});
  }
  const nlohmann::json out = {{"benchmark", "sampling"},
                              {"plant", "deterministic linear time-varying, 7-DoF arm sizes"},
                              {"dX", kDX}, {"dU", kDU}, {"T", kT}, {"N", kN},
                              {"all_threads", all},
                              {"results", results}};
  std::cout << out.dump() << std::endl;
  return 0;
}
