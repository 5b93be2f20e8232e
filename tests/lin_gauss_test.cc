// Golden: lin_gauss_init.json — init_lqr / init_pd, every case, rtol 1e-12 (README).
// Keys missing from a case's settings take the reference defaults.
#include <gtest/gtest.h>

#include "gpsx/host/lin_gauss.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;

constexpr double kRtol = 1e-12;

double value_or(const json& s, const char* key, double fallback) {
  return s.contains(key) ? s.at(key).get<double>() : fallback;
}

void expect_controller(ControllerBatch& c, int m, const json& out, const std::string& name) {
  const std::size_t T = c.T, dU = c.dU, dX = c.dX;
  auto slice = [&](Buffer<double>& b, std::size_t per) {
    return std::vector<double>(b.data() + m * T * per, b.data() + (m + 1) * T * per);
  };
  EXPECT_TRUE(test::near_rel(slice(c.K, dU * dX), flatten(out.at("K")), kRtol, 1e-300, name + " K"));
  EXPECT_TRUE(test::near_rel(slice(c.k, dU), flatten(out.at("k")), kRtol, 1e-300, name + " k"));
  EXPECT_TRUE(test::near_rel(slice(c.pol_covar, dU * dU), flatten(out.at("pol_covar")), kRtol,
                             1e-300, name + " pol_covar"));
  EXPECT_TRUE(test::near_rel(slice(c.chol_pol_covar, dU * dU), flatten(out.at("chol_pol_covar")),
                             kRtol, 1e-300, name + " chol_pol_covar"));
  EXPECT_TRUE(test::near_rel(slice(c.inv_pol_covar, dU * dU), flatten(out.at("inv_pol_covar")),
                             kRtol, 1e-300, name + " inv_pol_covar"));
}

TEST(LinGaussInitGolden, EveryCaseMatchesReference) {
  const json ref = test::load_reference("lin_gauss_init.json");
  const Executor ex = cpu_executor(1);
  ASSERT_FALSE(ref.at("cases").empty());
  for (const auto& c : ref.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    const json& s = c.at("settings");
    const int T = s.at("T").get<int>(), dX = s.at("dX").get<int>(), dU = s.at("dU").get<int>();
    const std::vector<double> x0 = flatten(s.at("x0"));
    ASSERT_EQ(x0.size(), static_cast<std::size_t>(dX)) << name;
    // two conditions with the same x0: batching must not mix conditions up
    std::vector<double> x0s = x0;
    x0s.insert(x0s.end(), x0.begin(), x0.end());
    ControllerBatch out(ex, 2, T, dX, dU);
    std::uint32_t status[2] = {~0u, ~0u};
    const std::string fn = c.at("function").get<std::string>();
    if (fn == "init_lqr") {
      lingauss::LqrInitSettings<double> set;
      set.init_var = value_or(s, "init_var", set.init_var);
      set.stiffness = value_or(s, "stiffness", set.stiffness);
      set.stiffness_vel = value_or(s, "stiffness_vel", set.stiffness_vel);
      set.final_weight = value_or(s, "final_weight", set.final_weight);
      set.dt = s.at("dt").get<double>();
      // reference: empty init_gains / init_acc mean ones / zeros
      std::vector<double> gains(dU, 1.0), acc(dU, 0.0);
      if (s.contains("init_gains") && !s.at("init_gains").empty()) gains = flatten(s.at("init_gains"));
      if (s.contains("init_acc") && !s.at("init_acc").empty()) acc = flatten(s.at("init_acc"));
      init_lqr(ex, set, x0s.data(), gains.data(), acc.data(), out, status);
    } else if (fn == "init_pd") {
      lingauss::PdInitSettings<double> set;
      set.init_var = value_or(s, "init_var", set.init_var);
      set.pos_gains = value_or(s, "pos_gains", set.pos_gains);
      set.vel_gains_mult = value_or(s, "vel_gains_mult", set.vel_gains_mult);
      init_pd(ex, set, s.at("dQ").get<int>(), x0s.data(), out, status);
    } else {
      FAIL() << name << ": unknown function " << fn;
    }
    for (int m = 0; m < 2; ++m) {
      EXPECT_EQ(status[m], kOk) << name;
      expect_controller(out, m, c.at("output"), name + " m=" + std::to_string(m));
    }
  }
}

TEST(LinGaussInit, UpperFactorReproducesCovariance) {
  const Executor ex = cpu_executor(1);
  const int T = 4, dX = 6, dU = 2;
  ControllerBatch out(ex, 1, T, dX, dU);
  const std::vector<double> x0 = {0.3, -0.2, 0.1, 0.4, 0.0, 1.0}, gains = {0.7, 1.3}, acc = {0.1, 0.0};
  std::uint32_t status;
  init_lqr(ex, lingauss::LqrInitSettings<double>{}, x0.data(), gains.data(), acc.data(), out, &status);
  ASSERT_EQ(status, kOk);
  for (int t = 0; t < T; ++t) {
    const double* C = out.chol_pol_covar.data() + t * dU * dU;
    const double* S = out.pol_covar.data() + t * dU * dU;
    const double* P = out.inv_pol_covar.data() + t * dU * dU;
    EXPECT_EQ(C[1 * dU + 0], 0.0);  // upper
    for (int i = 0; i < dU; ++i)
      for (int j = 0; j < dU; ++j) {
        double ctc = 0, sp = 0;
        for (int p = 0; p < dU; ++p) {
          ctc += C[p * dU + i] * C[p * dU + j];
          sp += S[i * dU + p] * P[p * dU + j];
        }
        EXPECT_NEAR(ctc, S[i * dU + j], 1e-14);
        EXPECT_NEAR(sp, i == j ? 1.0 : 0.0, 1e-12);
      }
  }
}

TEST(LinGaussInit, RejectsLayoutsTheReferenceCannotRun) {
  const Executor ex = cpu_executor(1);
  ControllerBatch narrow(ex, 1, 3, 3, 2);  // dX < 2 dU
  const std::vector<double> x0(3, 0.0), ones(2, 1.0), zeros(2, 0.0);
  std::uint32_t status;
  EXPECT_THROW(init_lqr(ex, {}, x0.data(), ones.data(), zeros.data(), narrow, &status),
               std::invalid_argument);
  ControllerBatch pd(ex, 1, 3, 6, 2);
  const std::vector<double> x6(6, 0.0);
  EXPECT_THROW(init_pd(ex, {}, 3, x6.data(), pd, &status), std::invalid_argument);  // dU < dQ
}

}  // namespace
}  // namespace gpsx
