// Physics checks against MuJoCo 2.2.2 on the shipped models (label: physics).
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/loaders.h"
#include "gpsx/envs/model_tools.h"
#include "gpsx/envs/sim.h"

namespace {

namespace fs = std::filesystem;
using gpsx::envs::Model;

std::string model_path(const std::string& file) { return gpsx::envs::find_model_file(file); }

class MujocoQacc : public ::testing::TestWithParam<std::string> {};

// Our qacc equals MuJoCo's mj_forward qacc on 1000 random states and torques: relative
// error <= 1e-8 (norm-wise, per state). For the URDF the bound is 1e-7: MuJoCo's URDF
// import stores each link inertia diagonalised by its iterative eigen-solver, which moves
// the inertia entries by up to ~1e-8 relative (seen: 5e-9 in qacc), while our reader
// keeps the file's full inertia exactly.
TEST_P(MujocoQacc, QaccMatchesMuJoCo) {
  const Model model = gpsx::envs::load_model(model_path(GetParam()));
  const double tol = model.format == "urdf" ? 1e-7 : 1e-8;
  const auto states = gpsx::envs::random_states(model, 1000, 7);
  const auto cmp = gpsx::envs::compare_with_mujoco(model, states, tol);
  ASSERT_TRUE(cmp.mujoco_error.empty()) << cmp.mujoco_error;
  EXPECT_EQ(cmp.states, 1000);
  EXPECT_LE(cmp.max_rel_err, tol);
  EXPECT_TRUE(cmp.passed);
  std::printf("%s: max rel err %.3g over %d states\n", GetParam().c_str(), cmp.max_rel_err,
              cmp.states);
}

// 100 physics steps with random controls, same integrator and timestep, joint limits off on
// both sides (MuJoCo's are soft constraints, ours an inelastic stop). Tolerance: 1e-9
// relative to max(1, |x|) on every q and qd at every step; observed ~1e-13 (round-off).
void rollout_against_mujoco(const std::string& file, int integrator) {
  const Model model = gpsx::envs::load_model(file);
  char err[1000] = {0};
  std::unique_ptr<mjModel, void (*)(mjModel*)> m(mj_loadXML(model.source.c_str(), nullptr, err, 1000),
                                                 mj_deleteModel);
  ASSERT_TRUE(m) << err;
  m->opt.disableflags |= mjDSBL_LIMIT;
  m->opt.integrator = integrator == gpsx::rb::kRk4 ? mjINT_RK4 : mjINT_EULER;
  std::unique_ptr<mjData, void (*)(mjData*)> d(mj_makeData(m.get()), mj_deleteData);
  const int nv = model.nv(), nu = model.nu();
  ASSERT_EQ(m->nv, nv);
  ASSERT_EQ(m->nu, nu);

  gpsx::envs::StepOptions opt;
  opt.dt = model.timestep;
  opt.substeps = 1;
  opt.integrator = integrator;
  opt.enforce_limits = false;
  const auto ex = gpsx::cpu_executor(1);
  const auto start = gpsx::envs::random_states(model, 1, 3);
  std::vector<double> q = start.q, qd = start.qd, ctrl(std::max(nu, 1));
  for (int i = 0; i < nv; ++i) {
    d->qpos[i] = q[i];
    d->qvel[i] = qd[i];
  }
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1.2, 1.2);  // also exercises ctrl clamping
  std::uint32_t status = 0;
  double worst = 0;
  for (int t = 0; t < 100; ++t) {
    for (int a = 0; a < nu; ++a) {
      const double lo = m->actuator_ctrllimited[a] ? m->actuator_ctrlrange[2 * a] : -1;
      const double hi = m->actuator_ctrllimited[a] ? m->actuator_ctrlrange[2 * a + 1] : 1;
      ctrl[a] = 0.5 * (lo + hi) + u(rng) * 0.5 * (hi - lo);
      d->ctrl[a] = ctrl[a];
    }
    mj_step(m.get(), d.get());
    gpsx::envs::step(ex, model.chain, opt, 1, q.data(), qd.data(), ctrl.data(),
                     static_cast<double*>(nullptr), &status);
    for (int i = 0; i < nv; ++i) {
      worst = std::max(worst, std::abs(q[i] - d->qpos[i]) / std::max(1.0, std::abs(d->qpos[i])));
      worst = std::max(worst, std::abs(qd[i] - d->qvel[i]) / std::max(1.0, std::abs(d->qvel[i])));
    }
  }
  EXPECT_EQ(status, 0u);
  EXPECT_LE(worst, 1e-9) << file;
  std::printf("%s %s: 100-step max deviation %.3g\n", fs::path(file).filename().c_str(),
              integrator == gpsx::rb::kRk4 ? "RK4" : "Euler", worst);
}

class MujocoRollout : public ::testing::TestWithParam<std::string> {};
TEST_P(MujocoRollout, EulerRolloutTracksMuJoCo) {
  rollout_against_mujoco(model_path(GetParam()), gpsx::rb::kEuler);
}
TEST_P(MujocoRollout, Rk4RolloutTracksMuJoCo) {
  rollout_against_mujoco(model_path(GetParam()), gpsx::rb::kRk4);
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// The URDF goes through our URDF reader and through MuJoCo's own URDF import.
INSTANTIATE_TEST_SUITE_P(Models, MujocoQacc,
                         ::testing::Values("pointmass.xml", "reacher2.xml", "arm7.xml",
                                           "testchain.xml", "testchain.urdf"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Models, MujocoRollout,
                         ::testing::Values("pointmass.xml", "reacher2.xml", "arm7.xml",
                                           "testchain.xml"),
                         param_name);

// A branching tree (two arms on one base, one welded branch with mass), with unnamed
// joints: the same algorithms walk parent indices, and dofs follow MuJoCo's joint ids.
TEST(MujocoTree, BranchingModelMatchesMuJoCo) {
  const fs::path p = fs::temp_directory_path() / "gpsx_rigid_body_tree.xml";
  std::ofstream(p) << R"(<mujoco><compiler angle="radian" inertiafromgeom="false"/>
    <option timestep="0.01" gravity="0 0 -9.81"><flag contact="disable"/></option>
    <worldbody><body name="base" pos="0 0 0.5">
      <joint type="hinge" axis="0 0 1" damping="0.2"/>
      <inertial pos="0 0 0.05" mass="3" diaginertia="0.05 0.05 0.03"/>
      <body name="left" pos="0 0.2 0" euler="0.2 0 0">
        <joint type="hinge" axis="0 1 0" pos="0 0 0.03" armature="0.01"/>
        <inertial pos="0.15 0 0" mass="1" fullinertia="0.002 0.01 0.01 0.0005 0 0"/>
        <body name="left_tip" pos="0.3 0 0">
          <joint name="left_slide" type="slide" axis="1 0 0" damping="0.1"/>
          <inertial pos="0.05 0 0" mass="0.3" diaginertia="1e-3 1e-3 1e-3"/>
        </body>
      </body>
      <body name="right" pos="0 -0.2 0">
        <joint name="right_roll" type="hinge" axis="1 0 0"/>
        <inertial pos="0.1 -0.05 0" mass="0.8" diaginertia="0.004 0.006 0.005"/>
        <body name="right_weld" pos="0.2 0 0" quat="0.9 0 0.1 0.4">
          <inertial pos="0.02 0.01 0" mass="0.4" fullinertia="0.001 0.002 0.0015 0.0001 0 0.0002"/>
          <body name="right_tip" pos="0.1 0 0">
            <joint name="right_flex" type="hinge" axis="0 0 1"/>
            <inertial pos="0.05 0 0" mass="0.2" diaginertia="2e-4 5e-4 5e-4"/>
          </body>
        </body>
      </body>
    </body></worldbody>
    <actuator><motor joint="right_flex" gear="2"/></actuator></mujoco>)";
  const Model model = gpsx::envs::load_model(p.string());
  ASSERT_EQ(model.nv(), 5);
  EXPECT_EQ(model.chain.parent[1], 0);
  EXPECT_EQ(model.chain.parent[3], 0);  // 'right' hangs off 'base' beside 'left'
  const auto cmp = gpsx::envs::compare_with_mujoco(model, gpsx::envs::random_states(model, 1000, 17));
  ASSERT_TRUE(cmp.mujoco_error.empty()) << cmp.mujoco_error;
  EXPECT_LE(cmp.max_rel_err, 1e-8);
  rollout_against_mujoco(p.string(), gpsx::rb::kEuler);
  rollout_against_mujoco(p.string(), gpsx::rb::kRk4);
}

}  // namespace
