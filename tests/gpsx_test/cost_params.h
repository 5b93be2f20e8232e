// The reference's machine-readable cost (`cost_params` of kl_and_costs.json's eval_cost
// and of algorithm_iteration.json's run settings) as our cost config: every size, target,
// weight and option comes from the file. The cost is written in our YAML schema and read
// back by parse_cost_yaml, so the tests also run the config loader end to end.
//
// cost_params: {n, weights [action, state, fk], action {wu}, state {data_type,
// state_indices [begin, end), wp, target_state, l1, l2, alpha, ramp_option,
// wp_final_multiplier, evalnorm}, fk {data_type, state_indices, wp, target_end_effector,
// l1, l2, alpha, ramp_option, wp_final_multiplier, evalnorm, jacobian_key,
// derivatives_into}}.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/host/cost.h"
#include "gpsx_test/reference.h"

namespace gpsx::test {

// The cost's term order in `weights` (the reference's CostSum order).
inline const std::vector<std::string>& cost_params_terms() {
  static const std::vector<std::string> order = {"action", "state", "fk"};
  return order;
}

// State blocks named by the terms' data types, from their state_indices [begin, end).
inline StateLayout cost_params_layout(const json& params) {
  StateLayout layout;
  for (const std::string key : {"state", "fk"}) {
    if (!params.contains(key)) continue;
    const json& term = params.at(key);
    const std::vector<int> range = term.at("state_indices").get<std::vector<int>>();
    if (range.size() != 2 || range[1] <= range[0])
      throw std::runtime_error("cost_params." + key + ".state_indices: expected [begin, end)");
    const std::string name = term.at("data_type");
    for (const StateBlock& b : layout)
      if (b.name == name && (b.offset != range[0] || b.size != range[1] - range[0]))
        throw std::runtime_error("cost_params: data type " + name + " at two places");
    layout.push_back({name, range[0], range[1] - range[0]});
  }
  return layout;
}

// ramp_option as our YAML ramp name; the reference's integer options 1..4 are accepted too.
inline std::string cost_params_ramp(const json& option) {
  static const char* const names[] = {"constant", "linear", "quadratic", "final_only"};
  if (option.is_number_integer()) {
    const int o = option.get<int>();
    if (o < 1 || o > 4) throw std::runtime_error("cost_params: ramp_option out of range");
    return names[o - 1];
  }
  return option.get<std::string>();  // names as ours; parse_cost_yaml rejects others
}

inline std::string cost_params_norm(const std::string& evalnorm) {
  if (evalnorm == "evall1l2term") return "l1l2";
  if (evalnorm == "evallogl2term") return "log";
  throw std::runtime_error("cost_params: unknown evalnorm " + evalnorm);
}

// The norm settings every state-like term carries.
inline void copy_norm_settings(const json& from, json& to) {
  to["l1"] = from.at("l1");
  to["l2"] = from.at("l2");
  to["alpha"] = from.at("alpha");
  to["ramp"] = cost_params_ramp(from.at("ramp_option"));
  to["wp_final_multiplier"] = from.at("wp_final_multiplier");
  to["norm"] = cost_params_norm(from.at("evalnorm"));
}

// The cost as YAML text of our schema (JSON flow style is YAML).
inline std::string cost_params_yaml(const json& params) {
  const std::vector<double> weights = params.at("weights").get<std::vector<double>>();
  json terms = json::array();
  for (const std::string& key : cost_params_terms()) {
    if (!params.contains(key)) continue;
    if (terms.size() >= weights.size())
      throw std::runtime_error("cost_params: fewer weights than terms");
    const json& p = params.at(key);
    json t = {{"type", key}, {"weight", weights[terms.size()]}};
    if (key == "action") {
      t["wu"] = p.at("wu");
    } else if (key == "state") {
      copy_norm_settings(p, t);
      t["blocks"] = json::array(
          {{{"data_type", p.at("data_type")}, {"wp", p.at("wp")}, {"target", p.at("target_state")}}});
    } else {
      copy_norm_settings(p, t);
      t["data_type"] = p.at("data_type");
      t["wp"] = p.at("wp");
      t["target"] = p.at("target_end_effector");
      t["joints_data_type"] = p.at("derivatives_into");
    }
    terms.push_back(std::move(t));
  }
  if (terms.size() != weights.size())
    throw std::runtime_error("cost_params: " + std::to_string(weights.size()) + " weights for " +
                             std::to_string(terms.size()) + " terms");
  return json{{"cost", {{"terms", terms}}}}.dump();
}

// The cost description of `params`; `n` (the joint count) must be the size of the block
// the FK derivatives go into.
inline CostDesc cost_from_params(const json& params, const std::string& source) {
  const StateLayout layout = cost_params_layout(params);
  if (params.contains("fk")) {
    const std::string joints = params.at("fk").at("derivatives_into");
    bool found = false;
    for (const StateBlock& b : layout)
      if (b.name == joints) {
        found = true;
        if (b.size != params.at("n").get<int>())
          throw std::runtime_error("cost_params: " + joints + " has " + std::to_string(b.size) +
                                   " entries, n = " + params.at("n").dump());
      }
    if (!found)
      throw std::runtime_error("cost_params: no state_indices for data type " + joints);
  }
  return parse_cost_yaml(cost_params_yaml(params), source, layout);
}

// Sample key of the FK term's end-effector Jacobians.
inline std::string cost_params_jacobian_key(const json& params) {
  return params.at("fk").at("jacobian_key");
}

}  // namespace gpsx::test
