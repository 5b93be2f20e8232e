// The `gpsx sim`, `gpsx model` and `gpsx sample` commands (label: unit): the numbers they
// return and print, and the program's exit codes and messages for good and bad flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "commands.h"
#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/model.h"
#include "gpsx/envs/task.h"
#include "gpsx/host/cost.h"
#include "gpsx_test/run_program.h"
#include "reports.h"

namespace {

using ::testing::HasSubstr;
using gpsx::test::run_gpsx;

// Runs `gpsx ARGS...` in this process with the sim, model and sample commands registered
// (CPU executor, 2 threads); returns what the command printed.
std::string run(std::vector<std::string> args) {
  gpsx::cli::GlobalOptions global;
  global.device = "cpu";
  global.threads = 2;
  CLI::App app("gpsx");
  gpsx::cli::add_sim_command(app, global);
  gpsx::cli::add_model_command(app, global);
  gpsx::cli::add_sample_command(app, global);
  args.insert(args.begin(), "gpsx");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  testing::internal::CaptureStdout();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (...) {
    testing::internal::GetCapturedStdout();
    throw;
  }
  return testing::internal::GetCapturedStdout();
}

std::string model(const std::string& file) { return gpsx::envs::find_model_file(file); }
gpsx::envs::Task task(const std::string& name) {
  return gpsx::envs::load_task(gpsx::envs::find_task(name));
}

// Numbers printed as %g (a non-finite one does not match).
const std::string kNum = R"(([0-9][0-9.]*(?:e[+-][0-9]+)?))";

TEST(SimReport, CountsRatesAndAChecksumOfTheFinalState) {
  const gpsx::envs::Task t = task("arm7");
  const auto r = gpsx::cli::run_sim(t, gpsx::cpu_executor(2), 128, 10, true, 1);
  EXPECT_EQ(r.envs, 128);
  EXPECT_EQ(r.steps, 10);
  EXPECT_EQ(r.substeps, t.substeps);
  EXPECT_EQ(r.failed_envs, 0);
  EXPECT_GT(r.seconds, 0);
  EXPECT_TRUE(std::isfinite(r.env_steps_per_s));
  EXPECT_GT(r.env_steps_per_s, 0);
  EXPECT_DOUBLE_EQ(r.physics_steps_per_s, r.env_steps_per_s * t.substeps);
  ASSERT_TRUE(std::isfinite(r.mean_final_q0));
  double q0 = 0;  // the checksum at the start
  for (int e = 0; e < 128; ++e) q0 += t.conditions[e % t.conditions.size()].q0[0] / 128;
  EXPECT_GT(std::abs(r.mean_final_q0 - q0), 1e-6) << "the arm did not move";
  // reproducible from the seed, whatever the thread count; another seed, other controls
  EXPECT_EQ(gpsx::cli::run_sim(t, gpsx::cpu_executor(1), 128, 10, true, 1).mean_final_q0,
            r.mean_final_q0);
  EXPECT_NE(gpsx::cli::run_sim(t, gpsx::cpu_executor(2), 128, 10, true, 2).mean_final_q0,
            r.mean_final_q0);
  const auto d = gpsx::cli::run_sim(t, gpsx::cpu_executor(2), 128, 10, false, 1);
  EXPECT_EQ(d.failed_envs, 0);
  EXPECT_NEAR(d.mean_final_q0, r.mean_final_q0, 1e-3 * (1 + std::abs(r.mean_final_q0)));
  EXPECT_THROW(gpsx::cli::run_sim(t, gpsx::cpu_executor(1), 0, 10, true, 1), std::invalid_argument);
  EXPECT_THROW(gpsx::cli::run_sim(t, gpsx::cpu_executor(1), 8, 0, true, 1), std::invalid_argument);
}

TEST(SimCommand, PrintsCountsAndRates) {
  const std::string out = run({"sim", "--env", "reacher2", "--envs", "16", "--steps", "3"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(
      R"((\d+) envs x (\d+) steps x (\d+) substeps in )" + kNum + R"( s\n\s+)" + kNum +
      R"( env-steps/s \(control\), )" + kNum + R"( physics steps/s; (\d+) envs failed)")))
      << out;
  EXPECT_EQ(std::stoi(m[1]), 16);
  EXPECT_EQ(std::stoi(m[2]), 3);
  EXPECT_EQ(std::stoi(m[3]), task("reacher2").substeps);
  EXPECT_GT(std::stod(m[5]), 0);
  EXPECT_NEAR(std::stod(m[6]), std::stod(m[5]) * std::stoi(m[3]), 1e-3 * std::stod(m[6]));
  EXPECT_EQ(std::stoi(m[7]), 0);
}

TEST(SimCommand, UnknownEnvironmentIsAnError) {
  EXPECT_THROW(run({"sim", "--env", "no_such_env"}), gpsx::envs::ModelError);
}

TEST(SampleReport, StatusesCostsAndRate) {
  const gpsx::envs::Task t = task("reacher2");
  for (const char* init : {"lqr", "pd"}) {
    const auto r = gpsx::cli::run_sample(t, gpsx::cpu_executor(2), 3, 4, 12, init, 1);
    EXPECT_EQ(r.M, 3);
    EXPECT_EQ(r.N, 4);
    EXPECT_EQ(r.T, 12);
    EXPECT_GT(r.samples_per_s, 0);
    EXPECT_TRUE(std::isfinite(r.samples_per_s));
    ASSERT_EQ(r.mean_cost.size(), 3u);
    ASSERT_EQ(r.status.size(), 3u);
    for (int m = 0; m < 3; ++m) {
      EXPECT_EQ(r.status[m], 0u) << init << " condition " << m;
      EXPECT_TRUE(std::isfinite(r.mean_cost[m])) << init << " condition " << m;
      EXPECT_NE(r.mean_cost[m], 0.0) << init << " condition " << m;
    }
    // the same seed, the same costs
    EXPECT_EQ(gpsx::cli::run_sample(t, gpsx::cpu_executor(1), 3, 4, 12, init, 1).mean_cost,
              r.mean_cost);
  }
}

// Parses the per-condition lines; every condition must be listed, finite and not failed.
void expect_conditions(const std::string& out, int M) {
  const std::regex line(R"(  condition (\d+): mean cost ([^\n]*)\n)");
  int count = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
       ++it, ++count) {
    EXPECT_EQ(std::stoi((*it)[1]), count) << out;
    const std::string cost = (*it)[2];
    EXPECT_THAT(cost, ::testing::Not(HasSubstr("FAILED"))) << out;
    EXPECT_TRUE(std::isfinite(std::stod(cost))) << out;
  }
  EXPECT_EQ(count, M) << out;
}

TEST(SampleCommand, SamplesEveryShippedTaskWithACost) {
  struct Case {
    std::vector<std::string> args;
    int M, N, T;
  };
  const int arm7_M = static_cast<int>(task("arm7").conditions.size());
  const int point_M = static_cast<int>(task("pointmass").conditions.size());
  for (const Case& c : {Case{{"--env", "arm7", "--samples", "3", "--steps", "10"}, arm7_M, 3, 10},
                        Case{{"--env", "reacher2", "--samples", "2", "--steps", "8", "--conditions",
                              "5", "--init", "pd"}, 5, 2, 8},
                        Case{{"--env", "pointmass", "--samples", "2", "--steps", "8"}, point_M, 2, 8}}) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "sample");
    const std::string out = run(args);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(
        R"((\d+) conditions x (\d+) samples x (\d+) steps in )" + kNum + " s: " + kNum +
        " samples/s"))) << out;
    EXPECT_EQ(std::stoi(m[1]), c.M);
    EXPECT_EQ(std::stoi(m[2]), c.N);
    EXPECT_EQ(std::stoi(m[3]), c.T);
    EXPECT_GT(std::stod(m[5]), 0);
    expect_conditions(out, c.M);
  }
}

TEST(SampleCommand, BadInputIsAnError) {
  EXPECT_THROW(run({"sample", "--env", "arm7"}), CLI::RequiredError);
  EXPECT_THROW(run({"sample", "--env", "arm7", "--samples", "0"}), std::invalid_argument);
  EXPECT_THROW(run({"sample", "--env", "arm7", "--samples", "2", "--steps", "0"}),
               std::invalid_argument);
  EXPECT_THROW(run({"sample", "--env", "arm7", "--samples", "2", "--conditions", "-1"}),
               std::invalid_argument);
  EXPECT_THROW(run({"sample", "--env", "arm7", "--samples", "2", "--init", "zero"}),
               CLI::ValidationError);
  EXPECT_THROW(run({"sample", "--env", "no_such_env", "--samples", "2"}), gpsx::envs::ModelError);
  EXPECT_THROW(run({"sample", "--env", "testchain", "--samples", "2"}), gpsx::ConfigError);
}

// "max rel err E (tolerance T): PASS" with E <= T.
void expect_check_passes(const std::string& out) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("max rel err " + kNum + R"( \(tolerance )" +
                                                   kNum + R"(\): PASS)"))) << out;
  EXPECT_LE(std::stod(m[1]), std::stod(m[2])) << out;
}

TEST(ModelCommand, CheckPassesOnTheArm) {
  const std::string out = run({"model", "check", model("arm7.xml"), "--states", "50"});
  EXPECT_THAT(out, HasSubstr("on 50 random states"));
  expect_check_passes(out);
}

TEST(ModelCommand, CheckPassesOnTheUrdf) {
  expect_check_passes(run({"model", "check", model("testchain.urdf"), "--states", "50"}));
}

TEST(ModelCommand, CheckWithASensorList) {
  expect_check_passes(run({"model", "check", model("reacher2.xml"), "--states", "10", "--sensors",
                           "JOINT_ANGLES,JOINT_VELOCITIES,END_EFFECTOR_POINTS", "--ee-sites", "tip"}));
  EXPECT_THROW(run({"model", "check", model("reacher2.xml"), "--sensors", "JOINT_TORQUES"}),
               gpsx::envs::ModelError);
  EXPECT_THROW(run({"model", "check", model("reacher2.xml"), "--ee-sites", "nope"}),
               gpsx::envs::ModelError);
}

TEST(ModelCommand, CheckFailsOnAnImpossibleTolerance) {
  EXPECT_THROW(run({"model", "check", model("testchain.xml"), "--states", "50", "--tolerance", "1e-30"}),
               CLI::RuntimeError);
}

TEST(ModelCommand, QaccWritesTheOutput) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "gpsx_sim_cli_test";
  fs::create_directories(dir);
  std::ofstream(dir / "in.csv") << "q1,q2,qd1,qd2,tau1,tau2\n0.1,0.2,0,0,1,-1\n0,0,1,1,0,0\n";
  fs::remove(dir / "out.csv");
  const std::string out = run({"model", "qacc", model("reacher2.xml"), "--in",
                               (dir / "in.csv").string(), "--out", (dir / "out.csv").string()});
  EXPECT_THAT(out, HasSubstr("wrote 2 rows of qacc (2 joints)"));
  std::ifstream f(dir / "out.csv");
  std::string header, row;
  ASSERT_TRUE(std::getline(f, header));
  int rows = 0;
  while (std::getline(f, row)) {
    ++rows;
    double a = NAN, b = NAN;
    ASSERT_EQ(std::sscanf(row.c_str(), "%lf,%lf", &a, &b), 2) << row;
    EXPECT_TRUE(std::isfinite(a) && std::isfinite(b)) << row;
  }
  EXPECT_EQ(rows, 2);
}

// The built program: exit 0 and the report for good flags; non-zero and a message naming
// the flag for bad ones.
TEST(GpsxProgram, SimAndSampleRunAndExitZero) {
  auto r = run_gpsx("--device cpu sim --env pointmass --envs 64 --steps 10");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("64 envs x 10 steps"));
  EXPECT_THAT(r.output, HasSubstr("; 0 envs failed"));
  r = run_gpsx("--device cpu sample --env pointmass --samples 2 --steps 8");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("x 2 samples x 8 steps"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("FAILED")));
}

TEST(GpsxProgram, BadFlagsExitNonZeroNamingTheFlag) {
  struct Case {
    const char* args;
    const char* message;
  };
  for (const Case& c : {Case{"sim --bogus 1", "--bogus"},
                        Case{"--device cpu sim --env pointmass --envs 0", "--envs must be >= 1, got 0"},
                        Case{"sim --envs many", "--envs"},
                        Case{"--device cpu sim --env pointmass --steps 0", "--steps must be >= 1"},
                        Case{"sample --env arm7", "--samples"},
                        Case{"sample --env arm7 --samples 2 --init zero", "--init"},
                        Case{"--device gpu sim", "--device"},
                        Case{"sim --env no_such_env", "unknown environment 'no_such_env'"}}) {
    const auto r = run_gpsx(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.message)) << c.args;
  }
}

TEST(GpsxProgram, ModelCheckExitCodes) {
  auto r = run_gpsx("model check " + model("reacher2.xml") + " --states 10");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(": PASS"));
  r = run_gpsx("model check " + model("testchain.xml") + " --states 20 --tolerance 1e-30");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(": FAIL"));
  r = run_gpsx("model check " + model("reacher2.xml") + " --ee-sites nope");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no site named 'nope'"));
  EXPECT_THAT(r.output, HasSubstr("tip"));  // the model's sites are listed
}

}  // namespace
