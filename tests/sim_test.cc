// Simulator properties that need no MuJoCo: Jacobians vs finite differences, energy
// behaviour, state assembly, executors, float vs double (label: unit).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <random>
#include <string>

#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/loaders.h"
#include "gpsx/envs/model_tools.h"
#include "gpsx/envs/sim.h"
#include "gpsx/envs/task.h"

namespace {

using gpsx::envs::Model;
using gpsx::envs::Task;
namespace rb = gpsx::rb;

std::string model_path(const std::string& file) { return gpsx::envs::find_model_file(file); }

class SimModel : public ::testing::TestWithParam<std::string> {};

// Site Jacobians against central differences of the site position, and J qd against the
// site velocity from the body velocities. Tolerance 1e-7 (FD truncation ~h^2 = 1e-12,
// round-off ~1e-16 / h = 1e-10).
TEST_P(SimModel, SiteJacobianMatchesFiniteDifferences) {
  const Model model = gpsx::envs::load_model(model_path(GetParam()));
  const auto& m = model.chain;
  ASSERT_GT(m.nsite, 0);
  const int nv = m.nbody;
  const auto states = gpsx::envs::random_states(model, 20, 5);
  const double h = 1e-6;
  double worst_fd = 0, worst_vel = 0;
  for (int k = 0; k < states.n; ++k) {
    const double* q = &states.q[k * nv];
    const double* qd = &states.qd[k * nv];
    rb::Kinematics<double> kin;
    rb::forward_kinematics(m, q, kin);
    double V[rb::kMaxDof][6];
    rb::body_velocities(m, kin, qd, V);
    for (int s = 0; s < m.nsite; ++s) {
      double x[3], J[3 * rb::kMaxDof], v[3];
      rb::site_position(m, kin, s, x);
      rb::site_jacobian(m, kin, s, x, J);
      rb::site_velocity(m, V, s, x, v);
      for (int j = 0; j < nv; ++j) {
        double qp[rb::kMaxDof], qm[rb::kMaxDof], xp[3], xm[3];
        std::copy(q, q + nv, qp);
        std::copy(q, q + nv, qm);
        qp[j] += h;
        qm[j] -= h;
        rb::Kinematics<double> kp, km;
        rb::forward_kinematics(m, qp, kp);
        rb::forward_kinematics(m, qm, km);
        rb::site_position(m, kp, s, xp);
        rb::site_position(m, km, s, xm);
        for (int r = 0; r < 3; ++r)
          worst_fd = std::max(worst_fd, std::abs((xp[r] - xm[r]) / (2 * h) - J[r * nv + j]));
      }
      for (int r = 0; r < 3; ++r) {
        double jv = 0;
        for (int j = 0; j < nv; ++j) jv += J[r * nv + j] * qd[j];
        worst_vel = std::max(worst_vel, std::abs(jv - v[r]));
      }
    }
  }
  EXPECT_LE(worst_fd, 1e-7);
  EXPECT_LE(worst_vel, 1e-12);
}

// Stepping in float stays close to double over one control step from the conditions.
TEST_P(SimModel, FloatStepTracksDouble) {
  const Model model = gpsx::envs::load_model(model_path(GetParam()));
  const auto mf = gpsx::envs::cast_chain<float>(model.chain);
  const int nv = model.nv(), nu = model.nu();
  const auto states = gpsx::envs::random_states(model, 64, 9);
  std::vector<double> q = states.q, qd = states.qd, ctrl(64 * std::max(nu, 1), 0.3);
  std::vector<float> qf(q.begin(), q.end()), qdf(qd.begin(), qd.end()),
      ctrlf(ctrl.begin(), ctrl.end());
  gpsx::envs::StepOptions opt;
  opt.dt = model.timestep;
  opt.substeps = 5;
  const auto ex = gpsx::cpu_executor(1);
  gpsx::envs::step(ex, model.chain, opt, 64, q.data(), qd.data(), ctrl.data(),
                   static_cast<double*>(nullptr), static_cast<std::uint32_t*>(nullptr));
  gpsx::envs::step(ex, mf, opt, 64, qf.data(), qdf.data(), ctrlf.data(),
                   static_cast<float*>(nullptr), static_cast<std::uint32_t*>(nullptr));
  double worst = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    worst = std::max(worst, std::abs(q[i] - qf[i]) / std::max(1.0, std::abs(q[i])));
    worst = std::max(worst, std::abs(qd[i] - qdf[i]) / std::max(1.0, std::abs(qd[i])));
  }
  EXPECT_LE(worst, 1e-4) << "nv " << nv;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}
INSTANTIATE_TEST_SUITE_P(Models, SimModel,
                         ::testing::Values("pointmass.xml", "reacher2.xml", "arm7.xml",
                                           "testchain.xml"),
                         param_name);

// Frictionless arm (damping off, gravity on), zero torque, RK4, from a random state with
// joint speeds up to 2 rad/s. Documented bound on the energy drift, relative to
// max(1 J, |E0|): 1e-3 over 10 s at the model's 10 ms step (observed 8.4e-5) and 1e-7 over
// 2 s at 1 ms (observed 1.2e-9): the drift falls like dt^4, as RK4's should.
double rk4_energy_drift(double dt, int steps) {
  Model model = gpsx::envs::load_model(model_path("arm7.xml"));
  auto& m = model.chain;
  for (int i = 0; i < m.nbody; ++i) m.damping[i] = 0;
  m.gravity[2] = -9.81;
  const auto s = gpsx::envs::random_states(model, 1, 21);
  std::vector<double> q = s.q, qd = s.qd, tau(m.nbody, 0.0), qacc(m.nbody);
  const double e0 = rb::total_energy(m, q.data(), qd.data());
  double worst = 0;
  for (int t = 0; t < steps; ++t) {
    EXPECT_EQ(rb::integrate(m, int(rb::kRk4), dt, tau.data(), q.data(), qd.data(), qacc.data()), 0u);
    worst = std::max(worst, std::abs(rb::total_energy(m, q.data(), qd.data()) - e0));
  }
  const double rel = worst / std::max(1.0, std::abs(e0));
  std::printf("RK4 dt %g, %g s: energy drift %.3g J (relative %.3g, E0 %.4g J)\n", dt, dt * steps,
              worst, rel, e0);
  return rel;
}

TEST(SimEnergy, Rk4ConservesEnergyOfFrictionlessArm) {
  EXPECT_LE(rk4_energy_drift(0.01, 1000), 1e-3);
  EXPECT_LE(rk4_energy_drift(0.001, 2000), 1e-7);
}

// With damping on, energy never increases under zero torque (Euler, implicit damping).
TEST(SimEnergy, DampedArmLosesEnergy) {
  const Model model = gpsx::envs::load_model(model_path("arm7.xml"));
  const auto& m = model.chain;
  const auto s = gpsx::envs::random_states(model, 1, 4);
  std::vector<double> q = s.q, qd = s.qd, tau(m.nbody, 0.0), qacc(m.nbody);
  double e = rb::total_energy(m, q.data(), qd.data());
  const double e0 = e;
  for (int t = 0; t < 200; ++t) {
    rb::integrate(m, int(rb::kEuler), 1e-3, tau.data(), q.data(), qd.data(), qacc.data());
    const double en = rb::total_energy(m, q.data(), qd.data());
    EXPECT_LE(en, e + 1e-9 * std::abs(e0));
    e = en;
  }
  EXPECT_LT(e, 0.9 * e0);
}

TEST(SimTask, ArmStateLayoutIsTheReferences) {
  const Task t = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  EXPECT_EQ(t.dX(), 26);
  EXPECT_EQ(t.dU(), 7);
  EXPECT_DOUBLE_EQ(t.control_dt(), 0.05);
  EXPECT_FALSE(t.conditions.empty());
  const Task r = gpsx::envs::load_task(gpsx::envs::find_task("reacher2"));
  EXPECT_EQ(r.dX(), 7);
  EXPECT_EQ(r.dU(), 2);
  EXPECT_EQ(r.model.chain.gravity[2], 0.0);
  const Task p = gpsx::envs::load_task(gpsx::envs::find_task("pointmass"));
  EXPECT_EQ(p.dX(), 4);
  EXPECT_EQ(p.dU(), 2);
  EXPECT_EQ(p.model.chain.joint_type[0], rb::kPrismatic);
}

// x = [q, qd, ee points, ee velocities] with the ee blocks equal to site positions and
// J qd, for every condition of the arm.
TEST(SimTask, ObserveAssemblesSensorBlocks) {
  const Task t = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  const auto& m = t.model.chain;
  const int nv = m.nbody, E = static_cast<int>(t.conditions.size()), dX = t.dX();
  std::vector<double> q, qd, x(E * dX);
  for (const auto& c : t.conditions) {
    q.insert(q.end(), c.q0.begin(), c.q0.end());
    for (int i = 0; i < nv; ++i) qd.push_back(0.1 * (i + 1));
  }
  gpsx::envs::observe(gpsx::cpu_executor(2), m, t.sensors, t.ee_sites, E, q.data(), qd.data(),
                      x.data());
  for (int e = 0; e < E; ++e) {
    const double* xe = &x[e * dX];
    for (int i = 0; i < nv; ++i) {
      EXPECT_EQ(xe[i], q[e * nv + i]);
      EXPECT_EQ(xe[nv + i], qd[e * nv + i]);
    }
    rb::Kinematics<double> k;
    rb::forward_kinematics(m, &q[e * nv], k);
    for (size_t p = 0; p < t.ee_sites.size(); ++p) {
      double pt[3], J[3 * rb::kMaxDof];
      rb::site_position(m, k, t.ee_sites[p], pt);
      rb::site_jacobian(m, k, t.ee_sites[p], pt, J);
      for (int r = 0; r < 3; ++r) {
        EXPECT_NEAR(xe[2 * nv + 3 * p + r], pt[r], 1e-15);
        double v = 0;
        for (int j = 0; j < nv; ++j) v += J[r * nv + j] * qd[e * nv + j];
        EXPECT_NEAR(xe[2 * nv + 6 + 3 * p + r], v, 1e-12);
      }
    }
  }
}

// The batched step gives bit-identical results on 1 and several threads, and a long random
// rollout keeps every joint inside its range.
TEST(SimStep, ThreadsAgreeAndLimitsHold) {
  const Task t = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  const auto& m = t.model.chain;
  const int E = 257, nv = m.nbody, nu = m.nu;
  const auto s = gpsx::envs::random_states(t.model, E, 1);
  std::vector<double> q1 = s.q, qd1 = s.qd, q2 = s.q, qd2 = s.qd, ctrl(E * nu);
  std::vector<std::uint32_t> st(E, 0);
  const auto opt = gpsx::envs::step_options(t);
  for (int k = 0; k < 100; ++k) {
    gpsx::envs::random_controls(gpsx::cpu_executor(1), m, 5, k, E, ctrl.data());
    gpsx::envs::step(gpsx::cpu_executor(1), m, opt, E, q1.data(), qd1.data(), ctrl.data(),
                     static_cast<double*>(nullptr), st.data());
    gpsx::envs::step(gpsx::cpu_executor(3), m, opt, E, q2.data(), qd2.data(), ctrl.data(),
                     static_cast<double*>(nullptr), st.data());
  }
  EXPECT_EQ(q1, q2);
  EXPECT_EQ(qd1, qd2);
  for (int e = 0; e < E; ++e) {
    EXPECT_EQ(st[e], 0u);
    for (int i = 0; i < nv; ++i)
      if (m.limited[i]) {
        EXPECT_GE(q1[e * nv + i], m.range[i][0]);
        EXPECT_LE(q1[e * nv + i], m.range[i][1]);
      }
  }
}

// Torques are clamped to the actuator ranges: a huge control acts like the limit.
TEST(SimStep, ControlsAreClampedToLimits) {
  const Model model = gpsx::envs::load_model(model_path("arm7.xml"));
  const auto& m = model.chain;
  std::vector<double> ctrl_big(m.nu, 1e6), ctrl_lim(m.nu), tau_big(m.nbody), tau_lim(m.nbody);
  for (int a = 0; a < m.nu; ++a) ctrl_lim[a] = m.ctrl_range[a][1];
  rb::actuator_torques(m, ctrl_big.data(), tau_big.data());
  rb::actuator_torques(m, ctrl_lim.data(), tau_lim.data());
  EXPECT_EQ(tau_big, tau_lim);
  EXPECT_EQ(tau_lim[0], 30.0);
}

// A singular mass matrix is reported per environment, the others go on.
TEST(SimStep, SingularModelFlagsOnlyItsStatus) {
  Model model = gpsx::envs::load_model(model_path("pointmass.xml"));
  model.chain.mass[1] = 0;
  model.chain.mass[0] = 0;
  for (auto& row : model.chain.inertia) std::fill(row, row + 6, 0.0);
  std::vector<double> q(2 * 2, 0.0), qd(2 * 2, 0.0), tau(2 * 2, 1.0), qacc(2 * 2);
  std::vector<std::uint32_t> st(2, 0);
  gpsx::envs::accelerations(gpsx::cpu_executor(1), model.chain, 2, q.data(), qd.data(), tau.data(),
                            qacc.data(), st.data());
  EXPECT_EQ(st[0], gpsx::kNotPositiveDefinite);
  EXPECT_EQ(st[1], gpsx::kNotPositiveDefinite);
}

}  // namespace

namespace {

// The SIMD-pack path (rb::StepBatchLanes) gives the scalar path's results, including a
// partial last pack and joint-limit handling, for float and double.
template <class T>
void lanes_match_scalar() {
  const Task t = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  const auto m = gpsx::envs::cast_chain<T>(t.model.chain);
  const int E = 37, nv = m.nbody, nu = m.nu;  // 37: not a multiple of the pack width
  const auto s = gpsx::envs::random_states(t.model, E, 2);
  std::vector<T> q1(s.q.begin(), s.q.end()), qd1(s.qd.begin(), s.qd.end()), ctrl(E * nu);
  std::vector<T> q2 = q1, qd2 = qd1, a1(E * nv), a2(E * nv);
  std::vector<std::uint32_t> st1(E, 0), st2(E, 0);
  auto opt = gpsx::envs::step_options(t);
  for (int k = 0; k < 20; ++k) {
    gpsx::envs::random_controls(gpsx::cpu_executor(1), m, 3, k, E, ctrl.data());
    opt.simd = false;
    gpsx::envs::step(gpsx::cpu_executor(1), m, opt, E, q1.data(), qd1.data(), ctrl.data(), a1.data(),
                     st1.data());
    opt.simd = true;
    gpsx::envs::step(gpsx::cpu_executor(2), m, opt, E, q2.data(), qd2.data(), ctrl.data(), a2.data(),
                     st2.data());
  }
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (size_t i = 0; i < q1.size(); ++i) {
    EXPECT_NEAR(q1[i], q2[i], tol * std::max(T(1), std::abs(q1[i])));
    EXPECT_NEAR(qd1[i], qd2[i], tol * std::max(T(1), std::abs(qd1[i])));
    EXPECT_NEAR(a1[i], a2[i], tol * std::max(T(1), std::abs(a1[i])));
  }
  EXPECT_EQ(st1, st2);
}

TEST(SimStep, SimdLanesMatchScalarDouble) { lanes_match_scalar<double>(); }
TEST(SimStep, SimdLanesMatchScalarFloat) { lanes_match_scalar<float>(); }

// A pack with one singular environment falls back to per-environment steps: only that
// environment is flagged.
TEST(SimStep, SimdPackFallbackKeepsStatusPerEnvironment) {
  Model model = gpsx::envs::load_model(model_path("pointmass.xml"));
  const int E = 8, nv = 2;
  std::vector<double> q(E * nv, 0.0), qd(E * nv, 0.0), ctrl(E * 2, 1.0);
  qd[3 * nv] = std::nan("");  // environment 3 gets a NaN velocity
  std::vector<std::uint32_t> st(E, 0);
  gpsx::envs::StepOptions opt;
  opt.simd = true;
  gpsx::envs::step(gpsx::cpu_executor(1), model.chain, opt, E, q.data(), qd.data(), ctrl.data(),
                   static_cast<double*>(nullptr), st.data());
  for (int e = 0; e < E; ++e) EXPECT_EQ(st[e], e == 3 ? gpsx::kNonFinite : 0u) << e;
  EXPECT_NEAR(qd[0], 1.0 / 1.2 * 0.01, 1e-3);  // others moved normally (force 1 on 1.2 kg)
}

}  // namespace

namespace {

// A task can put end-effector points on URDF links, including fixed links that were
// merged into their parent: the point follows the parent with the fixed offset.
TEST(SimTask, EePointsOnMergedUrdfLink) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "gpsx_sim_test_ee_points";
  fs::create_directories(dir);
  fs::copy_file(model_path("testchain.urdf"), dir / "chain.urdf", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "task.yaml")
      << "model: chain.urdf\n"
         "sensors: [JOINT_ANGLES, END_EFFECTOR_POINTS]\n"
         "ee_points:\n  - {name: mount, frame: bracket, pos: [0, 0, 0]}\n"
         "  - {name: tool, frame: hand, pos: [0.1, 0, 0]}\n";
  const Task t = gpsx::envs::load_task((dir / "task.yaml").string());
  ASSERT_EQ(t.ee_sites.size(), 2u);
  EXPECT_EQ(t.dX(), 4 + 6);
  const auto& m = t.model.chain;
  const int upper = 1;  // rail, shoulder (link 'upper'), extend, twist
  ASSERT_EQ(t.model.body_names[upper], "upper");
  EXPECT_EQ(m.site_body[t.ee_sites[0]], upper);
  const double q[4] = {0.1, 0.7, -0.1, 0.4};
  rb::Kinematics<double> k;
  rb::forward_kinematics(m, q, k);
  double x[3], expect[3];
  rb::site_position(m, k, t.ee_sites[0], x);
  const double offset[3] = {0.4, 0, 0};  // joint 'bracket_mount' origin in 'upper'
  for (int r = 0; r < 3; ++r)
    expect[r] = k.p[upper][r] + k.R[upper][3 * r] * offset[0] + k.R[upper][3 * r + 1] * offset[1] +
                k.R[upper][3 * r + 2] * offset[2];
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(x[r], expect[r], 1e-14);
  EXPECT_THROW(gpsx::envs::load_model(model_path("testchain.urdf")).add_site("p", "nolink", offset),
               gpsx::envs::ModelError);
}

}  // namespace

namespace {

TEST(SimStep, DataOverloadChecksShapes) {
  const Model model = gpsx::envs::load_model(model_path("reacher2.xml"));
  gpsx::envs::Data<double> d(model, 3);
  EXPECT_EQ(d.q.size(), 6u);
  for (int e = 0; e < 3; ++e) d.ctrl[e * 2] = 1.0;  // torque on joint 1 only
  gpsx::envs::step(gpsx::cpu_executor(1), model.chain, gpsx::envs::StepOptions{}, d);
  EXPECT_GT(d.qd[0], 0.0);
  EXPECT_EQ(d.status, std::vector<std::uint32_t>(3, 0u));
  d.ctrl.pop_back();
  try {
    gpsx::envs::step(gpsx::cpu_executor(1), model.chain, gpsx::envs::StepOptions{}, d);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Data.ctrl has 5 elements, expected 6"), std::string::npos)
        << e.what();
  }
  // Data's host vectors are never handed to GPU kernels: refused before any launch (an
  // executor that only claims CUDA is enough to show it, with or without a GPU).
  gpsx::Executor cuda_claim = gpsx::cpu_executor(1);
  cuda_claim.backend = gpsx::Backend::kCuda;
  d.ctrl.push_back(0.0);
  try {
    gpsx::envs::step(cuda_claim, model.chain, gpsx::envs::StepOptions{}, d);
    FAIL() << "host Data accepted on a CUDA executor";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Data holds host vectors"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// Batched ee Jacobians (CostFK's END_EFFECTOR_POINT_JACOBIANS) against central differences
// of the assembled END_EFFECTOR_POINTS block, for every arm condition.
TEST(SimTask, EeJacobiansMatchFiniteDifferencesOfObservedPoints) {
  const Task t = gpsx::envs::load_task(gpsx::envs::find_task("arm7"));
  const auto& m = t.model.chain;
  const int nv = m.nbody, nee = static_cast<int>(t.ee_sites.size()), E = static_cast<int>(t.conditions.size());
  std::vector<double> q, J(E * 3 * nee * nv);
  for (const auto& c : t.conditions) q.insert(q.end(), c.q0.begin(), c.q0.end());
  gpsx::envs::ee_jacobians(gpsx::cpu_executor(2), m, t.ee_sites, E, q.data(), J.data());
  const std::vector<int> points = {rb::kEndEffectorPoints};
  const double h = 1e-6;
  double worst = 0;
  for (int j = 0; j < nv; ++j) {
    std::vector<double> qp = q, qm = q, zero(E * nv, 0.0), xp(E * 3 * nee), xm(E * 3 * nee);
    for (int e = 0; e < E; ++e) {
      qp[e * nv + j] += h;
      qm[e * nv + j] -= h;
    }
    gpsx::envs::observe(gpsx::cpu_executor(1), m, points, t.ee_sites, E, qp.data(), zero.data(), xp.data());
    gpsx::envs::observe(gpsx::cpu_executor(1), m, points, t.ee_sites, E, qm.data(), zero.data(), xm.data());
    for (int e = 0; e < E; ++e)
      for (int r = 0; r < 3 * nee; ++r)
        worst = std::max(worst, std::abs((xp[e * 3 * nee + r] - xm[e * 3 * nee + r]) / (2 * h) -
                                         J[(e * 3 * nee + r) * nv + j]));
  }
  EXPECT_LE(worst, 1e-7);
}

}  // namespace
