// `gpsx run` as a user runs it (label: unit): the run directory's files, exit codes for
// refused input (nothing written), resume after SIGKILL at random moments giving metrics
// identical byte for byte to an uninterrupted run, Ctrl-C stopping at a phase boundary
// with exit 130 and a resumable checkpoint, and corrupted or truncated checkpoints refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gpsx_test/run_program.h"
#include "gpsx_test/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using gpsx::test::run_gpsx;

// A short form of the default experiment: every phase, a few seconds.
const std::string kQuick = "reacher2 --set iterations=3 --set T=25 --threads 1 --quiet";
// Long enough to be killed in every phase several times.
const std::string kKillable = "reacher2 --set iterations=6 --set T=40 --threads 1 --quiet";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Starts `gpsx ARGS` with output to `log`; returns the pid.
pid_t spawn_gpsx(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(GPSX_BINARY_DIR) + "/gpsx " + args + " > " + log.string() + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits for pid; its exit status, or 128 + signal.
int wait_status(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Exit status after at most `ms` milliseconds, or -1 (still running).
int exit_within(pid_t pid, int ms) {
  for (int waited = 0; waited < ms; waited += 5) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

TEST(RunCommand, WritesTheRunDirectory) {
  gpsx::test::TempDir tmp("run_dir");
  const fs::path out = fs::path(tmp.path()) / "run";
  const auto r = run_gpsx("run " + kQuick + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"config.yaml", "run.json", "progress.log", "metrics.csv", "metrics.jsonl",
                        "iterations.csv", "iterations.jsonl", "ckpt-000003.npz", "ckpt-000002.npz"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_FALSE(fs::exists(out / "ckpt-000001.npz")) << "only the newest checkpoints are kept";
  // One metrics row per iteration x condition after the header.
  const std::string csv = slurp(out / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 4) << csv;
  EXPECT_THAT(csv, HasSubstr("noise_free_final_distance"));
  const std::string progress = slurp(out / "progress.log");
  EXPECT_THAT(progress, HasSubstr("iter   3/3"));
  EXPECT_THAT(progress, HasSubstr("eta ["));
  // The resolved config runs again as a config of its own.
  const auto again = run_gpsx("run " + (out / "config.yaml").string() +
                              " --threads 1 --quiet --out " + (fs::path(tmp.path()) / "again").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(slurp(out / "metrics.csv"), slurp(fs::path(tmp.path()) / "again" / "metrics.csv"))
      << "same config, seed and threads: same metrics";
}

TEST(RunCommand, RefusedInputExitsTwoAndWritesNothing) {
  gpsx::test::TempDir tmp("run_refused");
  const fs::path out = fs::path(tmp.path()) / "run";
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"run reacher2 --set algorithm.kl_stp=0.1", "kl_stp"},
      {"run reacher2 --set iterations=zero", "iterations"},
      {"run reacher2 --set T=-3", "T"},
      {"run /nonexistent/experiment.yaml", "/nonexistent/experiment.yaml"},
      {"run reacher2 --bogus-flag", "bogus"},
  };
  for (const Case& c : cases) {
    const auto r = run_gpsx(c.args + " --out " + out.string());
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.expect)) << c.args;
    EXPECT_FALSE(fs::exists(out)) << c.args << ": nothing may be written";
  }
  auto r0 = run_gpsx("run --resume " + (fs::path(tmp.path()) / "nothing").string());
  EXPECT_EQ(r0.exit_code, 2) << r0.output;
  EXPECT_THAT(r0.output, HasSubstr("not a run directory"));
  r0 = run_gpsx("run --resume " + out.string() + " --set seed=3");
  EXPECT_EQ(r0.exit_code, 2) << r0.output;
  EXPECT_THAT(r0.output, HasSubstr("cannot be combined"));
  fs::create_directories(out);
  std::ofstream(out / "keep.txt") << "mine";
  const auto r = run_gpsx("run " + kQuick + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("not empty"));
  EXPECT_EQ(slurp(out / "keep.txt"), "mine");
}

TEST(RunCommand, ResumeAfterSigkillAtRandomMomentsWritesIdenticalMetrics) {
  gpsx::test::TempDir tmp("run_kill");
  const fs::path whole = fs::path(tmp.path()) / "whole", killed = fs::path(tmp.path()) / "killed";
  const auto r = run_gpsx("run " + kKillable + " --out " + whole.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::mt19937 rng(20261207);
  std::uniform_int_distribution<int> delay_ms(30, 900);
  int kills = 0, status = -1;
  for (int attempt = 0; attempt < 40 && status != 0; ++attempt) {
    const bool fresh = !fs::exists(killed / "config.yaml");
    if (fresh) fs::remove_all(killed);
    const std::string args = fresh ? "run " + kKillable + " --out " + killed.string()
                                   : "run --resume " + killed.string() + " --quiet";
    const pid_t pid = spawn_gpsx(args, fs::path(tmp.path()) / ("log" + std::to_string(attempt)));
    status = kills < 8 ? exit_within(pid, delay_ms(rng)) : wait_status(pid);
    if (status == -1) {
      kill(pid, SIGKILL);
      EXPECT_EQ(wait_status(pid), 128 + SIGKILL);
      ++kills;
    } else {
      ASSERT_EQ(status, 0) << slurp(fs::path(tmp.path()) / ("log" + std::to_string(attempt)));
    }
  }
  ASSERT_EQ(status, 0);
  EXPECT_GE(kills, 3) << "the run ended before it could be killed often enough";
  EXPECT_EQ(slurp(whole / "metrics.csv"), slurp(killed / "metrics.csv"));
  EXPECT_EQ(slurp(whole / "metrics.jsonl"), slurp(killed / "metrics.jsonl"));
  for (const auto& e : fs::directory_iterator(killed))  // a resume removes killed writes' temps
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(RunCommand, CtrlCStopsAtAPhaseBoundaryKeepsTheCheckpointAndResumes) {
  gpsx::test::TempDir tmp("run_sigint");
  const fs::path whole = fs::path(tmp.path()) / "whole", stopped = fs::path(tmp.path()) / "stopped";
  ASSERT_EQ(run_gpsx("run " + kKillable + " --out " + whole.string()).exit_code, 0);

  const fs::path log = fs::path(tmp.path()) / "log";
  const pid_t pid = spawn_gpsx("run " + kKillable + " --out " + stopped.string(), log);
  // Wait for the first checkpoint, then interrupt.
  for (int i = 0; i < 2000 && !fs::exists(stopped / "ckpt-000001.npz"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  const int status = wait_status(pid);
  if (status == 0) GTEST_SKIP() << "the run finished before SIGINT arrived";
  EXPECT_EQ(status, 130) << slurp(log);
  EXPECT_THAT(slurp(log), HasSubstr("gpsx run --resume " + stopped.string()));
  const auto r = run_gpsx("run --resume " + stopped.string() + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(slurp(whole / "metrics.csv"), slurp(stopped / "metrics.csv"));
}

TEST(RunCommand, CorruptedOrTruncatedCheckpointIsRefused) {
  gpsx::test::TempDir tmp("run_corrupt");
  const fs::path out = fs::path(tmp.path()) / "run";
  ASSERT_EQ(run_gpsx("run " + kQuick + " --out " + out.string()).exit_code, 0);
  const fs::path ckpt = out / "ckpt-000003.npz";
  std::string bytes = slurp(ckpt);
  const std::string good = bytes;
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(ckpt, std::ios::binary) << bytes;
  auto r = run_gpsx("run --resume " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(ckpt.string()));
  EXPECT_THAT(r.output, HasSubstr("corrupted"));
  std::ofstream(ckpt, std::ios::binary) << good.substr(0, good.size() - 100);
  r = run_gpsx("run --resume " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("truncated"));
}

}  // namespace
