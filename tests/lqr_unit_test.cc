// KL-constrained LQR properties (gpsx/kernels/lqr_*.h, gpsx/host/traj_opt.h): eta ->
// infinity keeps the anchor; without a KL term the gains are the closed-form LQR (Riccati
// recursion with Eigen here); float vs double; a NaN condition in a batch; the CPU lane
// search is bit-identical to the per-condition one; the parallel search converges; non-PD
// and bad arguments are flagged.
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
#include "gpsx_test/lqr_problem.h"
#include "gpsx_test/reference.h"

namespace {

using namespace gpsx::test;  // json, near_rel, the shared Problem set-up
namespace lqr = gpsx::lqr;
using Vec = std::vector<double>;

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
