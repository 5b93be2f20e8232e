#include "gpsx/host/sim_sampling.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "gpsx/envs/sim.h"
#include "gpsx/kernels/sim_sampling.h"
#include "gpsx/kernels/sim_sampling_lanes.h"

namespace gpsx::envs {

namespace {

constexpr int kSampleLanes = 4;  // rollouts per SIMD pack (AVX2: 4 doubles)

// Offset of the first block of `kind` in the task's state, -1 when absent.
int block_offset(const Task& task, int kind) {
  for (const StateBlock& b : state_layout(task))
    if (b.name == sensor_name(kind)) return b.offset;
  return -1;
}

const Condition& condition(const Task& task, int m) {
  if (task.conditions.empty())
    throw std::invalid_argument("task " + task.name + " (" + task.path + ") has no conditions");
  return task.conditions[static_cast<std::size_t>(m) % task.conditions.size()];
}

}  // namespace

void ArmRollouts::operator()(const Executor& ex, int M, int N,
                             const sampling::RolloutLinGauss<double, rb::ArmDynamics<double>>& f) const {
  const std::int64_t rollouts = static_cast<std::int64_t>(M) * N;
  if (ex.is_cuda() || !cpu_lanes || rollouts < kSampleLanes) {
    for_each_2d(ex, M, N, f);
    return;
  }
  const rb::RolloutArmLanes<double, kSampleLanes> packs{
      f, rb::convert_model<Lanes<double, kSampleLanes>>(f.dynamics.model), rollouts};
  for_each_cpu(ex.threads, packs.items(rollouts), packs);
}

StateLayout state_layout(const Task& task) {
  StateLayout layout;
  const int nv = task.model.nv();
  const int nee = static_cast<int>(task.ee_sites.size());
  int offset = 0;
  for (int s : task.sensors) {
    const int size = state_size({s}, nv, nee);
    layout.push_back({sensor_name(s), offset, size});
    offset += size;
  }
  return layout;
}

std::vector<double> initial_states(const Task& task, int M, int ee_velocity) {
  const int nv = task.model.nv(), dX = task.dX();
  std::vector<double> q(static_cast<std::size_t>(M) * nv), qd(q.size());
  for (int m = 0; m < M; ++m) {
    const Condition& c = condition(task, m);
    std::copy(c.q0.begin(), c.q0.end(), q.begin() + static_cast<std::ptrdiff_t>(m) * nv);
    std::copy(c.qd0.begin(), c.qd0.end(), qd.begin() + static_cast<std::ptrdiff_t>(m) * nv);
  }
  std::vector<double> x0(static_cast<std::size_t>(M) * dX);
  observe(cpu_executor(1), task.model.chain, task.sensors, task.ee_sites, M, q.data(), qd.data(),
          x0.data(), ee_velocity);
  return x0;
}

void control_limits(const Task& task, std::vector<double>& lo, std::vector<double>& hi) {
  const rb::ChainModel<double>& c = task.model.chain;
  const double inf = std::numeric_limits<double>::infinity();
  lo.assign(c.nu, -inf);
  hi.assign(c.nu, inf);
  for (int a = 0; a < c.nu; ++a)
    if (c.ctrl_limited[a]) {
      lo[a] = c.ctrl_range[a][0];
      hi[a] = c.ctrl_range[a][1];
    }
}

rb::ArmDynamics<double> arm_dynamics(const Task& task, int ee_velocity) {
  rb::ArmDynamics<double> dyn;
  dyn.q_offset = block_offset(task, rb::kJointAngles);
  dyn.qd_offset = block_offset(task, rb::kJointVelocities);
  if (dyn.q_offset < 0 || dyn.qd_offset < 0)
    throw std::invalid_argument("task " + task.name +
                                "'s state needs JOINT_ANGLES and JOINT_VELOCITIES (the "
                                "simulator's state) to be sampled");
  const StepOptions step = step_options(task);
  dyn.model = task.model.chain;
  dyn.dt = step.dt;
  dyn.substeps = step.substeps;
  dyn.integrator = step.integrator;
  dyn.enforce_limits = step.enforce_limits ? 1 : 0;
  dyn.control_dt = task.control_dt();
  dyn.state = sensor_list(dyn.model, task.sensors, task.ee_sites, ee_velocity);
  return dyn;
}

void sample_task(const Executor& ex, const Task& task, const ControllerBatch& ctrl, int N,
                 const SimSamplingOptions& options, SimSamples& out, SamplingWorkspace& ws) {
  const int M = ctrl.M, T = ctrl.T, dX = task.dX(), dU = task.dU();
  if (M <= 0 || N <= 0)
    throw std::invalid_argument("sample_task: M and N must be > 0, got " + std::to_string(M) +
                                ", " + std::to_string(N));
  if (ctrl.dX != dX || ctrl.dU != dU)
    throw std::invalid_argument("sample_task: controller has dX " + std::to_string(ctrl.dX) +
                                ", dU " + std::to_string(ctrl.dU) + "; task " + task.name +
                                " has dX " + std::to_string(dX) + ", dU " + std::to_string(dU));
  const rb::ArmDynamics<double> dyn = arm_dynamics(task, options.ee_velocity);
  const rb::ChainModel<double>& model = task.model.chain;
  const int q_offset = dyn.q_offset, qd_offset = dyn.qd_offset;

  const std::size_t rows = static_cast<std::size_t>(M) * N * T;
  out.M = M;
  out.N = N;
  out.T = T;
  out.dX = dX;
  out.dU = dU;
  out.X.resize(ex, rows * dX);
  out.U.resize(ex, rows * dU);
  out.status.assign(M, 0u);

  const std::vector<double> x0 = initial_states(task, M, options.ee_velocity);
  std::vector<double> lo, hi;
  control_limits(task, lo, hi);
  // Per-condition start states and the limits: allocated and uploaded on the first call,
  // then reused while they stay the same (a run's iterations upload nothing here).
  std::vector<double> inputs(x0);
  inputs.insert(inputs.end(), lo.begin(), lo.end());
  inputs.insert(inputs.end(), hi.begin(), hi.end());
  if (inputs != ws.inputs_host || ws.x0.size() != static_cast<std::int64_t>(x0.size()) ||
      memory_of(ex) != ws.x0.location()) {
    ws.x0.resize(ex, x0.size());
    ws.u_min.resize(ex, dU);
    ws.u_max.resize(ex, dU);
    upload(ex, x0.data(), x0.size(), ws.x0.data());
    upload(ex, lo.data(), lo.size(), ws.u_min.data());
    upload(ex, hi.data(), hi.size(), ws.u_max.data());
    ws.inputs_host = std::move(inputs);
  }
  sample_lin_gauss(ex, ctrl, dyn, N, options.sampling, ws.x0.data(), ws.u_min.data(),
                   ws.u_max.data(), out.X.data(), out.U.data(), out.status.data(), ws,
                   ArmRollouts{options.cpu_lanes});

  out.dO = 0;
  if (!options.obs_sensors.empty()) {
    rb::ObserveSamples<double> f;
    f.model = model;
    f.sensors = sensor_list(model, options.obs_sensors, task.ee_sites, options.ee_velocity);
    f.steps = T;
    f.dX = dX;
    f.dO = state_size(options.obs_sensors, model.nbody, f.sensors.nee);
    f.q_offset = q_offset;
    f.qd_offset = qd_offset;
    f.control_dt = task.control_dt();
    out.dO = f.dO;
    out.obs.resize(ex, rows * f.dO);
    f.X = out.X.data();
    f.obs = out.obs.data();
    for_each(ex, static_cast<std::int64_t>(rows), f);
  }
  out.jac_rows = out.jac_cols = 0;
  if (options.jacobians) {
    out.jac_rows = 3 * static_cast<int>(task.ee_sites.size());
    out.jac_cols = model.nbody;
    out.jac.resize(ex, rows * out.jac_rows * out.jac_cols);
    ee_jacobians(ex, model, task.ee_sites, static_cast<std::int64_t>(rows),
                 out.X.data() + q_offset, out.jac.data(), dX);
  }
  synchronize(ex);
}

CostDesc task_cost(const Task& task, int M) {
  if (!YAML::LoadFile(task.path)["cost"])
    throw ConfigError(task.path + ": task " + task.name +
                      " has no `cost:` section (schema: host/gpsx/host/cost.h)");
  CostDesc desc = load_cost_file(task.path, state_layout(task));
  condition_targets(task, desc, M);
  return desc;
}

void condition_targets(const Task& task, CostDesc& desc, int M) {
  const std::size_t nc = task.conditions.size();
  for (CostTermDesc& t : desc.terms)
    for (CostBlockDesc& b : t.blocks) {
      if (nc > 1 && b.targets.size() == nc) {  // one target per task condition: cycle
        const auto per_task = b.targets;
        b.targets.clear();
        for (int m = 0; m < M; ++m) b.targets.push_back(per_task[m % nc]);
      }
      if (!b.ee_target && !b.joint_target) continue;
      const char* name = b.ee_target ? "ee_target" : "joint_target";
      b.targets.clear();
      for (int m = 0; m < M; ++m) {
        const Condition& c = condition(task, m);
        const std::vector<double>& target = b.ee_target ? c.ee_target : c.joint_target;
        if (target.size() != b.wp.size())
          throw ConfigError(t.where + ": target " + name + " of condition " +
                            std::to_string(m % task.conditions.size()) + " has " +
                            std::to_string(target.size()) + " entries, wp has " +
                            std::to_string(b.wp.size()));
        b.targets.push_back(target);
      }
    }
}

void eval_sample_costs(const Executor& ex, const cost::CostModel<double>& cost,
                       const SimSamples& s, SampleCosts& out, EvalCostWorkspace& ws) {
  const std::size_t mt = static_cast<std::size_t>(s.M) * s.T;
  const std::size_t dxu = static_cast<std::size_t>(s.dX) + s.dU;
  out.cs.resize(ex, mt * s.N);
  out.cc.resize(ex, mt);
  out.cv.resize(ex, mt * dxu);
  out.Cm.resize(ex, mt * dxu * dxu);
  out.status.assign(s.M, 0u);
  eval_cost(ex, cost, s.M, s.N, s.T, s.dX, s.dU, s.X.data(), s.U.data(),
            s.jac_rows > 0 ? s.jac.data() : nullptr, out.cs.data(), out.cc.data(), out.cv.data(),
            out.Cm.data(), out.status.data(), ws);
}

}  // namespace gpsx::envs
