#include "gpsx/host/cost.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace gpsx {

namespace {

// Parsing context: the source name for messages.
struct Ctx {
  std::string source;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& what) const {
    std::ostringstream os;
    os << source;
    if (node.IsDefined() && !node.Mark().is_null())
      os << ":" << node.Mark().line + 1 << ":" << node.Mark().column + 1;
    os << ": " << path << ": " << what;
    throw ConfigError(os.str());
  }

  void check_keys(const YAML::Node& map, const std::string& path,
                  const std::set<std::string>& allowed) const {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, path + "." + key, "unknown key, expected one of: " + list);
      }
    }
  }

  double number(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected a number");
    double v;
    try {
      v = node.as<double>();
    } catch (const YAML::Exception&) {
      fail(node, path, "expected a number, got '" + node.Scalar() + "'");
    }
    if (!std::isfinite(v)) fail(node, path, "expected a finite number, got " + node.Scalar());
    return v;
  }

  double number_or(const YAML::Node& map, const std::string& key, const std::string& path,
                   double fallback) const {
    const YAML::Node n = map[key];
    return n ? number(n, path + "." + key) : fallback;
  }

  double non_negative_or(const YAML::Node& map, const std::string& key,
                         const std::string& path, double fallback) const {
    const double v = number_or(map, key, path, fallback);
    if (v < 0) fail(map[key], path + "." + key, "expected a number >= 0, got " + map[key].Scalar());
    return v;
  }

  int integer(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected an integer");
    try {
      return node.as<int>();
    } catch (const YAML::Exception&) {
      fail(node, path, "expected an integer, got '" + node.Scalar() + "'");
    }
  }

  std::string text(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "expected a string");
    return node.Scalar();
  }

  std::vector<double> vector(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence() || node.size() == 0)
      fail(node, path, "expected a non-empty list of numbers");
    std::vector<double> out;
    for (std::size_t i = 0; i < node.size(); ++i)
      out.push_back(number(node[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }

  std::vector<double> non_negative_vector(const YAML::Node& node, const std::string& path) const {
    std::vector<double> v = vector(node, path);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] < 0) fail(node[i], path + "[" + std::to_string(i) + "]",
                           "expected a number >= 0, got " + node[i].Scalar());
    return v;
  }

  // A target: one list of numbers (shared by all conditions) or a list of such lists.
  std::vector<std::vector<double>> targets(const YAML::Node& node, const std::string& path,
                                           std::size_t dim) const {
    if (!node) fail(node, path, "missing, expected a target (required)");
    std::vector<std::vector<double>> out;
    if (node.IsSequence() && node.size() > 0 && node[0].IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i)
        out.push_back(vector(node[i], path + "[" + std::to_string(i) + "]"));
    } else {
      out.push_back(vector(node, path));
    }
    for (std::size_t i = 0; i < out.size(); ++i)
      if (out[i].size() != dim)
        fail(node, path, "has " + std::to_string(out[i].size()) + " entries, expected " +
                             std::to_string(dim) + " (the length of wp)");
    return out;
  }

  // offset: <int> or data_type: <name> (key names vary between blocks and fk joints).
  // Returns the offset; `size` gets the layout size (or -1 when given as an offset).
  int block_offset(const YAML::Node& map, const std::string& path, const std::string& name_key,
                   const std::string& offset_key, const StateLayout& layout, int* size) const {
    const YAML::Node name = map[name_key];
    const YAML::Node offset = map[offset_key];
    if (name && offset)
      fail(map, path, "expected either " + name_key + " or " + offset_key + ", not both");
    if (!name && !offset) fail(map, path, "missing, expected " + name_key + " (or " + offset_key + ")");
    if (offset) {
      const int o = integer(offset, path + "." + offset_key);
      if (o < 0) fail(offset, path + "." + offset_key, "expected an integer >= 0, got " + offset.Scalar());
      *size = -1;
      return o;
    }
    const std::string n = text(name, path + "." + name_key);
    for (const auto& b : layout)
      if (b.name == n) {
        *size = b.size;
        return b.offset;
      }
    std::string known;
    for (const auto& b : layout) known += (known.empty() ? "" : ", ") + b.name;
    fail(name, path + "." + name_key,
         "unknown data type '" + n + "', expected one of the state layout's: " +
             (known.empty() ? "none" : known));
  }

  CostBlockDesc block(const YAML::Node& map, const std::string& path, const std::string& name_key,
                      const std::string& offset_key, const StateLayout& layout) const {
    CostBlockDesc b;
    int size = -1;
    b.offset = block_offset(map, path, name_key, offset_key, layout, &size);
    if (!map["wp"]) fail(map, path + ".wp", "missing, expected a list of weights (required)");
    b.wp = non_negative_vector(map["wp"], path + ".wp");
    if (size >= 0 && static_cast<int>(b.wp.size()) != size)
      fail(map["wp"], path + ".wp",
           "has " + std::to_string(b.wp.size()) + " entries, expected " +
               std::to_string(size) + " (data type " + map[name_key].Scalar() + " has " +
               std::to_string(size) + ")");
    const YAML::Node target = map["target"];
    if (target && target.IsScalar() && target.Scalar() == "ee_target")
      b.ee_target = true;  // filled in from the task's conditions
    else if (target && target.IsScalar() && target.Scalar() == "joint_target")
      b.joint_target = true;
    else
      b.targets = targets(target, path + ".target", b.wp.size());
    return b;
  }

  void norm_settings(const YAML::Node& map, const std::string& path, CostTermDesc& term) const {
    term.l1 = non_negative_or(map, "l1", path, term.l1);
    term.l2 = non_negative_or(map, "l2", path, term.l2);
    term.alpha = non_negative_or(map, "alpha", path, term.alpha);
    term.final_multiplier = number_or(map, "wp_final_multiplier", path, term.final_multiplier);
    if (const YAML::Node r = map["ramp"]) {
      const std::string s = text(r, path + ".ramp");
      if (s == "constant") term.ramp = cost::Ramp::kConstant;
      else if (s == "linear") term.ramp = cost::Ramp::kLinear;
      else if (s == "quadratic") term.ramp = cost::Ramp::kQuadratic;
      else if (s == "final_only") term.ramp = cost::Ramp::kFinalOnly;
      else fail(r, path + ".ramp", "unknown ramp '" + s + "', expected one of: constant, linear, quadratic, final_only");
    }
    if (const YAML::Node n = map["norm"]) {
      const std::string s = text(n, path + ".norm");
      if (s == "l1l2") term.norm = cost::Norm::kL1L2;
      else if (s == "log") term.norm = cost::Norm::kLogL2;
      else fail(n, path + ".norm", "unknown norm '" + s + "', expected one of: l1l2, log");
    }
    if (term.norm == cost::Norm::kLogL2 && !(term.alpha > 0))
      fail(map, path + ".alpha", "expected a number > 0 with the log norm (log(0) at the target)");
  }

  CostTermDesc term(const YAML::Node& node, const std::string& path,
                    const StateLayout& layout) const {
    if (!node.IsMap()) fail(node, path, "expected a map with a `type`");
    if (!node["type"]) fail(node, path + ".type", "missing, expected one of: action, state, fk (required)");
    const std::string type = text(node["type"], path + ".type");
    CostTermDesc t;
    t.where = source + ": " + path;
    if (type == "action") {
      check_keys(node, path, {"type", "weight", "wu"});
      if (!node["wu"]) fail(node, path + ".wu", "missing, expected a list of weights (required)");
      t = action_cost(non_negative_vector(node["wu"], path + ".wu"));
    } else if (type == "state") {
      check_keys(node, path, {"type", "weight", "l1", "l2", "alpha", "ramp",
                              "wp_final_multiplier", "norm", "blocks"});
      const YAML::Node blocks = node["blocks"];
      if (!blocks || !blocks.IsSequence() || blocks.size() == 0)
        fail(node, path + ".blocks", "expected a non-empty list of blocks");
      std::vector<CostBlockDesc> list;
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        const std::string bp = path + ".blocks[" + std::to_string(i) + "]";
        if (!blocks[i].IsMap()) fail(blocks[i], bp, "expected a map");
        check_keys(blocks[i], bp, {"data_type", "offset", "wp", "target"});
        list.push_back(block(blocks[i], bp, "data_type", "offset", layout));
      }
      t = state_cost(std::move(list));
      norm_settings(node, path, t);
    } else if (type == "fk") {
      check_keys(node, path, {"type", "weight", "l1", "l2", "alpha", "ramp",
                              "wp_final_multiplier", "norm", "data_type", "offset",
                              "joints_data_type", "joint_offset", "joints", "wp", "target"});
      CostBlockDesc points = block(node, path, "data_type", "offset", layout);
      int joints = -1;
      const int joint_offset =
          block_offset(node, path, "joints_data_type", "joint_offset", layout, &joints);
      if (node["joints_data_type"] && node["joints"])
        fail(node["joints"], path + ".joints", "expected no joints with joints_data_type");
      if (joints < 0) {
        if (!node["joints"]) fail(node, path + ".joints", "missing, expected an integer (required with joint_offset)");
        joints = integer(node["joints"], path + ".joints");
        if (joints <= 0) fail(node["joints"], path + ".joints",
                                  "expected an integer > 0, got " + node["joints"].Scalar());
      }
      t = fk_cost(std::move(points), joint_offset, joints);
      norm_settings(node, path, t);
    } else {
      fail(node["type"], path + ".type", "unknown cost type '" + type + "', expected one of: action, state, fk");
    }
    t.where = source + ": " + path;
    t.weight = number_or(node, "weight", path, 1.0);
    return t;
  }
};

}  // namespace

CostTermDesc action_cost(std::vector<double> wu, double weight) {
  CostTermDesc t;
  t.kind = cost::TermKind::kAction;
  t.wu = std::move(wu);
  t.weight = weight;
  return t;
}

CostTermDesc state_cost(std::vector<CostBlockDesc> blocks, double weight) {
  CostTermDesc t;
  t.kind = cost::TermKind::kState;
  t.blocks = std::move(blocks);
  t.weight = weight;
  t.l1 = 0.0;
  t.l2 = 1.0;
  t.alpha = 1e-2;
  t.norm = cost::Norm::kL1L2;
  return t;
}

CostTermDesc fk_cost(CostBlockDesc points, int joint_offset, int joints, double weight) {
  CostTermDesc t;
  t.kind = cost::TermKind::kFK;
  t.blocks = {std::move(points)};
  t.joint_offset = joint_offset;
  t.joints = joints;
  t.weight = weight;
  t.l1 = 0.0;
  t.l2 = 1.0;
  t.alpha = 1e-5;
  t.norm = cost::Norm::kLogL2;
  return t;
}

CostDesc parse_cost_yaml(const std::string& text, const std::string& source,
                         const StateLayout& layout) {
  Ctx ctx{source};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  if (!root.IsMap()) ctx.fail(root, "cost", "expected a map with `terms` (or a `cost:` key)");
  const bool nested = static_cast<bool>(root["cost"]);
  const YAML::Node node = nested ? root["cost"] : root;
  const std::string path = nested ? "cost" : "(root)";
  if (!node.IsMap()) ctx.fail(node, path, "expected a map with `terms`");
  ctx.check_keys(node, path, {"terms"});
  const YAML::Node terms = node["terms"];
  if (!terms || !terms.IsSequence() || terms.size() == 0)
    ctx.fail(node, path + ".terms", "expected a non-empty list of cost terms");
  CostDesc desc;
  desc.source = source;
  for (std::size_t i = 0; i < terms.size(); ++i)
    desc.terms.push_back(ctx.term(terms[i], path + ".terms[" + std::to_string(i) + "]", layout));
  return desc;
}

CostDesc load_cost_file(const std::string& path, const StateLayout& layout) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open cost config");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_cost_yaml(ss.str(), path, layout);
}

CostTable compile_cost(const CostDesc& desc, int dX, int dU, int M) {
  if (dX <= 0 || dU <= 0 || M <= 0)
    throw std::invalid_argument("compile_cost: dX, dU, M must be > 0, got " +
                                std::to_string(dX) + ", " + std::to_string(dU) + ", " +
                                std::to_string(M));
  if (desc.terms.empty()) throw std::invalid_argument("compile_cost: " + desc.source + ": no cost terms");
  auto bad = [](const CostTermDesc& t, const std::string& what) {
    return std::invalid_argument("cost " + (t.where.empty() ? std::string("term") : t.where) +
                                 ": " + what);
  };
  // per-condition parameters only when some target has one row per condition
  CostTable table;
  for (const auto& t : desc.terms)
    for (const auto& b : t.blocks) {
      if ((b.ee_target || b.joint_target) && b.targets.empty())
        throw bad(t, std::string("target: ") + (b.ee_target ? "ee_target" : "joint_target") +
                         " comes from a task's conditions (envs::condition_targets)");
      if (b.targets.size() > 1) table.per_condition = true;
      if (b.targets.size() != 1 && static_cast<int>(b.targets.size()) != M)
        throw bad(t, "has " + std::to_string(b.targets.size()) + " targets; expected 1 or M = " +
                         std::to_string(M));
    }
  std::vector<std::pair<int, const std::vector<double>*>> shared;  // (param offset, values)
  std::vector<std::pair<int, const CostBlockDesc*>> targets;
  int count = 0;
  for (const auto& t : desc.terms) {
    cost::Term<double> term;
    term.kind = t.kind;
    term.weight = t.weight;
    term.ramp = t.ramp;
    term.final_multiplier = t.final_multiplier;
    term.norm = t.norm;
    term.l1 = t.l1;
    term.l2 = t.l2;
    term.alpha = t.alpha;
    if (t.kind == cost::TermKind::kAction) {
      if (static_cast<int>(t.wu.size()) != dU)
        throw bad(t, "wu has " + std::to_string(t.wu.size()) + " entries, expected dU = " +
                         std::to_string(dU));
      term.dim = dU;
      term.params = count;
      shared.push_back({count, &t.wu});
      count += dU;
      table.terms.push_back(term);
      table.max_dim = std::max(table.max_dim, dU);
      continue;
    }
    if (t.blocks.empty()) throw bad(t, "has no blocks");
    if (t.kind == cost::TermKind::kFK) {
      if (t.blocks.size() != 1) throw bad(t, "an fk term has exactly one block");
      if (t.joints <= 0 || t.joint_offset < 0 || t.joint_offset + t.joints > dX)
        throw bad(t, "joint block [" + std::to_string(t.joint_offset) + ", " +
                         std::to_string(t.joint_offset + t.joints) + ") outside the state (dX = " +
                         std::to_string(dX) + ")");
    }
    for (const auto& b : t.blocks) {
      const int dim = static_cast<int>(b.wp.size());
      if (dim == 0 || b.offset < 0 || b.offset + dim > dX)
        throw bad(t, "block [" + std::to_string(b.offset) + ", " + std::to_string(b.offset + dim) +
                         ") outside the state (dX = " + std::to_string(dX) + ")");
      cost::Term<double> bt = term;
      bt.offset = b.offset;
      bt.dim = dim;
      bt.params = count;
      if (t.kind == cost::TermKind::kFK) {
        bt.joint_offset = t.joint_offset;
        bt.joints = t.joints;
        if (table.jac_rows && (table.jac_rows != dim || table.jac_cols != t.joints))
          throw bad(t, "all fk terms read one end-effector Jacobian and must agree on its shape (" +
                           std::to_string(table.jac_rows) + " x " + std::to_string(table.jac_cols) +
                           "), got " + std::to_string(dim) + " x " + std::to_string(t.joints));
        table.jac_rows = dim;
        table.jac_cols = t.joints;
      }
      shared.push_back({count, &b.wp});
      targets.push_back({count + dim, &b});
      count += 2 * dim;
      table.terms.push_back(bt);
      table.max_dim = std::max(table.max_dim, dim);
    }
  }
  table.param_stride = table.per_condition ? count : 0;
  const int rows = table.per_condition ? M : 1;
  table.params.assign(static_cast<std::size_t>(rows) * count, 0.0);
  for (int m = 0; m < rows; ++m) {
    double* p = table.params.data() + static_cast<std::size_t>(m) * count;
    for (const auto& [off, values] : shared) std::copy(values->begin(), values->end(), p + off);
    for (const auto& [off, b] : targets) {
      const auto& tgt = b->targets.size() == 1 ? b->targets[0] : b->targets[m];
      std::copy(tgt.begin(), tgt.end(), p + off);
    }
  }
  return table;
}

CostModelStorage make_cost_model(const Executor& ex, const CostTable& table) {
  CostModelStorage s;
  s.terms.resize(ex, table.terms.size());
  s.params.resize(ex, table.params.size());
  upload(ex, table.terms.data(), table.terms.size(), s.terms.data());
  upload(ex, table.params.data(), table.params.size(), s.params.data());
  s.model.n_terms = static_cast<int>(table.terms.size());
  s.model.terms = s.terms.data();
  s.model.params = s.params.data();
  s.model.param_stride = table.param_stride;
  s.model.max_dim = table.max_dim;
  s.model.jac_rows = table.jac_rows;
  s.model.jac_cols = table.jac_cols;
  return s;
}

namespace {

void check_eval_args(const char* fn, const cost::CostModel<double>& c, int batch, int T, int dX,
                     int dU, const void* X, const void* U, const void* jac) {
  auto fail = [fn](const std::string& what) {
    throw std::invalid_argument(std::string(fn) + ": " + what);
  };
  if (batch <= 0 || T <= 0 || dX <= 0 || dU <= 0)
    fail("sizes must be > 0, got batch " + std::to_string(batch) + ", T " + std::to_string(T) +
         ", dX " + std::to_string(dX) + ", dU " + std::to_string(dU));
  if (c.n_terms <= 0 || !c.terms || !c.params) fail("cost model is empty");
  if (!X || !U) fail("X and U are required");
  if (c.jac_rows > 0 && !jac)
    fail("the cost has fk terms: jac (end-effector Jacobians, batch x T x " +
         std::to_string(c.jac_rows) + " x " + std::to_string(c.jac_cols) + ") is required");
}

}  // namespace

void eval_cost(const Executor& ex, const cost::CostModel<double>& cost, int M, int N, int T,
               int dX, int dU, const double* X, const double* U, const double* jac, double* cs,
               double* cc, double* cv, double* Cm, std::uint32_t* status, EvalCostWorkspace& ws) {
  check_eval_args("eval_cost", cost, M, T, dX, dU, X, U, jac);
  if (N <= 0) throw std::invalid_argument("eval_cost: N must be > 0, got " + std::to_string(N));
  using F = cost::EvalCost<double>;
  const std::size_t per = static_cast<std::size_t>(F::scratch_size(cost, dX, dU));
  const std::size_t mt = static_cast<std::size_t>(M) * T;
  ws.scratch.resize(ex, mt * per);
  ws.status_mt.resize(ex, mt);
  const F f{cost, N, T, dX, dU, X, U, jac, cs, cc, cv, Cm, ws.scratch.data(), ws.status_mt.data()};
  for_each_2d(ex, M, T, f);
  ws.status_host.resize(mt);
  download(ex, ws.status_mt.data(), mt, ws.status_host.data());
  for (int m = 0; m < M; ++m) {
    std::uint32_t s = kOk;
    for (int t = 0; t < T; ++t) s |= ws.status_host[static_cast<std::size_t>(m) * T + t];
    status[m] = s;
  }
}

void cost_expansion(const Executor& ex, const cost::CostModel<double>& cost, int S, int T,
                    int dX, int dU, const double* X, const double* U, const double* jac,
                    const std::int64_t* condition, double* l, double* g, double* H,
                    std::uint32_t* status, EvalCostWorkspace& ws) {
  check_eval_args("cost_expansion", cost, S, T, dX, dU, X, U, jac);
  using F = cost::SampleExpansion<double>;
  const std::size_t st = static_cast<std::size_t>(S) * T;
  ws.scratch.resize(ex, st * cost::step_scratch_size(cost));
  ws.status_mt.resize(ex, st);
  const F f{cost, T, dX, dU, X, U, jac, condition, l, g, H, ws.scratch.data(),
            ws.status_mt.data()};
  for_each_2d(ex, S, T, f);
  ws.status_host.resize(st);
  download(ex, ws.status_mt.data(), st, ws.status_host.data());
  for (int s = 0; s < S; ++s) {
    std::uint32_t v = kOk;
    for (int t = 0; t < T; ++t) v |= ws.status_host[static_cast<std::size_t>(s) * T + t];
    status[s] = v;
  }
}

}  // namespace gpsx
