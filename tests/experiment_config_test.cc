// Experiment configs (gpsx_run): defaults, strict errors (one test per class), --set
// overrides, generated conditions, joint targets, the resolved round trip and the
// shipped experiments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <stdlib.h>

#include "gpsx/host/cost.h"
#include "gpsx/host/sim_sampling.h"
#include "gpsx/kernels/philox.h"
#include "gpsx/run/experiment.h"

namespace fs = std::filesystem;
using gpsx::ConfigError;
using gpsx::run::Experiment;
using gpsx::run::parse_experiment;

namespace {

const std::string kExperiments = std::string(GPSX_SOURCE_DIR) + "/envs/experiments";

// The ConfigError message of parsing `text` as exp.yaml (fails the test when none).
std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    parse_experiment(text, "exp.yaml", sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

// A message that starts with exp.yaml:LINE:COL: PATH: and says what was expected.
void expect_located(const std::string& msg, int line, int col, const std::string& path) {
  const std::string head = "exp.yaml:" + std::to_string(line) + ":" + std::to_string(col) +
                           ": " + path + ": ";
  EXPECT_EQ(msg.rfind(head, 0), 0u) << msg << "\n  should start with: " << head;
  EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
}

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() /
                     ("gpsx_experiment_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                      "_" + std::to_string(reinterpret_cast<std::uintptr_t>(&kExperiments)));
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

void expect_same_cost(const gpsx::CostDesc& a, const gpsx::CostDesc& b) {
  ASSERT_EQ(a.terms.size(), b.terms.size());
  for (std::size_t i = 0; i < a.terms.size(); ++i) {
    const auto &x = a.terms[i], &y = b.terms[i];
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.weight, y.weight);
    EXPECT_EQ(x.wu, y.wu);
    EXPECT_EQ(x.ramp, y.ramp);
    EXPECT_EQ(x.final_multiplier, y.final_multiplier);
    EXPECT_EQ(x.norm, y.norm);
    EXPECT_EQ(x.l1, y.l1);
    EXPECT_EQ(x.l2, y.l2);
    EXPECT_EQ(x.alpha, y.alpha);
    EXPECT_EQ(x.joint_offset, y.joint_offset);
    EXPECT_EQ(x.joints, y.joints);
    ASSERT_EQ(x.blocks.size(), y.blocks.size());
    for (std::size_t j = 0; j < x.blocks.size(); ++j) {
      EXPECT_EQ(x.blocks[j].offset, y.blocks[j].offset);
      EXPECT_EQ(x.blocks[j].wp, y.blocks[j].wp);
      EXPECT_EQ(x.blocks[j].targets, y.blocks[j].targets);
      EXPECT_EQ(x.blocks[j].ee_target, y.blocks[j].ee_target);
      EXPECT_EQ(x.blocks[j].joint_target, y.blocks[j].joint_target);
    }
  }
}

// Every field of two experiments (but the config path) is the same.
void expect_same(const Experiment& a, const Experiment& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.task.path, b.task.path);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.T, b.T);
  EXPECT_EQ(a.seed, b.seed);
  ASSERT_EQ(a.M(), b.M());
  for (int m = 0; m < a.M(); ++m) {
    const auto &x = a.task.conditions[m], &y = b.task.conditions[m];
    EXPECT_EQ(x.q0, y.q0);
    EXPECT_EQ(x.qd0, y.qd0);
    EXPECT_EQ(x.ee_target, y.ee_target);
    EXPECT_EQ(x.joint_target, y.joint_target);
  }
  expect_same_cost(a.cost, b.cost);
  EXPECT_EQ(a.init.type, b.init.type);
  EXPECT_EQ(a.init.lqr.init_var, b.init.lqr.init_var);
  EXPECT_EQ(a.init.lqr.stiffness, b.init.lqr.stiffness);
  EXPECT_EQ(a.init.lqr.stiffness_vel, b.init.lqr.stiffness_vel);
  EXPECT_EQ(a.init.lqr.final_weight, b.init.lqr.final_weight);
  EXPECT_EQ(a.init.lqr.dt, b.init.lqr.dt);
  EXPECT_EQ(a.init.gains, b.init.gains);
  EXPECT_EQ(a.init.acc, b.init.acc);
  EXPECT_EQ(a.init.pd.init_var, b.init.pd.init_var);
  EXPECT_EQ(a.init.pd.pos_gains, b.init.pd.pos_gains);
  EXPECT_EQ(a.init.pd.vel_gains_mult, b.init.pd.vel_gains_mult);
  const auto &p = a.algorithm, &q = b.algorithm;
  EXPECT_EQ(p.kl_step, q.kl_step);
  EXPECT_EQ(p.min_step_mult, q.min_step_mult);
  EXPECT_EQ(p.max_step_mult, q.max_step_mult);
  EXPECT_EQ(p.init_eta, q.init_eta);
  EXPECT_EQ(p.init_step_mult, q.init_step_mult);
  EXPECT_EQ(p.initial_state_var, q.initial_state_var);
  EXPECT_EQ(p.inner_iterations, q.inner_iterations);
  EXPECT_EQ(p.lqr.base_kl_step, q.lqr.base_kl_step);
  EXPECT_EQ(p.lqr.min_eta, q.lqr.min_eta);
  EXPECT_EQ(p.lqr.max_eta, q.lqr.max_eta);
  EXPECT_EQ(p.lqr.del0, q.lqr.del0);
  EXPECT_EQ(p.lqr.max_iterations, q.lqr.max_iterations);
  EXPECT_EQ(p.lqr.search, q.lqr.search);
  EXPECT_EQ(p.lqr.candidates, q.lqr.candidates);
  EXPECT_EQ(p.dynamics.regularization, q.dynamics.regularization);
  EXPECT_EQ(p.dynamics.max_clusters, q.dynamics.max_clusters);
  EXPECT_EQ(p.dynamics.min_samples_per_cluster, q.dynamics.min_samples_per_cluster);
  EXPECT_EQ(p.dynamics.max_samples, q.dynamics.max_samples);
  EXPECT_EQ(p.dynamics.strength, q.dynamics.strength);
  EXPECT_EQ(p.dynamics.gmm.max_iterations, q.dynamics.gmm.max_iterations);
  EXPECT_EQ(a.noise.smooth, b.noise.smooth);
  EXPECT_EQ(a.noise.sigma, b.noise.sigma);
  EXPECT_EQ(a.noise.renormalize, b.noise.renormalize);
  EXPECT_EQ(a.keep_checkpoints, b.keep_checkpoints);
  EXPECT_EQ(a.resolved_yaml, b.resolved_yaml);
}

}  // namespace

TEST(ExperimentConfig, DefaultsAreTheReferences) {
  const Experiment e = parse_experiment("task: reacher2\n", "/some/where/my_exp.yaml");
  EXPECT_EQ(e.name, "my_exp");
  EXPECT_EQ(e.task.name, "reacher2");
  EXPECT_TRUE(fs::path(e.task.path).is_absolute());
  EXPECT_EQ(e.M(), 2);  // the task's conditions
  EXPECT_EQ(e.iterations, 10);
  EXPECT_EQ(e.samples, 5);
  EXPECT_EQ(e.T, 100);
  EXPECT_EQ(e.seed, 1u);
  EXPECT_EQ(e.init.type, "lqr");
  EXPECT_EQ(e.init.lqr.dt, e.task.control_dt());
  EXPECT_EQ(e.init.gains, std::vector<double>(2, 1.0));
  EXPECT_EQ(e.init.acc, std::vector<double>(2, 0.0));
  EXPECT_EQ(e.algorithm.kl_step, 0.2);
  EXPECT_EQ(e.algorithm.lqr.base_kl_step, 0.2);
  EXPECT_EQ(e.algorithm.dynamics.max_clusters, 50);
  EXPECT_EQ(e.keep_checkpoints, 2);
  // the task's cost, its ee_target filled from the task's conditions
  ASSERT_EQ(e.cost.terms.size(), 2u);
  EXPECT_TRUE(e.cost.terms[1].blocks[0].ee_target);
  EXPECT_EQ(e.cost.terms[1].blocks[0].targets[1], e.task.conditions[1].ee_target);
}

TEST(ExperimentConfigErrors, UnknownKeyListsTheAllowedOnes) {
  const std::string msg = error_of("task: reacher2\nalgorithm:\n  kl_stepp: 0.1\n");
  expect_located(msg, 3, 3, "algorithm.kl_stepp");
  EXPECT_NE(msg.find("kl_step, min_step_mult"), std::string::npos) << msg;
  expect_located(error_of("task: reacher2\nalgorithms: {}\n"), 2, 1, "algorithms");
}

TEST(ExperimentConfigErrors, WrongType) {
  const std::string msg = error_of("task: reacher2\niterations: ten\n");
  expect_located(msg, 2, 13, "iterations");
  EXPECT_NE(msg.find("expected an integer >= 1, got 'ten'"), std::string::npos) << msg;
  expect_located(error_of("task: reacher2\nnoise: {smooth: maybe}\n"), 2, 17, "noise.smooth");
  expect_located(error_of("task: reacher2\nseed: -3\n"), 2, 7, "seed");
}

TEST(ExperimentConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("task: reacher2\nalgorithm:\n  kl_step: -1\n"),
            "exp.yaml:3:12: algorithm.kl_step: expected a number > 0, got -1");
  expect_located(error_of("task: reacher2\nsamples: 1\n"), 2, 10, "samples");
  expect_located(error_of("task: reacher2\nalgorithm: {min_step_mult: 2, max_step_mult: 1}\n"), 2,
                 46, "algorithm.max_step_mult");
}

TEST(ExperimentConfigErrors, ListLengths) {
  const std::string msg =
      error_of("task: reacher2\nconditions:\n  - q0: [0.1, 0.2, 0.3]\n    ee_target: [0, 0.5, 0]\n");
  expect_located(msg, 3, 9, "conditions[0].q0");
  EXPECT_NE(msg.find("expected a list of 2 numbers, got a list of 3 entries"), std::string::npos)
      << msg;
  expect_located(error_of("task: reacher2\ninit: {gains: [1]}\n"), 2, 15, "init.gains");
}

TEST(ExperimentConfigErrors, MissingFilesNameThePathTried) {
  const std::string msg = error_of("task: nothere/task.yaml\n");
  expect_located(msg, 1, 7, "task");
  EXPECT_NE(msg.find(fs::absolute("nothere/task.yaml").string()), std::string::npos) << msg;
  const std::string unknown = error_of("task: no_such_task\n");
  expect_located(unknown, 1, 7, "task");
  EXPECT_NE(unknown.find("no_such_task.yaml"), std::string::npos) << unknown;
  expect_located(error_of("iterations: 3\n"), 1, 1, "task");  // required

  // a task whose model is missing; the task path is relative to the config
  const fs::path dir = temp_dir();
  write(dir / "broken.yaml", "model: missing_model.xml\n");
  try {
    parse_experiment("task: broken.yaml\n", (dir / "exp.yaml").string());
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind((dir / "exp.yaml").string() + ":1:7: task: expected", 0), 0u) << m;
    EXPECT_NE(m.find("missing_model.xml"), std::string::npos) << m;
  }
  EXPECT_THROW(gpsx::run::load_experiment((dir / "absent.yaml").string()), ConfigError);
  fs::remove_all(dir);
}

TEST(ExperimentConfigErrors, MalformedYamlCarriesTheMark) {
  const std::string msg = error_of("task: reacher2\nalgorithm: {kl_step: 0.1\n");
  EXPECT_TRUE(std::regex_search(msg, std::regex("^exp\\.yaml:[23]:[0-9]+: malformed YAML")))
      << msg;
}

TEST(ExperimentConfigErrors, BadSetNamesTheArgument) {
  const std::string base = "task: reacher2\n";
  const std::string unknown = error_of(base, {"algorithm.kl_stp=0.1"});
  EXPECT_EQ(unknown.rfind("exp.yaml: --set 'algorithm.kl_stp=0.1': algorithm.kl_stp: unknown key", 0),
            0u) << unknown;
  EXPECT_NE(unknown.find("expected one of"), std::string::npos) << unknown;
  const std::string range = error_of(base, {"algorithm.kl_step=-1"});
  EXPECT_EQ(range, "exp.yaml: --set 'algorithm.kl_step=-1': algorithm.kl_step: expected a "
                   "number > 0, got -1");
  const std::string no_eq = error_of(base, {"algorithm.kl_step"});
  EXPECT_NE(no_eq.find("--set 'algorithm.kl_step': expected KEY.PATH=VALUE"), std::string::npos)
      << no_eq;
  const std::string bad_value = error_of(base, {"init.gains=[1, 2"});
  EXPECT_NE(bad_value.find("--set 'init.gains=[1, 2': value '[1, 2' is not valid YAML"),
            std::string::npos) << bad_value;
  const std::string bad_cost = error_of(base + "cost: {terms: [{type: action, wu: [1, 1]}]}\n",
                                        {"cost.terms[0].weight=heavy"});
  EXPECT_EQ(bad_cost, "exp.yaml: --set 'cost.terms[0].weight=heavy': cost.terms[0].weight: "
                      "expected a number, got 'heavy'");
  const std::string bad_index = error_of(base, {"conditions[5].q0=[0, 0]"});
  EXPECT_NE(bad_index.find("--set 'conditions[5].q0=[0, 0]': key path"), std::string::npos)
      << bad_index;
}

TEST(ExperimentConfigErrors, ConditionsMustCarryTheCostsTargets) {
  // reacher2's cost reads ee_target; the second condition has none
  const std::string msg = error_of(
      "task: reacher2\nconditions:\n  - {q0: [0, 0], ee_target: [0, 0.5, 0]}\n  - {q0: [0, 1]}\n");
  expect_located(msg, 4, 5, "conditions[1]");
  EXPECT_NE(msg.find("expected ee_target (3 numbers)"), std::string::npos) << msg;
}

TEST(ExperimentConfigErrors, InitMustFitTheState) {
  // init_pd and init_lqr need [positions, velocities] first: a task state without them
  const fs::path dir = temp_dir();
  write(dir / "ee_only.yaml", "model: " + std::string(GPSX_SOURCE_DIR) +
                                  "/envs/models/reacher2.xml\nsensors: [END_EFFECTOR_POINTS, "
                                  "JOINT_ANGLES, JOINT_VELOCITIES]\nee_sites: [tip]\n"
                                  "conditions:\n  - {q0: [0, 0], joint_target: [1, 1]}\n");
  const std::string text =
      "task: ee_only.yaml\ninit: {type: pd}\ncost: {terms: [{type: state, blocks: "
      "[{data_type: JOINT_ANGLES, wp: [1, 1], target: joint_target}]}]}\n";
  try {
    parse_experiment(text, (dir / "exp.yaml").string());
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(":2:14: init.type: expected a task whose state starts"),
              std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ExperimentConfig, SetOverridesNumbersListsAndNestedKeys) {
  const std::string text = "task: reacher2\nalgorithm: {kl_step: 0.3}\n";
  const Experiment e = parse_experiment(
      text, "exp.yaml",
      {"algorithm.kl_step=0.5", "init.gains=[2, 3]", "algorithm.eta_search.mode=parallel",
       "dynamics.em_iterations=7", "conditions=[{q0: [0.1, 0.2], ee_target: [0, 0.6, 0]}]",
       "conditions[0].q0=[0.3, 0.4]", "iterations=3", "name=renamed"});
  EXPECT_EQ(e.algorithm.kl_step, 0.5);
  EXPECT_EQ(e.algorithm.lqr.base_kl_step, 0.5);
  EXPECT_EQ(e.init.gains, (std::vector<double>{2, 3}));
  EXPECT_EQ(e.algorithm.lqr.search, gpsx::EtaSearch::kParallel);
  EXPECT_EQ(e.algorithm.dynamics.gmm.max_iterations, 7);
  ASSERT_EQ(e.M(), 1);
  EXPECT_EQ(e.task.conditions[0].q0, (std::vector<double>{0.3, 0.4}));
  EXPECT_EQ(e.iterations, 3);
  EXPECT_EQ(e.name, "renamed");
  // a cost term overridden: parsed from the overridden tree
  const Experiment c = parse_experiment(
      "task: reacher2\ncost: {terms: [{type: action, wu: [1, 1]}]}\n", "exp.yaml",
      {"cost.terms[0].weight=4"});
  EXPECT_EQ(c.cost.terms[0].weight, 4.0);
}

TEST(ExperimentConfig, GeneratedConditionsAreDeterministicAndInsideTheirBoxes) {
  const std::string text =
      "task: reacher2\nconditions:\n  generate:\n    count: 300\n    seed: 11\n"
      "    q0: {low: [-0.2, 0.1], high: [0.2, 0.3]}\n"
      "    ee_target: {low: [0.3, 0.2, 0.0], high: [0.6, 0.5, 0.0]}\n";
  const Experiment a = parse_experiment(text, "exp.yaml");
  const Experiment b = parse_experiment(text, "exp.yaml");
  ASSERT_EQ(a.M(), 300);
  const double lo[] = {-0.2, 0.1, 0.3, 0.2, 0.0}, hi[] = {0.2, 0.3, 0.6, 0.5, 0.0};
  std::vector<double> first_q0;
  for (int m = 0; m < a.M(); ++m) {
    const auto& c = a.task.conditions[m];
    EXPECT_EQ(c.q0, b.task.conditions[m].q0);
    EXPECT_EQ(c.ee_target, b.task.conditions[m].ee_target);
    EXPECT_EQ(c.qd0, std::vector<double>(2, 0.0));
    EXPECT_TRUE(c.joint_target.empty());
    const std::vector<double> v = {c.q0[0], c.q0[1], c.ee_target[0], c.ee_target[1], c.ee_target[2]};
    for (int k = 0; k < 5; ++k) {
      EXPECT_GE(v[k], lo[k]) << m << " " << k;
      EXPECT_LE(v[k], hi[k]) << m << " " << k;
    }
    first_q0.push_back(c.q0[0]);
  }
  // the documented stream: condition m, value k -> block k / 2 of stream m, key = seed
  const auto r = gpsx::rng::random_block(11, 7, 1);  // condition 7, value 2 (ee_target x)
  EXPECT_EQ(a.task.conditions[7].ee_target[0], 0.3 + 0.3 * gpsx::rng::uniform_open(r.v[0], r.v[1]));
  // the draws spread over the box and a different seed gives different conditions
  const auto [mn, mx] = std::minmax_element(first_q0.begin(), first_q0.end());
  EXPECT_LT(*mn, -0.15);
  EXPECT_GT(*mx, 0.15);
  const Experiment c = parse_experiment(text, "exp.yaml", {"conditions.generate.seed=12"});
  EXPECT_NE(c.task.conditions[0].q0, a.task.conditions[0].q0);
  // a fixed q0 is copied as is
  const Experiment f = parse_experiment(text, "exp.yaml", {"conditions.generate.q0=[0.5, 0.6]"});
  EXPECT_EQ(f.task.conditions[9].q0, (std::vector<double>{0.5, 0.6}));
  EXPECT_EQ(f.task.conditions[9].ee_target, a.task.conditions[9].ee_target);
  // a box with low > high
  expect_located(error_of("task: reacher2\nconditions:\n  generate: {count: 2, q0: {low: [0, 1], "
                          "high: [1, 0]}, ee_target: [0, 0.5, 0]}\n"),
                 3, 52, "conditions.generate.q0.high[1]");
}

TEST(ExperimentConfig, JointTargetsGiveAStateCostOnJointAngles) {
  const std::string text =
      "task: reacher2\nconditions:\n  - {q0: [0, 0], joint_target: [0.5, -0.5]}\n"
      "  - {q0: [0.1, 0], joint_target: [1.0, 0.2]}\n"
      "cost:\n  terms:\n    - {type: action, wu: [1, 1]}\n"
      "    - type: state\n      blocks: [{data_type: JOINT_ANGLES, wp: [1, 2], target: joint_target}]\n";
  const Experiment e = parse_experiment(text, "exp.yaml");
  const gpsx::CostBlockDesc& b = e.cost.terms[1].blocks[0];
  EXPECT_EQ(e.cost.terms[1].kind, gpsx::cost::TermKind::kState);
  EXPECT_TRUE(b.joint_target);
  int joint_angles = -1;
  for (const auto& s : gpsx::envs::state_layout(e.task))
    if (s.name == "JOINT_ANGLES") joint_angles = s.offset;
  EXPECT_EQ(b.offset, joint_angles);
  ASSERT_EQ(b.targets.size(), 2u);
  EXPECT_EQ(b.targets[0], (std::vector<double>{0.5, -0.5}));
  EXPECT_EQ(b.targets[1], (std::vector<double>{1.0, 0.2}));
  const gpsx::CostTable table = gpsx::compile_cost(e.cost, e.task.dX(), e.task.dU(), e.M());
  EXPECT_TRUE(table.per_condition);
  // a task file's conditions carry joint_target too (envs::load_task)
  const fs::path dir = temp_dir();
  write(dir / "jt.yaml", "model: " + std::string(GPSX_SOURCE_DIR) +
                             "/envs/models/reacher2.xml\nsensors: [JOINT_ANGLES, JOINT_VELOCITIES]\n"
                             "conditions:\n  - {q0: [0, 0], joint_target: [0.25, 0.75]}\n");
  const Experiment t = parse_experiment(
      "task: jt.yaml\ncost: {terms: [{type: state, blocks: [{data_type: JOINT_ANGLES, wp: [1, 1], "
      "target: joint_target}]}]}\n",
      (dir / "exp.yaml").string());
  EXPECT_EQ(t.task.conditions[0].joint_target, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(t.cost.terms[0].blocks[0].targets,
            (std::vector<std::vector<double>>{{0.25, 0.75}}));
  fs::remove_all(dir);
  // a condition without joint_target
  const std::string msg = error_of(text, {"conditions=[{q0: [0, 0], joint_target: [1, 1]}, {q0: [0, 0]}]"});
  EXPECT_NE(msg.find("conditions[1]: expected joint_target (2 numbers)"), std::string::npos) << msg;
}

TEST(ExperimentConfig, ResolvedConfigLoadsToTheSameExperiment) {
  const std::string text =
      "name: everything\ntask: pointmass\niterations: 3\nsamples: 4\nT: 20\nseed: 18446744073709551615\n"
      "conditions:\n  generate: {count: 5, seed: 3, q0: {low: [-1, -1], high: [1, 1]},\n"
      "             joint_target: {low: [-0.5, -0.5], high: [0.5, 0.5]}}\n"
      "cost:\n  terms:\n    - {type: action, weight: 0.1, wu: [0.3, 0.7]}\n"
      "    - {type: state, l1: 0.25, ramp: quadratic, wp_final_multiplier: 10, norm: log, alpha: 0.001,\n"
      "       blocks: [{data_type: JOINT_ANGLES, wp: [1, 2], target: joint_target},\n"
      "                {offset: 2, wp: [0.1, 0.1], target: [[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.5]]}]}\n"
      "init: {type: pd, init_var: 3.5, pos_gains: 7, vel_gains_mult: 0.1}\n"
      "algorithm: {kl_step: 0.15, min_step_mult: 0.05, max_step_mult: 3, init_eta: 2, init_step_mult: 0.5,\n"
      "            initial_state_var: 1e-5, inner_iterations: 2,\n"
      "            eta_search: {mode: parallel, candidates: 8, max_iterations: 20, min_eta: 1e-6,\n"
      "                         max_eta: 1e12, del0: 1e-3}}\n"
      "dynamics: {regularization: 1e-4, max_clusters: 7, min_samples_per_cluster: 11, max_samples: 9,\n"
      "           strength: 0.5, em_iterations: 33}\n"
      "noise: {smooth: false, sigma: 1.5, renormalize: false}\ncheckpoints: {keep: 5}\n";
  const Experiment a = parse_experiment(text, "exp.yaml");
  const Experiment b = parse_experiment(a.resolved_yaml, "resolved.yaml");
  expect_same(a, b);
  EXPECT_EQ(a.seed, 18446744073709551615ull);
  EXPECT_EQ(a.init.pd.pos_gains, 7.0);
  // doubles written in their shortest round-trip form
  EXPECT_NE(a.resolved_yaml.find("initial_state_var: 1e-05"), std::string::npos) << a.resolved_yaml;
  // lqr init with gains, and a task's default cost and conditions
  const Experiment c = parse_experiment("task: arm7\ninit: {gains: [1, 2, 3, 4, 5, 6, 0.1]}\n",
                                        "exp.yaml");
  expect_same(c, parse_experiment(c.resolved_yaml, "resolved.yaml"));
}

TEST(ExperimentConfig, ShippedExperimentsLoad) {
  int count = 0;
  for (const auto& f : fs::directory_iterator(kExperiments)) {
    if (f.path().extension() != ".yaml") continue;
    SCOPED_TRACE(f.path().string());
    const Experiment e = gpsx::run::load_experiment(f.path().string());
    EXPECT_GE(e.M(), 1);
    EXPECT_EQ(e.name, f.path().stem().string());
    expect_same(e, parse_experiment(e.resolved_yaml, "resolved.yaml"));
    ++count;
  }
  EXPECT_GE(count, 4);

  EXPECT_EQ(gpsx::run::find_experiment("reacher2"),
            (fs::weakly_canonical(kExperiments) / "reacher2.yaml").string());
  EXPECT_EQ(gpsx::run::find_experiment("some/path/x.yaml"), "some/path/x.yaml");
  EXPECT_THROW(gpsx::run::find_experiment("no_such_experiment"), ConfigError);
  // GPSX_DATA_DIR moves the experiments folder as it moves the models folder
  const fs::path data = temp_dir();
  fs::create_directories(data / "experiments");
  write(data / "experiments" / "mine.yaml", "task: reacher2\n");
  const char* before = std::getenv("GPSX_DATA_DIR");
  const std::string saved = before ? before : "";
  ::setenv("GPSX_DATA_DIR", data.c_str(), 1);
  std::string found;
  try {
    found = gpsx::run::find_experiment("mine");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  if (before) ::setenv("GPSX_DATA_DIR", saved.c_str(), 1);
  else ::unsetenv("GPSX_DATA_DIR");
  EXPECT_EQ(found, (fs::weakly_canonical(data / "experiments") / "mine.yaml").string());
  fs::remove_all(data);

  // The default experiment has the sizes its acceptance test (learning_test) is stated for.
  const Experiment r = gpsx::run::load_experiment(gpsx::run::find_experiment("reacher2"));
  EXPECT_EQ(r.M(), 4);
  EXPECT_EQ(r.init.type, "lqr");
  EXPECT_EQ(r.iterations, 10);
  EXPECT_EQ(r.samples, 5);
  EXPECT_EQ(r.T, 100);
  for (const auto& c : r.task.conditions) EXPECT_EQ(c.ee_target.size(), 3u);
  const Experiment arm = gpsx::run::load_experiment(kExperiments + "/arm7.yaml");
  EXPECT_EQ(arm.M(), 4);
  EXPECT_LE(arm.iterations, 20);
  EXPECT_EQ(gpsx::run::load_experiment(kExperiments + "/reacher2_scale.yaml").M(), 1024);
}
