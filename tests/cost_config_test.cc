// Cost descriptions from YAML: a valid config round-trips to the kernel model; every
// malformed input fails with a message naming the file, the line and the field.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gpsx/host/cost.h"
#include "gpsx_test/cost_params.h"

namespace gpsx {
namespace {

const StateLayout kLayout = {{"JOINT_ANGLES", 0, 2}, {"JOINT_VELOCITIES", 2, 2},
                             {"END_EFFECTOR_POINTS", 4, 2}};
constexpr int kDX = 6, kDU = 2;

const char* kValid = R"(
task: reacher          # other task keys are ignored by the cost loader
cost:
  terms:
    - type: action
      weight: 1.0
      wu: [0.01, 0.02]
    - type: state
      weight: 2.0
      l1: 0.5
      ramp: linear
      wp_final_multiplier: 10
      blocks:
        - data_type: JOINT_ANGLES
          wp: [1, 1]
          target: [0.8, -0.6]
        - offset: 2
          wp: [0.1, 0.1]
          target: [0, 0]
    - type: fk
      data_type: END_EFFECTOR_POINTS
      joints_data_type: JOINT_ANGLES
      wp: [1, 1]
      target: [[1.5, 1.0], [0.5, -1.0], [0.0, 0.0]]   # one per condition
      l1: 0.1
      l2: 10
      norm: log
      ramp: final_only
)";

TEST(CostConfig, ValidFileLoadsAndCompiles) {
  const auto path = std::filesystem::temp_directory_path() / "gpsx_cost_config_valid.yaml";
  std::ofstream(path) << kValid;
  const CostDesc d = load_cost_file(path.string(), kLayout);
  ASSERT_EQ(d.terms.size(), 3u);
  EXPECT_EQ(d.terms[0].kind, cost::TermKind::kAction);
  EXPECT_EQ(d.terms[1].ramp, cost::Ramp::kLinear);
  EXPECT_EQ(d.terms[1].final_multiplier, 10.0);
  EXPECT_EQ(d.terms[1].l1, 0.5);
  EXPECT_EQ(d.terms[1].l2, 1.0);    // CostState default
  EXPECT_EQ(d.terms[1].alpha, 1e-2);
  EXPECT_EQ(d.terms[1].blocks[1].offset, 2);
  EXPECT_EQ(d.terms[2].norm, cost::Norm::kLogL2);
  EXPECT_EQ(d.terms[2].alpha, 1e-5);  // CostFK default
  EXPECT_EQ(d.terms[2].joints, 2);
  const CostTable t = compile_cost(d, kDX, kDU, 3);
  EXPECT_EQ(t.terms.size(), 4u);  // action + two state blocks + fk
  EXPECT_TRUE(t.per_condition);
  EXPECT_EQ(t.jac_rows, 2);
  EXPECT_EQ(t.jac_cols, 2);
  // condition 1 sees its own fk target, and the shared weights
  const cost::Term<double>& fk = t.terms[3];
  const double* p1 = t.params.data() + t.param_stride;
  EXPECT_EQ(p1[fk.params + fk.dim], 0.5);
  EXPECT_EQ(p1[fk.params + fk.dim + 1], -1.0);
  EXPECT_EQ(p1[t.terms[0].params + 1], 0.02);
  std::filesystem::remove(path);
}

// Parses `yaml` as file "bad.yaml" and expects a ConfigError containing every fragment.
void expect_error(const std::string& yaml, std::initializer_list<std::string> fragments) {
  try {
    parse_cost_yaml(yaml, "bad.yaml", kLayout);
    ADD_FAILURE() << "no error for:\n" << yaml;
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

std::string one_term(const std::string& body) { return "cost:\n  terms:\n    - " + body; }

TEST(CostConfigErrors, MissingFileNamesThePath) {
  try {
    load_cost_file("/nonexistent/gpsx_cost.yaml", kLayout);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/gpsx_cost.yaml"), std::string::npos);
  }
}
TEST(CostConfigErrors, YamlSyntaxErrorHasLine) { expect_error("cost:\n  terms: [\n", {"bad.yaml:", "syntax"}); }
TEST(CostConfigErrors, RootIsNotAMap) { expect_error("- 1\n- 2\n", {"expected a map"}); }
TEST(CostConfigErrors, NoTerms) { expect_error("cost:\n  terms: []\n", {"cost.terms", "non-empty"}); }
TEST(CostConfigErrors, UnknownKeyUnderCost) {
  expect_error("cost:\n  term:\n    - type: action\n", {"cost.term", "unknown key"});
}
TEST(CostConfigErrors, TermWithoutType) { expect_error(one_term("wu: [1, 1]\n"), {"cost.terms[0].type", "missing"}); }
TEST(CostConfigErrors, UnknownType) { expect_error(one_term("type: torque\n"), {"cost.terms[0].type", "torque"}); }
TEST(CostConfigErrors, MisspelledKey) {
  expect_error(one_term("type: action\n      wu: [1, 1]\n      wieght: 2\n"),
               {"cost.terms[0].wieght", "unknown key", ":5:"});
}
TEST(CostConfigErrors, ActionWithoutWu) { expect_error(one_term("type: action\n"), {"cost.terms[0].wu", "missing"}); }
TEST(CostConfigErrors, NonNumericEntry) {
  expect_error(one_term("type: action\n      wu: [1, abc]\n"), {"cost.terms[0].wu[1]", "abc", ":4:"});
}
TEST(CostConfigErrors, NonFiniteNumber) {
  expect_error(one_term("type: action\n      wu: [1, .inf]\n"), {"cost.terms[0].wu[1]", "finite"});
}
TEST(CostConfigErrors, NegativeWeightVector) {
  expect_error(one_term("type: action\n      wu: [1, -2]\n"), {"cost.terms[0].wu[1]", ">= 0"});
}
TEST(CostConfigErrors, WeightNotANumber) {
  expect_error(one_term("type: action\n      wu: [1, 1]\n      weight: [1]\n"), {"cost.terms[0].weight", "number"});
}
const std::string kState =
    "type: state\n      blocks:\n        - data_type: JOINT_ANGLES\n          wp: [1, 1]\n"
    "          target: [0, 0]\n";
TEST(CostConfigErrors, UnknownRamp) { expect_error(one_term(kState + "      ramp: cubic\n"), {"cost.terms[0].ramp", "cubic"}); }
TEST(CostConfigErrors, UnknownNorm) { expect_error(one_term(kState + "      norm: l3\n"), {"cost.terms[0].norm", "l3"}); }
TEST(CostConfigErrors, NegativeL1) { expect_error(one_term(kState + "      l1: -1\n"), {"cost.terms[0].l1", ">= 0"}); }
TEST(CostConfigErrors, LogNormNeedsPositiveAlpha) {
  expect_error(one_term(kState + "      norm: log\n      alpha: 0\n"), {"cost.terms[0].alpha", "> 0"});
}
TEST(CostConfigErrors, StateWithoutBlocks) { expect_error(one_term("type: state\n"), {"cost.terms[0].blocks"}); }
TEST(CostConfigErrors, UnknownDataType) {
  expect_error(one_term("type: state\n      blocks:\n        - data_type: JOINT_TORQUES\n          wp: [1]\n          target: [0]\n"),
               {"cost.terms[0].blocks[0].data_type", "JOINT_TORQUES", "JOINT_ANGLES"});
}
TEST(CostConfigErrors, DataTypeAndOffsetTogether) {
  expect_error(one_term("type: state\n      blocks:\n        - data_type: JOINT_ANGLES\n          offset: 0\n          wp: [1, 1]\n          target: [0, 0]\n"),
               {"cost.terms[0].blocks[0]", "not both"});
}
TEST(CostConfigErrors, WpLengthDiffersFromDataType) {
  expect_error(one_term("type: state\n      blocks:\n        - data_type: JOINT_ANGLES\n          wp: [1, 1, 1]\n          target: [0, 0, 0]\n"),
               {"cost.terms[0].blocks[0].wp", "has 3", "has 2"});
}
TEST(CostConfigErrors, TargetLengthDiffersFromWp) {
  expect_error(one_term("type: state\n      blocks:\n        - offset: 0\n          wp: [1, 1]\n          target: [0, 0, 0]\n"),
               {"cost.terms[0].blocks[0].target", "expected 2"});
}
TEST(CostConfigErrors, MissingTarget) {
  expect_error(one_term("type: state\n      blocks:\n        - offset: 0\n          wp: [1, 1]\n"),
               {"cost.terms[0].blocks[0].target", "missing"});
}
TEST(CostConfigErrors, FkJointOffsetWithoutJoints) {
  expect_error(one_term("type: fk\n      offset: 4\n      joint_offset: 0\n      wp: [1, 1]\n      target: [0, 0]\n"),
               {"cost.terms[0].joints", "missing"});
}

// Errors found when the description meets the problem sizes name the file and the term.
void expect_compile_error(const std::string& yaml, int M, const std::string& fragment) {
  const CostDesc d = parse_cost_yaml(yaml, "sizes.yaml", kLayout);
  try {
    compile_cost(d, kDX, kDU, M);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sizes.yaml: cost.terms[0]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}
TEST(CostConfigErrors, WuLengthDiffersFromDU) {
  expect_compile_error(one_term("type: action\n      wu: [1, 1, 1]\n"), 1, "expected dU = 2");
}
TEST(CostConfigErrors, BlockOutsideTheState) {
  expect_compile_error(one_term("type: state\n      blocks:\n        - offset: 5\n          wp: [1, 1]\n          target: [0, 0]\n"),
                       1, "outside the state");
}
TEST(CostConfigErrors, PerConditionTargetsDifferFromM) {
  expect_compile_error(one_term("type: state\n      blocks:\n        - offset: 0\n          wp: [1, 1]\n          target: [[0, 0], [1, 1]]\n"),
                       3, "expected 1 or M = 3");
}


// ---- the golden tests' cost loader (gpsx_test/cost_params.h) -------------------------
// Every field of the reference's machine-readable cost must land in our description.

using test::json;

cost::Ramp expected_ramp(const json& option) {
  if (option.is_number_integer()) return static_cast<cost::Ramp>(option.get<int>());
  const std::string s = option;
  if (s == "constant") return cost::Ramp::kConstant;
  if (s == "linear") return cost::Ramp::kLinear;
  if (s == "quadratic") return cost::Ramp::kQuadratic;
  if (s == "final_only") return cost::Ramp::kFinalOnly;
  ADD_FAILURE() << "ramp_option " << s;
  return cost::Ramp::kConstant;
}
cost::Norm expected_norm(const std::string& evalnorm) {
  return evalnorm == "evallogl2term" ? cost::Norm::kLogL2 : cost::Norm::kL1L2;
}
std::vector<double> vec(const json& j) { return j.get<std::vector<double>>(); }
int first_index(const json& term) { return term.at("state_indices")[0].get<int>(); }

void expect_norm_settings(const CostTermDesc& t, const json& p, const std::string& what) {
  EXPECT_EQ(t.l1, p.at("l1").get<double>()) << what;
  EXPECT_EQ(t.l2, p.at("l2").get<double>()) << what;
  EXPECT_EQ(t.alpha, p.at("alpha").get<double>()) << what;
  EXPECT_EQ(t.ramp, expected_ramp(p.at("ramp_option"))) << what;
  EXPECT_EQ(t.final_multiplier, p.at("wp_final_multiplier").get<double>()) << what;
  EXPECT_EQ(t.norm, expected_norm(p.at("evalnorm"))) << what;
}

// A state-like term with one block: kind, weight, norm settings, block offset, wp, target.
void expect_block_term(const CostTermDesc& t, cost::TermKind kind, double weight, const json& p,
                       const std::string& target_key, const std::string& what) {
  EXPECT_EQ(t.kind, kind) << what;
  EXPECT_EQ(t.weight, weight) << what;
  expect_norm_settings(t, p, what);
  ASSERT_EQ(t.blocks.size(), 1u) << what;
  EXPECT_EQ(t.blocks[0].offset, first_index(p)) << what;
  EXPECT_EQ(t.blocks[0].wp, vec(p.at("wp"))) << what;
  EXPECT_EQ(t.blocks[0].targets, std::vector<std::vector<double>>{vec(p.at(target_key))}) << what;
}

// The description built from p is p, field by field; it also compiles at p's sizes.
void expect_desc_is_params(const json& p, int dX, int dU) {
  const CostDesc d = test::cost_from_params(p, "params");
  const std::vector<double> weights = vec(p.at("weights"));
  ASSERT_EQ(d.terms.size(), 3u);
  ASSERT_EQ(weights.size(), 3u);
  const CostTermDesc &a = d.terms[0], &s = d.terms[1], &f = d.terms[2];
  const json &pa = p.at("action"), &ps = p.at("state"), &pf = p.at("fk");
  EXPECT_EQ(a.kind, cost::TermKind::kAction);
  EXPECT_EQ(a.weight, weights[0]);
  EXPECT_EQ(a.wu, vec(pa.at("wu")));

  expect_block_term(s, cost::TermKind::kState, weights[1], ps, "target_state", "state");
  expect_block_term(f, cost::TermKind::kFK, weights[2], pf, "target_end_effector", "fk");
  ASSERT_EQ(pf.at("derivatives_into"), ps.at("data_type"));  // the joints are the state block
  EXPECT_EQ(f.joint_offset, first_index(ps));
  EXPECT_EQ(f.joints, p.at("n").get<int>());

  const CostTable t = compile_cost(d, dX, dU, 1);
  EXPECT_EQ(t.jac_rows, static_cast<int>(pf.at("wp").size()));
  EXPECT_EQ(t.jac_cols, p.at("n").get<int>());
}

// Every field differs from the stored case and from our defaults.
const json kOtherParams = json::parse(R"({
  "n": 3, "weights": [0.5, 2.0, 3.5],
  "action": {"wu": [0.1, 0.2, 0.3]},
  "state": {"data_type": "JOINT_ANGLES", "state_indices": [1, 4], "wp": [0.4, 0.5, 0.6],
            "target_state": [1.0, 2.0, 3.0], "l1": 0.25, "l2": 0.75, "alpha": 0.3,
            "ramp_option": "quadratic", "wp_final_multiplier": 4.0, "evalnorm": "evallogl2term"},
  "fk": {"data_type": "END_EFFECTOR_POINTS", "state_indices": [7, 9], "wp": [0.7, 0.8],
         "target_end_effector": [1.1, -2.2], "l1": 0.9, "l2": 1.9, "alpha": 0.002,
         "ramp_option": "final_only", "wp_final_multiplier": 6.0, "evalnorm": "evall1l2term",
         "jacobian_key": "EE_JAC", "derivatives_into": "JOINT_ANGLES"}
})");

TEST(CostParamsLoader, MapsEveryFieldOfTheStoredCase) {
  const json ref = test::load_reference("kl_and_costs.json").at("eval_cost");
  const json& X = ref.at("conditions").at(0).at("X");
  const json& U = ref.at("conditions").at(0).at("U");
  expect_desc_is_params(ref.at("cost_params"), static_cast<int>(X[0][0].size()),
                        static_cast<int>(U[0][0].size()));
}

TEST(CostParamsLoader, MapsEveryFieldOfAnotherCase) {
  expect_desc_is_params(kOtherParams, 9, 3);
  EXPECT_EQ(test::cost_params_jacobian_key(kOtherParams), "EE_JAC");
  json linear = kOtherParams;  // the reference's integer ramp options
  linear["state"]["ramp_option"] = 2;
  linear["fk"]["ramp_option"] = 1;
  expect_desc_is_params(linear, 9, 3);
}

TEST(CostParamsLoader, RejectsInconsistentParams) {
  const auto rejects = [](const std::string& pointer, const json& value) {
    json p = kOtherParams;
    p[json::json_pointer(pointer)] = value;
    EXPECT_ANY_THROW(test::cost_from_params(p, "params")) << pointer << " = " << value.dump();
  };
  rejects("/n", 2);                               // the joint block has 3 entries
  rejects("/weights", json::array({1.0, 1.0}));   // 3 terms
  rejects("/state/state_indices", json::array({4, 1}));
  rejects("/state/wp", json::array({1.0, 1.0}));  // block has 3 entries
  rejects("/fk/derivatives_into", "JOINT_VELOCITIES");
  rejects("/fk/ramp_option", "cubic");
  rejects("/fk/evalnorm", "evall3term");
}

}  // namespace
}  // namespace gpsx
