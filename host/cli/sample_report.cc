#include <chrono>
#include <stdexcept>

#include "gpsx/host/cost.h"
#include "gpsx/host/lin_gauss.h"
#include "gpsx/host/sim_sampling.h"
#include "reports.h"

namespace gpsx::cli {

namespace {

// init_lqr / init_pd read x0 as [q (dU); qd (dU); ...] (pitfall 18): the state must start
// with the joint angles, then the velocities, of dU actuated joints.
bool starts_with_q_then_qd(const envs::Task& task) {
  const StateLayout layout = envs::state_layout(task);
  const int nv = task.model.nv();
  return nv == task.dU() && layout.size() >= 2 &&
         layout[0].name == envs::sensor_name(rb::kJointAngles) && layout[0].offset == 0 &&
         layout[1].name == envs::sensor_name(rb::kJointVelocities) && layout[1].offset == nv;
}

}  // namespace

SampleReport run_sample(const envs::Task& task, const Executor& ex, int M, int N, int T,
                        const std::string& init, std::uint64_t seed) {
  if (M < 1) throw std::invalid_argument("--conditions must be >= 1, got " + std::to_string(M));
  if (N < 1) throw std::invalid_argument("--samples must be >= 1, got " + std::to_string(N));
  if (T < 1) throw std::invalid_argument("--steps must be >= 1, got " + std::to_string(T));
  if (init != "lqr" && init != "pd")
    throw std::invalid_argument("--init must be lqr or pd, got '" + init + "'");
  const int dX = task.dX(), dU = task.dU(), nv = task.model.nv();
  envs::SimSamplingOptions options;
  options.sampling.seed = seed;
  const CostTable table = compile_cost(envs::task_cost(task, M), dX, dU, M);
  options.jacobians = table.has_fk();

  if (!starts_with_q_then_qd(task))
    throw std::invalid_argument("--init " + init + " needs a state that starts with the " +
                                std::to_string(dU) + " joint angles then velocities of the " +
                                "actuated joints; task " + task.name + " does not");
  const std::vector<double> x0 = envs::initial_states(task, M, options.ee_velocity);
  ControllerBatch ctrl(ex, M, T, dX, dU);
  std::vector<std::uint32_t> init_status(M);
  if (init == "lqr") {
    lingauss::LqrInitSettings<double> s;
    s.dt = task.control_dt();
    const std::vector<double> gains(dU, 1.0), acc(dU, 0.0);
    init_lqr(ex, s, x0.data(), gains.data(), acc.data(), ctrl, init_status.data());
  } else {
    init_pd(ex, lingauss::PdInitSettings<double>{}, nv, x0.data(), ctrl, init_status.data());
  }

  envs::SimSamples samples;
  SamplingWorkspace ws;
  const auto t0 = std::chrono::steady_clock::now();
  envs::sample_task(ex, task, ctrl, N, options, samples, ws);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  CostModelStorage cost = make_cost_model(ex, table);
  envs::SampleCosts costs;
  EvalCostWorkspace cws;
  envs::eval_sample_costs(ex, cost.model, samples, costs, cws);
  std::vector<double> cs(costs.cs.size());
  download(ex, costs.cs.data(), cs.size(), cs.data());

  SampleReport r;
  r.executor = ex.describe();
  r.M = M;
  r.N = N;
  r.T = T;
  r.seconds = secs;
  r.samples_per_s = secs > 0 ? double(M) * N * T / secs : 0;
  r.mean_cost.assign(M, 0.0);
  r.status.resize(M);
  for (int m = 0; m < M; ++m) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(N) * T; ++i)
      r.mean_cost[m] += cs[static_cast<std::size_t>(m) * N * T + i] / N;
    r.status[m] = init_status[m] | samples.status[m] | costs.status[m];
  }
  return r;
}

}  // namespace gpsx::cli
