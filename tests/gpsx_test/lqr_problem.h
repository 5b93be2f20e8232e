// The LQR tests' problem set-up, shared by lqr_golden_test.cc and lqr_unit_test.cc: one
// condition's inputs as owned arrays (a golden case of lqr_backward.json, with its
// `modified_inputs` applied), an owned controller, and the dual-search settings and KL
// bound of an `update` case.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpsx/kernels/lqr_batch.h"
#include "gpsx/kernels/lqr_dual_search.h"
#include "gpsx/kernels/lqr_problem.h"
#include "gpsx_test/reference.h"

namespace gpsx::test {

// lqr_backward.json, read once per test binary.
inline const json& lqr_reference() {
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
  const std::vector<double> v = flatten(j);
  return std::vector<Real>(v.begin(), v.end());
}

inline lqr::Mode mode_of(const std::string& s) {
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
  for (auto [dst, key] : {std::pair{&p.Fm, "Fm"}, {&p.fv, "fv"}, {&p.dyn_covar, "dyn_covar"},
                          {&p.x0mu, "x0mu"}, {&p.x0sigma, "x0sigma"}, {&p.Cm, "Cm"},
                          {&p.cv, "cv"}, {&p.cc, "cc"}})
    *dst = as<Real>(ti[key]);
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
  for (auto [dst, key] : {std::pair{&p.K, "K"}, {&p.k, "k"}, {&p.pol_covar, "pol_covar"},
                          {&p.chol, "chol_pol_covar"}, {&p.inv, "inv_pol_covar"}})
    *dst = as<Real>(prev[key]);
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

inline double setting_or(const json& settings, const char* key, double fallback) {
  return settings.contains(key) ? settings[key].get<double>() : fallback;
}

// Settings of an `update` case (defaults: the reference's).
inline lqr::SearchSettings<double> search_settings(const json& c) {
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
inline double kl_bound(const json& c, const lqr::Dims& d) {
  return search_settings(c).kl_bound(d, c["settings"]["step_mult"].get<double>());
}

}  // namespace gpsx::test
