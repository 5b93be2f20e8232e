#include "gpsx/run/runner.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "gpsx/envs/model.h"
#include "gpsx/run/archive.h"
#include "gpsx/run/experiment.h"
#include "gpsx/run/run_state.h"

namespace gpsx::run {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// Thrown at a phase boundary once a stop was requested.
struct Interrupted {
  std::string phase;
};
void boundary(const char* next_phase) {
  if (g_stop.load()) throw Interrupted{next_phase};
}


std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// A run directory that is new or empty; else a bad-input error (nothing is touched).
void create_run_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw BadInput("--out " + dir + ": exists and is not a directory");
    if (!fs::is_empty(dir, ec))
      throw BadInput("--out " + dir +
                     ": the folder is not empty (use `gpsx run --resume " + dir +
                     "` to continue that run, or choose a new --out)");
  }
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create run directory " + dir + ": " + ec.message());
}

void print_interrupted(const std::string& dir, const Interrupted& i, int last_checkpoint) {
  std::fprintf(stderr,
               "gpsx run: interrupted before the %s phase; the last complete checkpoint is after "
               "iteration %d%s.\nResume with: gpsx run --resume %s\n",
               i.phase.c_str(), last_checkpoint,
               last_checkpoint == 0 ? " (none: the run starts over)" : "", dir.c_str());
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void request_stop() { g_stop.store(true); }

int run_experiment(const RunOptions& o) {
  g_stop.store(false);
  RunState run;
  std::string dir;
  try {
    // Everything that can be refused is checked before anything is written.
    if (!o.resume.empty()) {
      if (!o.config.empty() || !o.sets.empty() || o.seed || !o.out.empty())
        throw BadInput("--resume takes the run's own config: CONFIG, --set, --seed and --out "
                       "cannot be combined with it");
      dir = o.resume;
      open_for_resume(run, dir, o);
    } else {
      if (o.config.empty()) throw BadInput("gpsx run: CONFIG (an experiment name or .yaml) is required");
      std::vector<std::string> sets = o.sets;
      if (o.seed) sets.push_back("seed=" + std::to_string(*o.seed));
      Experiment exp = load_experiment(find_experiment(o.config), sets);
      dir = o.out.empty() ? "runs/" + exp.name + "-" + utc_stamp() : o.out;
      prepare(run, std::move(exp), o);
      create_run_dir(dir);
      start_fresh(run, dir);
    }
  } catch (const BadInput& e) {
    std::fprintf(stderr, "gpsx run: error: %s\n", e.what());
    return kExitBadInput;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "gpsx run: error: %s\n", e.what());
    return kExitBadInput;
  } catch (const ArchiveError& e) {
    std::fprintf(stderr, "gpsx run: error: %s\n", e.what());
    return kExitBadInput;
  } catch (const envs::ModelError& e) {
    std::fprintf(stderr, "gpsx run: error: %s\n", e.what());
    return kExitBadInput;
  }

  try {
    announce(run, dir);
    while (run.alg.iteration < run.exp.iterations) {
      boundary("sample");
      run_iteration(run, boundary);
      boundary("checkpoint");
      finish_iteration(run);
    }
    summarize(run);
    return kExitOk;
  } catch (const Interrupted& i) {
    print_interrupted(dir, i, run.last_checkpoint);
    return kExitInterrupted;
  }
}

}  // namespace gpsx::run
