// Dynamics fitting against the cbfinn/gps reference (dynamics_fit.json), every case and
// step: DynamicsLR, DynamicsLRPrior with the GMM prior (EM from the recorded assignment,
// prior per step, fit, initial state), and the regression step alone with the stored
// prior. Plus recovery of a known linear-Gaussian system as N grows, and fault isolation.
#include "gpsx/host/dynamics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using test::near_rel;

// README tolerances.
constexpr double kRtolStoredPrior = 1e-8;  // regression with the stored prior, DynamicsLR
constexpr double kRtolGmm = 1e-8;          // GMM EM from the stored init assignment
constexpr double kRtolOwnEm = 1e-6;        // dynamics fit after running our own EM

// A caller-sized workspace for batches of N trajectories, for executors of up to 2 threads.
std::vector<double> workspace(const DynamicsPrior& p, int N, const DynamicsPriorSettings& s) {
  return std::vector<double>(dynamics_workspace_size(cpu_executor(2), p, N));
}
std::vector<double> lr_workspace(int M, int N, int T, int dX, int dU) {
  return std::vector<double>(dynamics_fit_lr_workspace_size(cpu_executor(2), M, N, T, dX, dU));
}

// Absolute floor only for arrays that are exactly zero (README).
double zero_floor(const std::vector<double>& ref) {
  for (double r : ref)
    if (r != 0.0) return 1e-300;
  return 1e-12;
}
::testing::AssertionResult close(const std::vector<double>& got, const json& ref, double rtol,
                                 const std::string& what) {
  const auto r = flatten(ref);
  return near_rel(got, r, rtol, zero_floor(r), what);
}

const json& reference() {
  static const json j = test::load_reference("dynamics_fit.json");
  return j;
}

struct Dims {
  int N, T, dX, dU;
};
Dims dims_of(const json& X, const json& U) {
  return {static_cast<int>(X.size()), static_cast<int>(X[0].size()),
          static_cast<int>(X[0][0].size()), static_cast<int>(U[0][0].size())};
}

void run_lr_case(const json& c) {
  const json& X = c["inputs"]["X"];
  const json& U = c["inputs"]["U"];
  const Dims d = dims_of(X, U);
  const auto x = flatten(X), u = flatten(U);
  const int dXU = d.dX + d.dU;
  std::vector<double> Fm(d.T * d.dX * dXU, -1), fv(d.T * d.dX, -1), cov(d.T * d.dX * d.dX, -1);
  auto ws = lr_workspace(1, d.N, d.T, d.dX, d.dU);
  const auto rep = dynamics_fit_lr(cpu_executor(2), 1, d.N, d.T, d.dX, d.dU, x.data(), u.data(),
                                   c["settings"]["regularization"].get<double>(), Fm.data(),
                                   fv.data(), cov.data(), ws.data(), ws.size());
  ASSERT_TRUE(rep.all_ok()) << rep.message[0];
  EXPECT_TRUE(close(Fm, c["outputs"]["Fm"], kRtolStoredPrior, "Fm"));
  EXPECT_TRUE(close(fv, c["outputs"]["fv"], kRtolStoredPrior, "fv"));
  EXPECT_TRUE(close(cov, c["outputs"]["dyn_covar"], kRtolStoredPrior, "dyn_covar"));
}

// The MAP regression alone, fed with the reference's prior at every step.
void check_regression_with_stored_prior(const Dims& d, const std::vector<double>& x,
                                        const std::vector<double>& u, double reg,
                                        const json& step) {
  const int D = 2 * d.dX + d.dU, dXU = d.dX + d.dU;
  const json& evals = step["prior_eval_per_t"];
  ASSERT_EQ(static_cast<int>(evals.size()), d.T - 1);
  std::vector<double> Fm(d.T * d.dX * dXU, 0.0), fv(d.T * d.dX, 0.0), cov(d.T * d.dX * d.dX, 0.0);
  std::vector<double> pts(d.N * D), mean(D), sigma(D * D), Y(dXU * d.dX);
  for (int t = 0; t + 1 < d.T; ++t) {
    const json& e = evals[t];
    const auto mu0 = flatten(e["mu0"]), Phi = flatten(e["Phi"]);
    // The reference symmetrises after adding Phi: only Phi's symmetric part enters.
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j) sigma[i * D + j] = 0.5 * (Phi[i * D + j] + Phi[j * D + i]);
    ASSERT_EQ(dyn::gather_transitions(d.N, d.T, d.dX, d.dU, t, x.data(), u.data(), pts.data()), kOk);
    dyn::joint_gaussian(d.N, D, dXU, pts.data(), mu0.data(), e["m"].get<double>(),
                        e["n0"].get<double>(), reg, mean.data(), sigma.data());
    ASSERT_EQ(dyn::condition_gaussian(D, dXU, mean.data(), sigma.data(), Y.data(),
                                      Fm.data() + t * d.dX * dXU, fv.data() + t * d.dX,
                                      cov.data() + t * d.dX * d.dX),
              kOk);
  }
  EXPECT_TRUE(close(Fm, step["fit"]["Fm"], kRtolStoredPrior, "stored-prior Fm"));
  EXPECT_TRUE(close(fv, step["fit"]["fv"], kRtolStoredPrior, "stored-prior fv"));
  EXPECT_TRUE(close(cov, step["fit"]["dyn_covar"], kRtolStoredPrior, "stored-prior dyn_covar"));
}

void run_prior_case(const json& c) {
  const json& ref = reference();
  const json& set = c["settings"];
  DynamicsPriorSettings s;
  s.regularization = set["regularization"].get<double>();
  s.max_clusters = set["prior"]["max_clusters"].get<int>();
  s.min_samples_per_cluster = set["prior"]["min_samples_per_cluster"].get<int>();
  s.max_samples = set["prior"]["max_samples"].get<int>();
  s.strength = set["prior"]["strength"].get<double>();
  s.gmm.max_iterations = set["gmm"]["max_iterations"].get<int>();
  s.gmm.warmstart = set["gmm"]["warmstart"].get<bool>();

  const Dims d0 = dims_of(ref["data"]["X"], ref["data"]["U"]);
  DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), 1, d0.T, d0.dX, d0.dU, s);
  const int D = prior.D(), dXU = d0.dX + d0.dU;
  int max_n = 0;
  for (const json& step : c["steps"])
    max_n = std::max(max_n, dims_of(step["batch_X"].is_string() ? ref["data"]["X"] : step["batch_X"],
                                    step["batch_U"].is_string() ? ref["data"]["U"] : step["batch_U"]).N);
  auto ws = workspace(prior, max_n, s);
  for (const json& step : c["steps"]) {
    const std::string what = "batch " + std::to_string(step["batch"].get<int>());
    SCOPED_TRACE(what);
    const json& X = step["batch_X"].is_string() ? ref["data"]["X"] : step["batch_X"];
    const json& U = step["batch_U"].is_string() ? ref["data"]["U"] : step["batch_U"];
    const Dims d = dims_of(X, U);
    const auto x = flatten(X), u = flatten(U);

    // Prior update: EM from the recorded assignment.
    const json& em = step["gmm_em"];
    std::vector<int> assign;
    if (!em["init_assignment"].is_null()) assign = em["init_assignment"].get<std::vector<int>>();
    const auto rep = dynamics_prior_update(cpu_executor(1), s, prior, d.N, x.data(), u.data(),
                                           ws.data(), ws.size(),
                                           assign.empty() ? nullptr : assign.data());
    ASSERT_EQ(rep.status[0], kOk) << rep.message[0];
    EXPECT_EQ(prior.count, step["prior_dataset_samples"].get<int>());
    EXPECT_EQ(rep.K, em["K"].get<int>());
    EXPECT_EQ(rep.reinitialised, em["reinitialised"].get<bool>());
    const auto ll = flatten(em["loglik_per_iteration"]);
    ASSERT_EQ(rep.iterations[0], static_cast<int>(ll.size())) << "EM iteration count";
    EXPECT_EQ(std::string(gmm::em_stop_name(rep.stop[0])), em["stop_reason"].get<std::string>());
    EXPECT_TRUE(near_rel(rep.loglik.data(), ll, kRtolGmm, 1e-300, "loglik"));
    const json& g = step["gmm_after_update"];
    const GmmParameters gp = gmm_parameters(cpu_executor(1), prior.gmm);
    EXPECT_TRUE(close(gp.mu, g["mu"], kRtolGmm, "gmm mu"));
    EXPECT_TRUE(close(gp.sigma, g["sigma"], kRtolGmm, "gmm sigma"));
    EXPECT_TRUE(close(gp.logmass, g["logmass"], kRtolGmm, "gmm logmass"));
    EXPECT_TRUE(close(gp.mass, g["mass"], kRtolGmm, "gmm mass"));
    EXPECT_EQ(gp.N0[0], g["N_at_init"].get<double>());

    // Fit with our GMM, prior evaluated at every step.
    std::vector<double> Fm(d.T * d.dX * dXU, -1), fv(d.T * d.dX, -1), cov(d.T * d.dX * d.dX, -1);
    std::vector<double> mu0(d.T * D), Phi(d.T * D * D), m(d.T), n0(d.T);
    const auto fit = dynamics_fit_prior(cpu_executor(2), s, prior, d.N, x.data(), u.data(),
                                        Fm.data(), fv.data(), cov.data(), ws.data(), ws.size(),
                                        {mu0.data(), Phi.data(), m.data(), n0.data()});
    ASSERT_TRUE(fit.all_ok()) << fit.message[0];
    std::vector<double> ref_mu0, ref_Phi, ref_m, ref_n0;
    for (const json& e : step["prior_eval_per_t"]) {
      test::flatten_into(e["mu0"], ref_mu0);
      test::flatten_into(e["Phi"], ref_Phi);
      ref_m.push_back(e["m"].get<double>());
      ref_n0.push_back(e["n0"].get<double>());
    }
    const auto first = [](const std::vector<double>& v, std::size_t n) {
      return std::vector<double>(v.begin(), v.begin() + n);
    };
    EXPECT_TRUE(near_rel(first(mu0, ref_mu0.size()), ref_mu0, kRtolGmm, 1e-300, "prior mu0"));
    EXPECT_TRUE(near_rel(first(Phi, ref_Phi.size()), ref_Phi, kRtolGmm, 1e-300, "prior Phi"));
    EXPECT_TRUE(near_rel(first(m, ref_m.size()), ref_m, kRtolGmm, 1e-300, "prior m"));
    EXPECT_TRUE(near_rel(first(n0, ref_n0.size()), ref_n0, kRtolGmm, 1e-300, "prior n0"));
    EXPECT_TRUE(close(Fm, step["fit"]["Fm"], kRtolOwnEm, "Fm"));
    EXPECT_TRUE(close(fv, step["fit"]["fv"], kRtolOwnEm, "fv"));
    EXPECT_TRUE(close(cov, step["fit"]["dyn_covar"], kRtolOwnEm, "dyn_covar"));

    check_regression_with_stored_prior(d, x, u, s.regularization, step);

    // Initial state.
    const json& x0e = step["x0_estimate"];
    std::vector<double> x0mu(d.dX), x0sigma(d.dX * d.dX), pmu0(d.dX), pPhi(d.dX * d.dX);
    double pm = 0, pn0 = 0;
    const auto ist = dynamics_initial_state(cpu_executor(1), s, &prior, 1, d.N, d.T, d.dX,
                                            x.data(), x0e["initial_state_var"].get<double>(),
                                            x0mu.data(), x0sigma.data(), ws.data(), ws.size(),
                                            {pmu0.data(), pPhi.data(), &pm, &pn0});
    ASSERT_TRUE(ist.all_ok()) << ist.message[0];
    const json& is = step["initial_state"];
    EXPECT_TRUE(close(pmu0, is["mu0"], kRtolStoredPrior, "initial_state mu0"));
    EXPECT_TRUE(close(pPhi, is["Phi"], kRtolStoredPrior, "initial_state Phi"));
    EXPECT_DOUBLE_EQ(pm, is["m"].get<double>());
    EXPECT_DOUBLE_EQ(pn0, is["n0"].get<double>());
    EXPECT_TRUE(close(x0mu, x0e["x0mu"], kRtolStoredPrior, "x0mu"));
    EXPECT_TRUE(close(x0sigma, x0e["x0sigma"], kRtolStoredPrior, "x0sigma"));
  }
}

TEST(DynamicsGolden, EveryCase) {
  const json& ref = reference();
  ASSERT_FALSE(ref["cases"].empty());
  int lr = 0, prior = 0;
  for (const json& c : ref["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    const std::string fn = c["function"].get<std::string>();
    if (fn == "DynamicsLR.fit") {
      run_lr_case(c);
      ++lr;
    } else if (fn.rfind("DynamicsLRPrior", 0) == 0) {
      run_prior_case(c);
      ++prior;
    } else {
      ADD_FAILURE() << "unknown function " << fn;
    }
  }
  EXPECT_GT(lr, 0);
  EXPECT_GT(prior, 0);
}

// Trajectories of x' = A x + B u + c + noise, noise ~ N(0, Sigma); spread x0 and u.
struct LinearSystem {
  int dX = 3, dU = 2, T = 5;
  std::vector<double> F{0.9, 0.1, 0.0, 0.5, -0.2,   //
                        -0.1, 0.8, 0.2, 0.0, 0.3,   //
                        0.05, 0.0, 0.95, 0.1, 0.1};  // (dX x dXU)
  std::vector<double> f{0.1, -0.2, 0.05};            // (dX)
  std::vector<double> Lnoise{0.1, 0, 0, 0.02, 0.05, 0, -0.01, 0.03, 0.08};  // chol(Sigma)

  std::vector<double> Sigma() const {
    std::vector<double> S(dX * dX, 0.0);
    for (int i = 0; i < dX; ++i)
      for (int j = 0; j < dX; ++j)
        for (int p = 0; p < dX; ++p) S[i * dX + j] += Lnoise[i * dX + p] * Lnoise[j * dX + p];
    return S;
  }
  void sample(int N, std::uint64_t seed, std::vector<double>& X, std::vector<double>& U) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    X.assign(static_cast<std::size_t>(N) * T * dX, 0.0);
    U.assign(static_cast<std::size_t>(N) * T * dU, 0.0);
    for (int n = 0; n < N; ++n) {
      double* x = X.data() + static_cast<std::size_t>(n) * T * dX;
      double* u = U.data() + static_cast<std::size_t>(n) * T * dU;
      for (int i = 0; i < dX; ++i) x[i] = g(rng);
      for (int t = 0; t < T; ++t) {
        for (int i = 0; i < dU; ++i) u[t * dU + i] = g(rng);
        if (t + 1 == T) break;
        double e[3] = {g(rng), g(rng), g(rng)};
        for (int i = 0; i < dX; ++i) {
          double s = f[i];
          for (int j = 0; j < dX; ++j) s += F[i * (dX + dU) + j] * x[t * dX + j];
          for (int j = 0; j < dU; ++j) s += F[i * (dX + dU) + dX + j] * u[t * dU + j];
          for (int p = 0; p < dX; ++p) s += Lnoise[i * dX + p] * e[p];
          x[(t + 1) * dX + i] = s;
        }
      }
    }
  }
};

double max_error(const std::vector<double>& got, std::size_t offset, const std::vector<double>& want) {
  double e = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) e = std::max(e, std::abs(got[offset + i] - want[i]));
  return e;
}

// Both fits converge to the true (Fm, fv, Sigma) as N grows (error ~ 1/sqrt(N)).
TEST(DynamicsFit, RecoversKnownLinearGaussianSystem) {
  const LinearSystem sys;
  const int dXU = sys.dX + sys.dU, T = sys.T, dX = sys.dX;
  const auto Sigma = sys.Sigma();
  DynamicsPriorSettings s;
  s.max_samples = 21;
  s.min_samples_per_cluster = 20;
  std::vector<double> X, U;
  sys.sample(20, 99, X, U);
  DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), 1, T, dX, sys.dU, s);
  auto ws = workspace(prior, 100000, s);
  ASSERT_EQ(dynamics_prior_update(cpu_executor(2), s, prior, 20, X.data(), U.data(), ws.data(),
                                  ws.size()).status[0], kOk);

  double prev_lr = INFINITY, prev_prior = INFINITY;
  for (int N : {100, 1000, 10000, 100000}) {
    sys.sample(N, 1000 + N, X, U);
    std::vector<double> Fm(T * dX * dXU), fv(T * dX), cov(T * dX * dX);
    double err_lr = 0, err_prior = 0;
    for (int pass = 0; pass < 2; ++pass) {
      const auto rep = pass == 0 ? dynamics_fit_lr(cpu_executor(2), 1, N, T, dX, sys.dU, X.data(),
                                                   U.data(), 0.0, Fm.data(), fv.data(), cov.data(),
                                                   ws.data(), ws.size())
                                 : dynamics_fit_prior(cpu_executor(2), s, prior, N, X.data(),
                                                      U.data(), Fm.data(), fv.data(), cov.data(),
                                                      ws.data(), ws.size());
      ASSERT_TRUE(rep.all_ok()) << rep.message[0];
      double err = 0;
      for (int t = 0; t + 1 < T; ++t) {
        err = std::max(err, max_error(Fm, t * dX * dXU, sys.F));
        err = std::max(err, max_error(fv, t * dX, sys.f));
        err = std::max(err, max_error(cov, t * dX * dX, Sigma) / 0.01);  // Sigma ~ 1e-2
      }
      (pass == 0 ? err_lr : err_prior) = err;
    }
    // The covariance dominates: its relative standard error is ~ sqrt(2 / N).
    const double bound = 5.0 * std::sqrt(2.0 / N);
    EXPECT_LT(err_lr, bound) << "N = " << N;
    EXPECT_LT(err_prior, bound) << "N = " << N;
    EXPECT_LT(err_lr, prev_lr);
    EXPECT_LT(err_prior, prev_prior);
    prev_lr = err_lr;
    prev_prior = err_prior;
  }
}

// A condition with NaN samples or a degenerate batch is flagged; the others still fit.
TEST(DynamicsFit, FaultyConditionDoesNotStopTheBatch) {
  const LinearSystem sys;
  const int dXU = sys.dX + sys.dU, T = sys.T, dX = sys.dX, N = 50, M = 3;
  std::vector<double> X, U, Xb, Ub;
  sys.sample(N, 5, X, U);
  for (int m = 0; m < M; ++m) {
    Xb.insert(Xb.end(), X.begin(), X.end());
    Ub.insert(Ub.end(), U.begin(), U.end());
  }
  // condition 1, last sample (the prior keeps only the newest max_samples - 1)
  Xb[X.size() + (N - 1) * T * dX + 4] = std::nan("");
  std::vector<double> Fm(M * T * dX * dXU), fv(M * T * dX), cov(M * T * dX * dX);
  auto lws = lr_workspace(M, N, T, dX, sys.dU);
  auto rep = dynamics_fit_lr(cpu_executor(2), M, N, T, dX, sys.dU, Xb.data(), Ub.data(), 1e-6,
                             Fm.data(), fv.data(), cov.data(), lws.data(), lws.size());
  EXPECT_EQ(rep.status[0], kOk);
  EXPECT_NE(rep.status[1] & kNonFinite, 0u) << rep.message[1];
  EXPECT_NE(rep.message[1].find("condition 1"), std::string::npos);
  EXPECT_EQ(rep.status[2], kOk);
  for (int i = 0; i < T * dX * dXU; ++i) ASSERT_EQ(Fm[i], Fm[2 * T * dX * dXU + i]);

  // One trajectory: too few samples.
  rep = dynamics_fit_lr(cpu_executor(1), 1, 1, T, dX, sys.dU, X.data(), U.data(), 1e-6,
                        Fm.data(), fv.data(), cov.data(), lws.data(), lws.size());
  EXPECT_NE(rep.status[0] & kTooFewSamples, 0u);

  // Prior path: NaN in one condition's prior data is reported by the GMM update.
  DynamicsPriorSettings s;
  DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), M, T, dX, sys.dU, s);
  auto ws = workspace(prior, N, s);
  const auto grep = dynamics_prior_update(cpu_executor(2), s, prior, N, Xb.data(), Ub.data(),
                                          ws.data(), ws.size());
  EXPECT_EQ(grep.status[0], kOk) << grep.message[0];
  EXPECT_EQ(grep.status[1], kNonFinite);
  EXPECT_EQ(grep.status[2], kOk) << grep.message[2];
  rep = dynamics_fit_prior(cpu_executor(2), s, prior, N, Xb.data(), Ub.data(), Fm.data(),
                           fv.data(), cov.data(), ws.data(), ws.size());
  EXPECT_EQ(rep.status[0], kOk) << rep.message[0];
  EXPECT_NE(rep.status[1], kOk);
  EXPECT_EQ(rep.status[2], kOk) << rep.message[2];
}

// The fit reuses the EM's final E-step when it fits the newest batch; a fresh E-step
// must give the same result.
TEST(DynamicsFit, ReusedEstepMatchesFreshEstep) {
  const json& ref = reference();
  const json& X = ref["data"]["X"];
  const json& U = ref["data"]["U"];
  const Dims d = dims_of(X, U);
  const auto x = flatten(X), u = flatten(U);
  DynamicsPriorSettings s;
  DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), 1, d.T, d.dX, d.dU, s);
  auto ws = workspace(prior, d.N, s);
  const auto rep = dynamics_prior_update(cpu_executor(1), s, prior, d.N, x.data(), u.data(),
                                         ws.data(), ws.size());
  ASSERT_EQ(rep.status[0], kOk) << rep.message[0];
  ASSERT_TRUE(prior.logobs_valid[0]) << "EM should stop by convergence here";
  const int dXU = d.dX + d.dU;
  std::vector<double> Fm1(d.T * d.dX * dXU), fv1(d.T * d.dX), cov1(d.T * d.dX * d.dX);
  std::vector<double> Fm2 = Fm1, fv2 = fv1, cov2 = cov1;
  ASSERT_TRUE(dynamics_fit_prior(cpu_executor(1), s, prior, d.N, x.data(), u.data(), Fm1.data(),
                                 fv1.data(), cov1.data(), ws.data(), ws.size()).all_ok());
  prior.logobs_valid[0] = 0;
  ASSERT_TRUE(dynamics_fit_prior(cpu_executor(1), s, prior, d.N, x.data(), u.data(), Fm2.data(),
                                 fv2.data(), cov2.data(), ws.data(), ws.size()).all_ok());
  EXPECT_TRUE(near_rel(Fm1, Fm2, 1e-10, 1e-300, "Fm"));
  EXPECT_TRUE(near_rel(fv1, fv2, 1e-10, 1e-300, "fv"));
  EXPECT_TRUE(near_rel(cov1, cov2, 1e-10, 1e-300, "dyn_covar"));
}

// One thread, two threads, and chunks of one condition (the smallest workspace) give
// bitwise the same batched prior fit; every condition of a batch of identical conditions
// equals the others.
TEST(DynamicsFit, SerialAndParallelExecutorsAgree) {
  const LinearSystem sys;
  const int dXU = sys.dX + sys.dU, T = sys.T, dX = sys.dX, N = 5, M = 3;
  std::vector<double> X, U, Xb, Ub;
  sys.sample(N, 8, X, U);
  for (int m = 0; m < M; ++m) {
    Xb.insert(Xb.end(), X.begin(), X.end());
    Ub.insert(Ub.end(), U.begin(), U.end());
  }
  DynamicsPriorSettings s;
  s.min_samples_per_cluster = 10;
  const int P = N * (T - 1), K = dynamics_prior_clusters(s, N, T);
  std::vector<int> a(P), assign;  // the same initial assignment for every condition
  gmm_random_assignment(cpu_executor(1), 3, 0, 1, P, K, a.data());
  for (int m = 0; m < M; ++m) assign.insert(assign.end(), a.begin(), a.end());
  std::vector<double> out[3];
  for (int run = 0; run < 3; ++run) {
    const int threads = run == 0 ? 1 : 2;
    DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), M, T, dX, sys.dU, s);
    // run 2: a budget below one condition, so every call works one condition at a time
    std::vector<double> ws(dynamics_workspace_size(cpu_executor(2), prior, N,
                                                   run == 2 ? 1 : kDefaultWorkspaceBudgetBytes));
    const auto g = dynamics_prior_update(cpu_executor(threads), s, prior, N, Xb.data(), Ub.data(),
                                         ws.data(), ws.size(), assign.data());
    for (int m = 0; m < M; ++m) ASSERT_EQ(g.status[m], kOk) << g.message[m];
    std::vector<double> Fm(M * T * dX * dXU), fv(M * T * dX), cov(M * T * dX * dX);
    ASSERT_TRUE(dynamics_fit_prior(cpu_executor(threads), s, prior, N, Xb.data(), Ub.data(),
                                   Fm.data(), fv.data(), cov.data(), ws.data(), ws.size()).all_ok());
    out[run] = Fm;
    out[run].insert(out[run].end(), cov.begin(), cov.end());
    for (int i = 0; i < T * dX * dXU; ++i) ASSERT_EQ(Fm[i], Fm[2 * T * dX * dXU + i]);
  }
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
}

// The same kernel in float on a well-conditioned system: agrees with double to float
// accuracy (documented check for a float GPU path).
TEST(DynamicsFit, FloatKernelMatchesDouble) {
  const LinearSystem sys;
  const int dXU = sys.dX + sys.dU, T = sys.T, dX = sys.dX, N = 200;
  std::vector<double> X, U;
  sys.sample(N, 3, X, U);
  const std::vector<float> Xf(X.begin(), X.end()), Uf(U.begin(), U.end());
  const std::int64_t S = dyn::FitScratch(N, 0, dX, sys.dU).size;
  std::vector<double> Fm(T * dX * dXU), fv(T * dX), cov(T * dX * dX), scratch((T - 1) * S);
  std::vector<float> Fmf(Fm.size()), fvf(fv.size()), covf(cov.size()), scratchf(scratch.size());
  std::vector<std::uint32_t> st(T), stf(T);
  for_each_2d(cpu_executor(2), 1, T - 1,
              dyn::FitLrStep<double>{N, T, dX, sys.dU, 1e-6, X.data(), U.data(), Fm.data(),
                                     fv.data(), cov.data(), scratch.data(), st.data()});
  for_each_2d(cpu_executor(2), 1, T - 1,
              dyn::FitLrStep<float>{N, T, dX, sys.dU, 1e-6f, Xf.data(), Uf.data(), Fmf.data(),
                                    fvf.data(), covf.data(), scratchf.data(), stf.data()});
  for (int t = 0; t + 1 < T; ++t) {
    ASSERT_EQ(st[t], kOk);
    ASSERT_EQ(stf[t], kOk);
  }
  const auto widen = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const auto upto = [&](const std::vector<double>& v, int per_t) {
    return std::vector<double>(v.begin(), v.begin() + (T - 1) * per_t);
  };
  EXPECT_TRUE(near_rel(upto(widen(Fmf), dX * dXU), upto(Fm, dX * dXU), 1e-4, 1e-300, "Fm"));
  EXPECT_TRUE(near_rel(upto(widen(fvf), dX), upto(fv, dX), 1e-4, 1e-300, "fv"));
  EXPECT_TRUE(near_rel(upto(widen(covf), dX * dX), upto(cov, dX * dX), 1e-3, 1e-300, "cov"));
}

// The CPU fit runs 4 steps per SIMD pack; it must equal the one-step-at-a-time path
// bitwise, prior evaluation included, also when a step cannot be fitted (NaN) and its
// pack falls back to scalar steps.
TEST(DynamicsFit, SimdPacksMatchScalarBitwise) {
  LinearSystem sys;
  sys.T = 14;  // 13 fitted steps: three packs and a scalar tail
  const int dXU = sys.dX + sys.dU, T = sys.T, dX = sys.dX, dU = sys.dU, N = 5, M = 2;
  const int D = 2 * dX + dU;
  std::vector<double> Xb, Ub;
  for (int m = 0; m < M; ++m) {
    std::vector<double> X, U;
    sys.sample(N, 20 + m, X, U);
    Xb.insert(Xb.end(), X.begin(), X.end());
    Ub.insert(Ub.end(), U.begin(), U.end());
  }
  DynamicsPriorSettings s;
  s.min_samples_per_cluster = 10;
  DynamicsPrior prior = make_dynamics_prior(cpu_executor(1), M, T, dX, dU, s);
  auto ws = workspace(prior, N, s);
  const auto g = dynamics_prior_update(cpu_executor(1), s, prior, N, Xb.data(), Ub.data(),
                                       ws.data(), ws.size());
  for (int m = 0; m < M; ++m) ASSERT_EQ(g.status[m], kOk) << g.message[m];
  std::vector<double> batch = Xb;
  batch[((1 * N + 2) * T + 5) * dX + 1] = std::nan("");  // condition 1, steps 4 and 5
  for (const std::vector<double>* X : {&Xb, &batch}) {
    std::vector<double> out[2];
    std::vector<std::uint32_t> status[2];
    for (int packs = 0; packs < 2; ++packs) {
      s.simd_packs = packs == 1;
      std::vector<double> Fm(M * T * dX * dXU), fv(M * T * dX), cov(M * T * dX * dX),
          mu0(M * T * D), Phi(M * T * D * D), mm(M * T), n0(M * T);
      const auto rep = dynamics_fit_prior(cpu_executor(1), s, prior, N, X->data(), Ub.data(),
                                          Fm.data(), fv.data(), cov.data(), ws.data(), ws.size(),
                                          {mu0.data(), Phi.data(), mm.data(), n0.data()});
      status[packs] = rep.status;
      for (const auto* v : {&Fm, &fv, &cov, &mu0, &Phi, &mm, &n0})
        out[packs].insert(out[packs].end(), v->begin(), v->end());
    }
    EXPECT_EQ(status[0], status[1]);
    if (X == &Xb) EXPECT_EQ(status[1], std::vector<std::uint32_t>(M, kOk));
    else EXPECT_NE(status[1][1] & kNonFinite, 0u);
    ASSERT_EQ(out[0].size(), out[1].size());
    EXPECT_EQ(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(double)), 0);
  }
}

// The right-looking Cholesky of the fit equals la::cholesky_lower bitwise, and fails
// the same way on a matrix that is not positive definite.
TEST(DynamicsFit, RowCholeskyMatchesCholeskyLowerBitwise) {
  const int n = 33, ld = 40;  // row stride larger than n, like the fit's D
  std::mt19937_64 rng(4);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> G(n * n), A(n * ld, 7.0);
  for (double& v : G) v = g(rng);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = i == j ? 1e-3 : 0.0;
      for (int p = 0; p < n; ++p) s += G[i * n + p] * G[j * n + p];
      A[i * ld + j] = s;
    }
  std::vector<double> L1 = A, L2 = A;
  ASSERT_EQ(la::cholesky_lower(n, L1.data(), ld), kOk);
  ASSERT_EQ(la::cholesky_lower_rows(n, L2.data(), ld), kOk);
  EXPECT_EQ(std::memcmp(L1.data(), L2.data(), L1.size() * sizeof(double)), 0);
  A[20 * ld + 20] = -1.0;
  L1 = A;
  L2 = A;
  EXPECT_EQ(la::cholesky_lower(n, L1.data(), ld), kNotPositiveDefinite);
  EXPECT_EQ(la::cholesky_lower_rows(n, L2.data(), ld), kNotPositiveDefinite);
}

TEST(DynamicsPrior, ClusterCountAndTrimming) {
  DynamicsPriorSettings s;
  s.max_clusters = 20;
  s.min_samples_per_cluster = 40;
  EXPECT_EQ(dynamics_prior_clusters(s, 5, 100), 12);   // floor(495 / 40)
  EXPECT_EQ(dynamics_prior_clusters(s, 1, 10), 2);     // at least 2
  EXPECT_EQ(dynamics_prior_clusters(s, 19, 100), 20);  // at most max_clusters
  s.max_samples = 4;                                   // keeps the newest 3
  DynamicsPrior p = make_dynamics_prior(cpu_executor(1), 1, 3, 1, 1, s);
  auto ws = workspace(p, 2, s);
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<double> X(2 * 3), U(2 * 3);
    for (int n = 0; n < 2; ++n)
      for (int t = 0; t < 3; ++t) {
        X[n * 3 + t] = 10 * batch + n + 0.1 * t;
        U[n * 3 + t] = std::sin(X[n * 3 + t] * 7.0);
      }
    dynamics_prior_update(cpu_executor(1), s, p, 2, X.data(), U.data(), ws.data(), ws.size());
  }
  ASSERT_EQ(p.count, 3);
  EXPECT_EQ(p.X[0], 11.0);  // batch 1 sample 1, then batch 2 samples 0 and 1
  EXPECT_EQ(p.X[3], 20.0);
  EXPECT_EQ(p.X[6], 21.0);
}

}  // namespace
}  // namespace gpsx
