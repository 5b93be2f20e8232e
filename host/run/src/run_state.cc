#include "gpsx/run/run_state.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gpsx/host/device.h"
#include "gpsx/host/nvtx.h"
#include "gpsx/kernels/algorithm.h"
#include "gpsx/run/archive.h"
#include "gpsx/run/atomic_file.h"
#include "gpsx/run/checkpoint.h"

namespace gpsx::run {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const std::vector<std::string>& metrics_columns() {
  static const std::vector<std::string> c = {
      "iteration",  "condition",     "status",
      "failed_phases", "sample_cost", "final_distance_mean",
      "final_distance_max", "noise_free_final_distance", "eta",
      "step_mult",  "kl",            "kl_bound",
      "predicted_improvement", "actual_improvement", "lqr_passes",
      "message"};
  return c;
}

const std::vector<std::string>& iteration_columns() {
  static const std::vector<std::string> c = {
      "iteration",   "cost_mean",     "cost_max",       "distance_mean",
      "noise_free_distance_mean", "noise_free_distance_max", "kl_over_bound_max",
      "eta_min",     "eta_max",       "step_mult_min",  "step_mult_max",
      "failed",      "gmm_clusters",  "em_iterations",  "t_sample",
      "t_cost",      "t_dynamics",    "t_step",         "t_lqr",
      "t_eval",      "t_total"};
  return c;
}

DistanceTarget distance_target(const envs::Task& task) {
  DistanceTarget d;
  const StateLayout layout = envs::state_layout(task);
  const auto offset_of = [&](int sensor) {
    for (const StateBlock& b : layout)
      if (b.name == envs::sensor_name(sensor)) return b.offset;
    return -1;
  };
  const auto all = [&](auto pick) {
    return std::all_of(task.conditions.begin(), task.conditions.end(),
                       [&](const envs::Condition& c) { return !pick(c).empty(); });
  };
  const int ee = offset_of(rb::kEndEffectorPoints);
  if (ee >= 0 && all([](const envs::Condition& c) -> const std::vector<double>& { return c.ee_target; })) {
    d.offset = ee;
    d.dim = 3 * static_cast<int>(task.ee_sites.size());
    d.point = 3;
    d.what = "end-effector";
    for (const envs::Condition& c : task.conditions)
      d.values.insert(d.values.end(), c.ee_target.begin(), c.ee_target.end());
  } else if (all([](const envs::Condition& c) -> const std::vector<double>& { return c.joint_target; })) {
    d.offset = offset_of(rb::kJointAngles);
    d.dim = task.model.nv();
    d.point = d.dim;
    d.what = "joint";
    for (const envs::Condition& c : task.conditions)
      d.values.insert(d.values.end(), c.joint_target.begin(), c.joint_target.end());
  }
  return d;
}

void write_run_json(const RunState& run) {
  const json j = {{"threads", run.ex.threads}, {"executor", run.ex.describe()},
                  {"experiment", run.exp.name}};
  write_file_atomic(run.dir + "/run.json", j.dump(2) + "\n");
}

// The initial controllers (init_lqr / init_pd) of every condition.
void init_controllers(RunState& run) {
  const Experiment& e = run.exp;
  const int M = e.M();
  const std::vector<double> x0 = envs::initial_states(e.task, M, run.sampling.ee_velocity);
  std::vector<std::uint32_t> status(M);
  if (e.init.type == "lqr") {
    lingauss::LqrInitSettings<double> s = e.init.lqr;
    s.dt = e.task.control_dt();
    init_lqr(run.ex, s, x0.data(), e.init.gains.data(), e.init.acc.data(), run.alg.ctrl,
             status.data());
  } else {
    init_pd(run.ex, e.init.pd, e.task.model.nv(), x0.data(), run.alg.ctrl, status.data());
  }
  for (int m = 0; m < M; ++m)
    if (status[m])
      throw BadInput(e.path + ": init." + e.init.type + " failed for condition " +
                     std::to_string(m) + ": " + status_name(status[m]));
}

// Prints the progress text and appends it to progress.log (synced: its size goes into the
// checkpoint).
void append_progress(const RunState& run, const std::string& text) {
  if (!run.quiet) std::fputs(text.c_str(), stdout), std::fflush(stdout);
  append_line(run.progress_path, text);
  sync_file(run.progress_path);
}

std::uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const std::uint64_t s = fs::file_size(path, ec);
  return ec ? 0 : s;
}

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

}  // namespace

void prepare(RunState& run, Experiment exp, const RunOptions& o) {
  run.exp = std::move(exp);
  run.quiet = o.quiet;
  const Experiment& e = run.exp;
  int threads = o.threads.value_or(0);
  std::string notice;
  run.ex = make_executor(parse_device(o.device), threads, &notice);
  if (!notice.empty() && !o.quiet) std::printf("%s\n", notice.c_str());

  const int M = e.M(), N = e.samples, T = e.T, dX = e.task.dX(), dU = e.task.dU();
  run.cost_table = compile_cost(e.cost, dX, dU, M);
  run.cost = make_cost_model(run.ex, run.cost_table);

  TrajOptAlgorithmSettings s = e.algorithm;
  s.dynamics.gmm.seed = e.seed ^ 0x9e3779b97f4a7c15ull;  // the GMM's draws: own key per seed
  run.alg = make_traj_opt_algorithm(run.ex, M, T, dX, dU, N, s);

  run.sampling.sampling.seed = e.seed;
  run.sampling.sampling.noise = e.noise;
  run.sampling.jacobians = run.cost_table.has_fk();
  run.eval_ctrl = ControllerBatch(run.ex, M, T, dX, dU);  // chol_pol_covar stays zero

  run.target = distance_target(e.task);
  run.target_values = Buffer<double>(run.ex, "targets", Shape{M, std::max(run.target.dim, 1)});
  if (run.target.dim > 0)
    upload(run.ex, run.target.values.data(), run.target.values.size(), run.target_values.data());
  run.distances = Buffer<double>(run.ex, "final distances", Shape{M, N});
  run.eval_distance = Buffer<double>(run.ex, "noise-free final distance", Shape{M});
  run.stats = Buffer<double>(run.ex, "distance stats", Shape{2, M});
}

void start_fresh(RunState& run, const std::string& dir) {
  run.dir = dir;
  write_file_atomic(dir + "/config.yaml", run.exp.resolved_yaml);
  write_run_json(run);
  run.metrics = std::make_unique<MetricsWriter>(dir, "metrics", metrics_columns());
  run.iterations = std::make_unique<MetricsWriter>(dir, "iterations", iteration_columns());
  run.progress_path = dir + "/progress.log";
  write_file_atomic(run.progress_path, "");
  init_controllers(run);
}

// Temporary files of atomic writes a killed run left behind ("<file>.tmp.<pid>.<n>"): never
// read, removed on resume.
static void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

void open_for_resume(RunState& run, const std::string& dir, const RunOptions& o) {
  std::error_code ec;
  const std::string config = dir + "/config.yaml";
  if (!fs::is_directory(dir, ec) || !fs::exists(config, ec))
    throw BadInput("--resume " + dir + ": not a run directory (no config.yaml)");
  remove_stale_temporaries(dir);
  RunOptions opts = o;
  if (!opts.threads && fs::exists(dir + "/run.json", ec)) {
    const json j = json::parse(read_file(dir + "/run.json"), nullptr, false);
    if (j.is_object() && j.contains("threads") && j["threads"].is_number_integer())
      opts.threads = j["threads"].get<int>();
  }
  prepare(run, load_experiment(config), opts);
  run.dir = dir;
  run.progress_path = dir + "/progress.log";
  const std::vector<std::string> ckpts = list_checkpoints(dir);
  if (ckpts.empty()) {  // killed before the first checkpoint: start over in place
    run.metrics = std::make_unique<MetricsWriter>(dir, "metrics", metrics_columns());
    run.iterations = std::make_unique<MetricsWriter>(dir, "iterations", iteration_columns());
    write_file_atomic(run.progress_path, "");
    init_controllers(run);
    return;
  }
  CheckpointMeta meta;
  try {
    meta = load_checkpoint(run.ex, run.alg, ckpts.front());
  } catch (const ArchiveError& e) {
    throw ArchiveError(std::string(e.what()) +
                       "\n  (move that file away to resume from the previous checkpoint)");
  }
  if (meta.config != read_file(config))
    throw BadInput(config + " differs from the config stored in " + ckpts.front() +
                   "; a run resumes with its own config");
  if (meta.file_sizes.size() != 5)
    throw BadInput(ckpts.front() + ": expected 5 recorded file sizes");
  if (meta.threads != run.ex.threads)
    std::fprintf(stderr,
                 "gpsx run: warning: the run used %lld threads, this resume %d; metrics may "
                 "differ in the last bits from an uninterrupted run\n",
                 static_cast<long long>(meta.threads), run.ex.threads);
  run.metrics = std::make_unique<MetricsWriter>(MetricsWriter::resume(
      dir, "metrics", metrics_columns(), {meta.file_sizes[0], meta.file_sizes[1]}));
  run.iterations = std::make_unique<MetricsWriter>(MetricsWriter::resume(
      dir, "iterations", iteration_columns(), {meta.file_sizes[2], meta.file_sizes[3]}));
  truncate_for_resume(run.progress_path, meta.file_sizes[4]);
  run.last_checkpoint = static_cast<int>(meta.iteration);
}

void announce(const RunState& run, const std::string& dir) {
  if (run.quiet) return;
  const Experiment& e = run.exp;
  std::printf("gpsx run: %s: TrajOpt on %s, %d conditions x %d samples x %d steps, %d iterations, "
              "seed %llu, on %s\n  run directory: %s%s\n",
              e.name.c_str(), e.task.name.c_str(), e.M(), e.samples, e.T, e.iterations,
              static_cast<unsigned long long>(e.seed), run.ex.describe().c_str(), dir.c_str(),
              run.alg.iteration > 0
                  ? fmt::format(" (resuming after iteration {})", run.alg.iteration).c_str()
                  : "");
  std::fflush(stdout);
}

void run_iteration(RunState& run, void (*boundary)(const char*)) {
  TrajOptAlgorithm& a = run.alg;
  const Executor& ex = run.ex;
  run.times = PhaseTimes{};
  NvtxRange range("gpsx run: iteration");

  auto t0 = Clock::now();
  {
    NvtxRange r("sample");
    run.sampling.sampling.stream = static_cast<std::uint32_t>(a.iteration);
    envs::sample_task(ex, run.exp.task, a.ctrl, a.N, run.sampling, run.samples, run.sampling_ws);
  }
  run.times.sample = seconds_since(t0);
  traj_opt_replace_failed_samples(ex, a, run.samples.status.data(), run.samples.X.data(),
                                  run.samples.U.data());
  const SampleBatch batch{a.N, run.samples.X.data(), run.samples.U.data(),
                          run.sampling.jacobians ? run.samples.jac.data() : nullptr,
                          run.samples.status.data()};
  traj_opt_begin(ex, a, batch);
  boundary("dynamics");
  traj_opt_update_dynamics(ex, a, batch);
  boundary("cost");
  traj_opt_eval_cost(ex, a, run.cost.model, batch);
  boundary("step size");
  traj_opt_update_step_size(ex, a);
  boundary("lqr");
  traj_opt_update_controllers(ex, a);
  traj_opt_advance(ex, a);
  run.times.cost = a.report.seconds_cost;
  run.times.dynamics = a.report.seconds_dynamics;
  run.times.step = a.report.seconds_step;
  run.times.lqr = a.report.seconds_lqr;
  boundary("evaluation");

  // Final distances of the samples, and of one noise-free rollout of each new controller.
  t0 = Clock::now();
  NvtxRange r("evaluate");
  if (run.target.dim > 0) {
    const int M = a.M, N = a.N;
    const DistanceTarget& g = run.target;
    for_each_2d(ex, M, N, algo::FinalDistanceFn{N, a.T, a.dX, g.offset, g.dim, g.point,
                                                run.target_values.data(), run.samples.X.data(),
                                                run.distances.data()});
    for_each(ex, M, algo::SampleStatsFn{M, N, run.distances.data(), run.stats.data()});
    copy_within(ex, a.ctrl.K.data(), static_cast<std::size_t>(a.ctrl.K.size()), run.eval_ctrl.K.data());
    copy_within(ex, a.ctrl.k.data(), static_cast<std::size_t>(a.ctrl.k.size()), run.eval_ctrl.k.data());
    envs::SimSamplingOptions eval = run.sampling;
    eval.jacobians = false;
    envs::sample_task(ex, run.exp.task, run.eval_ctrl, 1, eval, run.eval_samples, run.eval_ws);
    for_each_2d(ex, M, 1, algo::FinalDistanceFn{1, a.T, a.dX, g.offset, g.dim, g.point,
                                                run.target_values.data(), run.eval_samples.X.data(),
                                                run.eval_distance.data()});
  }
  run.times.eval = seconds_since(t0);
}

void finish_iteration(RunState& run) {
  const TrajOptAlgorithm& a = run.alg;
  const IterationReport& rep = a.report;
  const int M = a.M;
  std::vector<double> stats(2 * static_cast<std::size_t>(M), nan()), eval(M, nan());
  if (run.target.dim > 0) {
    download(run.ex, run.stats.data(), stats.size(), stats.data());
    download(run.ex, run.eval_distance.data(), eval.size(), eval.data());
  }

  // Metrics rows (deterministic: no times).
  std::vector<MetricsWriter::Row> rows;
  rows.reserve(M);
  for (int m = 0; m < M; ++m) {
    rows.push_back({std::int64_t(rep.iteration), std::int64_t(m),
                    std::string(rep.failed[m] ? "failed" : rep.message[m].empty() ? "ok" : "warning"), phase_names(rep.failed[m]),
                    rep.sample_cost[m], stats[m], stats[M + m], eval[m], rep.eta[m],
                    rep.step_mult[m], rep.kl[m], rep.kl_bound[m], rep.predicted[m],
                    rep.actual[m], std::int64_t(rep.lqr_passes[m]), rep.message[m]});
  }
  run.metrics->append(rows);
  run.metrics->sync();

  // Summary over conditions.
  const auto range_of = [&](const std::vector<double>& v, double& lo, double& hi, double& mean) {
    lo = INFINITY, hi = -INFINITY, mean = 0;
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), mean += x / v.size();
  };
  double cmin, cmax, cmean, emin, emax, emean, smin, smax, smean, dmin, dmax, dmean, fmin, fmax,
      fmean;
  range_of(rep.sample_cost, cmin, cmax, cmean);
  range_of(rep.eta, emin, emax, emean);
  range_of(rep.step_mult, smin, smax, smean);
  range_of(std::vector<double>(stats.begin(), stats.begin() + M), dmin, dmax, dmean);
  range_of(eval, fmin, fmax, fmean);
  double kl_ratio = 0;
  for (int m = 0; m < M; ++m) kl_ratio = std::max(kl_ratio, rep.kl[m] / rep.kl_bound[m]);
  const int failed = rep.failures();
  const PhaseTimes& t = run.times;
  run.iterations->append({{std::int64_t(rep.iteration), cmean, cmax, dmean, fmean, fmax, kl_ratio,
                           emin, emax, smin, smax, std::int64_t(failed),
                           std::int64_t(rep.gmm_clusters), std::int64_t(rep.gmm_em_iterations),
                           t.sample, t.cost, t.dynamics, t.step, t.lqr, t.eval, t.total()}});
  run.iterations->sync();

  std::string line = fmt::format(
      "iter {:>3}/{}  cost {:.5g} (max {:.5g})", rep.iteration + 1, run.exp.iterations, cmean, cmax);
  if (run.target.dim > 0)
    line += fmt::format("  {} dist {:.4f} (noise-free {:.4f}, max {:.4f})", run.target.what, dmean,
                        fmean, fmax);
  line += fmt::format(
      "  KL/bound <= {:.3g}  eta [{:.3g}, {:.3g}]  step [{:.3g}, {:.3g}]  failed {}  | sample "
      "{:.2f}s dyn {:.2f}s cost {:.2f}s step {:.2f}s lqr {:.2f}s eval {:.2f}s\n",
      kl_ratio, emin, emax, smin, smax, failed, t.sample, t.dynamics, t.cost, t.step, t.lqr, t.eval);
  for (int m = 0, shown = 0; m < M && shown < 8; ++m)
    if (rep.failed[m]) line += "    " + rep.message[m] + "\n", ++shown;
  if (failed > 8) line += fmt::format("    ... and {} more (see metrics.csv)\n", failed - 8);
  append_progress(run, line);

  // Checkpoint: the state after this iteration and the files' sizes that go with it.
  const auto t0 = Clock::now();
  CheckpointMeta meta;
  meta.iteration = a.iteration;
  meta.threads = run.ex.threads;
  meta.config = run.exp.resolved_yaml;
  const auto [csv, jsonl] = run.metrics->sizes();
  const auto [icsv, ijsonl] = run.iterations->sizes();
  meta.file_sizes = {csv, jsonl, icsv, ijsonl, file_size(run.progress_path)};
  const std::string path = run.dir + "/" + checkpoint_name(a.iteration);
  save_checkpoint(run.ex, a, meta, path);
  run.last_checkpoint = a.iteration;
  const std::vector<std::string> all = list_checkpoints(run.dir);
  for (std::size_t i = std::max(run.exp.keep_checkpoints, 1); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
  if (!run.quiet)
    std::printf("    checkpoint %s (%.1f MB, %.2f s)\n", checkpoint_name(a.iteration).c_str(),
                file_size(path) / 1e6, seconds_since(t0));
}

void summarize(const RunState& run) {
  if (run.quiet) return;
  std::printf("done: %d iterations of %s; results in %s (metrics.csv, metrics.jsonl, "
              "iterations.csv, progress.log, %s)\n",
              run.alg.iteration, run.exp.name.c_str(), run.dir.c_str(),
              checkpoint_name(run.alg.iteration).c_str());
}

}  // namespace gpsx::run
