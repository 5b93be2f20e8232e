// Golden: kl_and_costs.json sections ramp, norm_terms, cost_cases (on cost_sample) and
// eval_cost — every case, rtol 1e-12 (README: costs, ramps exact to 1e-15).
// (The `kl` section belongs to the LQR module.)
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "gpsx/host/cost.h"
#include "gpsx_test/eval_cost_case.h"
#include "gpsx_test/reference.h"

namespace gpsx {
namespace {

using test::flatten;
using test::json;

constexpr double kRtol = 1e-12;

const json& costs_reference() {
  static const json ref = test::load_reference("kl_and_costs.json");
  return ref;
}

cost::Ramp ramp_of(int option) { return static_cast<cost::Ramp>(option); }

TEST(CostGolden, RampMultipliers) {
  const json& ref = costs_reference().at("ramp");
  ASSERT_FALSE(ref.empty());
  for (const auto& c : ref) {
    const int T = c.at("T").get<int>();
    const double mult = c.at("wp_final_multiplier").get<double>();
    std::vector<double> got(T);
    for (int t = 0; t < T; ++t)
      got[t] = cost::ramp_multiplier(ramp_of(c.at("ramp_option").get<int>()), t, T, mult);
    EXPECT_TRUE(test::near_rel(got, flatten(c.at("wpm")), kRtol, 1e-300,
                               c.at("name").get<std::string>() + " x" + std::to_string(mult)));
  }
}

TEST(CostGolden, NormTermsWithSecondOrderJacobians) {
  const json& ref = costs_reference().at("norm_terms");
  ASSERT_FALSE(ref.empty());
  for (const auto& c : ref) {
    const std::string fn = c.at("function").get<std::string>();
    ASSERT_TRUE(fn == "evall1l2term" || fn == "evallogl2term") << fn;
    const cost::Norm norm = fn == "evallogl2term" ? cost::Norm::kLogL2 : cost::Norm::kL1L2;
    const auto shape = test::shape_of(c.at("Jd"));  // T x Dd x Dx
    const int T = static_cast<int>(shape[0]), Dd = static_cast<int>(shape[1]),
              Dx = static_cast<int>(shape[2]);
    const std::vector<double> wp = flatten(c.at("wp")), d = flatten(c.at("d")),
                              Jd = flatten(c.at("Jd")), Jdd = flatten(c.at("Jdd"));
    const double l1 = c.at("l1"), l2 = c.at("l2"), alpha = c.at("alpha");
    std::vector<double> l(T), lx(T * Dx, 0.0), lxx(T * Dx * Dx, 0.0), d1(Dd), d2(Dd * Dd);
    for (int t = 0; t < T; ++t) {
      l[t] = cost::norm_penalty(norm, Dd, &wp[t * Dd], &d[t * Dd], l1, l2, alpha, d1.data(),
                                d2.data());
      cost::chain_rule(Dd, Dx, &Jd[t * Dd * Dx], Dx, &Jdd[t * Dd * Dx * Dx], d1.data(),
                       d2.data(), 1.0, &lx[t * Dx], &lxx[t * Dx * Dx], Dx);
    }
    const std::string name = fn + " l1=" + std::to_string(l1) + " l2=" + std::to_string(l2);
    EXPECT_TRUE(test::near_rel(l, flatten(c.at("l")), kRtol, 1e-300, name + " l"));
    EXPECT_TRUE(test::near_rel(lx, flatten(c.at("lx")), kRtol, 1e-300, name + " lx"));
    EXPECT_TRUE(test::near_rel(lxx, flatten(c.at("lxx")), kRtol, 1e-300, name + " lxx"));
  }
}

// --- cost_cases: reference Cost objects on the stored single sample ---------------------

struct Sample {
  int T = 0, dX = 0, dU = 0;
  StateLayout layout;
  std::vector<double> X, U, jac;  // (T x dX), (T x dU), (T x rows x cols)
  int jac_rows = 0, jac_cols = 0;
};

// x = concatenation of the data types named in the sample's layout string, in order.
Sample load_cost_sample(const json& s) {
  Sample out;
  out.T = s.at("T");
  out.dX = s.at("dX");
  out.dU = s.at("dU");
  const std::string layout = s.at("layout");
  std::regex block_re("([A-Z_]+) \\((\\d+)\\)");
  std::vector<std::vector<double>> blocks;
  int offset = 0;
  for (std::sregex_iterator it(layout.begin(), layout.end(), block_re), end; it != end; ++it) {
    const std::string name = (*it)[1];
    const int size = std::stoi((*it)[2]);
    out.layout.push_back({name, offset, size});
    blocks.push_back(flatten(s.at(name)));
    offset += size;
  }
  EXPECT_EQ(offset, out.dX) << "layout string does not cover dX";
  out.X.assign(static_cast<std::size_t>(out.T) * out.dX, 0.0);
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (int t = 0; t < out.T; ++t)
      for (int i = 0; i < out.layout[b].size; ++i)
        out.X[t * out.dX + out.layout[b].offset + i] = blocks[b][t * out.layout[b].size + i];
  out.U = flatten(s.at("ACTION"));
  const auto jshape = test::shape_of(s.at("END_EFFECTOR_POINT_JACOBIANS"));
  out.jac = flatten(s.at("END_EFFECTOR_POINT_JACOBIANS"));
  out.jac_rows = static_cast<int>(jshape[1]);
  out.jac_cols = static_cast<int>(jshape[2]);
  return out;
}

const StateBlock& block_named(const Sample& s, const std::string& name) {
  for (const auto& b : s.layout)
    if (b.name == name) return b;
  throw std::runtime_error("cost_sample has no data type " + name);
}

cost::Norm norm_named(const std::string& evalnorm) {
  if (evalnorm == "evallogl2term") return cost::Norm::kLogL2;
  if (evalnorm == "evall1l2term") return cost::Norm::kL1L2;
  throw std::runtime_error("unknown evalnorm " + evalnorm);
}

// Reference Cost settings (as stored in a case) -> our term descriptions.
std::vector<CostTermDesc> terms_from_settings(const json& st, const Sample& s) {
  const std::string type = st.at("type");
  if (type == "CostAction") return {action_cost(flatten(st.at("wu")))};
  if (type == "CostState") {
    std::vector<CostBlockDesc> blocks;
    for (const auto& [name, cfg] : st.at("data_types").items())
      blocks.push_back({block_named(s, name).offset, flatten(cfg.at("wp")),
                        {flatten(cfg.at("target_state"))}});
    CostTermDesc t = state_cost(std::move(blocks));
    t.l1 = st.value("l1", t.l1);
    t.l2 = st.value("l2", t.l2);
    t.alpha = st.value("alpha", t.alpha);
    t.ramp = ramp_of(st.value("ramp_option", 1));
    t.final_multiplier = st.value("wp_final_multiplier", 1.0);
    return {t};
  }
  if (type == "CostFK") {
    const StateBlock& ja = block_named(s, "JOINT_ANGLES");
    CostTermDesc t = fk_cost({block_named(s, "END_EFFECTOR_POINTS").offset, flatten(st.at("wp")),
                              {flatten(st.at("target_end_effector"))}},
                             ja.offset, ja.size);
    t.l1 = st.value("l1", t.l1);
    t.l2 = st.value("l2", t.l2);
    t.alpha = st.value("alpha", t.alpha);
    t.ramp = ramp_of(st.value("ramp_option", 1));
    t.final_multiplier = st.value("wp_final_multiplier", 1.0);
    if (st.contains("evalnorm")) t.norm = norm_named(st.at("evalnorm"));
    return {t};
  }
  throw std::runtime_error("unsupported cost type " + type);
}

// CostSum components are described in words ("action (wu above)", "fk final-only ramp
// l1=1 l2=0 alpha=1e-5 wp_final_multiplier=10 (log norm)"); the action and fk targets
// and weights are those of the file's own CostAction / CostFK cases.
CostTermDesc term_from_words(const std::string& words, const json& cases, const Sample& s) {
  auto first_case_of = [&](const std::string& type) -> const json& {
    for (const auto& c : cases)
      if (c.at("settings").at("type") == type) return c.at("settings");
    throw std::runtime_error("no " + type + " case to take parameters from");
  };
  auto number = [&](const std::string& key, double fallback) {
    std::smatch m;
    if (std::regex_search(words, m, std::regex(key + "=([-+0-9.eE]+)"))) return std::stod(m[1]);
    return fallback;
  };
  if (words.rfind("action", 0) == 0) return terms_from_settings(first_case_of("CostAction"), s)[0];
  if (words.rfind("fk", 0) != 0) throw std::runtime_error("cannot read CostSum component: " + words);
  json st = first_case_of("CostFK");
  st["l1"] = number("l1", 0.0);
  st["l2"] = number("l2", 1.0);
  st["alpha"] = number("alpha", 1e-5);
  st["wp_final_multiplier"] = number("wp_final_multiplier", 1.0);
  const std::pair<const char*, int> ramps[] = {
      {"constant", 1}, {"linear", 2}, {"quadratic", 3}, {"final-only", 4}};
  st["ramp_option"] = 0;
  for (const auto& [name, option] : ramps)
    if (words.find(name) != std::string::npos) st["ramp_option"] = option;
  if (st["ramp_option"] == 0) throw std::runtime_error("no ramp named in: " + words);
  st["evalnorm"] = words.find("log") != std::string::npos ? "evallogl2term" : "evall1l2term";
  return terms_from_settings(st, s)[0];
}

TEST(CostGolden, CostCasesOnTheStoredSample) {
  const json& ref = costs_reference();
  const Sample s = load_cost_sample(ref.at("cost_sample"));
  const json& cases = ref.at("cost_cases");
  ASSERT_FALSE(cases.empty());
  const Executor ex = cpu_executor(1);
  const int T = s.T, dX = s.dX, dU = s.dU, dxu = dX + dU;
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    const json& st = c.at("settings");
    CostDesc desc;
    desc.source = name;
    if (st.at("type") == "CostSum") {
      const auto weights = flatten(st.at("weights"));
      ASSERT_EQ(weights.size(), st.at("costs").size()) << name;
      for (std::size_t i = 0; i < weights.size(); ++i) {
        desc.terms.push_back(term_from_words(st.at("costs")[i], cases, s));
        desc.terms.back().weight = weights[i];
      }
    } else {
      desc.terms = terms_from_settings(st, s);
    }
    const CostTable table = compile_cost(desc, dX, dU, 1);
    CostModelStorage model = make_cost_model(ex, table);
    if (table.has_fk()) {
      ASSERT_EQ(table.jac_rows, s.jac_rows) << name;
      ASSERT_EQ(table.jac_cols, s.jac_cols) << name;
    }
    std::vector<double> l(T), g(T * dxu), H(T * dxu * dxu);
    std::uint32_t status = ~0u;
    EvalCostWorkspace ws;
    cost_expansion(ex, model.model, 1, T, dX, dU, s.X.data(), s.U.data(), s.jac.data(), nullptr,
                   l.data(), g.data(), H.data(), &status, ws);
    EXPECT_EQ(status, kOk) << name;
    std::vector<double> lx, lu, lxx, luu, lux;
    for (int t = 0; t < T; ++t) {
      const double* gt = &g[t * dxu];
      const double* Ht = &H[t * dxu * dxu];
      lx.insert(lx.end(), gt, gt + dX);
      lu.insert(lu.end(), gt + dX, gt + dxu);
      for (int i = 0; i < dX; ++i) lxx.insert(lxx.end(), Ht + i * dxu, Ht + i * dxu + dX);
      for (int i = dX; i < dxu; ++i) {
        luu.insert(luu.end(), Ht + i * dxu + dX, Ht + i * dxu + dxu);
        lux.insert(lux.end(), Ht + i * dxu, Ht + i * dxu + dX);
      }
    }
    EXPECT_TRUE(test::near_rel(l, flatten(c.at("l")), kRtol, 1e-300, name + " l"));
    EXPECT_TRUE(test::near_rel(lx, flatten(c.at("lx")), kRtol, 1e-300, name + " lx"));
    EXPECT_TRUE(test::near_rel(lu, flatten(c.at("lu")), kRtol, 1e-300, name + " lu"));
    EXPECT_TRUE(test::near_rel(lxx, flatten(c.at("lxx")), kRtol, 1e-300, name + " lxx"));
    EXPECT_TRUE(test::near_rel(luu, flatten(c.at("luu")), kRtol, 1e-300, name + " luu"));
    EXPECT_TRUE(test::near_rel(lux, flatten(c.at("lux")), kRtol, 1e-300, name + " lux"));
  }
}

// --- eval_cost: Algorithm._eval_cost on the stored samples of every condition -----------
//
// The cost is the section's `cost_params` (test::cost_from_params, through our YAML
// config loader); sizes and targets all come from the file.

// eval_cost over all conditions of `ref` in one batch against the stored cs, cc, cv, Cm.
::testing::AssertionResult eval_cost_agrees(const json& ref, const Executor& ex,
                                            const std::string& label) {
  const json& conds = ref.at("conditions");
  if (conds.empty()) return ::testing::AssertionFailure() << label << ": no conditions";
  const test::EvalCostCase batch = test::eval_cost_case(ref);
  const int M = batch.M, N = batch.N, T = batch.T, dX = batch.dX, dU = batch.dU;
  const int dxu = dX + dU;
  const CostTable table = compile_cost(batch.cost, dX, dU, M);
  if (table.jac_rows != batch.jac_rows || table.jac_cols != batch.jac_cols)
    return ::testing::AssertionFailure() << label << ": the cost's Jacobian is " << table.jac_rows
                                         << " x " << table.jac_cols << ", the samples' "
                                         << batch.jac_rows << " x " << batch.jac_cols;
  CostModelStorage model = make_cost_model(ex, table);
  std::vector<double> cs(M * N * T), cc(M * T), cv(M * T * dxu), Cm(M * T * dxu * dxu);
  std::vector<std::uint32_t> status(M, ~0u);
  EvalCostWorkspace ws;
  eval_cost(ex, model.model, M, N, T, dX, dU, batch.X.data(), batch.U.data(), batch.jac.data(),
            cs.data(), cc.data(), cv.data(), Cm.data(), status.data(), ws);
  for (int m = 0; m < M; ++m) {
    const json& c = conds[m];
    const std::string name =
        label + " condition " + std::to_string(c.at("condition").get<int>());
    if (status[m] != kOk) return ::testing::AssertionFailure() << name << ": status " << status[m];
    const std::pair<const char*, const std::vector<double>*> outputs[] = {
        {"cs", &cs}, {"cc", &cc}, {"cv", &cv}, {"Cm", &Cm}};
    for (const auto& [key, got] : outputs) {
      const std::vector<double> want = flatten(c.at(key));
      if (got->size() != want.size() * M)
        return ::testing::AssertionFailure() << name << " " << key << ": size mismatch";
      const auto r = test::near_rel(got->data() + m * want.size(), want, kRtol, 1e-300,
                                    name + " " + key);
      if (!r) return r;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(CostGolden, EvalCostOverAllConditionsInOneBatch) {
  const json& ref = costs_reference().at("eval_cost");
  for (int threads : {1, 0})
    EXPECT_TRUE(eval_cost_agrees(ref, cpu_executor(threads), "threads " + std::to_string(threads)));
}

// The golden comparison reads the cost from the file: changing any parameter of
// cost_params must make it fail (or be rejected). Labels (data_type, description) only
// name things; alpha and evalnorm are skipped where the term's l1 is 0 (the two norms
// differ only in the l1 part, which alpha alone enters).
TEST(CostGolden, EvalCostFailsWithAnyChangedCostParameter) {
  const json& ref = costs_reference().at("eval_cost");
  const Executor ex = cpu_executor(1);
  const json leaves = ref.at("cost_params").flatten();
  int checked = 0;
  for (const auto& [pointer, value] : leaves.items()) {
    const json::json_pointer ptr(pointer);
    const std::string key = ptr.back();
    if (key == "data_type" || key == "description") continue;
    if ((key == "alpha" || key == "evalnorm") &&
        ref.at("cost_params").at(ptr.parent_pointer()).at("l1") == 0.0)
      continue;
    json changed = ref;
    json& leaf = changed.at("cost_params").at(ptr);
    if (value.is_number_integer()) {
      leaf = value.get<int>() + 1;
    } else if (value.is_number()) {
      leaf = value.get<double>() * 1.25 + 0.125;
    } else if (key == "ramp_option") {
      leaf = value == "linear" ? "constant" : "linear";
    } else if (key == "evalnorm") {
      leaf = value == "evallogl2term" ? "evall1l2term" : "evallogl2term";
    } else {
      leaf = value.get<std::string>() + "_CHANGED";  // a key / data type that is not there
    }
    bool agrees = false;
    try {
      agrees = static_cast<bool>(eval_cost_agrees(changed, ex, pointer));
    } catch (const std::exception&) {
      agrees = false;  // rejected: the loader read the field
    }
    EXPECT_FALSE(agrees) << "eval_cost still matches the reference with cost_params" << pointer
                         << " changed from " << value.dump() << " to " << leaf.dump();
    ++checked;
  }
  EXPECT_GT(checked, 20) << "too few cost_params fields found";
  std::printf("  %d cost_params fields changed one at a time\n", checked);
}

// Single precision (allowed on the GPU): the same functor in float against the reference.
// Measured worst relative error 3e-7 (cs) on these samples; tolerance 1e-4.
TEST(CostGolden, EvalCostInFloatWithinSinglePrecision) {
  const json& ref = costs_reference().at("eval_cost");
  const json& conds = ref.at("conditions");
  const test::EvalCostCase batch = test::eval_cost_case(ref);
  const int M = batch.M, N = batch.N, T = batch.T, dX = batch.dX, dU = batch.dU;
  const int dxu = dX + dU;
  const CostTable table = compile_cost(batch.cost, dX, dU, M);
  ASSERT_EQ(table.jac_rows, batch.jac_rows);
  ASSERT_EQ(table.jac_cols, batch.jac_cols);
  std::vector<cost::Term<float>> terms;
  for (const auto& t : table.terms) {
    cost::Term<float> f;
    f.kind = t.kind;
    f.weight = static_cast<float>(t.weight);
    f.ramp = t.ramp;
    f.final_multiplier = static_cast<float>(t.final_multiplier);
    f.norm = t.norm;
    f.l1 = static_cast<float>(t.l1);
    f.l2 = static_cast<float>(t.l2);
    f.alpha = static_cast<float>(t.alpha);
    f.offset = t.offset;
    f.dim = t.dim;
    f.joint_offset = t.joint_offset;
    f.joints = t.joints;
    f.params = t.params;
    terms.push_back(f);
  }
  const std::vector<float> params(table.params.begin(), table.params.end());
  cost::CostModel<float> model{static_cast<int>(terms.size()), terms.data(), params.data(),
                               table.param_stride, table.max_dim, table.jac_rows, table.jac_cols};
  const std::vector<float> X(batch.X.begin(), batch.X.end()), U(batch.U.begin(), batch.U.end()),
      jac(batch.jac.begin(), batch.jac.end());
  using F = cost::EvalCost<float>;
  std::vector<float> cs(M * N * T), cc(M * T), cv(M * T * dxu), Cm(M * T * dxu * dxu),
      scratch(M * T * F::scratch_size(model, dX, dU));
  std::vector<std::uint32_t> status(M * T);
  for_each_2d(cpu_executor(0), M, T,
              F{model, N, T, dX, dU, X.data(), U.data(), jac.data(), cs.data(), cc.data(),
                cv.data(), Cm.data(), scratch.data(), status.data()});
  for (auto st : status) EXPECT_EQ(st, kOk);
  auto as_double = [](const float* p, std::size_t n) { return std::vector<double>(p, p + n); };
  for (int m = 0; m < M; ++m) {
    const json& c = conds[m];
    const std::string name = "float condition " + std::to_string(m);
    EXPECT_TRUE(test::near_rel(as_double(&cs[m * N * T], N * T), flatten(c.at("cs")), 1e-4, 0, name + " cs"));
    EXPECT_TRUE(test::near_rel(as_double(&cc[m * T], T), flatten(c.at("cc")), 1e-4, 0, name + " cc"));
    EXPECT_TRUE(test::near_rel(as_double(&cv[m * T * dxu], T * dxu), flatten(c.at("cv")), 1e-4, 0, name + " cv"));
    EXPECT_TRUE(test::near_rel(as_double(&Cm[m * T * dxu * dxu], T * dxu * dxu), flatten(c.at("Cm")), 1e-4, 0,
                               name + " Cm"));
  }
}

}  // namespace
}  // namespace gpsx
