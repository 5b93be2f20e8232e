#include "gpsx/envs/task.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/loaders.h"

namespace gpsx::envs {

namespace {

std::vector<double> numbers(const YAML::Node& n, const std::string& where, size_t expected,
                            const std::string& path) {
  if (!n.IsSequence()) throw ModelError(path + ": " + where + " must be a list of numbers");
  std::vector<double> v;
  for (const auto& x : n) {
    try {
      v.push_back(x.as<double>());
    } catch (const YAML::Exception&) {
      throw ModelError(path + ": " + where + " has a non-number entry");
    }
  }
  if (v.size() != expected)
    throw ModelError(path + ": " + where + " has " + std::to_string(v.size()) +
                     " entries, expected " + std::to_string(expected));
  return v;
}

}  // namespace

int parse_sensor(const std::string& name) {
  if (name == "JOINT_ANGLES") return rb::kJointAngles;
  if (name == "JOINT_VELOCITIES") return rb::kJointVelocities;
  if (name == "END_EFFECTOR_POINTS") return rb::kEndEffectorPoints;
  if (name == "END_EFFECTOR_POINT_VELOCITIES") return rb::kEndEffectorPointVelocities;
  throw ModelError("unknown sensor '" + name +
                   "' (JOINT_ANGLES, JOINT_VELOCITIES, END_EFFECTOR_POINTS, "
                   "END_EFFECTOR_POINT_VELOCITIES)");
}

const char* sensor_name(int sensor) {
  switch (sensor) {
    case rb::kJointAngles: return "JOINT_ANGLES";
    case rb::kJointVelocities: return "JOINT_VELOCITIES";
    case rb::kEndEffectorPoints: return "END_EFFECTOR_POINTS";
    case rb::kEndEffectorPointVelocities: return "END_EFFECTOR_POINT_VELOCITIES";
  }
  return "?";
}

int state_size(const std::vector<int>& sensors, int nv, int nee) {
  int d = 0;
  for (int s : sensors) d += (s == rb::kJointAngles || s == rb::kJointVelocities) ? nv : 3 * nee;
  return d;
}

int Task::dX() const { return state_size(sensors, model.nv(), static_cast<int>(ee_sites.size())); }

Task load_task(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw ModelError(path + ": " + e.what());
  }
  Task t;
  t.path = path;
  if (!root["model"]) throw ModelError(path + ": missing 'model'");
  t.name = root["name"] ? root["name"].as<std::string>()
                        : std::filesystem::path(path).stem().string();
  const auto model_path = std::filesystem::path(path).parent_path() / root["model"].as<std::string>();
  t.model = load_model(model_path.string());
  t.substeps = root["substeps"] ? root["substeps"].as<int>() : 1;
  if (t.substeps < 1) throw ModelError(path + ": substeps must be >= 1");
  if (root["sensors"]) {
    for (const auto& s : root["sensors"]) {
      try {
        t.sensors.push_back(parse_sensor(s.as<std::string>()));
      } catch (const ModelError& e) {
        throw ModelError(path + ": " + e.what());
      }
    }
  } else {
    t.sensors = {rb::kJointAngles, rb::kJointVelocities};
  }
  if (t.sensors.size() > static_cast<size_t>(rb::kMaxSensors))
    throw ModelError(path + ": more than " + std::to_string(rb::kMaxSensors) + " sensors");
  // points defined in the task (e.g. on URDF links, which have no sites)
  if (root["ee_points"]) {
    for (const auto& pt : root["ee_points"]) {
      if (!pt["name"] || !pt["frame"])
        throw ModelError(path + ": each ee_points entry needs name and frame (and pos)");
      const auto pos = pt["pos"] ? numbers(pt["pos"], "ee_points.pos", 3, path)
                                 : std::vector<double>(3, 0.0);
      t.ee_sites.push_back(
          t.model.add_site(pt["name"].as<std::string>(), pt["frame"].as<std::string>(), pos.data()));
    }
  }
  if (root["ee_sites"])
    for (const auto& s : root["ee_sites"]) t.ee_sites.push_back(t.model.attach_site(s.as<std::string>()));
  const int nv = t.model.nv();
  const size_t nee = t.ee_sites.size();
  if (root["conditions"]) {
    int i = 0;
    for (const auto& c : root["conditions"]) {
      const std::string where = "conditions[" + std::to_string(i++) + "]";
      Condition cond;
      if (!c["q0"]) throw ModelError(path + ": " + where + " needs q0");
      cond.q0 = numbers(c["q0"], where + ".q0", nv, path);
      cond.qd0 = c["qd0"] ? numbers(c["qd0"], where + ".qd0", nv, path)
                          : std::vector<double>(nv, 0.0);
      if (c["ee_target"]) cond.ee_target = numbers(c["ee_target"], where + ".ee_target", 3 * nee, path);
      if (c["joint_target"])
        cond.joint_target = numbers(c["joint_target"], where + ".joint_target", nv, path);
      t.conditions.push_back(cond);
    }
  }
  return t;
}

std::string find_task(const std::string& name) {
  namespace fs = std::filesystem;
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0) return name;
  const fs::path dir = models_dir();
  const fs::path p = dir / (name + ".yaml");
  if (!fs::exists(p)) {
    std::string known;
    if (fs::is_directory(dir))
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".yaml") known += " " + e.path().stem().string();
    throw ModelError("unknown environment '" + name + "' (no " + p.string() + "); known:" + known);
  }
  return p.string();
}

}  // namespace gpsx::envs
