// One steady-state TrajOpt GPS iteration (sample -> cost -> dynamics -> step size -> LQR)
// on the rigid-arm simulator, per phase, for M conditions batched in one
// TrajOptAlgorithm: N = 5 samples, T = 100 steps, tasks reacher2 (dX = 7, dU = 2) and arm7
// (dX = 26, dU = 7), the task's conditions cycled over M. Settings are the reference's
// example ones: init_lqr with init_var 1 (arm7: gains 1 / PR2_GAINS), dynamics prior
// max_clusters 20, min_samples_per_cluster 40, max_samples 20, kl_step 0.2, all else
// default. Steady state: `warmup` iterations (4 x 5 trajectories fill the prior's 19) run
// first on all threads, then the next iteration(s) are timed on each thread count
// (results do not depend on the thread count, so the iterations are the same work).
//
// Baselines:
// - same run: the reference's structure, one condition at a time: M separate
//   single-condition TrajOptAlgorithm objects iterated one after the other on one thread
//   with the scalar paths (no SIMD packs in sampling, dynamics fit or LQR), warmed up and
//   timed at the same iterations. Each single times its own sampling call but learns from
//   condition m's samples and GMM assignment of the batched draw (SameData), so both sides
//   do the same work; the bench checks that every controller ends bitwise equal.
// - the reference's recorded figures (cbfinn/gps, 4 conditions, one core, numpy):
//   ~2.4 s per iteration on the reacher, ~8.5 s on the 7-DoF arm.
//
// Clocks: 1-thread rows use the calling thread's CPU time (the machine is shared; the
// one-thread executor runs everything on the calling thread), other rows wall time.
// Memory: bytes of every Buffer the algorithm, the samples and the sampler hold, per
// condition, and the process's VmHWM (peak resident set, reset before each
// configuration through /proc/self/clear_refs).
//
// Usage: iteration_bench [--tasks reacher2,arm7] [--M 4,64,1024] [--threads 1,0]
//          [--iterations 1] [--warmup 4] [--baseline-M 4,64] [--max-seconds 600]
//   threads 0 = all hardware threads. A configuration (task, M, threads) whose estimated
//   time on its own, warm-up + timed iterations (from the previous M of the same task,
//   per condition), exceeds --max-seconds is skipped and listed; --max-seconds 0 runs
//   everything. The baseline is skipped by the same rule.
// Last output line: one JSON object with every figure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "gpsx/envs/task.h"
#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx/kernels/gmm_batch.h"

namespace {

using gpsx::bench::json;
using gpsx::bench::now_seconds;
using gpsx::bench::thread_cpu_seconds;

constexpr int kN = 5, kT = 100;
constexpr double kRefConditions = 4;
// The reference's recorded seconds per iteration at 4 conditions, one core (the issue).
double reference_seconds(const std::string& task) {
  return task == "arm7" ? 8.5 : task == "reacher2" ? 2.4 : NAN;
}
constexpr double kPr2Gains[] = {3.09, 1.08, 0.393, 0.674, 0.111, 0.152, 0.098};

enum Phase { kSample, kCost, kDynamics, kStep, kLqr, kPhases };
const char* const kPhaseNames[kPhases] = {"sample", "cost", "dynamics", "step", "lqr"};

struct Times {
  double wall[kPhases] = {}, cpu[kPhases] = {};  // cpu: calling thread's CPU seconds
  int em_iterations = 0;                         // most over conditions and iterations
  int failures = 0;
  std::string first_failure;                     // phases and message of the first one
  double total(bool use_cpu) const {
    double s = 0;
    for (int p = 0; p < kPhases; ++p) s += use_cpu ? cpu[p] : wall[p];
    return s;
  }
  void add(const Times& o) {
    for (int p = 0; p < kPhases; ++p) wall[p] += o.wall[p], cpu[p] += o.cpu[p];
    em_iterations = std::max(em_iterations, o.em_iterations);
    failures += o.failures;
    if (first_failure.empty()) first_failure = o.first_failure;
  }
};

gpsx::TrajOptAlgorithmSettings example_settings(bool scalar_paths) {
  gpsx::TrajOptAlgorithmSettings s;
  s.kl_step = 0.2;
  s.dynamics.max_clusters = 20;
  s.dynamics.min_samples_per_cluster = 40;
  s.dynamics.max_samples = 20;
  s.dynamics.simd_packs = !scalar_paths;
  s.lqr.cpu_lanes = !scalar_paths;
  return s;
}

// One algorithm with its cost, samples and sampler: the batched run, or one condition of
// the baseline.
struct Run {
  gpsx::envs::Task task;
  gpsx::TrajOptAlgorithm alg;
  gpsx::CostTable table;
  gpsx::CostModelStorage cost;
  gpsx::envs::SimSamples samples;
  gpsx::SamplingWorkspace sampling_ws;
  gpsx::envs::SimSamplingOptions options;

  Run(const gpsx::Executor& ex, gpsx::envs::Task t, int M, bool scalar_paths)
      : task(std::move(t)) {
    const int dX = task.dX(), dU = task.dU();
    alg = gpsx::make_traj_opt_algorithm(ex, M, kT, dX, dU, kN, example_settings(scalar_paths));
    table = gpsx::compile_cost(gpsx::envs::task_cost(task, M), dX, dU, M);
    cost = gpsx::make_cost_model(ex, table);
    options.jacobians = true;  // the fk cost terms read them
    options.cpu_lanes = !scalar_paths;
    options.sampling.seed = 1;
    std::vector<double> gains(dU, 1.0);
    if (task.name == "arm7")
      for (int i = 0; i < dU; ++i) gains[i] = 1.0 / kPr2Gains[i];
    const std::vector<double> acc(dU, 0.0);
    const std::vector<double> x0 = gpsx::envs::initial_states(task, M, options.ee_velocity);
    gpsx::lingauss::LqrInitSettings<double> init;  // init_var 1
    init.dt = task.control_dt();
    std::vector<std::uint32_t> status(M);
    gpsx::init_lqr(ex, init, x0.data(), gains.data(), acc.data(), alg.ctrl, status.data());
    for (int m = 0; m < M; ++m)
      if (status[m]) throw std::runtime_error("init_lqr failed for condition " + std::to_string(m));
  }

  // One iteration, every phase timed on both clocks. `same_data` (the baseline), untimed
  // after the sampling: puts the batched run's samples of this condition in place and
  // returns its initial GMM assignment.
  template <class F>
  Times iterate(const gpsx::Executor& ex, const F& same_data) {
    Times r;
    const auto timed = [&](Phase p, const auto& f) {
      const double w0 = now_seconds(), c0 = thread_cpu_seconds();
      f();
      r.wall[p] += now_seconds() - w0;
      r.cpu[p] += thread_cpu_seconds() - c0;
    };
    gpsx::SampleBatch batch;
    timed(kSample, [&] {
      options.sampling.stream = static_cast<std::uint32_t>(alg.iteration);
      gpsx::envs::sample_task(ex, task, alg.ctrl, kN, options, samples, sampling_ws);
      batch = {kN, samples.X.data(), samples.U.data(), samples.jac.data(),
               samples.status.data()};
    });
    const int* init_assignment = same_data(*this);
    timed(kSample, [&] { gpsx::traj_opt_begin(ex, alg, batch); });
    timed(kDynamics, [&] { gpsx::traj_opt_update_dynamics(ex, alg, batch, init_assignment); });
    timed(kCost, [&] { gpsx::traj_opt_eval_cost(ex, alg, cost.model, batch); });
    timed(kStep, [&] { gpsx::traj_opt_update_step_size(ex, alg); });
    timed(kLqr, [&] {
      gpsx::traj_opt_update_controllers(ex, alg);
      gpsx::traj_opt_advance(ex, alg);
    });
    r.em_iterations = alg.report.gmm_em_iterations;
    r.failures = alg.report.failures();
    for (int m = 0; m < alg.M && r.first_failure.empty(); ++m)
      if (alg.report.failed[m])
        r.first_failure = gpsx::phase_names(alg.report.failed[m]) + ": " + alg.report.message[m];
    return r;
  }
  Times iterate(const gpsx::Executor& ex) {
    return iterate(ex, [](Run&) -> const int* { return nullptr; });
  }

  // Bytes of every Buffer: the algorithm (controllers, prior data set and GMM, fit, costs,
  // workspace), and the samples with the sampler's workspace.
  std::size_t algorithm_bytes() const {
    const auto& a = alg;
    std::size_t b = 0;
    for (const auto* c : {&a.ctrl, &a.new_ctrl})
      b += c->K.bytes() + c->k.bytes() + c->pol_covar.bytes() + c->chol_pol_covar.bytes() +
           c->inv_pol_covar.bytes();
    const auto& p = a.prior;
    b += p.X.bytes() + p.U.bytes() + p.points.bytes() + p.logobs.bytes() + p.gmm.mu.bytes() +
         p.gmm.sigma.bytes() + p.gmm.logmass.bytes() + p.gmm.mass.bytes() + p.gmm.N0.bytes();
    for (const auto* d : {&a.eta, &a.step_mult, &a.laplace_prev, &a.laplace_predicted, &a.Fm,
                          &a.fv, &a.dyn_covar, &a.x0mu, &a.x0sigma, &a.Cm, &a.cv, &a.cc, &a.cs,
                          &a.kl, &a.scalars, &a.laplace, &a.workspace, &a.cost_ws.scratch})
      b += d->bytes();
    b += a.passes.bytes() + a.lqr_status.bytes() + a.failed.bytes() + a.cost_ws.status_mt.bytes();
    b += cost.terms.bytes() + cost.params.bytes();
    return b;
  }
  std::size_t sample_bytes() const {
    return samples.X.bytes() + samples.U.bytes() + samples.obs.bytes() + samples.jac.bytes() +
           sampling_ws.scratch.bytes() + sampling_ws.status.bytes() + sampling_ws.x0.bytes() +
           sampling_ws.u_min.bytes() + sampling_ws.u_max.bytes();
  }
};

// The baseline learns from the batched run's data: Philox streams are indexed by the
// condition within an algorithm, so a single-condition algorithm would draw condition 0's
// noise and GMM assignment for every m. Each iteration this draws the batched samples
// of the singles' controllers (untimed; each single still times its own sampling call,
// the same work) and gives single m condition m's samples and initial GMM assignment,
// so both sides do the same work and end bitwise equal.
struct SameData {
  gpsx::envs::Task task;
  gpsx::ControllerBatch ctrl;
  gpsx::envs::SimSamples samples;
  gpsx::SamplingWorkspace ws;
  gpsx::envs::SimSamplingOptions options;
  std::vector<int> assignment;  // (P) of the current single

  SameData(const gpsx::Executor& ex, const gpsx::envs::Task& t, const Run& like, int M)
      : task(t), ctrl(ex, M, kT, like.alg.dX, like.alg.dU), options(like.options) {}

  // Draws the batch from the singles' current controllers.
  void draw(const gpsx::Executor& ex, std::vector<std::unique_ptr<Run>>& singles) {
    const auto slice = [](const gpsx::Buffer<double>& src, gpsx::Buffer<double>& dst, int m) {
      std::copy(src.data(), src.data() + src.size(), dst.data() + m * src.size());
    };
    for (int m = 0; m < ctrl.M; ++m) {
      const gpsx::ControllerBatch& c = singles[m]->alg.ctrl;
      slice(c.K, ctrl.K, m), slice(c.k, ctrl.k, m), slice(c.pol_covar, ctrl.pol_covar, m);
      slice(c.chol_pol_covar, ctrl.chol_pol_covar, m);
      slice(c.inv_pol_covar, ctrl.inv_pol_covar, m);
    }
    options.sampling.stream = static_cast<std::uint32_t>(singles[0]->alg.iteration);
    gpsx::envs::sample_task(ex, task, ctrl, kN, options, samples, ws);
  }
  // Condition m's samples into single r, and its initial assignment for this update.
  const int* give(int m, Run& r) {
    const auto slice = [m](const gpsx::Buffer<double>& src, gpsx::Buffer<double>& dst) {
      std::copy(src.data() + m * dst.size(), src.data() + (m + 1) * dst.size(), dst.data());
    };
    slice(samples.X, r.samples.X), slice(samples.U, r.samples.U);
    slice(samples.jac, r.samples.jac);
    r.samples.status[0] = samples.status[m];
    const auto& a = r.alg;
    const int count = std::min(a.prior.capacity, a.prior.count + kN), P = count * (kT - 1);
    const int K = gpsx::dynamics_prior_clusters(a.settings.dynamics, count, kT);
    assignment.resize(P);
    const gpsx::gmm::RandomAssignmentStep step{a.settings.dynamics.gmm.seed,
                                               a.prior.gmm.initialisations, m, P, K,
                                               assignment.data()};
    for (int p = 0; p < P; ++p) step(0, p);
    return assignment.data();
  }
};

// The task with only condition c (the baseline's single-condition algorithms).
gpsx::envs::Task one_condition(const gpsx::envs::Task& task, int c) {
  gpsx::envs::Task t = task;
  t.conditions = {task.conditions[c % task.conditions.size()]};
  return t;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// VmHWM (peak resident set) in bytes; reset_peak() restarts it (Linux clear_refs 5).
std::size_t vm_hwm_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
std::vector<int> split_ints(const std::string& s) {
  std::vector<int> out;
  for (const auto& x : split(s)) out.push_back(std::atoi(x.c_str()));
  return out;
}

struct Options {
  std::vector<std::string> tasks = {"reacher2", "arm7"};
  std::vector<int> Ms = {4, 64, 1024};
  std::vector<int> threads = {1, 0};
  std::vector<int> baseline_Ms = {4, 64};
  int iterations = 1, warmup = 4;
  double max_seconds = 600;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--tasks") o.tasks = split(v);
    else if (k == "--M") o.Ms = split_ints(v);
    else if (k == "--threads") o.threads = split_ints(v);
    else if (k == "--baseline-M") o.baseline_Ms = split_ints(v);
    else if (k == "--iterations") o.iterations = std::max(1, std::atoi(v.c_str()));
    else if (k == "--warmup") o.warmup = std::max(0, std::atoi(v.c_str()));
    else if (k == "--max-seconds") o.max_seconds = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s (see the usage in iteration_bench.cc)\n", k.c_str());
      std::exit(2);
    }
  }
  if ((argc - 1) % 2) {
    std::fprintf(stderr, "options come in pairs: --name value\n");
    std::exit(2);
  }
  std::sort(o.Ms.begin(), o.Ms.end());
  return o;
}

json phases_json(const Times& t, bool use_cpu, int iterations) {
  json j;
  for (int p = 0; p < kPhases; ++p) j[kPhaseNames[p]] = (use_cpu ? t.cpu[p] : t.wall[p]) / iterations;
  return j;
}

void print_row(const char* label, int M, const Times& t, bool use_cpu, int iterations) {
  const double total = t.total(use_cpu) / iterations;
  std::printf("  %-22s M=%5d:", label, M);
  for (int p = 0; p < kPhases; ++p)
    std::printf(" %s %.4g", kPhaseNames[p], (use_cpu ? t.cpu[p] : t.wall[p]) / iterations);
  std::printf(" | total %.4g s, %.4g s/condition (%s), EM iterations <= %d\n", total,
              total / M, use_cpu ? "thread CPU" : "wall", t.em_iterations);
  if (t.failures)  // a failed condition keeps its controller and skips later phases
    std::printf("    %d failed condition(s), first: %s\n", t.failures, t.first_failure.c_str());
}

// Wall seconds a configuration took, per condition, for the skip estimates.
struct Cost {
  int M = 0;
  double warmup = 0;                 // per condition, all warm-up iterations
  std::map<int, double> timed;       // threads -> per condition, all timed iterations
};

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const int hw = gpsx::hardware_threads();
  const std::string cpu = gpsx::bench::cpu_model();
  gpsx::bench::print_machine_header("iteration_bench");
  std::printf("TrajOpt iteration, N=%d T=%d, warm-up %d iterations (all threads), %d timed "
              "iteration(s) per thread count; 1-thread figures: thread CPU time, others: "
              "wall time; load average at start %s\n",
              kN, kT, opt.warmup, opt.iterations, loadavg().c_str());
  const bool peak_resets = reset_peak();
  if (!peak_resets) std::printf("note: /proc/self/clear_refs not writable; VmHWM is the process peak so far\n");
  const gpsx::Executor all = gpsx::cpu_executor(0);

  json rows = json::array(), baselines = json::array(), skipped = json::array();
  for (const std::string& name : opt.tasks) {
    const gpsx::envs::Task task = gpsx::envs::load_task(gpsx::envs::find_task(name));
    std::printf("\n%s: dX=%d dU=%d, %zu conditions (cycled), D=%d GMM dimensions\n",
                name.c_str(), task.dX(), task.dU(), task.conditions.size(),
                2 * task.dX() + task.dU());
    std::vector<Cost> costs;
    std::map<int, double> base_per_cond;  // M -> baseline thread-CPU s per condition
    double base_wall_per_cond = 0;        // for the baseline's skip estimate
    for (const int M : opt.Ms) {
      // Estimate from the largest smaller M: warm-up plus each thread count's timing.
      std::vector<int> run_threads = opt.threads;
      if (!costs.empty() && opt.max_seconds > 0) {
        const Cost& c = costs.back();
        const double est = c.warmup * M;
        run_threads.clear();
        for (int th : opt.threads) {
          // A configuration (task, M, threads) run on its own: warm-up + timed iterations.
          const double t = c.timed.count(th) ? c.timed.at(th) * M : 0.0;
          if (est + t <= opt.max_seconds) {
            run_threads.push_back(th);
          } else {
            std::printf("  SKIPPED M=%d threads=%d: estimated %.0f s (from M=%d) > "
                        "--max-seconds %.0f\n", M, th == 0 ? hw : th, est + t, c.M,
                        opt.max_seconds);
            skipped.push_back({{"task", name}, {"M", M}, {"threads", th == 0 ? hw : th},
                               {"estimated_s", est + t}, {"estimated_from_M", c.M}});
          }
        }
        if (run_threads.empty()) {
          // Not run: allocate it anyway for the memory figures.
          reset_peak();
          Run run(all, task, M, false);
          gpsx::envs::sample_task(all, run.task, run.alg.ctrl, kN, run.options, run.samples,
                                  run.sampling_ws);
          std::printf("  M=%d not run; allocated and sampled once only: algorithm %.3g "
                      "MB/condition, samples + sampler %.3g MB/condition, VmHWM %.3g GB\n", M,
                      run.algorithm_bytes() / 1e6 / M, run.sample_bytes() / 1e6 / M,
                      vm_hwm_bytes() / 1e9);
          skipped.back()["alloc_bytes_per_condition"] =
              (run.algorithm_bytes() + run.sample_bytes()) / double(M);
          skipped.back()["vm_hwm_bytes_alloc_only"] = vm_hwm_bytes();
          continue;
        }
      }

      reset_peak();
      Cost cost;
      cost.M = M;
      Run run(all, task, M, false);
      const std::string load0 = loadavg();
      double w0 = now_seconds();
      for (int i = 0; i < opt.warmup; ++i) run.iterate(all);
      cost.warmup = (now_seconds() - w0) / M;
      std::printf("  M=%d: warm-up %d iterations %.1f s wall (prior holds %d trajectories)\n",
                  M, opt.warmup, cost.warmup * M, run.alg.prior.count);
      std::vector<double> K0;  // the controllers after the first timed thread count
      int K0_iteration = 0;
      for (const int th : run_threads) {
        const gpsx::Executor ex = gpsx::cpu_executor(th);
        const bool use_cpu = ex.threads == 1;
        Times t;
        w0 = now_seconds();
        for (int i = 0; i < opt.iterations; ++i) t.add(run.iterate(ex));
        cost.timed[th] = (now_seconds() - w0) / M;
        if (K0.empty()) {
          const auto& K = run.alg.ctrl.K;
          K0.assign(K.data(), K.data() + K.size());
          K0_iteration = run.alg.iteration;
        }
        const std::string label = std::to_string(ex.threads) + " thread(s), batched";
        print_row(label.c_str(), M, t, use_cpu, opt.iterations);
        const double total = t.total(use_cpu) / opt.iterations;
        rows.push_back({{"task", name}, {"M", M}, {"threads", ex.threads},
                        {"clock", use_cpu ? "thread_cpu" : "wall"},
                        {"phases_s", phases_json(t, use_cpu, opt.iterations)},
                        {"total_s", total}, {"s_per_condition", total / M},
                        {"em_iterations_max", t.em_iterations}, {"failures", t.failures},
                        {"first_failure", t.first_failure}});
      }
      const std::size_t alg_b = run.algorithm_bytes(), smp_b = run.sample_bytes();
      const std::size_t hwm = vm_hwm_bytes();
      std::printf("  M=%d memory: algorithm buffers %.3g MB/condition (%.3g GB), samples + "
                  "sampler %.3g MB/condition, VmHWM %.3g GB (%.3g MB/condition); load %s -> %s\n",
                  M, alg_b / 1e6 / M, alg_b / 1e9, smp_b / 1e6 / M, hwm / 1e9, hwm / 1e6 / M,
                  load0.c_str(), loadavg().c_str());
      for (auto& r : rows)
        if (r["task"] == name && r["M"] == M) {
          r["algorithm_bytes_per_condition"] = alg_b / double(M);
          r["sample_bytes_per_condition"] = smp_b / double(M);
          r["vm_hwm_bytes"] = hwm;
          r["loadavg"] = load0 + " -> " + loadavg();
        }
      costs.push_back(cost);

      // Same-run baseline: M single-condition algorithms, one after the other, 1 thread,
      // scalar paths, warmed up and timed at the same iterations as the batched run.
      if (std::find(opt.baseline_Ms.begin(), opt.baseline_Ms.end(), M) == opt.baseline_Ms.end())
        continue;
      const double base_est = base_wall_per_cond * M;
      if (opt.max_seconds > 0 && base_est > opt.max_seconds) {
        std::printf("  SKIPPED baseline M=%d: estimated %.0f s > --max-seconds %.0f\n", M,
                    base_est, opt.max_seconds);
        skipped.push_back({{"task", name}, {"M", M}, {"baseline", true}, {"estimated_s", base_est}});
        continue;
      }
      const gpsx::Executor one = gpsx::cpu_executor(1);
      std::vector<std::unique_ptr<Run>> singles;
      for (int m = 0; m < M; ++m)
        singles.push_back(std::make_unique<Run>(one, one_condition(task, m), 1, true));
      SameData data(one, task, *singles[0], M);
      const auto iteration = [&](Times* t) {
        data.draw(one, singles);
        for (int m = 0; m < M; ++m) {
          const Times r = singles[m]->iterate(one, [&](Run& s) { return data.give(m, s); });
          if (t) t->add(r);
        }
      };
      w0 = now_seconds();
      for (int i = 0; i < K0_iteration - opt.iterations; ++i) iteration(nullptr);
      Times bt;
      for (int i = 0; i < opt.iterations; ++i) iteration(&bt);
      base_wall_per_cond = (now_seconds() - w0) / M;
      int same = 0;  // conditions whose controller equals the batched one bit for bit
      for (int m = 0; m < M; ++m) {
        const auto& Kb = singles[m]->alg.ctrl.K;
        same += std::equal(Kb.data(), Kb.data() + Kb.size(), K0.begin() + m * Kb.size());
      }
      print_row("baseline, 1 thread", M, bt, true, opt.iterations);
      std::printf("  baseline controllers after iteration %d equal the batched ones bitwise for "
                  "%d of %d conditions%s\n", K0_iteration, same, M,
                  same == M ? "" : " (NOT the same work: the ratio is not meaningful)");
      const double btotal = bt.total(true) / opt.iterations;
      base_per_cond[M] = btotal / M;
      baselines.push_back({{"task", name}, {"M", M}, {"threads", 1}, {"clock", "thread_cpu"},
                           {"phases_s", phases_json(bt, true, opt.iterations)},
                           {"total_s", btotal}, {"s_per_condition", btotal / M},
                           {"em_iterations_max", bt.em_iterations}, {"failures", bt.failures},
                           {"conditions_bitwise_equal", same}});
    }

    // Ratios: vs the same-run baseline (same M, else the largest measured M, per condition,
    // said so) and vs the reference's recorded figure (4 conditions, one core).
    const double ref = reference_seconds(name);
    std::printf("  speed (seconds per condition per iteration; baseline = same-run "
                "one-condition-at-a-time, reference = %.1f s / 4 conditions recorded):\n", ref);
    std::map<int, double> per_cond;  // threads -> s/condition at M = 64, for the flatness bar
    for (auto& r : rows) {
      if (r["task"] != name) continue;
      const int M = r["M"], th = r["threads"];
      const double s = r["s_per_condition"];
      int bm = 0;
      for (const auto& [m, v] : base_per_cond)
        if (m == M || (bm != M && m > bm)) bm = m;
      std::string note;
      if (bm) {
        r["speedup_vs_baseline"] = base_per_cond[bm] / s;
        r["baseline_M"] = bm;
        if (bm != M) note = " (baseline per condition extrapolated from M=" + std::to_string(bm) + ")";
      }
      r["speedup_vs_reference"] = ref / kRefConditions / s;
      std::printf("    M=%5d %d thread(s): %.3g s/condition, %.2fx baseline%s, %.1fx reference\n",
                  M, th, s, bm ? base_per_cond[bm] / s : NAN, note.c_str(),
                  ref / kRefConditions / s);
      if (M == 64) per_cond[th] = s;
      if (M == 1024 && per_cond.count(th)) {
        r["per_condition_vs_M64"] = s / per_cond[th];
        std::printf("    flatness M=64 -> 1024, %d thread(s): %.2fx (bar <= 1.5x): %s\n", th,
                    s / per_cond[th], s / per_cond[th] <= 1.5 ? "met" : "NOT met");
      }
      if (M == 4 && th == 1)
        std::printf("    bar >= 20x the reference per iteration at M=4 on 1 thread: %.1fx, %s\n",
                    ref / (s * M), ref / (s * M) >= 20 ? "met" : "NOT met");
    }
  }
  std::printf("load average at end %s\n", loadavg().c_str());
  gpsx::bench::print_result_line(
      {{"bench", "iteration"}, {"cpu_model", cpu}, {"hardware_threads", hw}, {"N", kN},
       {"T", kT}, {"warmup_iterations", opt.warmup}, {"timed_iterations", opt.iterations},
       {"clock_1_thread", "thread_cpu"}, {"clock_multi_thread", "wall"},
       {"reference_s_per_iteration_4_conditions", {{"reacher2", 2.4}, {"arm7", 8.5}}},
       {"vm_hwm_reset_per_configuration", peak_resets}, {"loadavg_end", loadavg()},
       {"rows", rows}, {"baselines", baselines}, {"skipped", skipped}});
  return 0;
}
