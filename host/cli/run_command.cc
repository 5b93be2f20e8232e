// gpsx run CONFIG [--set key.path=value]... [--out DIR] [--seed S] [--device D] [--threads T]
// gpsx run --resume RUN_DIR
// An experiment (gpsx/run/runner.h); exit status 0, 2 for a refused config / flag /
// checkpoint, 130 when interrupted, 1 for other errors.
#include <memory>

#include "commands.h"
#include "gpsx/run/runner.h"

namespace gpsx::cli {

void add_run_command(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<run::RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a GPS experiment (TrajOpt) from a config, or resume one: progress on stdout, "
             "metrics, checkpoints and the resolved config in the run directory");
  cmd->add_option("config", opt->config,
                  "experiment: a shipped name (gpsx run reacher2) or a .yaml file");
  cmd->add_option("--set", opt->sets, "override a config value: key.path=value (repeatable)");
  cmd->add_option("--out", opt->out, "run directory (default runs/<name>-<UTC time>)");
  cmd->add_option("--resume", opt->resume, "continue the run in RUN_DIR from its newest checkpoint");
  cmd->add_flag("--quiet", opt->quiet, "no progress on stdout (progress.log still has it)");
  cmd->footer("The global options --device, --threads and --seed (before or after `run`) pick the "
              "executor, its CPU threads and the seed (default: the config's). Exit status: 0 "
              "done, 2 refused config / flag / checkpoint (nothing written), 130 interrupted "
              "(resume with --resume RUN_DIR), 1 other errors.");
  cmd->callback([opt, &global, &app] {
    run::RunOptions o = *opt;
    o.device = global.device;
    if (app.get_option("--seed")->count() > 0) o.seed = global.seed;
    if (app.get_option("--threads")->count() > 0) o.threads = global.threads;
    run::install_stop_handlers();
    const int code = run::run_experiment(o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace gpsx::cli
