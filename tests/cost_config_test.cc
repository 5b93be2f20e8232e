// Cost descriptions from YAML: a valid config round-trips to the kernel model; every
// malformed input fails with a message naming the file, the line and the field.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gpsx/host/cost.h"

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

}  // namespace
}  // namespace gpsx
