// Subcommands of the gpsx program. Each lives in its own file and registers itself on
// the CLI11 app; options common to all (device, threads, seed) are in GlobalOptions.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace gpsx::cli {

struct GlobalOptions {
  std::string device = "auto";  // auto | cpu | cuda
  int threads = 0;              // CPU threads, 0 = all
  std::uint64_t seed = 1;
};

// Each add_* registers one subcommand whose callback does the work.
void add_version_command(CLI::App& app, const GlobalOptions& global);
void add_demo_command(CLI::App& app, const GlobalOptions& global);
// `gpsx sim` and `gpsx model check|qacc`; the work is in envs/ (gpsx_envs).
void add_sim_command(CLI::App& app, const GlobalOptions& global);
void add_model_command(CLI::App& app, const GlobalOptions& global);
}  // namespace gpsx::cli
