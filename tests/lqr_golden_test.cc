// KL-constrained LQR against the golden data (gpsx/kernels/lqr_*.h, gpsx/host/traj_opt.h):
// every case of lqr_backward.json (fixed-eta backward+forward, full dual searches with their
// traces, non-PD retries, the never-converging search, the step-multiplier table) at the
// README's rtol 1e-9, and the `kl` section of kl_and_costs.json at 1e-12.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/traj_opt.h"
#include "gpsx/kernels/lqr_batch.h"
#include "gpsx/kernels/lqr_dual_search.h"
#include "gpsx/kernels/lqr_kl.h"
#include "gpsx/kernels/lqr_problem.h"
#include "gpsx/kernels/lqr_riccati.h"
#include "gpsx_test/lqr_problem.h"
#include "gpsx_test/reference.h"

namespace {

using namespace gpsx::test;  // json, near_rel, the shared Problem set-up
namespace lqr = gpsx::lqr;
using Vec = std::vector<double>;

constexpr double kRtol = 1e-9;      // README: LQR outputs and eta search
constexpr double kRtolKl = 1e-12;  // README: KL utilities

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

}  // namespace
