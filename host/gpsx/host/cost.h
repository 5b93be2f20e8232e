// Costs on the host: a description read from the task config (YAML), compiled into the
// flat kernels/ cost model, and the batched cost expansion along samples
// (Algorithm._eval_cost of the reference) over M conditions.
//
// YAML schema (a `cost:` key of a task config, or a file whose root has `terms:`):
//   cost:
//     terms:
//       - type: action                 # CostAction: 0.5 sum(wu u^2)
//         weight: 1.0                  # CostSum weight (default 1)
//         wu: [0.01, 0.01]             # (dU)
//       - type: state                  # CostState
//         l1: 0.0  l2: 1.0  alpha: 0.01          # defaults as the reference
//         ramp: constant               # constant | linear | quadratic | final_only
//         wp_final_multiplier: 1.0
//         norm: l1l2                   # l1l2 (reference CostState) | log
//         blocks:                      # one per data type
//           - data_type: JOINT_ANGLES  # a StateLayout name, or `offset: <int>`
//             wp: [1.0, 1.0]
//             target: [0.8, -0.6]      # or a list of M lists, one per condition, or
//                                      #   joint_target (the conditions' joint targets)
//       - type: fk                     # CostFK on end-effector points stored in x
//         data_type: END_EFFECTOR_POINTS     # or offset: <int>
//         joints_data_type: JOINT_ANGLES     # or joint_offset: <int> + joints: <int>
//         wp: [1.0, 1.0]
//         target: [1.5, 1.0]           # or one list per condition, or ee_target (the
//                                      #   task conditions' targets, envs::task_cost)
//         l1: 0.0  l2: 1.0  alpha: 1e-5  norm: log  ramp: constant  (reference defaults)
// FK terms read the sample's end-effector Jacobians (jac_rows = block size, jac_cols =
// joints) and write derivatives into the joint block only (pitfall 16).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"
#include "gpsx/kernels/cost.h"

namespace gpsx {

// A malformed config: the message names the file, the line and the field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Named state blocks of an environment (JOINT_ANGLES, END_EFFECTOR_POINTS, ...).
struct StateBlock {
  std::string name;
  int offset = 0;
  int size = 0;
};
using StateLayout = std::vector<StateBlock>;

struct CostBlockDesc {
  int offset = 0;                            // first state index
  std::vector<double> wp;                    // (dim)
  std::vector<std::vector<double>> targets;  // 1 x (dim) shared, or M x (dim)
  bool ee_target = false;  // `target: ee_target`: the task conditions' end-effector targets
  bool joint_target = false;  // `target: joint_target`: the conditions' joint targets
};

struct CostTermDesc {
  cost::TermKind kind = cost::TermKind::kAction;
  double weight = 1.0;
  std::vector<double> wu;                   // action: (dU)
  cost::Ramp ramp = cost::Ramp::kConstant;
  double final_multiplier = 1.0;
  cost::Norm norm = cost::Norm::kL1L2;
  double l1 = 0.0, l2 = 1.0, alpha = 1e-2;
  std::vector<CostBlockDesc> blocks;        // state: one per data type; fk: exactly one
  int joint_offset = 0, joints = 0;         // fk
  std::string where;                        // "file: cost.terms[i]" for later errors
};

struct CostDesc {
  std::vector<CostTermDesc> terms;
  std::string source;  // file name (or label) it came from
};

// Parses a cost description. `source` names the text in error messages.
CostDesc parse_cost_yaml(const std::string& text, const std::string& source,
                         const StateLayout& layout);
CostDesc load_cost_file(const std::string& path, const StateLayout& layout);

// Reference-default terms (for code-built costs and tests).
CostTermDesc action_cost(std::vector<double> wu, double weight = 1.0);
CostTermDesc state_cost(std::vector<CostBlockDesc> blocks, double weight = 1.0);  // l1 0 l2 1 alpha 1e-2
CostTermDesc fk_cost(CostBlockDesc points, int joint_offset, int joints,
                     double weight = 1.0);  // l1 0 l2 1 alpha 1e-5 log norm

// The flat host form of a cost for M conditions (parameters per condition only when some
// target differs per condition).
struct CostTable {
  std::vector<cost::Term<double>> terms;
  std::vector<double> params;  // (M x param_stride) per condition, else (param_stride)
  int param_stride = 0;
  bool per_condition = false;
  int max_dim = 0;
  int jac_rows = 0, jac_cols = 0;  // per-step end-effector Jacobian the FK terms read
  bool has_fk() const { return jac_rows > 0; }
};
// Checks the description against the problem sizes; throws std::invalid_argument naming
// the term (file and index) and the mismatch.
CostTable compile_cost(const CostDesc& desc, int dX, int dU, int M);

// A CostTable copied into executor memory; `model` points into it.
struct CostModelStorage {
  Buffer<cost::Term<double>> terms;
  Buffer<double> params;
  cost::CostModel<double> model;
};
CostModelStorage make_cost_model(const Executor& ex, const CostTable& table);

struct EvalCostWorkspace {
  Buffer<double> scratch;           // (M x T x EvalCost::scratch_size)
  Buffer<std::uint32_t> status_mt;  // (M x T)
  std::vector<std::uint32_t> status_host;
};

// Algorithm._eval_cost for all M conditions: per-sample costs and the sample-averaged
// expansion re-centred at the origin. Pointers are in executor memory; status is host
// memory (M), one StatusBits word per condition.
void eval_cost(const Executor& ex, const cost::CostModel<double>& cost, int M, int N, int T,
               int dX, int dU,
               const double* X,    // (M x N x T x dX)
               const double* U,    // (M x N x T x dU)
               const double* jac,  // (M x N x T x jac_rows x jac_cols), null without FK
               double* cs,         // (M x N x T)
               double* cc,         // (M x T)
               double* cv,         // (M x T x dXU)
               double* Cm,         // (M x T x dXU x dXU)
               std::uint32_t* status, EvalCostWorkspace& ws);

// l, [lx; lu], full Hessian of S samples at every step (no averaging).
void cost_expansion(const Executor& ex, const cost::CostModel<double>& cost, int S, int T,
                    int dX, int dU,
                    const double* X,                // (S x T x dX)
                    const double* U,                // (S x T x dU)
                    const double* jac,              // (S x T x jac_rows x jac_cols) or null
                    const std::int64_t* condition,  // (S) or null (all condition 0)
                    double* l,                      // (S x T)
                    double* g,                      // (S x T x dXU)
                    double* H,                      // (S x T x dXU x dXU)
                    std::uint32_t* status,          // (S) host
                    EvalCostWorkspace& ws);

}  // namespace gpsx
