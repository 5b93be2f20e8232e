// gpsx model check FILE [--states N] | gpsx model qacc FILE --in STATES.csv --out QACC.csv
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "gpsx/envs/loaders.h"
#include "gpsx/envs/model_tools.h"
#include "gpsx/envs/sim.h"
#include "gpsx/envs/task.h"

namespace gpsx::cli {

void add_model_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string file;
    int states = 1000;
    double tolerance = 0;  // 0: 1e-8 for MJCF, 1e-7 for URDF (MuJoCo rounds its inertias)
    std::vector<std::string> sensors;
    std::vector<std::string> ee_sites;
    std::string in, out;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("model", "Inspect and check a robot model (MJCF or URDF)");
  cmd->require_subcommand(1);

  CLI::App* check = cmd->add_subcommand(
      "check", "Summary of the model and our forward dynamics against MuJoCo's on random states");
  check->add_option("FILE", opt->file, "MJCF (.xml) or URDF (.urdf) file")->required();
  check->add_option("--states", opt->states, "random states to compare")->capture_default_str();
  check->add_option("--tolerance", opt->tolerance,
                    "max relative error to pass (default 1e-8 MJCF, 1e-7 URDF: MuJoCo's URDF "
                    "import diagonalises inertias to ~1e-8)");
  check->add_option("--sensors", opt->sensors,
                    "state blocks for dX, e.g. JOINT_ANGLES,JOINT_VELOCITIES,END_EFFECTOR_POINTS")
      ->delimiter(',');
  check->add_option("--ee-sites", opt->ee_sites, "sites used as end-effector points (default: all)")
      ->delimiter(',');
  check->callback([opt, &global] {
    envs::Model model = envs::load_model(opt->file);
    std::vector<int> sensors;
    for (const auto& name : opt->sensors) sensors.push_back(envs::parse_sensor(name));
    for (const auto& name : opt->ee_sites) model.attach_site(name);  // as a task would
    envs::print_summary(model, std::cout, sensors,
                        opt->ee_sites.empty() ? -1 : static_cast<int>(opt->ee_sites.size()));
    const auto states = envs::random_states(model, opt->states, global.seed);
    const double tol = opt->tolerance > 0 ? opt->tolerance : model.format == "urdf" ? 1e-7 : 1e-8;
    const auto cmp = envs::compare_with_mujoco(model, states, tol);
    if (!cmp.mujoco_error.empty()) {
      std::printf("forward dynamics vs MuJoCo: not compared (%s)\n", cmp.mujoco_error.c_str());
      throw CLI::RuntimeError(2);
    }
    std::printf("forward dynamics vs MuJoCo mj_forward on %d random states: max rel err %.3g "
                "(tolerance %.1g): %s\n",
                cmp.states, cmp.max_rel_err, cmp.tolerance, cmp.passed ? "PASS" : "FAIL");
    if (!cmp.passed) throw CLI::RuntimeError(1);
  });

  CLI::App* qacc = cmd->add_subcommand(
      "qacc", "Our forward dynamics on CSV rows of (q, qdot, tau) with a header -> qacc rows");
  qacc->add_option("FILE", opt->file, "MJCF (.xml) or URDF (.urdf) file")->required();
  qacc->add_option("--in", opt->in, "input CSV: header, then rows of q, qdot, tau")->required();
  qacc->add_option("--out", opt->out, "output CSV (written atomically)")->required();
  qacc->callback([opt, &global] {
    const envs::Model model = envs::load_model(opt->file);
    const int rows = envs::qacc_csv(model, cpu_executor(global.threads), opt->in, opt->out);
    std::printf("wrote %d rows of qacc (%d joints) to %s\n", rows, model.nv(), opt->out.c_str());
  });
}

}  // namespace gpsx::cli
