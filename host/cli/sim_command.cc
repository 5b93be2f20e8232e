// gpsx sim --env NAME --envs E --steps S [--double]: batched random-control rollout.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "gpsx/envs/task.h"
#include "reports.h"

namespace gpsx::cli {

void add_sim_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string env = "arm7";
    std::int64_t envs = 1024;
    int steps = 100;
    bool use_double = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "sim", "Batched rollout with random controls on a shipped environment; prints throughput");
  cmd->add_option("--env", opt->env, "environment name (envs/models/NAME.yaml) or a task .yaml")
      ->capture_default_str();
  cmd->add_option("--envs", opt->envs, "number of environments E")->capture_default_str();
  cmd->add_option("--steps", opt->steps, "control steps (each = substeps physics steps)")
      ->capture_default_str();
  cmd->add_flag("--double", opt->use_double, "simulate in double instead of float");
  cmd->callback([opt, &global] {
    const envs::Task task = envs::load_task(envs::find_task(opt->env));
    const Executor ex = command_executor(global);
    const SimReport r = run_sim(task, ex, opt->envs, opt->steps, !opt->use_double, global.seed);
    std::printf("sim %s (dX %d, dU %d) on %s, %s: %lld envs x %d steps x %d substeps in %.3f s\n",
                task.name.c_str(), task.dX(), task.dU(), r.executor.c_str(),
                opt->use_double ? "double" : "float", static_cast<long long>(r.envs), r.steps,
                r.substeps, r.seconds);
    std::printf("  %.4g env-steps/s (control), %.4g physics steps/s; %lld envs failed\n",
                r.env_steps_per_s, r.physics_steps_per_s, static_cast<long long>(r.failed_envs));
    if (r.failed_envs > 0) throw CLI::RuntimeError(1);
  });
}

}  // namespace gpsx::cli
