// Subcommands of the gpsx program. Each lives in its own file and registers itself on
// the CLI11 app; options common to all (device, threads, seed) are in GlobalOptions.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <string>

#include "gpsx/host/device.h"

namespace gpsx::cli {

struct GlobalOptions {
  std::string device = "auto";  // auto | cpu | cuda
  int threads = 0;              // CPU threads, 0 = all
  std::uint64_t seed = 1;
};

// The executor --device and --threads ask for (gpsx::make_executor); prints the notice
// when auto falls back to the CPU.
inline Executor command_executor(const GlobalOptions& global) {
  std::string notice;
  const Executor ex = make_executor(parse_device(global.device), global.threads, &notice);
  if (!notice.empty()) std::printf("%s\n", notice.c_str());
  return ex;
}

// Each add_* registers one subcommand whose callback does the work.
void add_version_command(CLI::App& app, const GlobalOptions& global);
void add_demo_command(CLI::App& app, const GlobalOptions& global);
// `gpsx sim` and `gpsx model check|qacc` (simulator and models: gpsx_envs).
void add_sim_command(CLI::App& app, const GlobalOptions& global);
void add_model_command(CLI::App& app, const GlobalOptions& global);
// `gpsx sample`: controllers sampled on the simulator (gpsx_algorithms).
void add_sample_command(CLI::App& app, const GlobalOptions& global);
// `gpsx run`: experiments, their run directories and resume (gpsx_run).
void add_run_command(CLI::App& app, const GlobalOptions& global);
}  // namespace gpsx::cli
