// Experiment configs of `gpsx run` (YAML, strictly validated): which task, which
// conditions, the cost, the initial controllers and the algorithm's settings. Every key is
// optional except `task`; defaults are the cbfinn/gps reference's
// (../shared/reference/README.md "Reference defaults").
//
//   name: reacher2_trajopt      # default: the file stem
//   task: reacher2              # REQUIRED: envs/models/NAME.yaml, or a task .yaml path
//                               #   relative to this file
//   iterations: 10              # >= 1
//   samples: 5                  # N >= 2 (the dynamics fit needs two)
//   T: 100                      # >= 2
//   seed: 1                     # unsigned
//   conditions:                 # default: the task's. A list ...
//     - {q0: [..nv..], qd0: [..nv..] (default zeros), ee_target: [..3 nee..]}
//                               #   and/or joint_target: [..nv..]
//   conditions:                 # ... or generated (see below)
//     generate: {count: 1024, seed: 7, q0: [..] | {low: [..], high: [..]},
//                ee_target: {low, high} | [..], joint_target: {low, high} | [..]}
//   cost: {terms: [...]}        # host/gpsx/host/cost.h; default: the task's `cost:`
//   init: {type: lqr, init_var: 1.0, stiffness: 1.0, stiffness_vel: 0.5,
//          final_weight: 1.0, gains: [..dU..], acc: [..dU..]}
//   init: {type: pd, init_var: 10.0, pos_gains: 10.0, vel_gains_mult: 0.01}
//   algorithm: {kl_step: 0.2, min_step_mult: 0.01, max_step_mult: 10.0, init_eta: 1.0,
//               init_step_mult: 1.0, initial_state_var: 1e-6, inner_iterations: 1,
//               eta_search: {mode: sequential, candidates: 4, max_iterations: 50,
//                            min_eta: 1e-8, max_eta: 1e16, del0: 1e-4}}
//   dynamics: {regularization: 1e-6, max_clusters: 50, min_samples_per_cluster: 20,
//              max_samples: 20, strength: 1.0, em_iterations: 100}
//   noise: {smooth: true, sigma: 2.0, renormalize: true}
//   checkpoints: {keep: 2}
//
// Generated conditions (`generate:` keys count, seed (default 0), q0 (required), qd0
// (default zeros), ee_target, joint_target; each field a fixed list or a {low, high} box):
// condition i draws from Philox stream i under key `seed` (kernels/gpsx/kernels/philox.h).
// The given fields are laid out in the order q0, qd0, ee_target, joint_target; value k of
// that layout is low + (high - low) * u, u = uniform_open(words 2k, 2k + 1 of the stream)
// (block k / 2). Fixed fields use their slots too, so boxing one field leaves the
// others' draws unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/envs/task.h"
#include "gpsx/host/algorithm_traj_opt.h"
#include "gpsx/host/cost.h"
#include "gpsx/kernels/lin_gauss.h"
#include "gpsx/kernels/noise.h"

namespace gpsx::run {

struct InitSpec {
  std::string type = "lqr";                  // lqr (init_lqr) | pd (init_pd)
  lingauss::LqrInitSettings<double> lqr;     // dt = the task's control_dt()
  std::vector<double> gains, acc;            // (dU) init_gains (default ones), init_acc (zeros)
  lingauss::PdInitSettings<double> pd;
};

struct Experiment {
  std::string name;            // `name:` or the file stem
  std::string path;            // the config file
  envs::Task task;             // the loaded task; task.conditions = the experiment's M conditions
  CostDesc cost;               // `cost:` of the experiment, else the task's, with every
                               //   condition's targets filled in (M rows where per condition)
  int iterations = 10, samples = 5, T = 100;
  std::uint64_t seed = 1;
  InitSpec init;
  TrajOptAlgorithmSettings algorithm;   // lqr.base_kl_step = kl_step
  noise::NoiseSettings noise;
  int keep_checkpoints = 2;             // newest checkpoints kept in the run directory
  std::string resolved_yaml;            // the fully resolved config (every default filled in)
  int M() const { return static_cast<int>(task.conditions.size()); }
};

// Reads, applies overrides ("key.path=value", value parsed as YAML: scalar or flow list),
// validates (task, model, sizes against the task, cost against the conditions). Throws
// gpsx::ConfigError whose message names file:line:column (or the --set argument), the key
// path and what was expected.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& sets = {});
// The same from text; `path` names it in messages and anchors relative task paths.
Experiment parse_experiment(const std::string& text, const std::string& path,
                            const std::vector<std::string>& sets = {});

// NAME -> experiments_dir()/NAME.yaml (gpsx/envs/data_dir.h); a path to a .yaml file is
// returned as is. Throws ConfigError listing the known experiments when NAME is unknown.
std::string find_experiment(const std::string& name_or_path);

}  // namespace gpsx::run
