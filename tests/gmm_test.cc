// GMM EM against the cbfinn/gps reference (gmm.json): every case, EM from the recorded
// initial assignment, iteration counts equal, parameters / log-likelihoods / E-step /
// inference at the README's 1e-8. Plus batching and fault-isolation properties.
#include "gpsx/host/gmm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpsx/kernels/gmm_batch.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using test::near_rel;

constexpr double kRtol = 1e-8;  // README: GMM EM from stored init assignment

const json& gmm_reference() {
  static const json j = test::load_reference("gmm.json");
  return j;
}

struct Points {
  int P = 0, D = 0;
  std::vector<double> x;  // (P x D)
};
Points points_of(const json& j) {
  Points p;
  p.P = static_cast<int>(j.size());
  p.D = static_cast<int>(j[0].size());
  p.x = flatten(j);
  return p;
}

// Checks one update's EM record: iteration count, stop reason, log-likelihoods.
void expect_em(const GmmUpdateReport& rep, const json& em, const std::string& what) {
  const auto ll = flatten(em["loglik_per_iteration"]);
  ASSERT_EQ(rep.status[0], kOk) << what << ": " << rep.message[0];
  EXPECT_EQ(rep.K, em["K"].get<int>()) << what;
  EXPECT_EQ(rep.reinitialised, em["reinitialised"].get<bool>()) << what;
  EXPECT_EQ(rep.iterations[0], static_cast<int>(ll.size())) << what << ": EM iterations";
  EXPECT_EQ(std::string(gmm::em_stop_name(rep.stop[0])), em["stop_reason"].get<std::string>()) << what;
  if (rep.iterations[0] == static_cast<int>(ll.size())) {
    EXPECT_TRUE(near_rel(rep.loglik.data(), ll, kRtol, 1e-300, what + " loglik"));
  }
}

void expect_result(const GmmState& g, const json& r, const std::string& what) {
  const GmmParameters p = gmm_parameters(cpu_executor(1), g);
  EXPECT_TRUE(near_rel(p.mu, flatten(r["mu"]), kRtol, 1e-300, what + " mu"));
  EXPECT_TRUE(near_rel(p.sigma, flatten(r["sigma"]), kRtol, 1e-300, what + " sigma"));
  EXPECT_TRUE(near_rel(p.logmass, flatten(r["logmass"]), kRtol, 1e-300, what + " logmass"));
  EXPECT_TRUE(near_rel(p.mass, flatten(r["mass"]), kRtol, 1e-300, what + " mass"));
  EXPECT_EQ(p.N0[0], r["N_at_init"].get<double>()) << what;
}

// One mixture per condition with room for K clusters and a workspace for P points.
struct Fixture {
  Executor ex;
  GmmState g;
  std::vector<double> ws;
  Fixture(int M, int P, int D, int K, int threads = 1, std::size_t budget = kDefaultWorkspaceBudgetBytes)
      : ex(cpu_executor(threads)), g(make_gmm_state(ex, M, K, D)),
        ws(gmm_workspace_size(ex, M, P, D, K, budget)) {}
  GmmUpdateReport update(int P, const double* x, int K, const GmmSettings& s,
                         const int* assignment = nullptr) {
    return gmm_update(ex, g, P, x, K, s, ws.data(), ws.size(), assignment);
  }
};

GmmUpdateReport run_update(Fixture& f, const Points& p, int K, int maxit, const json& assign) {
  GmmSettings s;
  s.max_iterations = maxit;
  std::vector<int> a;
  if (!assign.is_null()) a = assign.get<std::vector<int>>();
  return f.update(p.P, p.x.data(), K, s, a.empty() ? nullptr : a.data());
}

TEST(GmmGolden, EveryCase) {
  const json& ref = gmm_reference();
  const Points data = points_of(ref["data"]);
  const Points query = points_of(ref["query"]);
  ASSERT_FALSE(ref["cases"].empty());
  for (const json& c : ref["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    const int K = c["K"].get<int>();
    Fixture f(1, std::max(data.P, query.P), data.D, K);
    const GmmState& g = f.g;
    if (c.contains("first")) {
      // Warm start: two updates on the same GMM.
      for (const char* phase : {"first", "second"}) {
        const json& u = c[phase];
        const Points d = u["data"].is_string() ? data : points_of(u["data"]);
        const auto rep = run_update(f, d, K, u["max_iterations"].get<int>(),
                                    u["em"]["init_assignment"]);
        expect_em(rep, u["em"], name + "/" + phase);
      }
    } else {
      const auto rep = run_update(f, data, K, c["max_iterations"].get<int>(),
                                  c["em"]["init_assignment"]);
      expect_em(rep, c["em"], name);
    }
    expect_result(g, c["result"], name);

    if (c.contains("estep_logobs")) {
      std::vector<double> logobs(static_cast<std::size_t>(data.P) * K);
      std::uint32_t st = 0;
      gmm_estep(f.ex, g, 0, 1, data.P, data.x.data(), logobs.data(), &st, f.ws.data(), f.ws.size());
      EXPECT_EQ(st, kOk);
      EXPECT_TRUE(near_rel(logobs, flatten(c["estep_logobs"]), kRtol, 1e-300, name + " estep"));
    }
    if (c.contains("inference_query")) {
      const json& q = c["inference_query"];
      std::vector<double> mu0(data.D), Phi(data.D * data.D), logwts(K);
      double m = 0, n0 = 0;
      std::uint32_t st = 0;
      gmm_inference(f.ex, g, query.P, query.x.data(), 1.0,
                    GmmInferenceOut{mu0.data(), Phi.data(), &m, &n0, logwts.data(), &st},
                    f.ws.data(), f.ws.size());
      EXPECT_EQ(st, kOk);
      EXPECT_TRUE(near_rel(mu0, flatten(q["mu0"]), kRtol, 1e-300, name + " mu0"));
      EXPECT_TRUE(near_rel(Phi, flatten(q["Phi"]), kRtol, 1e-300, name + " Phi"));
      EXPECT_TRUE(near_rel(logwts, flatten(q["clusterwts"]), kRtol, 1e-300, name + " clusterwts"));
      EXPECT_NEAR(m, q["m"].get<double>(), kRtol * std::abs(q["m"].get<double>()));
      EXPECT_NEAR(n0, q["n0"].get<double>(), kRtol * std::abs(q["n0"].get<double>()));
    }
  }
}

// Several conditions in one batch, threads > 1: each condition equals the single run, and
// a condition with NaN data is flagged without disturbing the others.
TEST(Gmm, BatchedConditionsAreIndependent) {
  const json& ref = gmm_reference();
  const json& c = ref["cases"][2];  // any reinitialising case
  const Points data = points_of(ref["data"]);
  const int K = c["K"].get<int>(), maxit = c["max_iterations"].get<int>();
  const auto a = c["em"]["init_assignment"].get<std::vector<int>>();

  Fixture one(1, data.P, data.D, K);
  run_update(one, data, K, maxit, c["em"]["init_assignment"]);
  const GmmParameters single = gmm_parameters(one.ex, one.g);

  const int M = 4, bad = 2;
  std::vector<double> x;
  std::vector<int> assign;
  for (int m = 0; m < M; ++m) {
    x.insert(x.end(), data.x.begin(), data.x.end());
    assign.insert(assign.end(), a.begin(), a.end());
  }
  x[static_cast<std::size_t>(bad) * data.P * data.D + 7] = std::nan("");
  // A budget of about two conditions per chunk: chunks must not change any result.
  const std::size_t two = gmm_workspace_size(cpu_executor(2), 2, data.P, data.D, K) * sizeof(double);
  Fixture batch(M, data.P, data.D, K, 2, two);
  GmmSettings s;
  s.max_iterations = maxit;
  const auto rep = batch.update(data.P, x.data(), K, s, assign.data());
  const GmmParameters g = gmm_parameters(batch.ex, batch.g);
  for (int m = 0; m < M; ++m) {
    if (m == bad) {
      EXPECT_EQ(rep.status[m], kNonFinite);
      EXPECT_NE(rep.message[m].find("non-finite"), std::string::npos) << rep.message[m];
      continue;
    }
    EXPECT_EQ(rep.status[m], kOk) << rep.message[m];
    EXPECT_EQ(rep.iterations[m], maxit);
    for (std::size_t i = 0; i < single.sigma.size(); ++i)
      ASSERT_EQ(g.sigma[m * single.sigma.size() + i], single.sigma[i]);
    for (std::size_t i = 0; i < single.mu.size(); ++i)
      ASSERT_EQ(g.mu[m * single.mu.size() + i], single.mu[i]);
  }
}

// The device path's per-cluster step after the batched factorisation, run by the CPU
// executor on factors made here (cuSOLVER leaves garbage above the diagonal; a failed
// factorisation reports info != 0): upper triangle cleared, L Linv = I, constants match
// the E-step's, and the non-PD cluster is flagged.
TEST(Gmm, EstepFactorKernel) {
  const json& ref = gmm_reference();
  const json& c = ref["cases"][3];
  const Points data = points_of(ref["data"]);
  Fixture f(1, data.P, data.D, c["K"].get<int>());
  GmmState& g = f.g;
  run_update(f, data, c["K"].get<int>(), c["max_iterations"].get<int>(), c["em"]["init_assignment"]);
  const int K = g.K, D = g.D;
  ASSERT_GE(K, 3);
  std::vector<double> chol(K * D * D), Linv(K * D * D), logc(K);
  std::vector<int> info(K, 0);
  std::vector<std::uint32_t> st(K, 99);
  g.sigma[2 * D * D + D + 1] = -1.0;  // cluster 2 no longer PD
  for (int k = 0; k < K; ++k) {
    double* L = chol.data() + k * D * D;
    std::copy_n(g.sigma.data() + k * D * D, D * D, L);
    info[k] = la::cholesky_lower(D, L, D) == kOk ? 0 : 1;
    for (int i = 0; i < D; ++i)
      for (int j = i + 1; j < D; ++j) L[i * D + j] = 7.0;  // like cuSOLVER's leftovers
  }
  ASSERT_NE(info[2], 0);
  for_each_2d(cpu_executor(2), 1, K,
              gmm::EstepFactorStep<double>{K, D, info.data(), g.logmass.data(), chol.data(),
                                           Linv.data(), logc.data(), st.data()});
  EXPECT_EQ(st[2], kNotPositiveDefinite);
  for (int k = 0; k < K; ++k) {
    if (k == 2) continue;
    ASSERT_EQ(st[k], kOk);
    const double* L = chol.data() + k * D * D;
    const double* Li = Linv.data() + k * D * D;
    double logdet = 0.0;
    for (int i = 0; i < D; ++i) {
      logdet += 2.0 * std::log(L[i * D + i]);
      for (int j = 0; j < D; ++j) {
        if (j > i) {
          EXPECT_EQ(L[i * D + j], 0.0);
        }
        double s = 0.0, e = 0.0;
        for (int p = 0; p < D; ++p) {
          s += L[i * D + p] * L[j * D + p];
          e += L[i * D + p] * Li[p * D + j];
        }
        EXPECT_NEAR(s, g.sigma[(k * D + i) * D + j], 1e-12);
        EXPECT_NEAR(e, i == j ? 1.0 : 0.0, 1e-9);
      }
    }
    EXPECT_NEAR(logc[k], -0.5 * D * std::log(2 * M_PI) - 0.5 * logdet + g.logmass[k], 1e-12);
  }
}

// A workspace below one condition's layout is refused with the size that is needed.
TEST(Gmm, TooSmallWorkspaceNamesTheNeededSize) {
  const Points data = points_of(gmm_reference()["data"]);
  Fixture f(1, data.P, data.D, 3);
  const std::size_t need = f.ws.size();
  try {
    gmm_update(f.ex, f.g, data.P, data.x.data(), 3, GmmSettings{}, f.ws.data(), need / 2);
    FAIL() << "a half-size workspace was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gmm_update: workspace of " + std::to_string(need / 2)), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(need)), std::string::npos) << msg;
  }
}

// Inference for two conditions, one of which has a covariance that is not positive
// definite: that one reports the E-step failure with NaN outputs, the other is unchanged.
TEST(Gmm, InferenceFlagsAFailedConditionWithNaN) {
  const json& ref = gmm_reference();
  const json& c = ref["cases"][2];
  const Points data = points_of(ref["data"]);
  const int K = c["K"].get<int>(), D = data.D;
  const auto a = c["em"]["init_assignment"].get<std::vector<int>>();
  std::vector<double> x = data.x;
  x.insert(x.end(), data.x.begin(), data.x.end());
  std::vector<int> assign = a;
  assign.insert(assign.end(), a.begin(), a.end());
  Fixture f(2, data.P, D, K);
  GmmSettings s;
  s.max_iterations = c["max_iterations"].get<int>();
  ASSERT_EQ(f.update(data.P, x.data(), K, s, assign.data()).status[1], kOk);
  std::vector<double> mu0(2 * D), Phi(2 * D * D), m(2), n0(2), logwts(2 * K);
  std::uint32_t st[2] = {99, 99};
  const GmmInferenceOut out{mu0.data(), Phi.data(), m.data(), n0.data(), logwts.data(), st};
  gmm_inference(f.ex, f.g, data.P, x.data(), 1.0, out, f.ws.data(), f.ws.size());
  ASSERT_EQ(st[0], kOk);
  ASSERT_EQ(st[1], kOk);
  const std::vector<double> good(mu0.begin(), mu0.begin() + D);
  f.g.sigma[(static_cast<std::int64_t>(K) + 1) * D * D + D + 1] = -5.0;  // condition 1, cluster 1
  gmm_inference(f.ex, f.g, data.P, x.data(), 1.0, out, f.ws.data(), f.ws.size());
  EXPECT_EQ(st[0], kOk);
  EXPECT_EQ(st[1], kNotPositiveDefinite);
  EXPECT_EQ(std::vector<double>(mu0.begin(), mu0.begin() + D), good);
  for (int i = 0; i < D; ++i) EXPECT_TRUE(std::isnan(mu0[D + i]));
  EXPECT_TRUE(std::isnan(Phi[D * D]) && std::isnan(m[1]) && std::isnan(logwts[K]));
}

// A caller's assignment with a label outside [0, K) is refused, naming the condition and
// point, before the state changes.
TEST(Gmm, AssignmentOutsideTheClustersIsRefused) {
  const Points data = points_of(gmm_reference()["data"]);
  std::vector<int> a(data.P, 0);
  for (int p = 0; p < data.P; ++p) a[p] = p % 3;
  a[5] = 3;
  Fixture f(1, data.P, data.D, 3);
  try {
    f.update(data.P, data.x.data(), 3, GmmSettings{}, a.data());
    FAIL() << "label 3 of K = 3 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("condition 0, point 5 is outside [0, 3)"),
              std::string::npos) << e.what();
  }
  EXPECT_FALSE(f.g.initialised());
  EXPECT_EQ(f.g.initialisations, 0u);
}

// An empty initial cluster has no mean: reported, not a crash.
TEST(Gmm, EmptyInitialClusterIsReported) {
  const json& ref = gmm_reference();
  const Points data = points_of(ref["data"]);
  std::vector<int> a(data.P, 0);
  a[0] = 1;  // cluster 2 of K = 3 stays empty
  Fixture f(1, data.P, data.D, 3);
  const auto rep = f.update(data.P, data.x.data(), 3, GmmSettings{}, a.data());
  EXPECT_EQ(rep.status[0], kTooFewSamples);
  EXPECT_NE(rep.message[0].find("no points"), std::string::npos);
}

// Random initial assignment: deterministic for a seed, covers [0, K), EM raises the
// log-likelihood until it stops.
TEST(Gmm, SeededInitialAssignment) {
  std::vector<int> a(2 * 500), b(2 * 500);
  const Executor ex = cpu_executor(2);
  gmm_random_assignment(ex, 42, 0, 2, 500, 7, a.data());
  gmm_random_assignment(ex, 42, 0, 2, 500, 7, b.data());
  EXPECT_EQ(a, b);
  gmm_random_assignment(ex, 42, 1, 2, 500, 7, b.data());
  EXPECT_NE(a, b);
  std::vector<int> hist(7, 0);
  for (int v : a) {
    ASSERT_GE(v, 0);
    ASSERT_LT(v, 7);
    ++hist[v];
  }
  for (int h : hist) EXPECT_GT(h, 100);  // ~143 expected per bin

  const Points data = points_of(gmm_reference()["data"]);
  Fixture f(1, data.P, data.D, 3);
  GmmSettings s;
  s.seed = 7;
  const auto rep = f.update(data.P, data.x.data(), 3, s);
  ASSERT_EQ(rep.status[0], kOk) << rep.message[0];
  EXPECT_TRUE(rep.reinitialised);
  EXPECT_EQ(f.g.initialisations, 1u);
  for (int i = 1; i + 1 < rep.iterations[0]; ++i) EXPECT_GE(rep.loglik[i], rep.loglik[i - 1]);
}

}  // namespace
}  // namespace gpsx
