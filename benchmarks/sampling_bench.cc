// Batched sampling throughput: steps/s = M x N x T per second, each step = controller
// (K x + k + C^T n), shaped noise (Philox + generate_noise) and one dynamics step, for
// M = 1 .. 4096 conditions on 1 thread and on all threads, on two plants:
//  - linear: a stable, deterministic linear time-varying system with the 7-DoF arm's
//    sizes (dX = 20, dU = 7), so all randomness is the action noise;
//  - arm7: the rigid-arm simulator (envs/models/arm7.yaml: dX = 26, dU = 7, 5 Euler
//    substeps of 0.01 s per step, state assembly incl. end-effector points and their
//    velocities), init_lqr controllers on the task's conditions (rb::ArmDynamics).
//
// Baseline, same run: the reference's structure in plain C++ — one condition and one
// sample at a time, noise from std::mt19937_64 + std::normal_distribution shaped by the
// same generate_noise, Eigen dynamic-size products per step, then the plant step (the
// linear plant's product, or the simulator's rb::step_env + rb::assemble_state on that
// one state, as the reference's agent steps MuJoCo and reads its sensors).
//
// Last line: one JSON object with all figures.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include <fstream>
#include <functional>
#include <string>

#include "bench_common.h"
#include "gpsx/envs/sim.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx/envs/task.h"
#include "gpsx/host/sampling.h"
#include "gpsx/kernels/sim_sampling.h"

namespace {

namespace rb = gpsx::rb;
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
  for (std::int64_t i = 0; i < c.K.size(); ++i) c.K.data()[i] = u(rng);
  for (std::int64_t i = 0; i < c.k.size(); ++i) c.k.data()[i] = u(rng);
  for (int mt = 0; mt < c.M * c.T; ++mt)
    for (int i = 0; i < kDU; ++i)
      for (int j = 0; j < kDU; ++j)
        c.chol_pol_covar.data()[(mt * kDU + i) * kDU + j] = i == j ? 0.3 : (j > i ? u(rng) : 0.0);
}

// Seconds per call: the best of 5 trials of at least min_seconds each (the machine is
// shared, so the minimum is the least disturbed figure).
template <class Fn>
double time_per_call(Fn&& fn, double min_seconds = 0.08, int trials = 5) {
  double best = 1e300;
  for (int trial = 0; trial < trials; ++trial) {
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

// Reference-structured serial sampler (see header comment); step(t, x, u, x_next)
// advances the plant by one control step.
using PlantStep = std::function<void(int, const Eigen::VectorXd&, const Eigen::VectorXd&,
                                     Eigen::VectorXd&)>;
double baseline_rollouts(const PlantStep& step, const gpsx::ControllerBatch& c,
                         const std::vector<double>& x0, const double* u_min, const double* u_max,
                         std::vector<double>& X, std::vector<double>& U) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  gpsx::noise::NoiseSettings settings;
  const int T = c.T, dX = c.dX, dU = c.dU;
  std::vector<double> scratch(gpsx::noise::noise_scratch_size(T, settings));
  double checksum = 0;
  for (int m = 0; m < c.M; ++m)
    for (int n = 0; n < kN; ++n) {
      Eigen::MatrixXd noise(T, dU);
      for (int t = 0; t < T; ++t)
        for (int i = 0; i < dU; ++i) noise(t, i) = n01(rng);
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> shaped = noise;
      gpsx::noise::generate_noise(T, dU, settings, shaped.data(), scratch.data());
      Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(&x0[m * dX], dX), x_next(dX);
      for (int t = 0; t < T; ++t) {
        const int mt = m * T + t;
        using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<const RowMat> K(c.K.data() + mt * dU * dX, dU, dX);
        Eigen::Map<const Eigen::VectorXd> k(c.k.data() + mt * dU, dU);
        Eigen::Map<const RowMat> C(c.chol_pol_covar.data() + mt * dU * dU, dU, dU);
        Eigen::VectorXd u = K * x + k + C.transpose() * shaped.row(t).transpose();
        if (u_min) u = u.cwiseMax(Eigen::Map<const Eigen::VectorXd>(u_min, dU));
        if (u_max) u = u.cwiseMin(Eigen::Map<const Eigen::VectorXd>(u_max, dU));
        const std::size_t snt = (static_cast<std::size_t>(m) * kN + n) * T + t;
        Eigen::Map<Eigen::VectorXd>(&X[snt * dX], dX) = x;
        Eigen::Map<Eigen::VectorXd>(&U[snt * dU], dU) = u;
        if (t + 1 == T) break;
        step(t, x, u, x_next);
        x.swap(x_next);
      }
      checksum += x(0);
    }
  return checksum;
}

// One plant: how to build M conditions' controllers and x0, our dynamics functor, and the
// baseline's step.
template <class Dynamics, class Run = gpsx::RolloutOnExecutor>
struct Bench {
  std::string name;
  int dX, dU, T;
  std::function<void(gpsx::ControllerBatch&, std::vector<double>&)> setup;  // ctrl, x0 (M x dX)
  Dynamics dynamics;
  PlantStep baseline_step;
  std::vector<double> u_min, u_max;  // (dU) or empty
  Run rollouts{};                    // how sample_lin_gauss runs the rollout functor
};

template <class Dynamics, class Run>
nlohmann::json run(const Bench<Dynamics, Run>& b, int all, const std::vector<int>& Ms) {
  std::printf("\n%s: dX %d, dU %d, T %d, N %d, steps = M*N*T\n", b.name.c_str(), b.dX, b.dU,
              b.T, kN);
  std::printf("%6s %16s %16s %16s %10s %10s\n", "M", "ours 1 thr", "ours all thr", "baseline",
              "1thr/base", "all/base");
  const double* lo = b.u_min.empty() ? nullptr : b.u_min.data();
  const double* hi = b.u_max.empty() ? nullptr : b.u_max.data();
  nlohmann::json results = nlohmann::json::array();
  for (int M : Ms) {
    gpsx::ControllerBatch ctrl(gpsx::cpu_executor(1), M, b.T, b.dX, b.dU);
    std::vector<double> x0;
    b.setup(ctrl, x0);
    std::vector<double> X(static_cast<std::size_t>(M) * kN * b.T * b.dX),
        U(static_cast<std::size_t>(M) * kN * b.T * b.dU);
    std::vector<std::uint32_t> status(M);
    gpsx::SamplingOptions options;
    options.seed = 1234;
    gpsx::SamplingWorkspace ws;
    const double steps = static_cast<double>(M) * kN * b.T;
    const int trials = steps > 2e5 ? 2 : 5;  // the arm's large M take seconds per call
    auto ours = [&](int threads) {
      const gpsx::Executor ex = gpsx::cpu_executor(threads);
      return time_per_call([&] {
        gpsx::sample_lin_gauss(ex, ctrl, b.dynamics, kN, options, x0.data(), lo, hi, X.data(),
                               U.data(), status.data(), ws, b.rollouts);
      }, 0.08, trials);
    };
    const double ours1 = steps / ours(1);
    const double ours_all = steps / ours(all);
    for (auto s : status)
      if (s != gpsx::kOk) std::fprintf(stderr, "warning: status %s\n", gpsx::status_name(s));
    volatile double sink = 0;
    const double baseline = steps / time_per_call([&] {
      sink = sink + baseline_rollouts(b.baseline_step, ctrl, x0, lo, hi, X, U);
    }, 0.08, trials);
    std::printf("%6d %16.4g %16.4g %16.4g %10.2f %10.2f\n", M, ours1, ours_all, baseline,
                ours1 / baseline, ours_all / baseline);
    std::fflush(stdout);
    results.push_back({{"M", M},
                       {"ours_1thread_steps_per_s", ours1},
                       {"ours_all_threads_steps_per_s", ours_all},
                       {"baseline_steps_per_s", baseline},
                       {"ratio_1thread_vs_baseline", ours1 / baseline},
                       {"ratio_all_threads_vs_baseline", ours_all / baseline}});
  }
  return {{"plant", b.name}, {"dX", b.dX}, {"dU", b.dU}, {"T", b.T}, {"N", kN},
          {"results", results}};
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main() {
  const int all = gpsx::hardware_threads();
  const std::vector<int> Ms = {1, 4, 16, 64, 256, 1024, 4096};
  const std::string load_before = load_average();
  gpsx::bench::print_machine_header("sampling_bench");
  std::printf("batched linear-Gaussian sampling, load average before: %s\n", load_before.c_str());

  const Plant plant = make_plant();
  Bench<gpsx::sampling::LinearGaussianSystem<double>> linear{
      "linear", kDX, kDU, kT,
      [](gpsx::ControllerBatch& c, std::vector<double>& x0) {
        fill_controller(c);
        x0.assign(static_cast<std::size_t>(c.M) * kDX, 0.1);
      },
      {kT, kDX, kDU, plant.F.data(), plant.f.data(), nullptr, 1234, 0u, true},
      [&plant](int t, const Eigen::VectorXd& x, const Eigen::VectorXd& u, Eigen::VectorXd& x_next) {
        using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        const int dxu = kDX + kDU;
        Eigen::Map<const RowMat> F(plant.F.data() + t * kDX * dxu, kDX, dxu);
        Eigen::VectorXd xu(dxu);
        xu << x, u;
        x_next = F * xu + Eigen::Map<const Eigen::VectorXd>(plant.f.data() + t * kDX, kDX);
      },
      {}, {}};
  nlohmann::json plants = nlohmann::json::array();
  plants.push_back(run(linear, all, Ms));

  // the 7-DoF arm on the simulator: the adapter gpsx::envs::sample_task builds
  const gpsx::envs::Task task = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  const rb::ArmDynamics<double> arm_dyn =
      gpsx::envs::arm_dynamics(task, rb::kEeVelocityDifference);
  std::vector<double> lo, hi;
  gpsx::envs::control_limits(task, lo, hi);
  Bench<rb::ArmDynamics<double>, gpsx::envs::ArmRollouts> arm{
      "arm7 simulator", task.dX(), task.dU(), kT,
      [&task](gpsx::ControllerBatch& c, std::vector<double>& x0) {
        x0 = gpsx::envs::initial_states(task, c.M, rb::kEeVelocityDifference);
        gpsx::lingauss::LqrInitSettings<double> s;
        s.dt = task.control_dt();
        const std::vector<double> gains(c.dU, 1.0), acc(c.dU, 0.0);
        std::vector<std::uint32_t> st(c.M);
        gpsx::init_lqr(gpsx::cpu_executor(1), s, x0.data(), gains.data(), acc.data(), c, st.data());
      },
      arm_dyn,
      [&arm_dyn](int, const Eigen::VectorXd& x, const Eigen::VectorXd& u, Eigen::VectorXd& x_next) {
        const int nv = arm_dyn.model.nbody;
        Eigen::VectorXd q = x.segment(arm_dyn.q_offset, nv), qd = x.segment(arm_dyn.qd_offset, nv);
        rb::step_env(arm_dyn.model, arm_dyn.dt, arm_dyn.substeps, arm_dyn.integrator,
                     arm_dyn.enforce_limits, q.data(), qd.data(), u.data(), static_cast<double*>(nullptr));
        rb::assemble_state(arm_dyn.model, arm_dyn.state, q.data(), qd.data(),
                           x.data() + arm_dyn.q_offset, arm_dyn.control_dt, x_next.data());
      },
      lo, hi};
  plants.push_back(run(arm, all, Ms));

  const std::string load_after = load_average();
  std::printf("load average after: %s\n", load_after.c_str());
  const nlohmann::json out = {{"benchmark", "sampling"},
                              {"cpu_model", gpsx::bench::cpu_model()},
                              {"all_threads", all},
                              {"load_average_before", load_before},
                              {"load_average_after", load_after},
                              {"plants", plants}};
  std::cout << out.dump() << std::endl;
  return 0;
}
