// KL-constrained LQR (gpsx/kernels/lqr_*.h, gpsx/host/traj_opt.h).
//
// Golden: every case of lqr_backward.json (fixed-eta backward+forward, full dual searches
// with their traces, non-PD retries, the never-converging search, the step-multiplier
// table) at the README's rtol 1e-9, and the `kl` section of kl_and_costs.json at 1e-12.
// Unit: eta -> infinity keeps the anchor; without a KL term the gains are the closed-form
// LQR (Riccati recursion with Eigen here); float vs double; a NaN condition in a batch.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gpsx/host/traj_opt.h"
#include "gpsx/kernels/lqr_batch.h"
#include "gpsx/kernels/lqr_dual_search.h"
#include "gpsx/kernels/lqr_kl.h"
#include "gpsx/kernels/lqr_problem.h"
#include "gpsx/kernels/lqr_riccati.h"
#include "gpsx_test/reference.h"

namespace {

using gpsx::test::flatten;
using gpsx::test::json;
using gpsx::test::near_rel;
namespace lqr = gpsx::lqr;
using Vec = std::vector<double>;

constexpr double kRtol = 1e-9;      // README: LQR outputs and eta search
constexpr double kRtolKl = 1e-12;  // README: KL utilities

const json& lqr_reference() {
  static const json j = gpsx::test::load_reference("lqr_backward.json");
  return j;
}

// One condition's inputs as owned arrays (converted to Real).
template <class Real>
struct Problem {
  lqr::Dims d;
  std::vector<Real> Fm, fv, dyn_covar, x0mu, x0sigma, Cm, cv, cc;
  std::vector<Real> K, k, pol_covar, chol, inv;                  // previous controller
  std::vector<Real> pol_K, pol_k, chol_pol_S, pol_wt, lambda_K, lambda_k;
  lqr::Mode mode = lqr::Mode::kTrajOpt;

  lqr::TrajInfo<Real> info() const {
    return {Fm.data(), fv.data(), dyn_covar.data(), x0mu.data(), x0sigma.data(),
            Cm.data(), cv.data(),  cc.data()};
  }
  lqr::Constraint<Real> constraint() const { return batch(1).constraint(0); }
  lqr::BatchInputs<Real> batch(int) const {
    const auto p = [](const std::vector<Real>& v) { return v.empty() ? nullptr : v.data(); };
    lqr::BatchInputs<Real> b;
    b.d = d;
    b.Fm = p(Fm);
    b.fv = p(fv);
    b.dyn_covar = p(dyn_covar);
    b.x0mu = p(x0mu);
    b.x0sigma = p(x0sigma);
    b.Cm = p(Cm);
    b.cv = p(cv);
    b.cc = p(cc);
    b.mode = mode;
    const bool prev = mode != lqr::Mode::kMdgps, pol = mode != lqr::Mode::kTrajOpt;
    const bool badmm = mode == lqr::Mode::kBadmm;
    b.prev_K = prev ? p(K) : nullptr;
    b.prev_k = prev ? p(k) : nullptr;
    b.prev_chol_pol_covar = prev ? p(chol) : nullptr;
    b.prev_inv_pol_covar = prev ? p(inv) : nullptr;
    b.pol_K = pol ? p(pol_K) : nullptr;
    b.pol_k = pol ? p(pol_k) : nullptr;
    b.chol_pol_S = pol ? p(chol_pol_S) : nullptr;
    b.pol_wt = badmm ? p(pol_wt) : nullptr;
    b.lambda_K = badmm ? p(lambda_K) : nullptr;
    b.lambda_k = badmm ? p(lambda_k) : nullptr;
    return b;
  }
};

template <class Real>
std::vector<Real> as(const json& j) {
  const Vec v = flatten(j);
  return std::vector<Real>(v.begin(), v.end());
}

lqr::Mode mode_of(const std::string& s) {
  if (s == "traj_opt") return lqr::Mode::kTrajOpt;
  if (s == "mdgps") return lqr::Mode::kMdgps;
  if (s == "badmm") return lqr::Mode::kBadmm;
  throw std::runtime_error("unknown mode " + s);
}

// The problem of a golden case, with `modified_inputs` applied.
template <class Real>
Problem<Real> problem_of(const json& c) {
  const json& ref = lqr_reference();
  const json& pr = ref["problems"][c["problem"].get<int>()];
  Problem<Real> p;
  p.d = {ref["dims"]["T"].get<int>(), ref["dims"]["dX"].get<int>(), ref["dims"]["dU"].get<int>()};
  const json& ti = pr["traj_info"];
  p.Fm = as<Real>(ti["Fm"]);
  p.fv = as<Real>(ti["fv"]);
  p.dyn_covar = as<Real>(ti["dyn_covar"]);
  p.x0mu = as<Real>(ti["x0mu"]);
  p.x0sigma = as<Real>(ti["x0sigma"]);
  p.Cm = as<Real>(ti["Cm"]);
  p.cv = as<Real>(ti["cv"]);
  p.cc = as<Real>(ti["cc"]);
  if (c.contains("modified_inputs")) {
    for (const auto& [name, value] : c["modified_inputs"].items()) {
      std::vector<Real>* dst = name == "Cm" ? &p.Cm : name == "cv" ? &p.cv : name == "cc" ? &p.cc
                                                                                      : nullptr;
      if (!dst) throw std::runtime_error("unsupported modified input " + name);
      if (value.is_string()) {
        if (value.template get<std::string>() != "all zeros")
          throw std::runtime_error("unsupported modification " + value.dump());
        std::fill(dst->begin(), dst->end(), Real(0));
      } else {
        *dst = as<Real>(value);
      }
    }
  }
  const json& prev = pr["prev_traj_distr"];
  p.K = as<Real>(prev["K"]);
  p.k = as<Real>(prev["k"]);
  p.pol_covar = as<Real>(prev["pol_covar"]);
  p.chol = as<Real>(prev["chol_pol_covar"]);
  p.inv = as<Real>(prev["inv_pol_covar"]);
  p.mode = mode_of(c["mode"]);
  if (c.contains("pol_info")) {
    const json& pi = c["pol_info"];
    p.pol_K = as<Real>(pi["pol_K"]);
    p.pol_k = as<Real>(pi["pol_k"]);
    p.chol_pol_S = as<Real>(pi["chol_pol_S"]);
    if (pi.contains("pol_wt")) {
      p.pol_wt = as<Real>(pi["pol_wt"]);
      p.lambda_K = as<Real>(pi["lambda_K"]);
      p.lambda_k = as<Real>(pi["lambda_k"]);
    }
  }
  return p;
}

// An owned controller.
template <class Real>
struct OwnedController {
  std::vector<Real> data;
  lqr::Controller<Real> c;
  explicit OwnedController(const lqr::Dims& d)
      : data(lqr::controller_size(d), Real(0)), c(lqr::packed_controller(d, data.data())) {}
};

double setting_or(const json& settings, const char* key, double fallback) {
  return settings.contains(key) ? settings[key].get<double>() : fallback;
}

::testing::AssertionResult same_controller(const lqr::Dims& d, const lqr::Controller<double>& c,
                                           const json& ref, double rtol, const std::string& what) {
  const std::size_t T = d.T, X = d.dX, U = d.dU;
  const std::pair<const char*, std::pair<const double*, std::size_t>> fields[] = {
      {"K", {c.K, T * U * X}},
      {"k", {c.k, T * U}},
      {"pol_covar", {c.pol_covar, T * U * U}},
      {"chol_pol_covar", {c.chol_pol_covar, T * U * U}},
      {"inv_pol_covar", {c.inv_pol_covar, T * U * U}}};
  for (const auto& [name, arr] : fields) {
    const Vec expect = flatten(ref[name]);
    if (expect.size() != arr.second)
      return ::testing::AssertionFailure() << what << "." << name << " size " << expect.size();
    auto r = near_rel(arr.first, expect, rtol, 1e-300, what + "." + name);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult near(const Vec& got, const json& ref, double rtol,
                                const std::string& what, double atol = 1e-300) {
  return near_rel(got, flatten(ref), rtol, atol, what);
}

// ---- golden: lqr_backward.json ----------------------------------------------------------

TEST(LqrGolden, BackwardForwardCases) {
  int seen = 0;
  for (const json& c : lqr_reference()["cases"]) {
    if (c["function"] != "backward+forward") continue;
    ++seen;
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const Problem<double> p = problem_of<double>(c);
    const lqr::Dims d = p.d;
    const std::size_t T = d.T, X = d.dX, n = d.n();
    const json& s = c["settings"];
    const json& o = c["outputs"];

    OwnedController<double> ctrl(d);
    Vec fCm(T * n * n), fcv(T * n), Qtt(T * n * n), Qt(T * n), Vxx(T * X * X), Vx(T * X);
    Vec scratch(lqr::search_scratch_size(d), std::nan(""));
    double eta_out = 0;
    int attempts = 0;
    const std::uint32_t st = lqr::backward_pass(
        d, p.info(), p.constraint(), s["eta"].get<double>(), setting_or(s, "del0", 1e-4), 1e16,
        ctrl.c, lqr::BackwardRecord<double>{fCm.data(), fcv.data(), Qtt.data(), Qt.data(),
                                            Vxx.data(), Vx.data()},
        &eta_out, &attempts, scratch.data());
    ASSERT_EQ(st, gpsx::kOk) << gpsx::status_name(st);
    EXPECT_TRUE(near({eta_out}, o["eta_out"], kRtol, "eta_out"));
    EXPECT_EQ(attempts, static_cast<int>(o["attempts"].size()));
    EXPECT_TRUE(same_controller(d, ctrl.c, o["new_traj_distr"], kRtol, name));
    EXPECT_TRUE(near(fCm, o["fCm"], kRtol, "fCm"));
    EXPECT_TRUE(near(fcv, o["fcv"], kRtol, "fcv"));
    EXPECT_TRUE(near(Qtt, o["Qtt"], kRtol, "Qtt"));
    EXPECT_TRUE(near(Qt, o["Qt"], kRtol, "Qt"));
    EXPECT_TRUE(near(Vxx, o["Vxx"], kRtol, "Vxx"));
    EXPECT_TRUE(near(Vx, o["Vx"], kRtol, "Vx"));

    Vec mu(T * n), sigma(T * n * n), kl(T), cost(T);
    bool finite = true;
    const double total = lqr::forward_kl(
        d, p.info(), lqr::view_of(ctrl.c), p.constraint().kl_anchor(),
        lqr::ForwardRecord<double>{mu.data(), sigma.data(), kl.data(), cost.data()},
        scratch.data(), &finite);
    EXPECT_TRUE(finite);
    EXPECT_TRUE(near(mu, o["mu"], kRtol, "mu"));
    EXPECT_TRUE(near(sigma, o["sigma"], kRtol, "sigma"));
    EXPECT_TRUE(near(kl, o["kl_per_t"], kRtol, "kl_per_t"));
    EXPECT_TRUE(near({total}, o["kl_total"], kRtol, "kl_total"));
    EXPECT_TRUE(near(cost, o["estimate_cost"], kRtol, "estimate_cost"));

    // the batched host estimate_cost (M = 1) gives the same
    const lqr::BatchController<double> bc{ctrl.c.K, ctrl.c.k, ctrl.c.pol_covar,
                                          ctrl.c.chol_pol_covar, ctrl.c.inv_pol_covar};
    Vec host_cost(T), ws(lqr::forward_scratch_size(d));
    gpsx::estimate_cost(gpsx::cpu_executor(1), d, 1, p.batch(1), bc, host_cost.data(), ws.data(),
                        ws.size());
    EXPECT_TRUE(near(host_cost, o["estimate_cost"], kRtol, "host estimate_cost"));
  }
  EXPECT_GT(seen, 0);
}

// Settings of an `update` case (defaults: the reference's).
lqr::SearchSettings<double> search_settings(const json& c) {
  const json& s = c["settings"];
  lqr::SearchSettings<double> ss;
  ss.base_kl_step = s["base_kl_step"].get<double>();
  ss.min_eta = setting_or(s, "min_eta", 1e-8);
  ss.max_eta = setting_or(s, "max_eta", 1e16);
  ss.del0 = setting_or(s, "del0", 1e-4);
  ss.max_iterations = static_cast<int>(setting_or(s, "dgd_max_iter", 50));
  return ss;
}

// The total KL bound of an `update` case.
double kl_bound(const json& c, const lqr::Dims& d) {
  return search_settings(c).kl_bound(d, c["settings"]["step_mult"].get<double>());
}

// Kl values of a case whose KL is round-off only (zero cost) are compared with an absolute
// floor of 1e-9 of the bound: the search decisions are relative to the bound.
TEST(LqrGolden, UpdateCasesReplayTraces) {
  int seen = 0;
  for (const json& c : lqr_reference()["cases"]) {
    if (c["function"] != "update") continue;
    ++seen;
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const Problem<double> p = problem_of<double>(c);
    const lqr::Dims d = p.d;
    const std::size_t T = d.T, n = d.n();
    const json& o = c["outputs"];
    const lqr::SearchSettings<double> ss = search_settings(c);
    const double bound = kl_bound(c, d);
    EXPECT_TRUE(near({bound}, o["kl_step_total"], kRtol, "kl_step_total"));
    const double kl_floor = 1e-9 * bound;

    OwnedController<double> ctrl(d);
    Vec mu(T * n), sigma(T * n * n), kl(T), scratch(lqr::search_scratch_size(d));
    Vec eta_used(ss.max_iterations), trace_kl(ss.max_iterations);
    std::vector<int> attempts(ss.max_iterations);
    double eta = c["settings"]["eta_initial"].get<double>(), total = 0;
    int iterations = 0;
    const std::uint32_t st = lqr::dual_search(
        d, p.info(), p.constraint(), ss, bound, &eta, ctrl.c,
        lqr::ForwardRecord<double>{mu.data(), sigma.data(), kl.data(), nullptr},
        lqr::SearchTrace<double>{eta_used.data(), trace_kl.data(), attempts.data()}, &total,
        &iterations, scratch.data());

    const json& trace = o["trace"];
    ASSERT_EQ(iterations, o["dgd_iterations"].get<int>());
    ASSERT_EQ(trace.size(), static_cast<std::size_t>(iterations));
    EXPECT_EQ(st == gpsx::kOk, trace.back()["converged"].get<bool>()) << gpsx::status_name(st);
    if (st != gpsx::kOk) {
      EXPECT_EQ(st, gpsx::kNotConverged);
    }
    for (int i = 0; i < iterations; ++i) {
      SCOPED_TRACE("iteration " + std::to_string(i));
      const json& tr = trace[i];
      EXPECT_TRUE(near({eta_used[i]}, tr["eta_used"], kRtol, "eta_used"));
      EXPECT_TRUE(near({trace_kl[i]}, tr["kl"], kRtol, "kl", kl_floor));
      EXPECT_EQ(attempts[i], static_cast<int>(tr["eta_attempts"].size()));
    }
    EXPECT_TRUE(near({eta}, o["eta_final"], kRtol, "eta_final"));
    const bool too_high = st != gpsx::kOk && total > bound;
    EXPECT_EQ(too_high, o["final_kl_too_high_warning"].get<bool>());
    EXPECT_TRUE(near({total}, o["kl_total"], kRtol, "kl_total", kl_floor));
    EXPECT_TRUE(near(kl, o["kl_per_t"], kRtol, "kl_per_t", kl_floor));
    EXPECT_TRUE(same_controller(d, ctrl.c, o["new_traj_distr"], kRtol, name));
    EXPECT_TRUE(near(mu, o["mu"], kRtol, "mu"));
    EXPECT_TRUE(near(sigma, o["sigma"], kRtol, "sigma"));

    // The batched host path (M = 1, sequential search) returns the same.
    const auto ex = gpsx::cpu_executor(1);
    const gpsx::TrajOptSettings& hs = ss;  // the host API takes the kernels' settings
    OwnedController<double> hc(d);
    const lqr::BatchController<double> out{hc.c.K, hc.c.k, hc.c.pol_covar, hc.c.chol_pol_covar,
                                           hc.c.inv_pol_covar};
    double heta = c["settings"]["eta_initial"].get<double>(), hkl = 0;
    int passes = 0;
    std::uint32_t hst = 0;
    const double step_mult = c["settings"]["step_mult"].get<double>();
    Vec ws(gpsx::traj_opt_workspace_size(d, 1, hs));
    gpsx::traj_opt_update(ex, d, 1, p.batch(1), &step_mult, hs, out,
                          lqr::BatchResult<double>{&heta, &hkl, &passes, &hst}, ws.data(),
                          ws.size());
    EXPECT_EQ(hst, st);
    EXPECT_EQ(passes, iterations);
    EXPECT_TRUE(near({heta}, o["eta_final"], kRtol, "host eta_final"));
    EXPECT_TRUE(same_controller(d, hc.c, o["new_traj_distr"], kRtol, name + " (host)"));
  }
  EXPECT_GT(seen, 0);
}

TEST(LqrGolden, StepMultRule) {
  const json& rows = lqr_reference()["step_mult_rule"];
  ASSERT_GT(rows.size(), 0u);
  for (const json& r : rows) {
    const double got = lqr::new_step_mult<double>(
        r["predicted_impr"], r["actual_impr"], r["step_mult_before"], r["min_step_mult"],
        r["max_step_mult"]);
    EXPECT_TRUE(near({got}, r["step_mult_after"], kRtol, "step_mult_after " + r.dump()));
  }
}

// ---- golden: kl section of kl_and_costs.json --------------------------------------------

TEST(LqrGolden, TrajDistrKl) {
  const json ref = gpsx::test::load_reference("kl_and_costs.json");
  ASSERT_GT(ref["kl"].size(), 0u);
  for (const json& c : ref["kl"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const auto shape = gpsx::test::shape_of(c["new_traj_distr"]["K"]);
    const lqr::Dims d{static_cast<int>(shape[0]), static_cast<int>(shape[2]),
                      static_cast<int>(shape[1])};
    const int X = d.dX, U = d.dU, n = d.n();
    const Vec mu = flatten(c["new_mu"]), sigma = flatten(c["new_sigma"]);
    const json& nw = c["new_traj_distr"];
    const json& pv = c["prev_traj_distr"];
    const Vec Kn = flatten(nw["K"]), kn = flatten(nw["k"]), Cn = flatten(nw["chol_pol_covar"]),
              covn = flatten(nw["pol_covar"]);
    const Vec Kp = flatten(pv["K"]), kp = flatten(pv["k"]), Cp = flatten(pv["chol_pol_covar"]),
              invp = flatten(pv["inv_pol_covar"]);
    Vec scratch(lqr::forward_scratch_size(d)), kl(d.T), kl_alt(d.T);
    bool finite = true;
    double total = 0, total_alt = 0;
    for (int t = 0; t < d.T; ++t) {
      kl[t] = lqr::kl_step(d, &mu[t * n], &sigma[t * n * n], &Kn[t * U * X], &kn[t * U],
                           &Cn[t * U * U], &Kp[t * U * X], &kp[t * U], &Cp[t * U * U],
                           scratch.data(), &finite);
      kl_alt[t] = lqr::kl_step_alt(d, &mu[t * n], &sigma[t * n * n], n, &Kn[t * U * X],
                                   &kn[t * U], &covn[t * U * U], &Cn[t * U * U], &Kp[t * U * X],
                                   &kp[t * U], &Cp[t * U * U], &invp[t * U * U], scratch.data(),
                                   &finite);
      total += kl[t];
      total_alt += kl_alt[t];
    }
    EXPECT_TRUE(finite);
    EXPECT_TRUE(near(kl, c["traj_distr_kl_per_t"], kRtolKl, "traj_distr_kl_per_t"));
    EXPECT_TRUE(near({total}, c["traj_distr_kl_total"], kRtolKl, "traj_distr_kl_total"));
    EXPECT_TRUE(near(kl_alt, c["traj_distr_kl_alt_per_t"], kRtolKl, "traj_distr_kl_alt_per_t"));
    EXPECT_TRUE(near({total_alt}, c["traj_distr_kl_alt_total"], kRtolKl, "kl_alt_total"));
  }
}

// ---- unit tests -----------------------------------------------------------------------

const json& case_named(const std::string& name) {
  for (const json& c : lqr_reference()["cases"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no golden case " + name);
}

// With eta -> infinity the cost vanishes against the KL term: the new controller is the
// anchor (previous controller for traj_opt, policy linearisation for MDGPS).
TEST(LqrUnit, EtaToInfinityKeepsAnchor) {
  for (const char* name : {"trajopt_backward_cond0_eta1", "mdgps_backward_cond0_eta1"}) {
    SCOPED_TRACE(name);
    const Problem<double> p = problem_of<double>(case_named(name));
    const lqr::Dims d = p.d;
    const int T = d.T, U = d.dU;
    OwnedController<double> ctrl(d);
    Vec scratch(lqr::search_scratch_size(d));
    double eta_out = 0;
    int attempts = 0;
    const lqr::BackwardRecord<double> none{};
    ASSERT_EQ(lqr::backward_pass(d, p.info(), p.constraint(), 1e10, 1e-4, 1e16, ctrl.c, none,
                                 &eta_out, &attempts, scratch.data()),
              gpsx::kOk);
    const bool mdgps = p.mode == lqr::Mode::kMdgps;
    const Vec& K = mdgps ? p.pol_K : p.K;
    const Vec& k = mdgps ? p.pol_k : p.k;
    Vec cov(T * U * U);  // anchor covariance C^T C from its upper factor
    const Vec& C = mdgps ? p.chol_pol_S : p.chol;
    for (int t = 0; t < T; ++t)
      for (int a = 0; a < U; ++a)
        for (int b = 0; b < U; ++b)
          for (int r = 0; r < U; ++r)
            cov[(t * U + a) * U + b] += C[(t * U + r) * U + a] * C[(t * U + r) * U + b];
    EXPECT_TRUE(near_rel(ctrl.c.K, K, 1e-6, 1e-300, "K"));
    EXPECT_TRUE(near_rel(ctrl.c.k, k, 1e-6, 1e-300, "k"));
    EXPECT_TRUE(near_rel(ctrl.c.pol_covar, cov, 1e-6, 1e-300, "pol_covar"));
    // and the gains do move at eta = 1 (the test can fail)
    lqr::backward_pass(d, p.info(), p.constraint(), 1.0, 1e-4, 1e16, ctrl.c, none, &eta_out,
                       &attempts, scratch.data());
    EXPECT_FALSE(near_rel(ctrl.c.K, K, 1e-3, 1e-300, "K at eta 1"));
  }
}

// A random small time-varying problem with stable dynamics and PD costs.
Problem<double> random_problem(const lqr::Dims& d, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  const int T = d.T, X = d.dX, U = d.dU, n = d.n();
  Problem<double> p;
  p.d = d;
  const auto randn = [&](std::size_t count, double scale) {
    Vec v(count);
    for (double& x : v) x = scale * g(rng);
    return v;
  };
  p.Fm = randn(T * X * n, 0.3);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < X; ++i) p.Fm[(t * X + i) * n + i] += 0.7;  // near-identity, stable
  p.fv = randn(T * X, 0.1);
  p.dyn_covar.assign(T * X * X, 0.0);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < X; ++i) p.dyn_covar[(t * X + i) * X + i] = 0.01;
  p.x0mu = randn(X, 1.0);
  p.x0sigma.assign(X * X, 0.0);
  for (int i = 0; i < X; ++i) p.x0sigma[i * X + i] = 1e-6;
  p.Cm.assign(T * n * n, 0.0);
  for (int t = 0; t < T; ++t) {  // A A^T + I
    const Vec A = randn(n * n, 0.5);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double s = i == j ? 1.0 : 0.0;
        for (int r = 0; r < n; ++r) s += A[i * n + r] * A[j * n + r];
        p.Cm[(t * n + i) * n + j] = s;
      }
  }
  p.cv = randn(T * n, 1.0);
  p.cc = randn(T, 1.0);
  p.K = randn(T * U * X, 0.1);
  p.k = randn(T * U, 0.1);
  p.pol_covar.assign(T * U * U, 0.0);
  p.chol.assign(T * U * U, 0.0);
  p.inv.assign(T * U * U, 0.0);
  for (int t = 0; t < T; ++t)
    for (int a = 0; a < U; ++a) {
      p.pol_covar[(t * U + a) * U + a] = 1.0;
      p.chol[(t * U + a) * U + a] = 1.0;
      p.inv[(t * U + a) * U + a] = 1.0;
    }
  return p;
}

// No KL term (anchor precision 0) at eta = 1: the backward pass is the plain discrete-time
// LQR of the cost; here the Riccati recursion in its long form with Eigen.
TEST(LqrUnit, NoKlTermIsClosedFormLqr) {
  const lqr::Dims d{6, 3, 2};
  Problem<double> p = random_problem(d, 7);
  std::fill(p.inv.begin(), p.inv.end(), 0.0);
  const int T = d.T, X = d.dX, U = d.dU, n = d.n();
  OwnedController<double> ctrl(d);
  Vec scratch(lqr::search_scratch_size(d));
  double eta_out = 0;
  int attempts = 0;
  ASSERT_EQ(lqr::backward_pass(d, p.info(), p.constraint(), 1.0, 1e-4, 1e16, ctrl.c,
                               lqr::BackwardRecord<double>{}, &eta_out, &attempts,
                               scratch.data()),
            gpsx::kOk);

  using Mat = Eigen::MatrixXd;
  using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Mat V = Mat::Zero(X, X);
  Eigen::VectorXd v = Eigen::VectorXd::Zero(X);
  Vec K_ref(T * U * X), k_ref(T * U), cov_ref(T * U * U);
  for (int t = T - 1; t >= 0; --t) {
    const Mat C = Eigen::Map<const RowMat>(&p.Cm[t * n * n], n, n);
    const Eigen::VectorXd c = Eigen::Map<const Eigen::VectorXd>(&p.cv[t * n], n);
    const Mat F = Eigen::Map<const RowMat>(&p.Fm[t * X * n], X, n);
    const Eigen::VectorXd f = Eigen::Map<const Eigen::VectorXd>(&p.fv[t * X], X);
    const Mat A = F.leftCols(X), B = F.rightCols(U);
    const Mat Qxx = C.topLeftCorner(X, X) + A.transpose() * V * A;
    const Mat Quu = C.bottomRightCorner(U, U) + B.transpose() * V * B;
    const Mat Qux = C.bottomLeftCorner(U, X) + B.transpose() * V * A;
    const Eigen::VectorXd qx = c.head(X) + A.transpose() * (v + V * f);
    const Eigen::VectorXd qu = c.tail(U) + B.transpose() * (v + V * f);
    const Mat Quu_inv = Quu.inverse();
    const Mat K = -Quu_inv * Qux;
    const Eigen::VectorXd k = -Quu_inv * qu;
    V = Qxx - Qux.transpose() * Quu_inv * Qux;
    V = 0.5 * (V + V.transpose()).eval();
    v = qx - Qux.transpose() * Quu_inv * qu;
    Eigen::Map<RowMat>(&K_ref[t * U * X], U, X) = K;
    Eigen::Map<Eigen::VectorXd>(&k_ref[t * U], U) = k;
    Eigen::Map<RowMat>(&cov_ref[t * U * U], U, U) = Quu_inv;
  }
  EXPECT_TRUE(near_rel(ctrl.c.K, K_ref, 1e-10, 1e-300, "K"));
  EXPECT_TRUE(near_rel(ctrl.c.k, k_ref, 1e-10, 1e-300, "k"));
  EXPECT_TRUE(near_rel(ctrl.c.pol_covar, cov_ref, 1e-10, 1e-300, "pol_covar"));
}

// Float runs the same kernels. Documented tolerance on the golden problems: a full dual
// search in float takes the same branch decisions (margins >= 1e-3 relative) and agrees
// with double to 1e-4 relative (seen: controller ~3e-7, eta and total KL ~3e-6, the KL
// being a difference of larger terms).
TEST(LqrUnit, FloatMatchesDouble) {
  constexpr double kFloatRtol = 1e-4;
  for (const char* name : {"trajopt_update_cond0_eta1_mult0.5", "trajopt_update_cond1_eta1_mult1",
                           "mdgps_update_cond0_kl0.2", "badmm_update_cond0"}) {
    SCOPED_TRACE(name);
    const json& c = case_named(name);
    const Problem<double> pd = problem_of<double>(c);
    const Problem<float> pf = problem_of<float>(c);
    const lqr::Dims d = pd.d;
    const lqr::SearchSettings<double> sd = search_settings(c);
    const lqr::SearchSettings<float> sf = sd.as<float>();
    const double bound = kl_bound(c, d);
    OwnedController<double> cd(d);
    OwnedController<float> cf(d);
    Vec scratch_d(lqr::search_scratch_size(d));
    std::vector<float> scratch_f(lqr::search_scratch_size(d));
    double eta_d = c["settings"]["eta_initial"].get<double>(), kl_d = 0;
    float eta_f = float(eta_d), kl_f = 0;
    int it_d = 0, it_f = 0;
    const auto st_d = lqr::dual_search(d, pd.info(), pd.constraint(), sd, bound, &eta_d, cd.c,
                                       lqr::ForwardRecord<double>{}, lqr::SearchTrace<double>{},
                                       &kl_d, &it_d, scratch_d.data());
    const auto st_f = lqr::dual_search(d, pf.info(), pf.constraint(), sf, float(bound), &eta_f,
                                       cf.c, lqr::ForwardRecord<float>{},
                                       lqr::SearchTrace<float>{}, &kl_f, &it_f, scratch_f.data());
    EXPECT_EQ(st_d, st_f);
    EXPECT_EQ(it_d, it_f);
    EXPECT_TRUE(near_rel({double(eta_f)}, {eta_d}, kFloatRtol, 1e-300, "eta"));
    EXPECT_TRUE(near_rel({double(kl_f)}, {kl_d}, kFloatRtol, 1e-300, "kl"));
    const std::size_t size = lqr::controller_size(d);
    EXPECT_TRUE(near_rel(Vec(cf.data.begin(), cf.data.end()), Vec(cd.data.begin(), cd.data.begin() + size),
                         kFloatRtol, 1e-300, "controller"));
  }
}

// M conditions in one array set, condition-major.
Problem<double> concat(const std::vector<Problem<double>>& ps) {
  Problem<double> b = ps.front();
  const auto append = [](Vec& dst, const Vec& src) { dst.insert(dst.end(), src.begin(), src.end()); };
  for (std::size_t i = 1; i < ps.size(); ++i) {
    const Problem<double>& p = ps[i];
    for (auto [dst, src] : {std::pair{&b.Fm, &p.Fm}, {&b.fv, &p.fv}, {&b.dyn_covar, &p.dyn_covar},
                            {&b.x0mu, &p.x0mu}, {&b.x0sigma, &p.x0sigma}, {&b.Cm, &p.Cm},
                            {&b.cv, &p.cv}, {&b.cc, &p.cc}, {&b.K, &p.K}, {&b.k, &p.k},
                            {&b.pol_covar, &p.pol_covar}, {&b.chol, &p.chol}, {&b.inv, &p.inv},
                            {&b.pol_K, &p.pol_K}, {&b.pol_k, &p.pol_k},
                            {&b.chol_pol_S, &p.chol_pol_S}, {&b.pol_wt, &p.pol_wt},
                            {&b.lambda_K, &p.lambda_K}, {&b.lambda_k, &p.lambda_k}})
      append(*dst, *src);
  }
  return b;
}

struct BatchRun {
  Vec ctrl, eta, kl;
  std::vector<int> passes;
  std::vector<std::uint32_t> status;
};

BatchRun run_batch(const Problem<double>& b, int M, const gpsx::TrajOptSettings& s, int threads) {
  const lqr::Dims d = b.d;
  BatchRun r;
  const std::size_t cs = lqr::controller_size(d), T = d.T, X = d.dX, U = d.dU;
  r.ctrl.assign(M * cs, 0.0);
  double* base = r.ctrl.data();
  const lqr::BatchController<double> out{base, base + M * T * U * X, base + M * T * (U * X + U),
                                         base + M * T * (U * X + U + U * U),
                                         base + M * T * (U * X + U + 2 * U * U)};
  r.eta.assign(M, 1.0);
  r.kl.assign(M, 0.0);
  r.passes.assign(M, 0);
  r.status.assign(M, 0);
  const Vec step_mult(M, 1.0);
  const gpsx::Executor ex = gpsx::cpu_executor(threads);
  Vec ws(gpsx::traj_opt_workspace_size(ex, d, M, s));
  gpsx::traj_opt_update(ex, d, M, b.batch(M), step_mult.data(), s, out,
                        lqr::BatchResult<double>{r.eta.data(), r.kl.data(), r.passes.data(),
                                                 r.status.data()},
                        ws.data(), ws.size());
  return r;
}

// One broken condition (NaN dynamics) is flagged; the others are exactly what they are
// when run alone, in both search modes and on 1 or 2 threads.
TEST(LqrUnit, BrokenConditionDoesNotDisturbTheBatch) {
  const Problem<double> p0 = problem_of<double>(case_named("trajopt_update_cond0_eta1_mult1"));
  const Problem<double> p1 = problem_of<double>(case_named("trajopt_update_cond1_eta1_mult1"));
  Problem<double> broken = p1;
  broken.Fm[3 * p1.d.dX * p1.d.n() + 5] = std::nan("");
  const Problem<double> batch = concat({p0, p1, broken, p0});
  const int M = 4;
  for (const auto search : {gpsx::EtaSearch::kSequential, gpsx::EtaSearch::kParallel}) {
    gpsx::TrajOptSettings s;
    s.search = search;
    const BatchRun alone0 = run_batch(p0, 1, s, 1), alone1 = run_batch(p1, 1, s, 1);
    for (int threads : {1, 2}) {
      const BatchRun r = run_batch(batch, M, s, threads);
      EXPECT_TRUE(r.status[2] & gpsx::kNonFinite) << gpsx::status_name(r.status[2]);
      for (int m : {0, 1, 3}) {
        const BatchRun& alone = m == 1 ? alone1 : alone0;
        EXPECT_EQ(r.status[m], gpsx::kOk);
        EXPECT_EQ(r.eta[m], alone.eta[0]);
        EXPECT_EQ(r.passes[m], alone.passes[0]);
        // controller arrays are field-major over the batch: compare field by field
        const std::size_t T = p0.d.T, X = p0.d.dX, U = p0.d.dU;
        const std::size_t sizes[] = {T * U * X, T * U, T * U * U, T * U * U, T * U * U};
        std::size_t off_batch = 0, off_alone = 0;
        for (std::size_t f : sizes) {
          for (std::size_t i = 0; i < f; ++i)
            ASSERT_EQ(r.ctrl[off_batch + m * f + i], alone.ctrl[off_alone + i]);
          off_batch += M * f;
          off_alone += f;
        }
      }
    }
  }
}

// The CPU SIMD-lane search (W conditions per pack, lqr_lanes.h) gives bit-identical
// results to the per-condition search: a random batch whose size is no multiple of W, with
// a condition that is non-PD at its start eta (del-doubling restarts, then a normal
// search), one non-PD up to max_eta and one with a NaN, in every mode, on 1 and 2 threads.
TEST(LqrLanes, BitIdenticalToPerConditionSearch) {
  const lqr::Dims d{12, 5, 3};
  const int W = gpsx::kTrajOptLanes, M = 4 * W + 3;
  const int X = d.dX, U = d.dU, n = d.n(), T = d.T;
  const int restarts = 3, never_pd = 8, nan_cond = 13;
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<Problem<double>> ps;
  for (int m = 0; m < M; ++m) {
    Problem<double> p = random_problem(d, 100 + m);
    const double cost_scale = std::exp(2.0 * g(rng));  // spreads the pass counts
    for (double& c : p.Cm) c *= cost_scale;
    for (double& c : p.cv) c *= cost_scale;
    p.pol_K = p.K;
    for (double& x : p.pol_K) x += 0.1 * g(rng);
    p.pol_k.assign(T * U, 0.0);
    for (double& x : p.pol_k) x = 0.1 * g(rng);
    p.chol_pol_S.assign(T * U * U, 0.0);
    for (int t = 0; t < T; ++t)
      for (int a = 0; a < U; ++a)
        for (int b = a; b < U; ++b) p.chol_pol_S[(t * U + a) * U + b] = a == b ? 1.2 : 0.1 * g(rng);
    p.pol_wt.assign(T, 0.0);
    for (double& x : p.pol_wt) x = 0.5 + std::abs(g(rng));
    p.lambda_K.assign(T * U * X, 0.0);
    for (double& x : p.lambda_K) x = 0.1 * g(rng);
    p.lambda_k.assign(T * U, 0.0);
    for (double& x : p.lambda_k) x = 0.1 * g(rng);
    ps.push_back(p);
  }
  for (int t = 0; t < T; ++t)
    for (int a = 0; a < U; ++a) {
      ps[restarts].Cm[(t * n + X + a) * n + X + a] = -30.0;
      ps[never_pd].Cm[(t * n + X + a) * n + X + a] = -5.0;
    }
  std::fill(ps[never_pd].inv.begin(), ps[never_pd].inv.end(), 0.0);
  std::fill(ps[never_pd].chol.begin(), ps[never_pd].chol.end(), 1e8);  // anchor precision ~0
  ps[nan_cond].Fm[2 * X * n + 4] = std::nan("");
  for (const lqr::Mode mode : {lqr::Mode::kTrajOpt, lqr::Mode::kMdgps, lqr::Mode::kBadmm}) {
    SCOPED_TRACE(int(mode));
    for (Problem<double>& p : ps) p.mode = mode;
    const Problem<double> batch = concat(ps);
    gpsx::TrajOptSettings per_condition;
    per_condition.cpu_lanes = false;
    const BatchRun want = run_batch(batch, M, per_condition, 1);
    if (mode == lqr::Mode::kTrajOpt) {  // the special conditions do what they are meant to
      EXPECT_EQ(want.status[restarts], gpsx::kOk);
      EXPECT_GT(want.eta[restarts], 10.0);
      EXPECT_EQ(want.status[never_pd], gpsx::kNotPositiveDefinite | gpsx::kLimitReached);
    }
    EXPECT_TRUE(want.status[nan_cond] & gpsx::kNonFinite);
    std::set<int> pass_counts(want.passes.begin(), want.passes.end());
    EXPECT_GE(pass_counts.size(), 3u);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(threads);
      const gpsx::TrajOptSettings lanes;
      // the lane path runs only when its workspace is asked for and given
      EXPECT_GT(gpsx::traj_opt_workspace_size(gpsx::cpu_executor(threads), d, M, lanes),
                gpsx::traj_opt_workspace_size(d, M, lanes));
      const BatchRun got = run_batch(batch, M, lanes, threads);
      const std::size_t sizes[] = {std::size_t(T * U * X), std::size_t(T * U),
                                   std::size_t(T * U * U), std::size_t(T * U * U),
                                   std::size_t(T * U * U)};
      for (int m = 0; m < M; ++m) {
        SCOPED_TRACE(m);
        EXPECT_EQ(got.status[m], want.status[m]);
        EXPECT_EQ(got.passes[m], want.passes[m]);
        EXPECT_EQ(got.eta[m], want.eta[m]);
        if (!std::isnan(want.kl[m])) {
          EXPECT_EQ(got.kl[m], want.kl[m]);
        }
        if (want.status[m] != gpsx::kOk && want.status[m] != gpsx::kNotConverged) continue;
        std::size_t off = 0;  // controllers are field-major over the batch
        for (std::size_t f : sizes) {
          for (std::size_t i = 0; i < f; ++i)
            ASSERT_EQ(got.ctrl[off + m * f + i], want.ctrl[off + m * f + i]) << "element " << i;
          off += M * f;
        }
      }
    }
  }
}

// The parallel search meets the reference's convergence criterion on every golden update
// case that converges, in at most as many passes as the sequential search.
TEST(LqrUnit, ParallelSearchConverges) {
  for (const json& c : lqr_reference()["cases"]) {
    if (c["function"] != "update" || !c["outputs"]["trace"].back()["converged"].get<bool>())
      continue;
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const Problem<double> p = problem_of<double>(c);
    const lqr::Dims d = p.d;
    gpsx::TrajOptSettings s;
    s.base_kl_step = c["settings"]["base_kl_step"].get<double>();
    s.search = gpsx::EtaSearch::kParallel;
    s.candidates = 4;
    const double step_mult = c["settings"]["step_mult"].get<double>();
    OwnedController<double> ctrl(d);
    const lqr::BatchController<double> out{ctrl.c.K, ctrl.c.k, ctrl.c.pol_covar,
                                           ctrl.c.chol_pol_covar, ctrl.c.inv_pol_covar};
    double eta = c["settings"]["eta_initial"].get<double>(), kl = 0;
    int passes = 0;
    std::uint32_t st = 0;
    Vec ws(gpsx::traj_opt_workspace_size(d, 1, s));
    gpsx::traj_opt_update(gpsx::cpu_executor(1), d, 1, p.batch(1), &step_mult, s, out,
                          lqr::BatchResult<double>{&eta, &kl, &passes, &st}, ws.data(), ws.size());
    const double bound = s.base_kl_step * step_mult * d.T;
    EXPECT_EQ(st, gpsx::kOk);
    EXPECT_LT(std::abs(kl - bound), 0.1 * bound);
    EXPECT_LE(passes, c["outputs"]["dgd_iterations"].get<int>());
    // the returned controller is the one of the returned eta
    OwnedController<double> again(d);
    Vec scratch(lqr::search_scratch_size(d));
    double used = 0;
    int attempts = 0;
    lqr::backward_pass(d, p.info(), p.constraint(), eta, 1e-4, 1e16, again.c,
                       lqr::BackwardRecord<double>{}, &used, &attempts, scratch.data());
    EXPECT_TRUE(near_rel(ctrl.data, again.data, 1e-12, 1e-300, "controller"));
  }
}

// Quu that no eta can make PD (no KL term, negative action cost): the retries stop at
// max_eta with kNotPositiveDefinite | kLimitReached instead of looping or throwing.
TEST(LqrUnit, NonPdUpToMaxEtaIsFlagged) {
  const lqr::Dims d{4, 3, 2};
  Problem<double> p = random_problem(d, 11);
  std::fill(p.inv.begin(), p.inv.end(), 0.0);
  const int n = d.n(), X = d.dX;
  for (int t = 0; t < d.T; ++t)
    for (int a = 0; a < d.dU; ++a) p.Cm[(t * n + X + a) * n + X + a] = -5.0;
  gpsx::TrajOptSettings s;
  const BatchRun r = run_batch(p, 1, s, 1);
  EXPECT_EQ(r.status[0], gpsx::kNotPositiveDefinite | gpsx::kLimitReached);
  EXPECT_GE(r.eta[0], 1e16);
}

TEST(LqrUnit, RejectsBadArguments) {
  const lqr::Dims d{4, 3, 2};
  Problem<double> p = random_problem(d, 3);
  gpsx::TrajOptSettings s;
  EXPECT_THROW(gpsx::traj_opt_workspace_size(lqr::Dims{0, 3, 2}, 1, s), std::invalid_argument);
  Vec ws(gpsx::traj_opt_workspace_size(d, 1, s) - 1);
  OwnedController<double> c(d);
  const lqr::BatchController<double> out{c.c.K, c.c.k, c.c.pol_covar, c.c.chol_pol_covar,
                                         c.c.inv_pol_covar};
  double eta = 1, kl = 0, sm = 1;
  int passes = 0;
  std::uint32_t st = 0;
  const lqr::BatchResult<double> res{&eta, &kl, &passes, &st};
  EXPECT_THROW(gpsx::traj_opt_update(gpsx::cpu_executor(1), d, 1, p.batch(1), &sm, s, out, res,
                                     ws.data(), ws.size()),
               std::invalid_argument);
  ws.resize(ws.size() + 1);
  p.mode = lqr::Mode::kMdgps;  // no policy linearisation given
  EXPECT_THROW(gpsx::traj_opt_update(gpsx::cpu_executor(1), d, 1, p.batch(1), &sm, s, out, res,
                                     ws.data(), ws.size()),
               std::invalid_argument);
}

}  // namespace
