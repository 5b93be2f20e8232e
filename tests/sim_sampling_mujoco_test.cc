// Simulated samples against MuJoCo, the reference agent's simulator (label: physics):
// the sampled controls replayed in MuJoCo (substeps x mj_step per control step) give the
// sampled states, and the state built the reference agent's way (qpos, qvel, site_xpos,
// (site_xpos - previous) / dt, zeros at t = 0) equals the sampled one. Joint ranges are
// off on both sides, as in rigid_body_test's rollouts.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gpsx/host/sim_sampling.h"
#include "gpsx/envs/task.h"

namespace {

namespace rb = gpsx::rb;

// Tolerance 1e-8 relative to max(1, |x|) per entry: the simulator tracks MuJoCo to ~1e-13
// per physics step (rigid_body_test), and the velocity difference divides by dt = 0.05;
// observed 1e-14.
void replay_in_mujoco(const std::string& name) {
  // joint ranges off on both sides (MuJoCo's are soft constraints, ours an inelastic stop)
  gpsx::envs::Task task = gpsx::envs::load_task(gpsx::envs::find_task(name));
  for (int i = 0; i < task.model.nv(); ++i) task.model.chain.limited[i] = 0;
  const int M = static_cast<int>(task.conditions.size()), N = 3, T = 25;
  const int nv = task.model.nv(), nu = task.model.nu(), dX = task.dX(), dU = task.dU();
  const int nee = static_cast<int>(task.ee_sites.size());
  ASSERT_EQ(task.sensors, (std::vector<int>{rb::kJointAngles, rb::kJointVelocities,
                                            rb::kEndEffectorPoints,
                                            rb::kEndEffectorPointVelocities}));
  const gpsx::Executor ex = gpsx::cpu_executor(0);
  gpsx::ControllerBatch ctrl(ex, M, T, dX, dU);
  const auto x0 = gpsx::envs::initial_states(task, M, rb::kEeVelocityDifference);
  std::vector<std::uint32_t> st(M);
  gpsx::lingauss::LqrInitSettings<double> lqr;
  lqr.dt = task.control_dt();
  gpsx::init_lqr(ex, lqr, x0.data(), std::vector<double>(dU, 1.0).data(),
                 std::vector<double>(dU, 0.0).data(), ctrl, st.data());
  gpsx::envs::SimSamples s;
  gpsx::SamplingWorkspace ws;
  gpsx::envs::SimSamplingOptions opt;
  opt.sampling.seed = 5;
  gpsx::envs::sample_task(ex, task, ctrl, N, opt, s, ws);
  for (auto v : s.status) ASSERT_EQ(v, 0u);

  char err[1000] = {0};
  std::unique_ptr<mjModel, void (*)(mjModel*)> m(
      mj_loadXML(task.model.source.c_str(), nullptr, err, 1000), mj_deleteModel);
  ASSERT_TRUE(m) << err;
  m->opt.disableflags |= mjDSBL_LIMIT;
  ASSERT_EQ(m->nv, nv);
  ASSERT_EQ(m->nu, nu);
  std::vector<int> site_ids;
  for (int p = 0; p < nee; ++p) {
    site_ids.push_back(mj_name2id(m.get(), mjOBJ_SITE,
                                  task.model.site_names[task.ee_sites[p]].c_str()));
    ASSERT_GE(site_ids.back(), 0);
  }
  std::unique_ptr<mjData, void (*)(mjData*)> d(mj_makeData(m.get()), mj_deleteData);
  const double dt = task.control_dt();
  const int layout_q = 0, layout_qd = nv, layout_p = 2 * nv, layout_v = 2 * nv + 3 * nee;
  double worst = 0;
  std::vector<double> x(dX), prev(3 * nee);
  for (int r = 0; r < M * N; ++r) {
    const double* X = s.X.data() + static_cast<std::size_t>(r) * T * dX;
    const double* U = s.U.data() + static_cast<std::size_t>(r) * T * dU;
    mj_resetData(m.get(), d.get());
    for (int i = 0; i < nv; ++i) {
      d->qpos[i] = X[layout_q + i];
      d->qvel[i] = X[layout_qd + i];
    }
    mj_kinematics(m.get(), d.get());
    for (int t = 0; t < T; ++t) {
      for (int i = 0; i < nv; ++i) {
        x[layout_q + i] = d->qpos[i];
        x[layout_qd + i] = d->qvel[i];
      }
      for (int p = 0; p < nee; ++p)
        for (int k = 0; k < 3; ++k) {
          const double pt = d->site_xpos[3 * site_ids[p] + k];
          x[layout_p + 3 * p + k] = pt;
          x[layout_v + 3 * p + k] = t == 0 ? 0.0 : (pt - prev[3 * p + k]) / dt;
          prev[3 * p + k] = pt;
        }
      for (int i = 0; i < dX; ++i)
        worst = std::max(worst, std::abs(x[i] - X[t * dX + i]) / std::max(1.0, std::abs(x[i])));
      for (int a = 0; a < nu; ++a) d->ctrl[a] = U[t * dU + a];
      for (int k = 0; k < task.substeps; ++k) mj_step(m.get(), d.get());
      mj_kinematics(m.get(), d.get());  // site_xpos of the new state
    }
  }
  std::printf("%s: %d samples x %d steps replayed in MuJoCo, max deviation %.3g\n",
              name.c_str(), M * N, T, worst);
  EXPECT_LE(worst, 1e-8);
}

TEST(SimSamplingMujoco, ArmSamplesReplayInMuJoCo) { replay_in_mujoco("arm7"); }

}  // namespace
