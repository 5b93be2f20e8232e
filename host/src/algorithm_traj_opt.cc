#include "gpsx/host/algorithm_traj_opt.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "gpsx/host/check.h"
#include "gpsx/host/nvtx.h"
#include "gpsx/kernels/algorithm.h"

namespace gpsx {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

lqr::Dims dims(const TrajOptAlgorithm& a) { return lqr::Dims{a.T, a.dX, a.dU}; }

TrajOptSettings lqr_settings(const TrajOptAlgorithmSettings& s) {
  TrajOptSettings l = s.lqr;
  l.base_kl_step = s.kl_step;
  return l;
}

lingauss::BatchController<double> batch(ControllerBatch& c) {
  return {c.K.data(), c.k.data(), c.pol_covar.data(), c.chol_pol_covar.data(),
          c.inv_pol_covar.data()};
}

// The C-step's inputs: this iteration's fit and costs, anchored at the current controllers.
lqr::BatchInputs<double> lqr_inputs(TrajOptAlgorithm& a) {
  lqr::BatchInputs<double> in{};
  in.d = dims(a);
  in.Fm = a.Fm.data();
  in.fv = a.fv.data();
  in.dyn_covar = a.dyn_covar.data();
  in.x0mu = a.x0mu.data();
  in.x0sigma = a.x0sigma.data();
  in.Cm = a.Cm.data();
  in.cv = a.cv.data();
  in.cc = a.cc.data();
  in.mode = lqr::Mode::kTrajOpt;
  in.prev_K = a.ctrl.K.data();
  in.prev_k = a.ctrl.k.data();
  in.prev_chol_pol_covar = a.ctrl.chol_pol_covar.data();
  in.prev_inv_pol_covar = a.ctrl.inv_pol_covar.data();
  return in;
}

// Marks condition m failed in `phase` with `status` and, for the first failure, `message`.
void fail(IterationReport& r, int m, std::uint32_t phase, std::uint32_t status,
          const std::string& message) {
  if (r.failed[m] == 0 && r.message[m].empty()) r.message[m] = message;
  r.failed[m] |= phase;
  r.status[m] |= status;
}

void upload_failed(const Executor& ex, TrajOptAlgorithm& a) {
  upload(ex, a.report.failed.data(), a.report.failed.size(), a.failed.data());
}

// Sum over time of the Laplace estimate of `ctrl` under the current fit, into out (M).
void laplace_sum(const Executor& ex, TrajOptAlgorithm& a, ControllerBatch& ctrl, double* out) {
  const lqr::BatchInputs<double> in = lqr_inputs(a);
  estimate_cost(ex, in.d, a.M, in, batch(ctrl), a.laplace.data(), a.workspace.data(),
                static_cast<std::size_t>(a.workspace.size()));
  for_each(ex, a.M, algo::SumOverTimeFn{a.T, a.laplace.data(), out});
}

}  // namespace

std::string phase_names(std::uint32_t phases) {
  static const char* const names[] = {"samples", "cost", "dynamics", "step_size", "lqr"};
  std::string s;
  for (int b = 0; b < 5; ++b)
    if (phases & (1u << b)) s += (s.empty() ? "" : "+") + std::string(names[b]);
  return s;
}

int IterationReport::failures() const {
  return static_cast<int>(std::count_if(failed.begin(), failed.end(),
                                        [](std::uint32_t f) { return f != 0; }));
}

TrajOptAlgorithm make_traj_opt_algorithm(const Executor& ex, int M, int T, int dX, int dU,
                                         int N, const TrajOptAlgorithmSettings& s) {
  require(M >= 1 && T >= 2 && dX >= 1 && dU >= 1 && N >= 1,
          "make_traj_opt_algorithm: need M >= 1, T >= 2, dX, dU, N >= 1; got M=" +
              std::to_string(M) + " T=" + std::to_string(T) + " dX=" + std::to_string(dX) +
              " dU=" + std::to_string(dU) + " N=" + std::to_string(N));
  require(s.kl_step > 0 && s.min_step_mult > 0 && s.max_step_mult >= s.min_step_mult &&
              s.init_eta > 0 && s.init_step_mult > 0 && s.inner_iterations >= 1,
          "make_traj_opt_algorithm: settings out of range (kl_step, step multipliers, init_eta "
          "must be > 0, min_step_mult <= max_step_mult, inner_iterations >= 1)");
  TrajOptAlgorithm a;
  a.M = M, a.T = T, a.dX = dX, a.dU = dU, a.N = N;
  a.settings = s;
  const std::int64_t n = dX + dU;
  a.ctrl = ControllerBatch(ex, M, T, dX, dU);
  a.new_ctrl = ControllerBatch(ex, M, T, dX, dU);
  a.prior = make_dynamics_prior(ex, M, T, dX, dU, s.dynamics);
  a.eta = Buffer<double>(ex, "eta", Shape{M});
  a.step_mult = Buffer<double>(ex, "step_mult", Shape{M});
  a.laplace_prev = Buffer<double>(ex, "laplace_prev", Shape{M});
  a.laplace_predicted = Buffer<double>(ex, "laplace_predicted", Shape{M});
  a.Fm = Buffer<double>(ex, "Fm", Shape{M, T, dX, n});
  a.fv = Buffer<double>(ex, "fv", Shape{M, T, dX});
  a.dyn_covar = Buffer<double>(ex, "dyn_covar", Shape{M, T, dX, dX});
  a.x0mu = Buffer<double>(ex, "x0mu", Shape{M, dX});
  a.x0sigma = Buffer<double>(ex, "x0sigma", Shape{M, dX, dX});
  a.Cm = Buffer<double>(ex, "Cm", Shape{M, T, n, n});
  a.cv = Buffer<double>(ex, "cv", Shape{M, T, n});
  a.cc = Buffer<double>(ex, "cc", Shape{M, T});
  a.cs = Buffer<double>(ex, "cs", Shape{M, N, T});
  a.kl = Buffer<double>(ex, "kl", Shape{M});
  a.passes = Buffer<int>(ex, "passes", Shape{M});
  a.lqr_status = Buffer<std::uint32_t>(ex, "lqr_status", Shape{M});
  a.failed = Buffer<std::uint32_t>(ex, "failed", Shape{M});
  a.scalars = Buffer<double>(ex, "scalars", Shape{algo::kRows, M});
  a.laplace = Buffer<double>(ex, "laplace", Shape{M, T});

  const lqr::Dims d{T, dX, dU};
  const std::size_t ws = std::max({dynamics_workspace_size(ex, a.prior, N),
                                   traj_opt_workspace_size(ex, d, M, lqr_settings(s)),
                                   static_cast<std::size_t>(M) * lqr::forward_scratch_size(d)});
  a.workspace = Buffer<double>(ex, ws, "algorithm workspace");

  const std::vector<double> eta(M, s.init_eta), mult(M, s.init_step_mult);
  upload(ex, eta.data(), eta.size(), a.eta.data());
  upload(ex, mult.data(), mult.size(), a.step_mult.data());
  return a;
}

void traj_opt_begin(const Executor& ex, TrajOptAlgorithm& a, const SampleBatch& samples) {
  require(samples.N == a.N && samples.X && samples.U,
          "traj_opt: the sample batch must have N = " + std::to_string(a.N) +
              " samples per condition and X, U");
  IterationReport& r = a.report;
  r = IterationReport{};
  r.iteration = a.iteration;
  const std::size_t M = a.M;
  r.failed.assign(M, 0);
  r.status.assign(M, 0);
  r.message.assign(M, "");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto* v : {&r.sample_cost, &r.eta, &r.step_mult, &r.kl, &r.kl_bound, &r.predicted,
                  &r.actual})
    v->assign(M, nan);
  r.lqr_passes.assign(M, 0);
  // The state a failed condition returns to.
  for_each(ex, a.M, algo::SaveRowFn{a.M, algo::kEtaBefore, a.eta.data(), a.scalars.data()});
  for_each(ex, a.M,
           algo::SaveRowFn{a.M, algo::kStepMultBefore, a.step_mult.data(), a.scalars.data()});
  if (samples.status)
    for (int m = 0; m < a.M; ++m)
      if (samples.status[m])
        fail(r, m, kPhaseSamples, samples.status[m],
             condition_label(m) + "samples: " + status_name(samples.status[m]));
}

void traj_opt_eval_cost(const Executor& ex, TrajOptAlgorithm& a,
                        const cost::CostModel<double>& cost, const SampleBatch& samples) {
  NvtxRange range("traj_opt: cost");
  const auto t0 = Clock::now();
  std::vector<std::uint32_t> status(a.M);
  eval_cost(ex, cost, a.M, a.N, a.T, a.dX, a.dU, samples.X, samples.U, samples.jac,
            a.cs.data(), a.cc.data(), a.cv.data(), a.Cm.data(), status.data(), a.cost_ws);
  for (int m = 0; m < a.M; ++m)
    if (status[m])
      fail(a.report, m, kPhaseCost, status[m], condition_label(m) + "cost: " + status_name(status[m]));
  for_each(ex, a.M, algo::MeanSampleCostFn{a.M, a.N, a.T, a.cs.data(), a.scalars.data()});
  a.report.seconds_cost += seconds_since(t0);
}

void traj_opt_update_dynamics(const Executor& ex, TrajOptAlgorithm& a, const SampleBatch& samples,
                              const int* init_assignment) {
  NvtxRange range("traj_opt: dynamics");
  const auto t0 = Clock::now();
  const DynamicsPriorSettings& s = a.settings.dynamics;
  double* ws = a.workspace.data();
  const std::size_t wsn = static_cast<std::size_t>(a.workspace.size());
  IterationReport& r = a.report;
  const GmmUpdateReport g = dynamics_prior_update(ex, s, a.prior, a.N, samples.X, samples.U, ws,
                                                  wsn, init_assignment);
  r.gmm_clusters = g.K;
  r.gmm_em_iterations = g.max_iterations();
  for (int m = 0; m < a.M; ++m)
    if (g.status[m]) fail(r, m, kPhaseDynamics, g.status[m], g.message[m]);
  const FitReport fit = dynamics_fit_prior(ex, s, a.prior, a.N, samples.X, samples.U, a.Fm.data(),
                                           a.fv.data(), a.dyn_covar.data(), ws, wsn);
  const FitReport x0 = dynamics_initial_state(ex, s, &a.prior, a.M, a.N, a.T, a.dX, samples.X,
                                              a.settings.initial_state_var, a.x0mu.data(),
                                              a.x0sigma.data(), ws, wsn);
  for (const FitReport* f : {&fit, &x0})
    for (int m = 0; m < a.M; ++m)
      if (f->status[m]) fail(r, m, kPhaseDynamics, f->status[m], f->message[m]);
  r.seconds_dynamics += seconds_since(t0);
}

void traj_opt_update_step_size(const Executor& ex, TrajOptAlgorithm& a) {
  NvtxRange range("traj_opt: step size");
  const auto t0 = Clock::now();
  upload_failed(ex, a);
  if (a.iteration >= 1) {
    const lqr::BatchInputs<double> in = lqr_inputs(a);
    estimate_cost(ex, in.d, a.M, in, batch(a.ctrl), a.laplace.data(), a.workspace.data(),
                  static_cast<std::size_t>(a.workspace.size()));
    for_each(ex, a.M,
             algo::StepAdjustFn{a.M, a.T, a.laplace.data(), a.laplace_prev.data(),
                                a.laplace_predicted.data(), a.settings.min_step_mult,
                                a.settings.max_step_mult, kPhaseStepSize, a.step_mult.data(),
                                a.failed.data(), a.scalars.data()});
    // The failed bits stay in executor memory until the C-step's statuses join them.
  }
  a.report.seconds_step += seconds_since(t0);
}

void traj_opt_update_controllers(const Executor& ex, TrajOptAlgorithm& a) {
  NvtxRange range("traj_opt: lqr");
  const auto t0 = Clock::now();
  const TrajOptSettings s = lqr_settings(a.settings);
  for_each(ex, a.M,
           algo::SaveRowFn{a.M, algo::kStepMultUsed, a.step_mult.data(), a.scalars.data()});
  const lqr::BatchInputs<double> in = lqr_inputs(a);
  const lqr::BatchResult<double> res{a.eta.data(), a.kl.data(), a.passes.data(),
                                     a.lqr_status.data()};
  // inner_iterations > 1 re-runs the C-step from its own eta, anchored at the same
  // controllers (the reference re-fits nothing in between).
  for (int i = 0; i < a.settings.inner_iterations; ++i)
    traj_opt_update(ex, in.d, a.M, in, a.step_mult.data(), s, batch(a.new_ctrl), res,
                    a.workspace.data(), static_cast<std::size_t>(a.workspace.size()));

  // Per-condition scalars to the host: statuses, passes, KL, the step adjustment's bits.
  IterationReport& r = a.report;
  std::vector<std::uint32_t> lqr_status(a.M), failed(a.M);
  std::vector<double> eta(a.M);
  download(ex, a.lqr_status.data(), lqr_status.size(), lqr_status.data());
  download(ex, a.eta.data(), eta.size(), eta.data());
  download(ex, a.failed.data(), failed.size(), failed.data());
  download(ex, a.passes.data(), r.lqr_passes.size(), r.lqr_passes.data());
  download(ex, a.kl.data(), r.kl.size(), r.kl.data());
  for (int m = 0; m < a.M; ++m) {
    if (failed[m] & kPhaseStepSize && !(r.failed[m] & kPhaseStepSize))
      fail(r, m, kPhaseStepSize, kNonFinite,
           condition_label(m) + "step size: non-finite Laplace estimate (multiplier kept)");
    // A step-size failure keeps the multiplier but the C-step's result still counts.
    if (r.failed[m] & ~kPhaseStepSize) continue;
    // A search that ran out of passes with eta at the top of its bracket returns a
    // controller computed where the backward pass is roundoff (its KL is far from 0 although
    // it should equal the previous controller), and would start the next search there: a
    // failure (the reference would take it, then raise at the next non-PD sweep).
    if (lqr_status[m] == kNotConverged && eta[m] >= 0.5 * s.max_eta) {
      fail(r, m, kPhaseLqr, kNotConverged | kLimitReached,
           condition_label(m) + "lqr: the eta search saturated at eta " +
               std::to_string(eta[m]) + " with KL " + std::to_string(r.kl[m]) +
               " (previous controller kept)");
    } else if (lqr_status[m] == kNotConverged) {  // the reference warns and takes it
      r.status[m] |= kNotConverged;
      if (r.message[m].empty())
        r.message[m] = condition_label(m) + "lqr: the eta search ran out of its " +
                       std::to_string(s.max_iterations) + " passes (KL " +
                       std::to_string(r.kl[m]) + "); its last controller is used";
    } else if (lqr_status[m]) {
      fail(r, m, kPhaseLqr, lqr_status[m],
           condition_label(m) + "lqr: " + status_name(lqr_status[m]) +
               (lqr_status[m] & kLimitReached ? " up to the largest eta" : "") +
               " (previous controller kept)");
    }
  }
  // Conditions failed in any phase but the step size keep their controller and eta.
  std::vector<std::uint32_t> keep(a.M);
  for (int m = 0; m < a.M; ++m) keep[m] = r.failed[m] & ~kPhaseStepSize;
  upload(ex, keep.data(), keep.size(), a.failed.data());
  const algo::KeepFailedControllerFn restore{a.M,          a.T,          a.dX,
                                             a.dU,         a.failed.data(), batch(a.ctrl),
                                             batch(a.new_ctrl), a.scalars.data(), a.eta.data(),
                                             a.step_mult.data()};
  for_each_2d(ex, a.M, restore.elements(), restore);
  r.seconds_lqr += seconds_since(t0);
}

void traj_opt_advance(const Executor& ex, TrajOptAlgorithm& a) {
  NvtxRange range("traj_opt: advance");
  const auto t0 = Clock::now();
  // The estimates the next step adjustment compares against, under this iteration's fit.
  laplace_sum(ex, a, a.ctrl, a.laplace_prev.data());
  laplace_sum(ex, a, a.new_ctrl, a.laplace_predicted.data());
  for_each(ex, a.M, algo::ForgetEstimateFn{a.failed.data(), a.laplace_prev.data()});
  std::swap(a.ctrl, a.new_ctrl);

  IterationReport& r = a.report;
  std::vector<double> scalars(static_cast<std::size_t>(algo::kRows) * a.M);
  download(ex, a.scalars.data(), scalars.size(), scalars.data());
  download(ex, a.eta.data(), r.eta.size(), r.eta.data());
  const auto row = [&](int k, int m) { return scalars[static_cast<std::size_t>(k) * a.M + m]; };
  for (int m = 0; m < a.M; ++m) {
    r.sample_cost[m] = row(algo::kSampleCost, m);
    r.step_mult[m] = row(algo::kStepMultUsed, m);
    r.kl_bound[m] = a.settings.kl_step * r.step_mult[m] * a.T;
    if (a.iteration >= 1) {
      r.predicted[m] = row(algo::kPredicted, m);
      r.actual[m] = row(algo::kActual, m);
    }
  }
  ++a.iteration;
  r.seconds_lqr += seconds_since(t0);
}

int traj_opt_replace_failed_samples(const Executor& ex, const TrajOptAlgorithm& a,
                                    const std::uint32_t* sample_status, double* X, double* U) {
  const DynamicsPrior& p = a.prior;
  if (p.count < a.N) return 0;
  const std::size_t xs = static_cast<std::size_t>(a.T) * a.dX, us = static_cast<std::size_t>(a.T) * a.dU;
  const std::size_t newest = static_cast<std::size_t>(p.count - a.N);
  int replaced = 0;
  for (int m = 0; m < a.M; ++m) {
    if (sample_status[m] == 0) continue;
    const std::size_t first = static_cast<std::size_t>(m) * p.capacity + newest;
    const std::size_t batch = static_cast<std::size_t>(m) * a.N;
    copy_within(ex, p.X.data() + first * xs, a.N * xs, X + batch * xs);
    copy_within(ex, p.U.data() + first * us, a.N * us, U + batch * us);
    ++replaced;
  }
  return replaced;
}

const IterationReport& traj_opt_iteration(const Executor& ex, TrajOptAlgorithm& a,
                                          const cost::CostModel<double>& cost,
                                          const SampleBatch& samples, const int* init_assignment) {
  traj_opt_begin(ex, a, samples);
  traj_opt_update_dynamics(ex, a, samples, init_assignment);
  traj_opt_eval_cost(ex, a, cost, samples);
  traj_opt_update_step_size(ex, a);
  traj_opt_update_controllers(ex, a);
  traj_opt_advance(ex, a);
  return a.report;
}

}  // namespace gpsx
