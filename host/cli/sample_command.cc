// gpsx sample --env NAME --samples N [--conditions M] [--steps T] [--init lqr|pd]:
// linear-Gaussian controllers sampled on the simulator, then the task's cost.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "gpsx/envs/task.h"
#include "reports.h"

namespace gpsx::cli {

void add_sample_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string env = "arm7";
    int samples = 5;
    int conditions = 0;  // 0: the task's conditions
    int steps = 100;
    std::string init = "lqr";
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "sample", "Sample initial linear-Gaussian controllers on an environment; prints samples/s "
                "and the mean cost per condition");
  cmd->add_option("--env", opt->env, "environment name (envs/models/NAME.yaml) or a task .yaml")
      ->capture_default_str();
  cmd->add_option("--samples", opt->samples, "samples N per condition")->required();
  cmd->add_option("--conditions", opt->conditions,
                  "conditions M (the task's, cycled; default: as many as the task has)");
  cmd->add_option("--steps", opt->steps, "time steps T per sample")->capture_default_str();
  cmd->add_option("--init", opt->init, "initial controller: lqr (init_lqr) or pd (init_pd)")
      ->check(CLI::IsMember({"lqr", "pd"}))
      ->capture_default_str();
  cmd->callback([opt, &global] {
    const envs::Task task = envs::load_task(envs::find_task(opt->env));
    const Executor ex = command_executor(global);
    if (opt->conditions < 0)
      throw std::invalid_argument("--conditions must be >= 1, got " + std::to_string(opt->conditions));
    const int M = opt->conditions > 0 ? opt->conditions : static_cast<int>(task.conditions.size());
    const SampleReport r =
        run_sample(task, ex, M, opt->samples, opt->steps, opt->init, global.seed);
    std::printf("sample %s (dX %d, dU %d) on %s, init_%s: %d conditions x %d samples x %d steps "
                "in %.3f s: %.4g samples/s (steps incl. controller and noise)\n",
                task.name.c_str(), task.dX(), task.dU(), r.executor.c_str(), opt->init.c_str(),
                r.M, r.N, r.T, r.seconds, r.samples_per_s);
    int failed = 0;
    for (int m = 0; m < r.M; ++m) {
      std::printf("  condition %d: mean cost %.6g%s\n", m, r.mean_cost[m],
                  r.status[m] ? " (FAILED: non-finite or invalid)" : "");
      failed += r.status[m] != 0;
    }
    if (failed > 0) throw CLI::RuntimeError(1);
  });
}

}  // namespace gpsx::cli
