// AlgorithmTrajOpt end to end against the reference (algorithm_iteration.json): every
// traj_opt run's iterations replayed on the stored samples with the recorded GMM initial
// assignments injected; the fitted dynamics, initial state, cost expansion, step
// adjustment, eta, step multiplier and new controllers compared at the README's
// end-to-end tolerance. Sizes, settings and the cost come from the file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx_test/cost_params.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;
using test::near_rel;

constexpr double kEndToEndRtol = 1e-6;  // README: end-to-end iteration ~3e-8 amplification
constexpr double kFloor = 1e-12;        // absolute floor for arrays that are exactly zero

TrajOptAlgorithmSettings settings_of(const json& s) {
  TrajOptAlgorithmSettings a;
  a.kl_step = s.at("kl_step");
  a.min_step_mult = s.at("min_step_mult");
  a.max_step_mult = s.at("max_step_mult");
  a.initial_state_var = s.at("initial_state_var");
  a.inner_iterations = s.at("inner_iterations");
  EXPECT_EQ(s.at("max_ent_traj").get<double>(), 0.0) << "only max_ent_traj = 0 is implemented";
  const json& d = s.at("dynamics");
  EXPECT_EQ(d.at("prior").get<std::string>(), "DynamicsPriorGMM");
  a.dynamics.regularization = d.at("regularization");
  a.dynamics.max_clusters = d.at("max_clusters");
  a.dynamics.min_samples_per_cluster = d.at("min_samples_per_cluster");
  a.dynamics.max_samples = d.at("max_samples");
  a.dynamics.strength = d.at("strength");
  return a;
}

// All conditions' values of `key` (optionally under `sub`), condition-major.
std::vector<double> gather(const json& conditions, const std::string& key,
                           const std::string& sub = "") {
  std::vector<double> out;
  for (const json& c : conditions) {
    const json& v = sub.empty() ? c.at(key) : c.at(key).at(sub);
    test::flatten_into(v, out);
  }
  return out;
}

template <class T>
Buffer<T> device_copy(const Executor& ex, const std::vector<T>& host, const std::string& name) {
  Buffer<T> b(ex, name, Shape{static_cast<std::int64_t>(host.size())});
  upload(ex, host.data(), host.size(), b.data());
  return b;
}

std::vector<double> host_copy(const Executor& ex, const Buffer<double>& b) {
  std::vector<double> h(static_cast<std::size_t>(b.size()));
  download(ex, b.data(), h.size(), h.data());
  return h;
}

void upload_controllers(const Executor& ex, const json& conditions, ControllerBatch& c) {
  const auto put = [&](const char* key, Buffer<double>& dst) {
    const std::vector<double> v = gather(conditions, "traj_distr_before", key);
    ASSERT_EQ(static_cast<std::int64_t>(v.size()), dst.size()) << key;
    upload(ex, v.data(), v.size(), dst.data());
  };
  put("K", c.K);
  put("k", c.k);
  put("pol_covar", c.pol_covar);
  put("chol_pol_covar", c.chol_pol_covar);
  put("inv_pol_covar", c.inv_pol_covar);
}

// The recorded init assignment of every condition's dynamics prior GMM (M x P), empty when
// this iteration's GMMs warm-started.
std::vector<int> dynamics_assignments(const json& gmm_calls, int M) {
  std::vector<int> out;
  int found = 0;
  for (int m = 0; m < M; ++m)
    for (const json& call : gmm_calls) {
      if (call.at("label").get<std::string>() != "dynamics_prior_cond" + std::to_string(m))
        continue;
      ++found;
      if (call.at("init_assignment").is_null()) continue;
      const std::vector<int> a = call.at("init_assignment").get<std::vector<int>>();
      out.insert(out.end(), a.begin(), a.end());
    }
  EXPECT_EQ(found, M) << "one dynamics prior GMM call per condition";
  EXPECT_TRUE(out.empty() || static_cast<int>(out.size()) % M == 0)
      << "either every condition's GMM is reinitialised or none";
  return out;
}

TEST(AlgorithmGolden, TrajOptRunsReproduceTheReference) {
  const json ref = test::load_reference("algorithm_iteration.json");
  const Executor ex = cpu_executor(2);
  int runs = 0;
  for (const json& run : ref.at("runs")) {
    if (run.at("algorithm").get<std::string>() != "traj_opt") continue;
    ++runs;
    const json& settings = run.at("settings");
    const json& first = run.at("iterations").at(0).at("conditions");
    const int M = static_cast<int>(first.size());
    const std::vector<std::int64_t> xs = test::shape_of(first.at(0).at("X"));
    const int N = static_cast<int>(xs[0]), T = static_cast<int>(xs[1]), dX = static_cast<int>(xs[2]);
    const int dU = static_cast<int>(test::shape_of(first.at(0).at("U"))[2]);
    ASSERT_EQ(settings.at("init_traj_distr").at("T").get<int>(), T);
    const json& cp = settings.at("cost_params");
    const CostTable table = compile_cost(test::cost_from_params(cp, "algorithm_iteration.json"),
                                         dX, dU, M);
    CostModelStorage cost = make_cost_model(ex, table);
    const std::string jac_key = test::cost_params_jacobian_key(cp);

    TrajOptAlgorithm alg = make_traj_opt_algorithm(ex, M, T, dX, dU, N, settings_of(settings));
    upload_controllers(ex, first, alg.ctrl);

    for (const json& it : run.at("iterations")) {
      const int iter = it.at("iteration");
      SCOPED_TRACE("run " + std::to_string(runs) + " iteration " + std::to_string(iter));
      const json& conds = it.at("conditions");
      ASSERT_EQ(static_cast<int>(conds.size()), M);
      // The samples were drawn with the controller we hold: the previous iteration's output.
      for (const char* key : {"K", "k", "pol_covar"})
        ASSERT_TRUE(near_rel(host_copy(ex, key == std::string("K")   ? alg.ctrl.K
                                           : key == std::string("k") ? alg.ctrl.k
                                                                     : alg.ctrl.pol_covar),
                             gather(conds, "traj_distr_before", key), kEndToEndRtol, kFloor,
                             std::string("traj_distr_before.") + key));
      Buffer<double> X = device_copy(ex, gather(conds, "X"), "X");
      Buffer<double> U = device_copy(ex, gather(conds, "U"), "U");
      Buffer<double> jac = device_copy(ex, gather(conds, jac_key), "jac");
      const std::vector<int> assign = dynamics_assignments(it.at("gmm_calls"), M);
      Buffer<int> assignment = device_copy(ex, assign, "init_assignment");
      const SampleBatch samples{N, X.data(), U.data(), jac.data(), nullptr};

      const IterationReport& r = traj_opt_iteration(ex, alg, cost.model, samples,
                                                    assign.empty() ? nullptr : assignment.data());
      for (int m = 0; m < M; ++m) EXPECT_EQ(r.failed[m], 0u) << r.message[m];

      // The prior's GMM after its update, per condition (K, EM iteration count, parameters).
      const GmmParameters gmm = gmm_parameters(ex, alg.prior.gmm);
      for (int m = 0; m < M; ++m)
        for (const json& call : it.at("gmm_calls")) {
          if (call.at("label").get<std::string>() != "dynamics_prior_cond" + std::to_string(m))
            continue;
          const int K = call.at("K");
          ASSERT_EQ(alg.prior.gmm.K, K) << "condition " << m;
          EXPECT_EQ(r.gmm_clusters, K);
          const json& after = call.at("gmm_after_update");
          const auto slice = [&](const std::vector<double>& v, std::size_t per) {
            return std::vector<double>(v.begin() + m * K * per, v.begin() + (m + 1) * K * per);
          };
          const std::size_t D = static_cast<std::size_t>(alg.prior.gmm.D);
          EXPECT_TRUE(near_rel(slice(gmm.mu, D), flatten(after.at("mu")), kEndToEndRtol, kFloor,
                               "gmm mu " + std::to_string(m)));
          EXPECT_TRUE(near_rel(slice(gmm.sigma, D * D), flatten(after.at("sigma")), kEndToEndRtol,
                               kFloor, "gmm sigma " + std::to_string(m)));
          EXPECT_TRUE(near_rel(slice(gmm.mass, 1), flatten(after.at("mass")), kEndToEndRtol,
                               kFloor, "gmm mass " + std::to_string(m)));
        }

      // Dynamics and initial state (step T-1 is zero in both).
      EXPECT_TRUE(near_rel(host_copy(ex, alg.Fm), gather(conds, "dynamics", "Fm"), kEndToEndRtol,
                           kFloor, "Fm"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.fv), gather(conds, "dynamics", "fv"), kEndToEndRtol,
                           kFloor, "fv"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.dyn_covar), gather(conds, "dynamics", "dyn_covar"),
                           kEndToEndRtol, kFloor, "dyn_covar"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.x0mu), gather(conds, "x0mu"), kEndToEndRtol, kFloor,
                           "x0mu"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.x0sigma), gather(conds, "x0sigma"), kEndToEndRtol,
                           kFloor, "x0sigma"));
      // Cost expansion and per-sample costs.
      EXPECT_TRUE(near_rel(host_copy(ex, alg.cc), gather(conds, "cc"), kEndToEndRtol, kFloor, "cc"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.cv), gather(conds, "cv"), kEndToEndRtol, kFloor, "cv"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.Cm), gather(conds, "Cm"), kEndToEndRtol, kFloor, "Cm"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.cs), gather(conds, "cs"), kEndToEndRtol, kFloor, "cs"));
      // Step adjustment (from the second iteration on).
      const json& log = it.at("stepadjust_log");
      if (log.is_null()) {
        EXPECT_EQ(iter, 0) << "the reference adjusts the step from the second iteration on";
      } else {
        ASSERT_EQ(static_cast<int>(log.size()), M);
        for (int m = 0; m < M; ++m) {
          EXPECT_TRUE(near_rel(&r.predicted[m], {log[m].at("predicted").get<double>()},
                               kEndToEndRtol, kFloor, "predicted " + std::to_string(m)));
          EXPECT_TRUE(near_rel(&r.actual[m], {log[m].at("actual").get<double>()}, kEndToEndRtol,
                               kFloor, "actual " + std::to_string(m)));
        }
      }
      // eta and step multiplier after the iteration, and the new controllers.
      EXPECT_TRUE(near_rel(host_copy(ex, alg.step_mult), gather(conds, "step_mult"), kEndToEndRtol,
                           kFloor, "step_mult"));
      EXPECT_TRUE(near_rel(host_copy(ex, alg.eta), gather(conds, "eta"), kEndToEndRtol, kFloor,
                           "eta"));
      const auto check_new = [&](const char* key, const Buffer<double>& b) {
        EXPECT_TRUE(near_rel(host_copy(ex, b), gather(conds, "new_traj_distr", key),
                             kEndToEndRtol, kFloor, std::string("new_traj_distr.") + key));
      };
      check_new("K", alg.ctrl.K);
      check_new("k", alg.ctrl.k);
      check_new("pol_covar", alg.ctrl.pol_covar);
      check_new("chol_pol_covar", alg.ctrl.chol_pol_covar);
      check_new("inv_pol_covar", alg.ctrl.inv_pol_covar);
    }
  }
  EXPECT_GE(runs, 1) << "algorithm_iteration.json has no traj_opt run";
}

}  // namespace
}  // namespace gpsx
