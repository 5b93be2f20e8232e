#include <cstdio>

#include "commands.h"
#include "gpsx/envs/data_dir.h"
#include "gpsx/host/build_info.h"
#include "gpsx/host/device.h"
#include "gpsx/policy/torch_info.h"

namespace gpsx::cli {

void add_version_command(CLI::App& app, const GlobalOptions& global) {
  auto* cmd = app.add_subcommand("version", "Print version, build options and devices");
  cmd->callback([&global] {
    const BuildInfo b = build_info();
    const GpuStatus s = gpu_status();
    std::printf("gpsx %s (%s, %s)\n", b.version.c_str(), b.build_type.c_str(),
                b.compiler.c_str());
    if (b.cuda_compiled)
      std::printf("CUDA executor: compiled (architectures %s, runtime %d)\n",
                  b.cuda_architectures.c_str(), s.gpu.runtime_version);
    else
      std::printf("CUDA executor: not compiled\n");
    if (s.gpu.usable)
      std::printf("GPU: %s (compute %d.%d, %.1f GiB), driver %d\n", s.gpu.name.c_str(),
                  s.gpu.compute_major, s.gpu.compute_minor,
                  static_cast<double>(s.gpu.total_memory) / (1 << 30), s.gpu.driver_version);
    else
      std::printf("GPU: none usable: %s\n", s.gpu.reason.c_str());
    std::printf("Torch: %s (CUDA %s)\n", policy::torch_version().c_str(),
                policy::torch_cuda_available() ? "available" : "not available");
    std::printf("Eigen: %s\n", b.eigen_version.c_str());
    const Executor cpu = cpu_executor(global.threads);
    std::printf("CPU threads: %d (hardware %d)\n", cpu.threads, hardware_threads());
    try {
      std::printf("Models: %s\n", envs::models_dir().c_str());
    } catch (const std::exception& e) {
      std::printf("Models: none found: %s\n", e.what());
    }
  });
}

}  // namespace gpsx::cli
