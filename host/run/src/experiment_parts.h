// Pieces of parse_experiment, one file each: conditions (experiment_conditions.cc) and the
// resolved config (experiment_resolved.cc). Private to gpsx_run.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "gpsx/host/cost.h"
#include "gpsx/run/experiment.h"
#include "yaml_check.h"

namespace gpsx::run::detail {

// The experiment's conditions from `conditions:` (a list or `generate:`), sized against
// the task; an absent node gives the task's conditions.
std::vector<envs::Condition> parse_conditions(const YamlChecker& ck, const YAML::Node& node,
                                              const envs::Task& task);

// Every cost block with `target: ee_target` / `target: joint_target` needs that target, of
// the block's size, in every condition. `conditions` is the experiment's `conditions:` node
// (undefined: the task's conditions, reported at `task_node`).
void check_condition_targets(const YamlChecker& ck, const YAML::Node& conditions,
                             const YAML::Node& task_node, const envs::Task& task,
                             const CostDesc& cost);

// The fully resolved config of e (every default written out).
std::string resolved_yaml(const Experiment& e);

}  // namespace gpsx::run::detail
