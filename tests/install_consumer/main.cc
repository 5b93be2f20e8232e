// Loads a shipped task from the installed data folder and runs a few batched simulator
// steps on the CPU executor. Exit 0 only when the models came from the installed folder
// and every environment stepped (and moved) without trouble.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/sim.h"
#include "gpsx/envs/task.h"

int main() {
  namespace fs = std::filesystem;
  const std::string dir = gpsx::envs::models_dir();
  const fs::path expected = fs::weakly_canonical(fs::path(GPSX_INSTALLED_DATA_DIR) / "models");
  if (fs::path(dir) != expected) {
    std::fprintf(stderr, "models from %s, expected %s\n", dir.c_str(), expected.c_str());
    return 1;
  }
  const gpsx::envs::Task task = gpsx::envs::load_task(gpsx::envs::find_task("pointmass"));
  const gpsx::Executor ex = gpsx::cpu_executor(2);
  const int E = 16, steps = 5;
  gpsx::envs::Data<double> d(task.model, E);
  for (int e = 0; e < E; ++e)
    for (int i = 0; i < d.nv; ++i) d.q[e * d.nv + i] = task.conditions[e % task.conditions.size()].q0[i];
  double sum0 = 0;
  for (double v : d.q) sum0 += v;
  const gpsx::envs::StepOptions opt = gpsx::envs::step_options(task);
  for (int s = 0; s < steps; ++s) {
    gpsx::envs::random_controls(ex, task.model.chain, 7, s, E, d.ctrl.data());
    gpsx::envs::step(ex, task.model.chain, opt, d);
  }
  int failed = 0;
  double sum = 0;
  for (int e = 0; e < E; ++e) failed += d.status[e] != 0;
  for (double v : d.q) sum += v;
  std::printf("consumer: %s, %d envs x %d steps, %d failed, sum q %.6g\n", task.name.c_str(), E,
              steps, failed, sum);
  return failed == 0 && std::isfinite(sum) && sum != sum0 ? 0 : 1;
}
