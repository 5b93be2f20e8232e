// The TrajOpt algorithm on simulated samples (label: unit): one failing condition never
// changes the others' results, keeps its last good controller and eta, and is reported
// with the phase that failed, for each failure class (samples, dynamics fit, LQR); the
// iteration is bitwise reproducible; phases chain over iterations.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gpsx/envs/task.h"
#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx/host/sim_sampling.h"

namespace gpsx {
namespace {

constexpr int kM = 4, kN = 5, kT = 20;

struct Fixture {
  Executor ex = cpu_executor(2);
  envs::Task task = envs::load_task(envs::find_task("reacher2"));
  CostTable table;
  CostModelStorage cost;
  envs::SimSamples samples;
  envs::SimSamplingOptions options;

  Fixture() {
    table = compile_cost(envs::task_cost(task, kM), task.dX(), task.dU(), kM);
    cost = make_cost_model(ex, table);
    options.jacobians = true;
    options.sampling.seed = 7;
  }
  TrajOptAlgorithm make() {
    TrajOptAlgorithm a = make_traj_opt_algorithm(ex, kM, kT, task.dX(), task.dU(), kN, {});
    const std::vector<double> x0 = envs::initial_states(task, kM, options.ee_velocity);
    const std::vector<double> gains(task.dU(), 1.0), acc(task.dU(), 0.0);
    std::vector<std::uint32_t> st(kM);
    lingauss::LqrInitSettings<double> s;
    s.dt = task.control_dt();
    init_lqr(ex, s, x0.data(), gains.data(), acc.data(), a.ctrl, st.data());
    return a;
  }
  SampleBatch draw(TrajOptAlgorithm& a) {
    SamplingWorkspace ws;
    options.sampling.stream = static_cast<std::uint32_t>(a.iteration);
    envs::sample_task(ex, task, a.ctrl, kN, options, samples, ws);
    return {kN, samples.X.data(), samples.U.data(), samples.jac.data(), samples.status.data()};
  }
};

std::vector<double> condition_slice(const Buffer<double>& b, int m) {
  const std::int64_t per = b.size() / kM;
  return std::vector<double>(b.data() + m * per, b.data() + (m + 1) * per);
}

// Condition m's new controller, eta and multiplier equal (bitwise) between two runs.
void expect_same_condition(const TrajOptAlgorithm& a, const TrajOptAlgorithm& b, int m) {
  EXPECT_EQ(condition_slice(a.ctrl.K, m), condition_slice(b.ctrl.K, m)) << "condition " << m;
  EXPECT_EQ(condition_slice(a.ctrl.k, m), condition_slice(b.ctrl.k, m)) << "condition " << m;
  EXPECT_EQ(condition_slice(a.ctrl.pol_covar, m), condition_slice(b.ctrl.pol_covar, m));
  EXPECT_EQ(a.eta[m], b.eta[m]) << "condition " << m;
  EXPECT_EQ(a.step_mult[m], b.step_mult[m]) << "condition " << m;
}

// Runs two iterations; `inject` may corrupt condition `bad` between phases of the second.
enum class Inject { kNone, kSamples, kDynamics, kLqr };

struct Outcome {
  TrajOptAlgorithm alg;
  std::vector<double> K_before, k_before;  // condition `bad`'s controller before iteration 2
  double eta_before = 0, step_before = 0;
  IterationReport report;
};

Outcome run_two(Fixture& f, Inject inject, int bad) {
  Outcome o{f.make(), {}, {}, 0, 0, {}};
  TrajOptAlgorithm& a = o.alg;
  SampleBatch s = f.draw(a);
  traj_opt_iteration(f.ex, a, f.cost.model, s);
  EXPECT_EQ(a.report.failures(), 0) << a.report.message[0];

  s = f.draw(a);
  o.K_before = condition_slice(a.ctrl.K, bad);
  o.k_before = condition_slice(a.ctrl.k, bad);
  o.eta_before = a.eta[bad];
  o.step_before = a.step_mult[bad];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::uint32_t> status(f.samples.status);
  const std::int64_t per_x = static_cast<std::int64_t>(kN) * kT * a.dX;
  if (inject == Inject::kSamples) {  // the sampler says the rollouts went non-finite
    f.samples.X[bad * per_x + 3 * a.dX + 1] = nan;
    status[bad] |= kNonFinite;
  }
  if (inject == Inject::kDynamics)  // a bad state the sampler did not flag: the fit fails
    f.samples.X[bad * per_x + 5 * a.dX] = nan;
  s.status = status.data();
  if (inject == Inject::kSamples)  // the runner's policy: re-append the previous good batch
    EXPECT_EQ(traj_opt_replace_failed_samples(f.ex, a, status.data(), f.samples.X.data(),
                                              f.samples.U.data()),
              1);
  traj_opt_begin(f.ex, a, s);
  traj_opt_update_dynamics(f.ex, a, s);
  traj_opt_eval_cost(f.ex, a, f.cost.model, s);
  traj_opt_update_step_size(f.ex, a);
  if (inject == Inject::kLqr) {  // an action cost no eta can make positive definite
    const int n = a.dX + a.dU;
    for (int t = 0; t < kT; ++t)
      for (int i = a.dX; i < n; ++i) a.Cm[((bad * kT + t) * n + i) * n + i] = -1e30;
  }
  traj_opt_update_controllers(f.ex, a);
  traj_opt_advance(f.ex, a);
  o.report = a.report;
  return o;
}

TEST(TrajOptAlgorithm, TwoIterationsAreBitwiseReproducibleAndSucceed) {
  Fixture f1, f2;
  const Outcome a = run_two(f1, Inject::kNone, 0), b = run_two(f2, Inject::kNone, 0);
  EXPECT_EQ(a.report.failures(), 0);
  for (int m = 0; m < kM; ++m) {
    expect_same_condition(a.alg, b.alg, m);
    EXPECT_TRUE(std::isfinite(a.report.predicted[m]) && std::isfinite(a.report.actual[m]));
    EXPECT_GT(a.report.kl[m], 0.0);
    // The C-step met its bound (the reference's convergence test, |KL - bound| < 0.1 bound)
    // or stopped at the bracket's end with less KL.
    EXPECT_LT(a.report.kl[m], 1.1 * a.report.kl_bound[m]) << "condition " << m;
  }
  EXPECT_EQ(a.alg.iteration, 2);
}

void expect_isolated(Inject inject, std::uint32_t phase) {
  const int bad = 2;
  Fixture clean_f, bad_f;
  const Outcome clean = run_two(clean_f, Inject::kNone, bad);
  const Outcome hurt = run_two(bad_f, inject, bad);
  const IterationReport& r = hurt.report;
  for (int m = 0; m < kM; ++m) {
    if (m == bad) continue;
    EXPECT_EQ(r.failed[m], 0u) << "condition " << m << ": " << r.message[m];
    expect_same_condition(clean.alg, hurt.alg, m);
  }
  EXPECT_NE(r.failed[bad] & phase, 0u) << "failed bits " << r.failed[bad] << " ("
                                       << phase_names(r.failed[bad]) << ")";
  EXPECT_FALSE(r.message[bad].empty());
  EXPECT_NE(r.message[bad].find("condition 2"), std::string::npos) << r.message[bad];
  // The failed condition kept the controller its samples were drawn with, and its eta.
  EXPECT_EQ(condition_slice(hurt.alg.ctrl.K, bad), hurt.K_before);
  EXPECT_EQ(condition_slice(hurt.alg.ctrl.k, bad), hurt.k_before);
  EXPECT_EQ(hurt.alg.eta[bad], hurt.eta_before);
  EXPECT_EQ(hurt.alg.step_mult[bad], hurt.step_before);
  // Its next step adjustment has no estimate to compare with: the multiplier stays.
  EXPECT_TRUE(std::isnan(hurt.alg.laplace_prev[bad]));
  EXPECT_EQ(r.failures(), 1);
}

TEST(TrajOptAlgorithm, NonFiniteSamplesFailOnlyTheirCondition) {
  expect_isolated(Inject::kSamples, kPhaseSamples);
}

TEST(TrajOptAlgorithm, AFailedBatchDoesNotEnterThePriorDataSet) {
  Fixture f;
  const Outcome o = run_two(f, Inject::kSamples, 2);
  const DynamicsPrior& p = o.alg.prior;
  ASSERT_EQ(p.count, 2 * kN);
  for (std::int64_t i = 0; i < p.X.size(); ++i)
    ASSERT_TRUE(std::isfinite(p.X[i])) << "prior X entry " << i;
  // The repeated batch is the condition's first one.
  const std::int64_t traj = static_cast<std::int64_t>(kT) * o.alg.dX;
  const double* first = p.X.data() + (2 * p.capacity) * traj;
  for (std::int64_t i = 0; i < kN * traj; ++i) ASSERT_EQ(first[i], first[kN * traj + i]);
}
TEST(TrajOptAlgorithm, AFailedDynamicsFitFailsOnlyItsCondition) {
  expect_isolated(Inject::kDynamics, kPhaseDynamics);
}
TEST(TrajOptAlgorithm, AnLqrWithoutPositiveDefiniteEtaFailsOnlyItsCondition) {
  expect_isolated(Inject::kLqr, kPhaseLqr);
}

TEST(TrajOptAlgorithm, RefusesBadSizesAndSettings) {
  const Executor ex = cpu_executor(1);
  EXPECT_THROW(make_traj_opt_algorithm(ex, 0, 10, 4, 2, 5, {}), std::invalid_argument);
  EXPECT_THROW(make_traj_opt_algorithm(ex, 2, 1, 4, 2, 5, {}), std::invalid_argument);
  TrajOptAlgorithmSettings s;
  s.min_step_mult = 2.0;
  s.max_step_mult = 1.0;
  EXPECT_THROW(make_traj_opt_algorithm(ex, 2, 10, 4, 2, 5, s), std::invalid_argument);
}

}  // namespace
}  // namespace gpsx
