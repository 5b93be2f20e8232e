// Linear-Gaussian sampling on the rigid-arm simulator (host/gpsx/host/sim_sampling.h):
// reproducibility, equality with stepping the simulator directly, the reference's
// end-effector velocity convention, torque limits, per-condition failure, and the task
// cost expanded along simulated samples (label: unit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gpsx/envs/sim.h"
#include "gpsx/host/device.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx/envs/task.h"

namespace {

using gpsx::ControllerBatch;
using gpsx::cpu_executor;
using gpsx::Executor;
using gpsx::envs::SimSamples;
using gpsx::envs::SimSamplingOptions;
using gpsx::envs::Task;
namespace rb = gpsx::rb;

Task load(const std::string& name) { return gpsx::envs::load_task(gpsx::envs::find_task(name)); }

// init_pd controllers around the task's (cycled) initial states.
ControllerBatch pd_controllers(const Executor& ex, const Task& task, int M, int T) {
  ControllerBatch ctrl(ex, M, T, task.dX(), task.dU());
  const auto x0 = gpsx::envs::initial_states(task, M, rb::kEeVelocityDifference);
  std::vector<std::uint32_t> st(M);
  gpsx::init_pd(ex, gpsx::lingauss::PdInitSettings<double>{}, task.model.nv(), x0.data(), ctrl,
                st.data());
  for (auto s : st) EXPECT_EQ(s, 0u);
  return ctrl;
}

void zero_noise(ControllerBatch& ctrl) {
  std::fill(ctrl.chol_pol_covar.data(), ctrl.chol_pol_covar.data() + ctrl.chol_pol_covar.size(), 0.0);
}

std::vector<double> copy(const gpsx::Buffer<double>& b) {  // CPU executor memory
  return std::vector<double>(b.data(), b.data() + b.size());
}

SimSamples sample(const Executor& ex, const Task& task, const ControllerBatch& ctrl, int N,
                  const SimSamplingOptions& opt) {
  SimSamples s;
  gpsx::SamplingWorkspace ws;
  gpsx::envs::sample_task(ex, task, ctrl, N, opt, s, ws);
  return s;
}

TEST(SimSampling, SameSeedBitIdenticalOnOneAndAllThreads) {
  const Task task = load("arm7");
  const int M = 5, N = 4, T = 20;
  SimSamplingOptions opt;
  opt.sampling.seed = 42;
  opt.obs_sensors = {rb::kEndEffectorPoints, rb::kJointAngles};
  opt.jacobians = true;
  const Executor one = cpu_executor(1), all = cpu_executor(0);
  const ControllerBatch ctrl = pd_controllers(one, task, M, T);
  const SimSamples a = sample(one, task, ctrl, N, opt);
  const SimSamples b = sample(all, task, ctrl, N, opt);
  ASSERT_EQ(a.X.size(), std::size_t(M) * N * T * 26);
  ASSERT_EQ(a.dO, 6 + 7);
  const auto same = [](const gpsx::Buffer<double>& x, const gpsx::Buffer<double>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
  };
  EXPECT_TRUE(same(a.X, b.X));
  EXPECT_TRUE(same(a.U, b.U));
  EXPECT_TRUE(same(a.obs, b.obs));
  EXPECT_TRUE(same(a.jac, b.jac));
  EXPECT_EQ(a.status, b.status);
  for (auto s : a.status) EXPECT_EQ(s, 0u);
  // observations [ee points (6), joint angles (7)] are those blocks of the state
  for (std::int64_t r = 0; r < a.X.size() / 26; ++r) {
    const double* x = a.X.data() + r * 26;
    const double* o = a.obs.data() + r * 13;
    for (int i = 0; i < 6; ++i) ASSERT_EQ(o[i], x[14 + i]) << "row " << r;
    for (int i = 0; i < 7; ++i) ASSERT_EQ(o[6 + i], x[i]) << "row " << r;
  }
  // another seed gives other samples
  opt.sampling.seed = 43;
  const SimSamples c = sample(one, task, ctrl, N, opt);
  EXPECT_NE(std::memcmp(a.U.data(), c.U.data(), a.U.size() * sizeof(double)), 0);
}

// With zero noise every sample is the deterministic closed loop; its states must equal
// the simulator stepped directly (envs::step, the batched simulator) with the same
// controls, and the observations equal envs::observe of those states.
TEST(SimSampling, ZeroNoiseRolloutEqualsSteppingTheSimulator) {
  const Task task = load("arm7");
  const int M = 4, N = 2, T = 30, nv = task.model.nv(), dX = task.dX(), dU = task.dU();
  const Executor ex = cpu_executor(0);
  ControllerBatch ctrl = pd_controllers(ex, task, M, T);
  zero_noise(ctrl);
  const SimSamples s = sample(ex, task, ctrl, N, {});
  const auto X = copy(s.X), U = copy(s.U);
  std::vector<double> q(M * nv), qd(M * nv), u(M * dU), x(M * dX);
  for (int m = 0; m < M; ++m)
    for (int i = 0; i < nv; ++i) {
      q[m * nv + i] = task.conditions[m].q0[i];
      qd[m * nv + i] = task.conditions[m].qd0[i];
    }
  const auto at = [&](int m, int n, int t) { return (static_cast<std::size_t>(m) * N + n) * T + t; };
  const auto opt = gpsx::envs::step_options(task);
  for (int t = 0; t + 1 < T; ++t) {
    for (int m = 0; m < M; ++m)
      for (int j = 0; j < dU; ++j) u[m * dU + j] = U[at(m, 0, t) * dU + j];
    gpsx::envs::step(ex, task.model.chain, opt, M, q.data(), qd.data(), u.data(),
                     static_cast<double*>(nullptr), static_cast<std::uint32_t*>(nullptr));
    gpsx::envs::observe(ex, task.model.chain, task.sensors, task.ee_sites, M, q.data(), qd.data(),
                        x.data());
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        const double* xs = &X[at(m, n, t + 1) * dX];
        for (int i = 0; i < nv; ++i) {
          ASSERT_EQ(xs[i], q[m * nv + i]) << "m " << m << " t " << t + 1 << " q" << i;
          ASSERT_EQ(xs[nv + i], qd[m * nv + i]) << "m " << m << " t " << t + 1 << " qd" << i;
        }
        for (int i = 2 * nv; i < 2 * nv + 6; ++i)  // end-effector points
          ASSERT_EQ(xs[i], x[m * dX + i]) << "m " << m << " t " << t + 1 << " x" << i;
      }
  }
}

// The reference's convention on the planar reacher, by hand: tip p(q) = (0.5 cos q1 +
// 0.4 cos(q1 + q2), 0.5 sin q1 + 0.4 sin(q1 + q2), 0) (reacher2.xml), velocity
// (p(q_t) - p(q_{t-1})) / 0.05 and zero at t = 0; the exact option gives J qd.
TEST(SimSampling, EndEffectorVelocityConventions) {
  Task task = load("reacher2");
  task.sensors = {rb::kJointAngles, rb::kJointVelocities, rb::kEndEffectorPoints,
                  rb::kEndEffectorPointVelocities};
  ASSERT_EQ(task.dX(), 10);
  ASSERT_DOUBLE_EQ(task.control_dt(), 0.05);
  const int M = 2, N = 2, T = 12, dX = 10;
  const Executor ex = cpu_executor(1);
  const ControllerBatch ctrl = pd_controllers(ex, task, M, T);
  const auto tip = [](const double* q, double* p) {
    p[0] = 0.5 * std::cos(q[0]) + 0.4 * std::cos(q[0] + q[1]);
    p[1] = 0.5 * std::sin(q[0]) + 0.4 * std::sin(q[0] + q[1]);
    p[2] = 0.0;
  };
  SimSamplingOptions opt;  // default: the reference's difference
  ASSERT_EQ(opt.ee_velocity, rb::kEeVelocityDifference);
  const SimSamples d = sample(ex, task, ctrl, N, opt);
  const auto X = copy(d.X);
  double worst = 0;
  for (int r = 0; r < M * N; ++r)
    for (int t = 0; t < T; ++t) {
      const double* x = &X[(static_cast<std::size_t>(r) * T + t) * dX];
      double p[3], prev[3];
      tip(x, p);
      for (int i = 0; i < 3; ++i) worst = std::max(worst, std::abs(x[4 + i] - p[i]));
      if (t == 0) {
        for (int i = 0; i < 3; ++i) EXPECT_EQ(x[7 + i], 0.0);
        continue;
      }
      tip(x - dX, prev);
      for (int i = 0; i < 3; ++i)
        worst = std::max(worst, std::abs(x[7 + i] - (p[i] - prev[i]) / 0.05));
    }
  std::printf("  difference convention: worst error %.3g\n", worst);
  EXPECT_LT(worst, 1e-12);
  // exact: J qd with J = d tip / dq by hand
  opt.ee_velocity = rb::kEeVelocityExact;
  const SimSamples e = sample(ex, task, ctrl, N, opt);
  const auto XE = copy(e.X);
  worst = 0;
  for (std::size_t row = 0; row < XE.size() / dX; ++row) {
    const double* x = &XE[row * dX];
    const double s1 = std::sin(x[0]), c1 = std::cos(x[0]);
    const double s12 = std::sin(x[0] + x[1]), c12 = std::cos(x[0] + x[1]);
    const double v[3] = {-(0.5 * s1 + 0.4 * s12) * x[2] - 0.4 * s12 * x[3],
                         (0.5 * c1 + 0.4 * c12) * x[2] + 0.4 * c12 * x[3], 0.0};
    for (int i = 0; i < 3; ++i) worst = std::max(worst, std::abs(x[7 + i] - v[i]));
  }
  std::printf("  exact J qd: worst error %.3g\n", worst);
  EXPECT_LT(worst, 1e-12);
}

// Controls far outside the limits are clamped to the MODEL's ctrl range (and follow it
// when the model changes).
TEST(SimSampling, ActionsClampedAtTheModelsLimits) {
  Task task = load("arm7");
  const int M = 2, N = 3, T = 6, dU = task.dU();
  const Executor ex = cpu_executor(1);
  ControllerBatch ctrl(ex, M, T, task.dX(), dU);  // K = 0, chol = 0
  for (std::int64_t i = 0; i < ctrl.k.size(); ++i)
    ctrl.k.data()[i] = ((i / dU) % 2 == 0 ? 1e4 : -1e4);  // +big at even t, -big at odd t
  task.model.chain.ctrl_range[0][0] = -5.0;
  task.model.chain.ctrl_range[0][1] = 7.0;
  const SimSamples s = sample(ex, task, ctrl, N, {});
  const auto U = copy(s.U);
  const auto& c = task.model.chain;
  for (std::size_t row = 0; row < U.size() / dU; ++row) {
    const int t = static_cast<int>(row % T);
    for (int j = 0; j < dU; ++j)
      EXPECT_EQ(U[row * dU + j], t % 2 == 0 ? c.ctrl_range[j][1] : c.ctrl_range[j][0])
          << "row " << row << " j " << j;
  }
  EXPECT_EQ(U[0], 7.0);
  EXPECT_EQ(U[dU], -5.0);
  EXPECT_EQ(U[1], 30.0);  // arm7.xml: ctrlrange -30 30
}

TEST(SimSampling, NanInitialStateFlagsOnlyItsCondition) {
  Task task = load("arm7");
  const int M = 3, N = 2, T = 10;
  const Executor ex = cpu_executor(0);
  const ControllerBatch ctrl = pd_controllers(ex, task, M, T);
  task.conditions[1].q0[2] = std::numeric_limits<double>::quiet_NaN();
  const SimSamples s = sample(ex, task, ctrl, N, {});
  EXPECT_EQ(s.status[0], 0u);
  EXPECT_NE(s.status[1] & gpsx::kNonFinite, 0u);
  EXPECT_EQ(s.status[2], 0u);
  const auto X = copy(s.X);
  const std::size_t per_condition = X.size() / M;
  for (int m : {0, 2})
    for (std::size_t i = 0; i < per_condition; ++i) ASSERT_TRUE(std::isfinite(X[m * per_condition + i]));
}

// The CPU pack path (physics of 4 rollouts per SIMD pack, rb::RolloutArmLanes) gives the
// per-rollout path's samples bit for bit: whole packs, a partial last pack, a condition
// whose NaN start fails the pack steps it shares (redone lane by lane), noisy actions.
TEST(SimSampling, SimdPacksMatchPerRolloutPathBitwise) {
  struct Case {
    const char* task;
    int M, N, nan_condition;  // -1: none
  };
  for (const Case c : {Case{"arm7", 4, 3, 3}, Case{"arm7", 5, 3, -1}, Case{"reacher2", 3, 5, -1}}) {
    SCOPED_TRACE(std::string(c.task) + " M " + std::to_string(c.M) + " N " + std::to_string(c.N));
    Task task = load(c.task);
    const int T = 25;
    const Executor ex = cpu_executor(0);
    ControllerBatch ctrl = pd_controllers(ex, task, c.M, T);
    for (std::int64_t i = 0; i < ctrl.chol_pol_covar.size(); ++i)
      ctrl.chol_pol_covar.data()[i] *= 30.0;
    if (c.nan_condition >= 0)
      task.conditions[c.nan_condition].q0[0] = std::numeric_limits<double>::quiet_NaN();
    SimSamplingOptions packs;
    packs.sampling.seed = 7;
    SimSamplingOptions scalar = packs;
    scalar.cpu_lanes = false;
    const SimSamples a = sample(ex, task, ctrl, c.N, packs);
    const SimSamples b = sample(ex, task, ctrl, c.N, scalar);
    ASSERT_EQ(a.X.size(), b.X.size());
    EXPECT_EQ(std::memcmp(a.X.data(), b.X.data(), a.X.size() * sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(a.U.data(), b.U.data(), a.U.size() * sizeof(double)), 0);
    EXPECT_EQ(a.status, b.status);
    for (int m = 0; m < c.M; ++m)
      EXPECT_EQ(a.status[m] != 0u, m == c.nan_condition) << "condition " << m;
  }
}

TEST(SimSampling, RejectsStatesWithoutTheSimulatorState) {
  Task task = load("reacher2");
  const Executor ex = cpu_executor(1);
  const ControllerBatch ctrl = pd_controllers(ex, task, 2, 5);
  task.sensors = {rb::kJointAngles, rb::kEndEffectorPoints, rb::kEndEffectorPointVelocities};
  ControllerBatch wrong(ex, 2, 5, task.dX(), task.dU());
  gpsx::SamplingWorkspace ws;
  SimSamples s;
  EXPECT_THROW(gpsx::envs::sample_task(ex, task, wrong, 3, {}, s, ws), std::invalid_argument);
  task = load("reacher2");
  EXPECT_THROW(gpsx::envs::sample_task(ex, task, ctrl, 0, {}, s, ws), std::invalid_argument);
  ControllerBatch other_dx(ex, 2, 5, task.dX() + 1, task.dU());
  EXPECT_THROW(gpsx::envs::sample_task(ex, task, other_dx, 3, {}, s, ws), std::invalid_argument);
}

// The reacher's task cost (action + CostFK to ee_target) along simulated samples: the
// averaged expansion is finite, and the per-sample gradient agrees with central
// differences of the cost along the sample: joint angles moved with the end-effector
// point re-assembled (CostFK differentiates through the stored Jacobians), actions
// directly; luu from differences of lu. Tolerance 1e-6 relative (h = 1e-6: truncation
// ~1e-12, round-off ~1e-10 relative).
TEST(SimSampling, ReacherCostExpansionMatchesFiniteDifferences) {
  const Task task = load("reacher2");
  const int M = 2, N = 3, T = 15, nv = 2, dX = task.dX(), dU = task.dU(), dxu = dX + dU;
  const Executor ex = cpu_executor(1);
  const ControllerBatch ctrl = pd_controllers(ex, task, M, T);
  SimSamplingOptions opt;
  opt.jacobians = true;
  const SimSamples s = sample(ex, task, ctrl, N, opt);
  ASSERT_EQ(s.jac_rows, 3);
  ASSERT_EQ(s.jac_cols, nv);
  const gpsx::CostTable table = gpsx::compile_cost(gpsx::envs::task_cost(task, M), dX, dU, M);
  ASSERT_TRUE(table.has_fk());
  gpsx::CostModelStorage cost = gpsx::make_cost_model(ex, table);
  gpsx::envs::SampleCosts costs;
  gpsx::EvalCostWorkspace ws;
  gpsx::envs::eval_sample_costs(ex, cost.model, s, costs, ws);
  for (auto st : costs.status) EXPECT_EQ(st, 0u);
  for (auto* b : {&costs.cs, &costs.cc, &costs.cv, &costs.Cm})
    for (std::int64_t i = 0; i < b->size(); ++i) ASSERT_TRUE(std::isfinite(b->data()[i]));

  const int S = M * N;
  const std::size_t rows = static_cast<std::size_t>(S) * T;
  std::vector<std::int64_t> cond(S);
  for (int i = 0; i < S; ++i) cond[i] = i / N;
  const auto X = copy(s.X), U = copy(s.U), J = copy(s.jac);
  const auto expand = [&](const std::vector<double>& x, const std::vector<double>& u,
                          std::vector<double>& l, std::vector<double>& g, std::vector<double>& H) {
    l.assign(rows, 0);
    g.assign(rows * dxu, 0);
    H.assign(rows * dxu * dxu, 0);
    std::vector<std::uint32_t> st(S);
    gpsx::cost_expansion(ex, cost.model, S, T, dX, dU, x.data(), u.data(), J.data(), cond.data(),
                         l.data(), g.data(), H.data(), st.data(), ws);
    for (auto v : st) ASSERT_EQ(v, 0u);
  };
  std::vector<double> l, g, H, lp, gp, Hp, lm, gm, Hm;
  expand(X, U, l, g, H);
  // state with joint angle i moved by d, the end-effector point re-assembled
  const auto moved = [&](int i, double d) {
    std::vector<double> q(rows * nv), qd(rows * nv), x(X.size());
    for (std::size_t r = 0; r < rows; ++r)
      for (int j = 0; j < nv; ++j) {
        q[r * nv + j] = X[r * dX + j] + (j == i ? d : 0.0);
        qd[r * nv + j] = X[r * dX + nv + j];
      }
    gpsx::envs::observe(ex, task.model.chain, task.sensors, task.ee_sites,
                        static_cast<std::int64_t>(rows), q.data(), qd.data(), x.data());
    return x;
  };
  const double h = 1e-6;
  double worst = 0;
  const auto check = [&](double fd, double an) {
    worst = std::max(worst, std::abs(fd - an) / std::max(1.0, std::abs(an)));
  };
  for (int i = 0; i < nv; ++i) {
    expand(moved(i, h), U, lp, gp, Hp);
    expand(moved(i, -h), U, lm, gm, Hm);
    for (std::size_t r = 0; r < rows; ++r) check((lp[r] - lm[r]) / (2 * h), g[r * dxu + i]);
  }
  for (int j = 0; j < dU; ++j) {
    std::vector<double> up = U, um = U;
    for (std::size_t r = 0; r < rows; ++r) {
      up[r * dU + j] += h;
      um[r * dU + j] -= h;
    }
    expand(X, up, lp, gp, Hp);
    expand(X, um, lm, gm, Hm);
    for (std::size_t r = 0; r < rows; ++r) {
      check((lp[r] - lm[r]) / (2 * h), g[r * dxu + dX + j]);
      for (int k = 0; k < dU; ++k)
        check((gp[r * dxu + dX + k] - gm[r * dxu + dX + k]) / (2 * h),
              H[(r * dxu + dX + k) * dxu + dX + j]);
    }
  }
  std::printf("  cost derivatives vs central differences: worst relative error %.3g\n", worst);
  EXPECT_LT(worst, 1e-6);
  // the cost does not depend on the joint velocities
  for (std::size_t r = 0; r < rows; ++r)
    for (int i = nv; i < 2 * nv; ++i) EXPECT_EQ(g[r * dxu + i], 0.0);
}

// The CUDA executor runs the same rollout, step and assembly functors: samples agree
// with the CPU's up to floating-point contraction (nvcc fuses multiply-adds), amplified
// over 20 steps x 5 substeps: 1e-8 of the largest |value|. Skips without a usable GPU.
TEST(SimSampling, CudaSamplesMatchTheCpu) {
  Executor gpu;
  try {
    gpu = gpsx::make_executor(gpsx::DeviceChoice::kCuda, 0);
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  const Task task = load("arm7");
  const int M = 3, N = 4, T = 20;
  SimSamplingOptions opt;
  opt.sampling.seed = 9;
  opt.obs_sensors = {rb::kEndEffectorPointVelocities};
  opt.jacobians = true;
  const Executor cpu = cpu_executor(0);
  const SimSamples a = sample(cpu, task, pd_controllers(cpu, task, M, T), N, opt);
  const SimSamples b = sample(gpu, task, pd_controllers(gpu, task, M, T), N, opt);
  EXPECT_EQ(a.status, b.status);
  const auto close = [&](const gpsx::Buffer<double>& host, const gpsx::Buffer<double>& dev) {
    std::vector<double> d(dev.size());
    gpsx::download(gpu, dev.data(), d.size(), d.data());
    double scale = 0, worst = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      scale = std::max(scale, std::abs(host.data()[i]));
      worst = std::max(worst, std::abs(host.data()[i] - d[i]));
    }
    return host.size() == dev.size() && worst <= 1e-8 * std::max(scale, 1.0);
  };
  EXPECT_TRUE(close(a.X, b.X));
  EXPECT_TRUE(close(a.U, b.U));
  EXPECT_TRUE(close(a.obs, b.obs));
  EXPECT_TRUE(close(a.jac, b.jac));
}

TEST(SimSampling, TaskCostNeedsACostSection) {
  const Task task = load("testchain");
  EXPECT_THROW(gpsx::envs::task_cost(task, 1), gpsx::ConfigError);
  const Task arm = load("arm7");
  const gpsx::CostDesc d = gpsx::envs::task_cost(arm, 6);  // conditions cycled
  ASSERT_EQ(d.terms.size(), 2u);
  ASSERT_EQ(d.terms[1].blocks[0].targets.size(), 6u);
  EXPECT_EQ(d.terms[1].blocks[0].targets[5], arm.conditions[1].ee_target);
}

}  // namespace
