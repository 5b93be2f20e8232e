#include "gpsx/run/experiment.h"

#include <fmt/format.h>

#include <cctype>
#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "experiment_parts.h"
#include "gpsx/envs/data_dir.h"
#include "gpsx/host/sim_sampling.h"

namespace gpsx::run {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The task file: a name in the models folder, or a .yaml path relative to the config.
std::string resolve_task(const YamlChecker& ck, const YAML::Node& node, const std::string& path) {
  const std::string name = ck.text(node, "task");
  fs::path p;
  if (ends_with(name, ".yaml")) {
    p = name;
    if (p.is_relative()) p = fs::path(path).parent_path() / p;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      ck.fail(node, "task", "expected an existing task file, tried " + fs::absolute(p).string());
  } else {
    try {
      p = envs::find_task(name);
    } catch (const std::exception& e) {
      ck.fail(node, "task", std::string("expected a task name or a path to a task .yaml: ") +
                                e.what());
    }
  }
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).string() : c.string();
}

// init_lqr assumes a state that starts with dU joint positions then dU joint velocities,
// init_pd dQ <= dU positions then velocities (pitfall 18).
void check_init_fits(const YamlChecker& ck, const YAML::Node& at, const InitSpec& s,
                     const envs::Task& task) {
  const int nv = task.model.nv(), dU = task.dU();
  const bool q_then_qd = task.sensors.size() >= 2 && task.sensors[0] == rb::kJointAngles &&
                         task.sensors[1] == rb::kJointVelocities;
  const bool fits = q_then_qd && (s.type == "lqr" ? nv == dU : dU >= nv);
  if (!fits)
    ck.fail(at, "init.type",
            fmt::format("expected a task whose state starts with JOINT_ANGLES, JOINT_VELOCITIES "
                        "and {} (init_{}), got task {} with nv {}, dU {}",
                        s.type == "lqr" ? "nv == dU" : "dU >= nv", s.type, task.name, nv, dU));
}

InitSpec parse_init(const YamlChecker& ck, const YAML::Node& root, const envs::Task& task) {
  InitSpec s;
  const std::size_t dU = static_cast<std::size_t>(task.dU());
  s.lqr.dt = task.control_dt();
  s.gains.assign(dU, 1.0);
  s.acc.assign(dU, 0.0);
  const YAML::Node n = root["init"];
  if (n) {
    ck.require_map(n, "init");
    if (n["type"]) s.type = ck.choice(n["type"], "init.type", {"lqr", "pd"});
    if (s.type == "lqr") {
      ck.keys(n, "init", {"type", "init_var", "stiffness", "stiffness_vel", "final_weight",
                          "gains", "acc"});
      if (n["init_var"]) s.lqr.init_var = ck.number(n["init_var"], "init.init_var", above(0));
      if (n["stiffness"]) s.lqr.stiffness = ck.number(n["stiffness"], "init.stiffness", at_least(0));
      if (n["stiffness_vel"])
        s.lqr.stiffness_vel = ck.number(n["stiffness_vel"], "init.stiffness_vel", at_least(0));
      if (n["final_weight"])
        s.lqr.final_weight = ck.number(n["final_weight"], "init.final_weight", at_least(0));
      if (n["gains"]) s.gains = ck.numbers(n["gains"], "init.gains", dU, above(0));
      if (n["acc"]) s.acc = ck.numbers(n["acc"], "init.acc", dU);
    } else {
      ck.keys(n, "init", {"type", "init_var", "pos_gains", "vel_gains_mult"});
      if (n["init_var"]) s.pd.init_var = ck.number(n["init_var"], "init.init_var", above(0));
      if (n["pos_gains"]) s.pd.pos_gains = ck.number(n["pos_gains"], "init.pos_gains", at_least(0));
      if (n["vel_gains_mult"])
        s.pd.vel_gains_mult = ck.number(n["vel_gains_mult"], "init.vel_gains_mult", at_least(0));
    }
  }
  check_init_fits(ck, n ? (n["type"] ? n["type"] : n) : root["task"], s, task);
  return s;
}

void parse_eta_search(const YamlChecker& ck, const YAML::Node& n, TrajOptSettings& s) {
  const std::string p = "algorithm.eta_search";
  ck.keys(n, p, {"mode", "candidates", "max_iterations", "min_eta", "max_eta", "del0"});
  if (n["mode"])
    s.search = ck.choice(n["mode"], p + ".mode", {"sequential", "parallel"}) == "parallel"
                   ? EtaSearch::kParallel
                   : EtaSearch::kSequential;
  if (n["candidates"]) s.candidates = ck.integer(n["candidates"], p + ".candidates", 1, 1024);
  if (n["max_iterations"])
    s.max_iterations = ck.integer(n["max_iterations"], p + ".max_iterations", 1, INT_MAX);
  if (n["min_eta"]) s.min_eta = ck.number(n["min_eta"], p + ".min_eta", above(0));
  if (n["max_eta"]) s.max_eta = ck.number(n["max_eta"], p + ".max_eta", above(s.min_eta));
  if (!(s.max_eta > s.min_eta))  // min_eta raised above the default max_eta
    ck.fail(n["min_eta"], p + ".min_eta",
            fmt::format("expected a number < max_eta ({}), got {}", s.max_eta, s.min_eta));
  if (n["del0"]) s.del0 = ck.number(n["del0"], p + ".del0", above(0));
}

TrajOptAlgorithmSettings parse_algorithm(const YamlChecker& ck, const YAML::Node& root) {
  TrajOptAlgorithmSettings s;
  if (const YAML::Node n = root["algorithm"]) {
    const std::string p = "algorithm";
    ck.keys(n, p, {"kl_step", "min_step_mult", "max_step_mult", "init_eta", "init_step_mult",
                   "initial_state_var", "inner_iterations", "eta_search"});
    if (n["kl_step"]) s.kl_step = ck.number(n["kl_step"], p + ".kl_step", above(0));
    if (n["min_step_mult"])
      s.min_step_mult = ck.number(n["min_step_mult"], p + ".min_step_mult", above(0));
    if (n["max_step_mult"])
      s.max_step_mult = ck.number(n["max_step_mult"], p + ".max_step_mult", above(0));
    if (s.max_step_mult < s.min_step_mult)
      ck.fail(n["max_step_mult"] ? n["max_step_mult"] : n["min_step_mult"], p + ".max_step_mult",
              fmt::format("expected a number >= min_step_mult ({}), got {}", s.min_step_mult,
                          s.max_step_mult));
    if (n["init_eta"]) s.init_eta = ck.number(n["init_eta"], p + ".init_eta", above(0));
    if (n["init_step_mult"])
      s.init_step_mult = ck.number(n["init_step_mult"], p + ".init_step_mult", above(0));
    if (n["initial_state_var"])
      s.initial_state_var = ck.number(n["initial_state_var"], p + ".initial_state_var", at_least(0));
    if (n["inner_iterations"])
      s.inner_iterations = ck.integer(n["inner_iterations"], p + ".inner_iterations", 1, INT_MAX);
    if (n["eta_search"]) parse_eta_search(ck, n["eta_search"], s.lqr);
  }
  s.lqr.base_kl_step = s.kl_step;
  if (const YAML::Node n = root["dynamics"]) {
    const std::string p = "dynamics";
    DynamicsPriorSettings& d = s.dynamics;
    ck.keys(n, p, {"regularization", "max_clusters", "min_samples_per_cluster", "max_samples",
                   "strength", "em_iterations"});
    if (n["regularization"])
      d.regularization = ck.number(n["regularization"], p + ".regularization", at_least(0));
    if (n["max_clusters"]) d.max_clusters = ck.integer(n["max_clusters"], p + ".max_clusters", 1, INT_MAX);
    if (n["min_samples_per_cluster"])
      d.min_samples_per_cluster =
          ck.integer(n["min_samples_per_cluster"], p + ".min_samples_per_cluster", 1, INT_MAX);
    if (n["max_samples"]) d.max_samples = ck.integer(n["max_samples"], p + ".max_samples", 2, INT_MAX);
    if (n["strength"]) d.strength = ck.number(n["strength"], p + ".strength", at_least(0));
    if (n["em_iterations"])
      d.gmm.max_iterations = ck.integer(n["em_iterations"], p + ".em_iterations", 1, INT_MAX);
  }
  return s;
}

noise::NoiseSettings parse_noise(const YamlChecker& ck, const YAML::Node& root) {
  noise::NoiseSettings s;
  if (const YAML::Node n = root["noise"]) {
    ck.keys(n, "noise", {"smooth", "sigma", "renormalize"});
    if (n["smooth"]) s.smooth = ck.boolean(n["smooth"], "noise.smooth");
    if (n["sigma"]) s.sigma = ck.number(n["sigma"], "noise.sigma", above(0));
    if (n["renormalize"]) s.renormalize = ck.boolean(n["renormalize"], "noise.renormalize");
  }
  return s;
}

// The experiment's cost (else the task's), targets filled for its conditions, compiled
// once to check it against dX, dU and M.
CostDesc parse_cost(const YamlChecker& ck, const YAML::Node& root, const std::string& text,
                    const envs::Task& task) {
  const StateLayout layout = envs::state_layout(task);
  const YAML::Node node = root["cost"];
  CostDesc desc;
  const std::string sets = ck.sets_under("cost");
  if (node && sets.empty()) {
    desc = parse_cost_yaml(text, ck.file(), layout);  // reads `cost:`; marks are the file's
  } else if (node) {
    // re-read from the overridden tree: its marks point nowhere, so errors name the --set
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "cost" << YAML::Value << node << YAML::EndMap;
    const std::string source = ck.file() + ": --set " + sets;
    try {
      desc = parse_cost_yaml(out.c_str(), source, layout);
    } catch (const ConfigError& e) {
      std::string msg = e.what();
      msg = msg.substr(msg.find(": ", source.size()) + 2);  // drop source:line:column
      throw ConfigError(source + ": " + msg);
    }
  } else {
    if (!YAML::LoadFile(task.path)["cost"])
      ck.fail(root["task"], "cost",
              "expected a `cost:` in the experiment or its task (" + task.path + " has none)");
    desc = load_cost_file(task.path, layout);
  }
  detail::check_condition_targets(ck, root["conditions"], root["task"], task, desc);
  const int M = static_cast<int>(task.conditions.size());
  try {
    envs::condition_targets(task, desc, M);
    compile_cost(desc, task.dX(), task.dU(), M);
  } catch (const std::exception& e) {
    ck.fail(node ? node : root["task"], node ? "cost" : "cost (the task's)",
            std::string("expected a cost that fits the task and its ") + std::to_string(M) +
                " conditions: " + e.what());
  }
  return desc;
}

}  // namespace

Experiment parse_experiment(const std::string& text, const std::string& path,
                            const std::vector<std::string>& sets) {
  YamlChecker ck(path);
  YAML::Node doc = parse_yaml(text, path);
  if (!doc.IsDefined() || doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);
  ck.require_map(doc, "(root)");
  for (const std::string& s : sets) ck.apply_set(doc, s);
  const YAML::Node& root = doc;  // read-only from here (a non-const [] may add keys)
  ck.keys(root, "", {"name", "task", "iterations", "samples", "T", "seed", "conditions", "cost",
                     "init", "algorithm", "dynamics", "noise", "checkpoints"});

  Experiment e;
  e.path = path;
  e.name = fs::path(path).stem().string();
  if (root["name"]) {
    e.name = ck.text(root["name"], "name");
    for (char c : e.name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        ck.fail(root["name"], "name",
                "expected a name of letters, digits, '_', '-' and '.' (it names run folders), "
                "got '" + e.name + "'");
  }
  if (e.name.empty()) e.name = "experiment";

  const YAML::Node task_node = ck.required(root, "task", "");
  const std::string task_path = resolve_task(ck, task_node, path);
  try {
    e.task = envs::load_task(task_path);
  } catch (const std::exception& ex) {
    ck.fail(task_node, "task", "expected a loadable task file: " + std::string(ex.what()));
  }

  if (root["iterations"]) e.iterations = ck.integer(root["iterations"], "iterations", 1, INT_MAX);
  if (root["samples"])
    e.samples = ck.integer(root["samples"], "samples", 2, INT_MAX);  // the fit needs 2
  if (root["T"]) e.T = ck.integer(root["T"], "T", 2, INT_MAX);
  if (root["seed"]) e.seed = ck.unsigned_integer(root["seed"], "seed");

  e.task.conditions = detail::parse_conditions(ck, root["conditions"], e.task);
  if (e.task.conditions.empty())
    ck.fail(task_node, "conditions",
            "expected conditions (the task " + e.task.path + " has none; give `conditions:`)");
  e.init = parse_init(ck, root, e.task);
  e.algorithm = parse_algorithm(ck, root);
  e.noise = parse_noise(ck, root);
  if (const YAML::Node n = root["checkpoints"]) {
    ck.keys(n, "checkpoints", {"keep"});
    if (n["keep"]) e.keep_checkpoints = ck.integer(n["keep"], "checkpoints.keep", 1, INT_MAX);
  }
  e.cost = parse_cost(ck, root, text, e.task);
  e.resolved_yaml = detail::resolved_yaml(e);
  return e;
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& sets) {
  std::ifstream in(path);
  if (!in)
    throw ConfigError(path + ": cannot read the experiment config (tried " +
                      fs::absolute(path).string() + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_experiment(ss.str(), path, sets);
}

std::string find_experiment(const std::string& name) {
  if (ends_with(name, ".yaml")) return name;
  std::string dir;
  try {
    dir = envs::experiments_dir();
  } catch (const std::exception& e) {
    throw ConfigError("experiment '" + name + "': " + e.what());
  }
  const fs::path p = fs::path(dir) / (name + ".yaml");
  if (!fs::exists(p)) {
    std::string known;
    for (const auto& f : fs::directory_iterator(dir))
      if (f.path().extension() == ".yaml") known += " " + f.path().stem().string();
    throw ConfigError("unknown experiment '" + name + "' (no " + p.string() + "); known:" + known);
  }
  return p.string();
}

}  // namespace gpsx::run
