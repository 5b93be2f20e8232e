// The `eval_cost` section of kl_and_costs.json as one batch: sizes from the first
// condition's stored samples, every condition's samples concatenated in order, and the
// cost built from the section's `cost_params`.
#pragma once

#include <string>
#include <vector>

#include "gpsx_test/cost_params.h"
#include "gpsx_test/reference.h"

namespace gpsx::test {

struct EvalCostCase {
  int M = 0, N = 0, T = 0, dX = 0, dU = 0;
  int jac_rows = 0, jac_cols = 0;
  std::vector<double> X;    // (M x N x T x dX)
  std::vector<double> U;    // (M x N x T x dU)
  std::vector<double> jac;  // (M x N x T x jac_rows x jac_cols) end-effector point Jacobians
  CostDesc cost;            // from eval_cost.cost_params
};

inline EvalCostCase eval_cost_case(const json& eval_cost) {
  const json& conds = eval_cost.at("conditions");
  const json& params = eval_cost.at("cost_params");
  EvalCostCase c;
  c.cost = cost_from_params(params, "kl_and_costs.json eval_cost.cost_params");
  if (conds.empty()) return c;
  const std::string jac_key = cost_params_jacobian_key(params);
  const auto xs = shape_of(conds[0].at("X"));
  const auto us = shape_of(conds[0].at("U"));
  const auto js = shape_of(conds[0].at(jac_key));
  c.M = static_cast<int>(conds.size());
  c.N = static_cast<int>(xs[0]);
  c.T = static_cast<int>(xs[1]);
  c.dX = static_cast<int>(xs[2]);
  c.dU = static_cast<int>(us[2]);
  c.jac_rows = static_cast<int>(js[2]);
  c.jac_cols = static_cast<int>(js[3]);
  for (const json& cond : conds) {
    flatten_into(cond.at("X"), c.X);
    flatten_into(cond.at("U"), c.U);
    flatten_into(cond.at(jac_key), c.jac);
  }
  return c;
}

}  // namespace gpsx::test
