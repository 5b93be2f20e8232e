// The shipped experiments learn (label: slow): `gpsx run` as a user runs it, judged from
// the metrics it writes. The 2-link reacher (the default experiment: 4 conditions x 5
// samples, T = 100) within 10 iterations, for three seeds: every condition's noise-free
// rollout ends within 0.01 m of its target and the samples' mean final distance (over all
// samples) is within 0.05 m; the same with joint targets (rad). The 7-DoF arm's shipped
// settings (15 iterations): every condition's noise-free rollout within 0.05 m, seeds 1-3.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gpsx_test/run_program.h"
#include "gpsx_test/temp_dir.h"

namespace {

namespace fs = std::filesystem;

// metrics.csv as rows of column -> text.
std::vector<std::map<std::string, std::string>> read_metrics(const fs::path& csv) {
  std::ifstream f(csv);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> columns;
  std::stringstream header(line);
  for (std::string c; std::getline(header, c, ',');) columns.push_back(c);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(f, line)) {
    std::map<std::string, std::string> row;
    std::stringstream cells(line);
    std::string cell;
    // The message (last column) may hold commas; the columns used here come before it.
    for (std::size_t i = 0; i + 1 < columns.size() && std::getline(cells, cell, ','); ++i)
      row[columns[i]] = cell;
    rows.push_back(row);
  }
  return rows;
}

struct Final {
  int conditions = 0;
  double worst_noise_free = 0, sample_mean = 0;
  int failed = 0;
};

// The last iteration's rows of a run.
Final final_iteration(const fs::path& run) {
  const auto rows = read_metrics(run / "metrics.csv");
  int last = 0;
  for (const auto& r : rows) last = std::max(last, std::stoi(r.at("iteration")));
  Final f;
  for (const auto& r : rows) {
    if (std::stoi(r.at("iteration")) != last) continue;
    ++f.conditions;
    f.worst_noise_free = std::max(f.worst_noise_free, std::stod(r.at("noise_free_final_distance")));
    f.sample_mean += std::stod(r.at("final_distance_mean"));
    f.failed += r.at("status") == "failed";
  }
  f.sample_mean /= f.conditions;
  return f;
}

// Runs a shipped experiment with `seed`; its last iteration's rows.
Final run_experiment(const std::string& name, int seed, const fs::path& dir) {
  const fs::path out = dir / (name + "-" + std::to_string(seed));
  const auto r = gpsx::test::run_gpsx("run " + name + " --quiet --threads 2 --seed " +
                                      std::to_string(seed) + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? final_iteration(out) : Final{};
}

// (A converged condition whose last LQR failed keeps its previous controller: it is judged
// by its distance like the others.)
TEST(Learning, ReacherReachesEveryTargetWithinTenIterations) {
  gpsx::test::TempDir tmp("learn_reacher");
  for (int seed : {1, 2, 3}) {
    const Final f = run_experiment("reacher2", seed, tmp.path());
    EXPECT_EQ(f.conditions, 4);
    EXPECT_LE(f.worst_noise_free, 0.01) << "seed " << seed << ", failed " << f.failed;
    EXPECT_LE(f.sample_mean, 0.05) << "seed " << seed;
  }
}

TEST(Learning, ReacherWithJointTargetsReachesThem) {
  gpsx::test::TempDir tmp("learn_joints");
  const Final f = run_experiment("reacher2_joints", 1, tmp.path());
  EXPECT_EQ(f.conditions, 4);
  EXPECT_LE(f.worst_noise_free, 0.01) << "failed " << f.failed;  // rad
  EXPECT_LE(f.sample_mean, 0.05);
}

TEST(Learning, ArmReachesEveryTargetWithinItsIterations) {
  gpsx::test::TempDir tmp("learn_arm7");
  for (int seed : {1, 2, 3}) {
    const Final f = run_experiment("arm7", seed, tmp.path());
    EXPECT_EQ(f.conditions, 4);
    EXPECT_LE(f.worst_noise_free, 0.05) << "seed " << seed << ", failed " << f.failed;  // m
  }
}

}  // namespace
