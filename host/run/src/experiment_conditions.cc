// An experiment's conditions: an explicit list, generated ones (Philox draws in boxes,
// layout in experiment.h), or the task's; and their consistency with the cost's targets.
#include <fmt/format.h>

#include <algorithm>

#include "experiment_parts.h"
#include "gpsx/kernels/philox.h"

namespace gpsx::run::detail {

namespace {

constexpr long kMaxGenerated = 1L << 20;

// One field of `generate:`: fixed values (low == high) or a box.
struct Field {
  const char* key;
  std::size_t size;
  std::vector<double> low, high;
  bool given = false;
};

void parse_field(const YamlChecker& ck, const YAML::Node& gen, const std::string& path,
                 Field& f) {
  const YAML::Node n = gen[f.key];
  if (!n) return;
  const std::string p = path + "." + f.key;
  f.given = true;
  if (n.IsSequence()) {
    f.low = f.high = ck.numbers(n, p, f.size);
    return;
  }
  if (!n.IsMap())
    ck.fail(n, p, fmt::format("expected a list of {} numbers or a box {{low: [..], high: [..]}}, "
                              "got {}", f.size, YamlChecker::found(n)));
  ck.keys(n, p, {"low", "high"});
  f.low = ck.numbers(ck.required(n, "low", p), p + ".low", f.size);
  f.high = ck.numbers(ck.required(n, "high", p), p + ".high", f.size);
  for (std::size_t i = 0; i < f.size; ++i)
    if (!(f.low[i] <= f.high[i]))
      ck.fail(n["high"][i], fmt::format("{}.high[{}]", p, i),
              fmt::format("expected a number >= low[{}] ({}), got {}", i, f.low[i], f.high[i]));
}

std::vector<envs::Condition> generate(const YamlChecker& ck, const YAML::Node& gen,
                                      const std::string& path, const envs::Task& task) {
  ck.keys(gen, path, {"count", "seed", "q0", "qd0", "ee_target", "joint_target"});
  const int count = ck.integer(ck.required(gen, "count", path), path + ".count", 1, kMaxGenerated);
  const std::uint64_t seed = gen["seed"] ? ck.unsigned_integer(gen["seed"], path + ".seed") : 0;
  const std::size_t nv = static_cast<std::size_t>(task.model.nv());
  Field fields[] = {{"q0", nv, {}, {}}, {"qd0", nv, {}, {}},
                    {"ee_target", 3 * task.ee_sites.size(), {}, {}}, {"joint_target", nv, {}, {}}};
  ck.required(gen, "q0", path);
  for (Field& f : fields) parse_field(ck, gen, path, f);
  if (fields[2].given && task.ee_sites.empty())
    ck.fail(gen["ee_target"], path + ".ee_target",
            "expected no ee_target: the task " + task.name + " has no end-effector points");

  std::vector<envs::Condition> out(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    envs::Condition& c = out[static_cast<std::size_t>(i)];
    std::vector<double>* dest[] = {&c.q0, &c.qd0, &c.ee_target, &c.joint_target};
    std::uint64_t k = 0;  // value index in the stream of condition i
    for (int f = 0; f < 4; ++f) {
      if (!fields[f].given) continue;
      for (std::size_t j = 0; j < fields[f].size; ++j, ++k) {
        const rng::Philox4x32 r = rng::random_block(seed, static_cast<std::uint64_t>(i), k / 2);
        const int w = static_cast<int>(k % 2) * 2;
        const double u = rng::uniform_open(r.v[w], r.v[w + 1]);
        const double lo = fields[f].low[j], hi = fields[f].high[j];
        dest[f]->push_back(lo == hi ? lo : std::min(hi, lo + (hi - lo) * u));
      }
    }
    if (c.qd0.empty()) c.qd0.assign(nv, 0.0);
  }
  return out;
}

envs::Condition listed(const YamlChecker& ck, const YAML::Node& n, const std::string& p,
                       const envs::Task& task) {
  ck.keys(n, p, {"q0", "qd0", "ee_target", "joint_target"});
  const std::size_t nv = static_cast<std::size_t>(task.model.nv());
  const std::size_t nee3 = 3 * task.ee_sites.size();
  envs::Condition c;
  c.q0 = ck.numbers(ck.required(n, "q0", p), p + ".q0", nv);
  c.qd0 = n["qd0"] ? ck.numbers(n["qd0"], p + ".qd0", nv) : std::vector<double>(nv, 0.0);
  if (n["ee_target"]) {
    if (nee3 == 0)
      ck.fail(n["ee_target"], p + ".ee_target",
              "expected no ee_target: the task " + task.name + " has no end-effector points");
    c.ee_target = ck.numbers(n["ee_target"], p + ".ee_target", nee3);
  }
  if (n["joint_target"]) c.joint_target = ck.numbers(n["joint_target"], p + ".joint_target", nv);
  return c;
}

}  // namespace

std::vector<envs::Condition> parse_conditions(const YamlChecker& ck, const YAML::Node& node,
                                              const envs::Task& task) {
  if (!node) return task.conditions;
  if (node.IsMap()) {
    ck.keys(node, "conditions", {"generate"});
    const YAML::Node gen = ck.required(node, "generate", "conditions");
    ck.require_map(gen, "conditions.generate");
    return generate(ck, gen, "conditions.generate", task);
  }
  if (!node.IsSequence() || node.size() == 0)
    ck.fail(node, "conditions",
            "expected a non-empty list of conditions or {generate: {...}}, got " +
                YamlChecker::found(node));
  std::vector<envs::Condition> out;
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(listed(ck, node[i], fmt::format("conditions[{}]", i), task));
  return out;
}

void check_condition_targets(const YamlChecker& ck, const YAML::Node& conditions,
                             const YAML::Node& task_node, const envs::Task& task,
                             const CostDesc& cost) {
  for (const CostTermDesc& t : cost.terms)
    for (const CostBlockDesc& b : t.blocks) {
      if (!b.ee_target && !b.joint_target) continue;
      const char* name = b.ee_target ? "ee_target" : "joint_target";
      for (std::size_t i = 0; i < task.conditions.size(); ++i) {
        const envs::Condition& c = task.conditions[i];
        const std::size_t have = (b.ee_target ? c.ee_target : c.joint_target).size();
        if (have == b.wp.size()) continue;
        // report at the condition when it is listed, else at what produced it
        const bool is_list = conditions && conditions.IsSequence();
        const YAML::Node at = is_list ? conditions[i] : conditions ? conditions : task_node;
        const std::string path =
            fmt::format("conditions[{}]{}", i,
                        conditions ? "" : " (the task " + task.path + "'s)");
        ck.fail(at, path,
                fmt::format("expected {} ({} numbers) for the cost term {} (target: {}), got {}",
                            name, b.wp.size(), t.where, name,
                            have == 0 ? std::string("none") : fmt::format("{} numbers", have)));
      }
    }
}

}  // namespace gpsx::run::detail
