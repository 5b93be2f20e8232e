// The fully resolved experiment config: every key written, doubles in their shortest
// round-trip form, the task as an absolute path, conditions listed, the cost as its terms.
// parse_experiment of this text gives an equal Experiment.
#include <fmt/format.h>

#include "experiment_parts.h"
#include "gpsx/host/sim_sampling.h"

namespace gpsx::run::detail {

namespace {

std::string num(double v) { return fmt::format("{}", v); }

void list(YAML::Emitter& out, const std::vector<double>& v) {
  out << YAML::Flow << YAML::BeginSeq;
  for (double x : v) out << num(x);
  out << YAML::EndSeq;
}

void key_num(YAML::Emitter& out, const char* key, double v) {
  out << YAML::Key << key << YAML::Value << num(v);
}

const char* ramp_name(cost::Ramp r) {
  switch (r) {
    case cost::Ramp::kConstant: return "constant";
    case cost::Ramp::kLinear: return "linear";
    case cost::Ramp::kQuadratic: return "quadratic";
    case cost::Ramp::kFinalOnly: return "final_only";
  }
  return "constant";
}

// `data_type: NAME` where the layout has a block of that offset and size, else `offset:`.
void block_place(YAML::Emitter& out, const StateLayout& layout, int offset, int size,
                 const char* name_key, const char* offset_key) {
  for (const StateBlock& b : layout)
    if (b.offset == offset && b.size == size) {
      out << YAML::Key << name_key << YAML::Value << b.name;
      return;
    }
  out << YAML::Key << offset_key << YAML::Value << offset;
}

void block_target(YAML::Emitter& out, const CostBlockDesc& b) {
  out << YAML::Key << "wp" << YAML::Value;
  list(out, b.wp);
  out << YAML::Key << "target" << YAML::Value;
  if (b.ee_target) {
    out << "ee_target";
  } else if (b.joint_target) {
    out << "joint_target";
  } else if (b.targets.size() == 1) {
    list(out, b.targets[0]);
  } else {
    out << YAML::BeginSeq;
    for (const auto& t : b.targets) list(out, t);
    out << YAML::EndSeq;
  }
}

void term(YAML::Emitter& out, const CostTermDesc& t, const StateLayout& layout) {
  out << YAML::BeginMap;
  const char* type = t.kind == cost::TermKind::kAction ? "action"
                     : t.kind == cost::TermKind::kState ? "state" : "fk";
  out << YAML::Key << "type" << YAML::Value << type;
  key_num(out, "weight", t.weight);
  if (t.kind == cost::TermKind::kAction) {
    out << YAML::Key << "wu" << YAML::Value;
    list(out, t.wu);
    out << YAML::EndMap;
    return;
  }
  key_num(out, "l1", t.l1);
  key_num(out, "l2", t.l2);
  key_num(out, "alpha", t.alpha);
  out << YAML::Key << "ramp" << YAML::Value << ramp_name(t.ramp);
  key_num(out, "wp_final_multiplier", t.final_multiplier);
  out << YAML::Key << "norm" << YAML::Value << (t.norm == cost::Norm::kLogL2 ? "log" : "l1l2");
  if (t.kind == cost::TermKind::kState) {
    out << YAML::Key << "blocks" << YAML::Value << YAML::BeginSeq;
    for (const CostBlockDesc& b : t.blocks) {
      out << YAML::BeginMap;
      block_place(out, layout, b.offset, static_cast<int>(b.wp.size()), "data_type", "offset");
      block_target(out, b);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  } else {
    const CostBlockDesc& b = t.blocks.at(0);
    block_place(out, layout, b.offset, static_cast<int>(b.wp.size()), "data_type", "offset");
    bool named = false;
    for (const StateBlock& s : layout)
      named = named || (s.offset == t.joint_offset && s.size == t.joints);
    block_place(out, layout, t.joint_offset, t.joints, "joints_data_type", "joint_offset");
    if (!named) out << YAML::Key << "joints" << YAML::Value << t.joints;
    block_target(out, b);
  }
  out << YAML::EndMap;
}

void condition(YAML::Emitter& out, const envs::Condition& c) {
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "q0" << YAML::Value;
  list(out, c.q0);
  out << YAML::Key << "qd0" << YAML::Value;
  list(out, c.qd0);
  if (!c.ee_target.empty()) {
    out << YAML::Key << "ee_target" << YAML::Value;
    list(out, c.ee_target);
  }
  if (!c.joint_target.empty()) {
    out << YAML::Key << "joint_target" << YAML::Value;
    list(out, c.joint_target);
  }
  out << YAML::EndMap;
}

}  // namespace

std::string resolved_yaml(const Experiment& e) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << e.name;
  out << YAML::Key << "task" << YAML::Value << e.task.path;
  out << YAML::Key << "iterations" << YAML::Value << e.iterations;
  out << YAML::Key << "samples" << YAML::Value << e.samples;
  out << YAML::Key << "T" << YAML::Value << e.T;
  out << YAML::Key << "seed" << YAML::Value << e.seed;

  out << YAML::Key << "conditions" << YAML::Value << YAML::BeginSeq;
  for (const envs::Condition& c : e.task.conditions) condition(out, c);
  out << YAML::EndSeq;

  const StateLayout layout = envs::state_layout(e.task);
  out << YAML::Key << "cost" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "terms" << YAML::Value << YAML::BeginSeq;
  for (const CostTermDesc& t : e.cost.terms) term(out, t, layout);
  out << YAML::EndSeq << YAML::EndMap;

  out << YAML::Key << "init" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << e.init.type;
  if (e.init.type == "lqr") {
    key_num(out, "init_var", e.init.lqr.init_var);
    key_num(out, "stiffness", e.init.lqr.stiffness);
    key_num(out, "stiffness_vel", e.init.lqr.stiffness_vel);
    key_num(out, "final_weight", e.init.lqr.final_weight);
    out << YAML::Key << "gains" << YAML::Value;
    list(out, e.init.gains);
    out << YAML::Key << "acc" << YAML::Value;
    list(out, e.init.acc);
  } else {
    key_num(out, "init_var", e.init.pd.init_var);
    key_num(out, "pos_gains", e.init.pd.pos_gains);
    key_num(out, "vel_gains_mult", e.init.pd.vel_gains_mult);
  }
  out << YAML::EndMap;

  const TrajOptAlgorithmSettings& a = e.algorithm;
  out << YAML::Key << "algorithm" << YAML::Value << YAML::BeginMap;
  key_num(out, "kl_step", a.kl_step);
  key_num(out, "min_step_mult", a.min_step_mult);
  key_num(out, "max_step_mult", a.max_step_mult);
  key_num(out, "init_eta", a.init_eta);
  key_num(out, "init_step_mult", a.init_step_mult);
  key_num(out, "initial_state_var", a.initial_state_var);
  out << YAML::Key << "inner_iterations" << YAML::Value << a.inner_iterations;
  out << YAML::Key << "eta_search" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value
      << (a.lqr.search == EtaSearch::kParallel ? "parallel" : "sequential");
  out << YAML::Key << "candidates" << YAML::Value << a.lqr.candidates;
  out << YAML::Key << "max_iterations" << YAML::Value << a.lqr.max_iterations;
  key_num(out, "min_eta", a.lqr.min_eta);
  key_num(out, "max_eta", a.lqr.max_eta);
  key_num(out, "del0", a.lqr.del0);
  out << YAML::EndMap << YAML::EndMap;

  const DynamicsPriorSettings& d = a.dynamics;
  out << YAML::Key << "dynamics" << YAML::Value << YAML::BeginMap;
  key_num(out, "regularization", d.regularization);
  out << YAML::Key << "max_clusters" << YAML::Value << d.max_clusters;
  out << YAML::Key << "min_samples_per_cluster" << YAML::Value << d.min_samples_per_cluster;
  out << YAML::Key << "max_samples" << YAML::Value << d.max_samples;
  key_num(out, "strength", d.strength);
  out << YAML::Key << "em_iterations" << YAML::Value << d.gmm.max_iterations;
  out << YAML::EndMap;

  out << YAML::Key << "noise" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "smooth" << YAML::Value << e.noise.smooth;
  key_num(out, "sigma", e.noise.sigma);
  out << YAML::Key << "renormalize" << YAML::Value << e.noise.renormalize;
  out << YAML::EndMap;

  out << YAML::Key << "checkpoints" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "keep" << YAML::Value << e.keep_checkpoints;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gpsx::run::detail
