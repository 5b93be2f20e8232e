// Environments: a model file plus a small YAML task config beside it (envs/models/) that
// says how to step it (substeps per control step), how to build the state (sensor list,
// end-effector sites), the conditions (initial states and end-effector targets) and the
// cost (`cost:`, schema in host/gpsx/host/cost.h; read by envs::task_cost).
//
//   name: arm7
//   model: arm7.xml                 # relative to the YAML file
//   substeps: 5                     # control step = substeps x model timestep
//   sensors: [JOINT_ANGLES, JOINT_VELOCITIES, END_EFFECTOR_POINTS,
//             END_EFFECTOR_POINT_VELOCITIES]
//   ee_sites: [ee_a, ee_b]          # named sites of the model, and/or points on any
//   ee_points:                      #   body / link (URDF has no sites), in this order:
//     - {name: tool, frame: r_gripper_link, pos: [0.18, 0, 0]}   # ee_points first
//   conditions:
//     - q0: [...]                   # nv joint positions (qd0 optional, default 0)
//       ee_target: [...]            # 3 x number of ee sites
//       joint_target: [...]         # nv joint positions (for `target: joint_target` costs)
#pragma once

#include <string>
#include <vector>

#include "gpsx/envs/model.h"

namespace gpsx::envs {

struct Condition {
  std::vector<double> q0;         // (nv)
  std::vector<double> qd0;        // (nv)
  std::vector<double> ee_target;  // (3 x nee)
  std::vector<double> joint_target;  // (nv) empty when the condition has none
};

struct Task {
  std::string name;
  std::string path;               // the YAML file
  Model model;
  int substeps = 1;
  std::vector<int> sensors;       // rb::Sensor blocks in state order
  std::vector<int> ee_sites;      // site indices of the end-effector points
  std::vector<Condition> conditions;

  int dX() const;                 // state size from the sensor list
  int dU() const { return model.nu(); }
  double control_dt() const { return substeps * model.timestep; }
};

// Parses "JOINT_ANGLES" etc. (throws ModelError naming the bad entry).
int parse_sensor(const std::string& name);
const char* sensor_name(int sensor);
// Size of the state for a sensor list with nee end-effector points.
int state_size(const std::vector<int>& sensors, int nv, int nee);

Task load_task(const std::string& yaml_path);
// NAME -> models_dir()/NAME.yaml (gpsx/envs/data_dir.h); a path to a .yaml file is
// returned as is.
std::string find_task(const std::string& name_or_path);

}  // namespace gpsx::envs
