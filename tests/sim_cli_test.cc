// The `gpsx sim` and `gpsx model` subcommands parse and run (label: unit).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commands.h"
#include "gpsx/envs/model.h"

namespace {

// Runs `gpsx ARGS...` with only the sim and model commands registered.
void run(std::vector<std::string> args) {
  gpsx::cli::GlobalOptions global;
  global.device = "cpu";
  global.threads = 2;
  CLI::App app("gpsx");
  gpsx::cli::add_sim_command(app, global);
  gpsx::cli::add_model_command(app, global);
  args.insert(args.begin(), "gpsx");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

const std::string kModels = GPSX_MODELS_DIR;

TEST(SimCommand, RunsARollout) { EXPECT_NO_THROW(run({"sim", "--env", "reacher2", "--envs", "16", "--steps", "3"})); }

TEST(SimCommand, UnknownEnvironmentIsAnError) {
  EXPECT_THROW(run({"sim", "--env", "no_such_env"}), gpsx::envs::ModelError);
}

TEST(ModelCommand, CheckPassesOnTheArm) {
  EXPECT_NO_THROW(run({"model", "check", kModels + "/arm7.xml", "--states", "50"}));
}

TEST(ModelCommand, CheckPassesOnTheUrdf) {
  EXPECT_NO_THROW(run({"model", "check", kModels + "/testchain.urdf", "--states", "50"}));
}

TEST(ModelCommand, CheckWithASensorList) {
  EXPECT_NO_THROW(run({"model", "check", kModels + "/reacher2.xml", "--states", "10", "--sensors",
                       "JOINT_ANGLES,JOINT_VELOCITIES,END_EFFECTOR_POINTS", "--ee-sites", "tip"}));
  EXPECT_THROW(run({"model", "check", kModels + "/reacher2.xml", "--sensors", "JOINT_TORQUES"}),
               gpsx::envs::ModelError);
  EXPECT_THROW(run({"model", "check", kModels + "/reacher2.xml", "--ee-sites", "nope"}),
               gpsx::envs::ModelError);
}

TEST(ModelCommand, CheckFailsOnAnImpossibleTolerance) {
  EXPECT_THROW(run({"model", "check", kModels + "/testchain.xml", "--states", "50", "--tolerance", "1e-30"}),
               CLI::RuntimeError);
}

TEST(ModelCommand, QaccWritesTheOutput) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "gpsx_sim_cli_test";
  fs::create_directories(dir);
  std::ofstream(dir / "in.csv") << "q1,q2,qd1,qd2,tau1,tau2\n0.1,0.2,0,0,1,-1\n";
  fs::remove(dir / "out.csv");
  run({"model", "qacc", kModels + "/reacher2.xml", "--in", (dir / "in.csv").string(), "--out",
       (dir / "out.csv").string()});
  EXPECT_TRUE(fs::exists(dir / "out.csv"));
}

}  // namespace
