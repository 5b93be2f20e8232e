// gpsx: the command-line program. Subcommands live in their own files (commands.h).
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"gpsx: GPU-batched Guided Policy Search"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  app.set_help_all_flag("--help-all", "Print help for all subcommands");

  gpsx::cli::GlobalOptions global;
  app.add_option("--device", global.device, "Executor: auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--threads", global.threads, "CPU threads (0 = all hardware threads)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", global.seed, "Random seed")->capture_default_str();

  gpsx::cli::add_version_command(app, global);
  gpsx::cli::add_demo_command(app, global);
  gpsx::cli::add_sim_command(app, global);
  gpsx::cli::add_model_command(app, global);
  gpsx::cli::add_sample_command(app, global);
  gpsx::cli::add_run_command(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit status; it printed why
  } catch (const CLI::ParseError& e) {
    // A bad flag is bad input: status 2 like a refused config (help and version stay 0).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpsx: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
