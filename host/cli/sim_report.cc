#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "gpsx/envs/sim.h"
#include "gpsx/host/buffer.h"
#include "reports.h"

namespace gpsx::cli {

namespace {

template <class T>
SimReport run_sim_typed(const envs::Task& task, const Executor& ex, std::int64_t E, int steps,
                        std::uint64_t seed) {
  const rb::ChainModel<T> model = envs::cast_chain<T>(task.model.chain);
  const int nv = model.nbody, nu = model.nu;
  Buffer<T> q0("q0", {E, nv}), qd0("qd0", {E, nv});  // host
  if (!task.conditions.empty())
    for (std::int64_t e = 0; e < E; ++e) {
      const envs::Condition& c = task.conditions[e % task.conditions.size()];
      for (int i = 0; i < nv; ++i) {
        q0[e * nv + i] = T(c.q0[i]);
        qd0[e * nv + i] = T(c.qd0[i]);
      }
    }
  Buffer<T> q(ex, "q", {E, nv}), qd(ex, "qd", {E, nv});       // (E x nv)
  q.copy_from(q0);
  qd.copy_from(qd0);
  Buffer<T> ctrl(ex, "ctrl", {E, std::max(nu, 1)});           // (E x nu)
  Buffer<std::uint32_t> status(ex, "status", {E});            // (E), zero-filled
  const envs::StepOptions opt = envs::step_options(task);
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    envs::random_controls(ex, model, seed, static_cast<std::uint64_t>(s), E, ctrl.data());
    envs::step(ex, model, opt, E, q.data(), qd.data(), ctrl.data(), static_cast<T*>(nullptr),
               status.data());
  }
  synchronize(ex);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SimReport r;
  r.executor = ex.describe();
  r.envs = E;
  r.steps = steps;
  r.substeps = opt.substeps;
  r.seconds = secs;
  r.env_steps_per_s = secs > 0 ? double(E) * steps / secs : 0;
  r.physics_steps_per_s = r.env_steps_per_s * opt.substeps;
  const Buffer<std::uint32_t> st = status.to(Location::kHost);
  for (std::int64_t e = 0; e < E; ++e) r.failed_envs += st[e] != 0;
  const Buffer<T> qf = q.to(Location::kHost);
  double sum = 0;
  for (std::int64_t e = 0; e < E; ++e) sum += qf[e * nv];
  r.mean_final_q0 = sum / double(E);
  return r;
}

}  // namespace

SimReport run_sim(const envs::Task& task, const Executor& ex, std::int64_t envs, int steps,
                  bool use_float, std::uint64_t seed) {
  if (envs < 1) throw std::invalid_argument("--envs must be >= 1, got " + std::to_string(envs));
  if (steps < 1) throw std::invalid_argument("--steps must be >= 1, got " + std::to_string(steps));
  return use_float ? run_sim_typed<float>(task, ex, envs, steps, seed)
                   : run_sim_typed<double>(task, ex, envs, steps, seed);
}

}  // namespace gpsx::cli
