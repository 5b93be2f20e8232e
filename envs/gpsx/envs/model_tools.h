// What `gpsx model check` and `gpsx model qacc` do, as testable library functions.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "gpsx/envs/model.h"
#include "gpsx/host/executor.h"

namespace gpsx::envs {

// Our forward dynamics against MuJoCo's mj_forward on random states.
struct FdComparison {
  int states = 0;
  double max_rel_err = 0;   // max over states of |ours - mujoco|_inf / |mujoco|_inf
  double tolerance = 1e-8;
  bool passed = false;
  std::string mujoco_error;  // non-empty when MuJoCo could not load the file
};

// Random (q, qd, tau) rows (each N x nv): q inside limited ranges (else [-pi, pi] / [-1, 1]
// m), qd in [-2, 2], tau within the actuator torque range (else [-5, 5]).
struct StateSet {
  int n = 0;
  std::vector<double> q, qd, tau;  // (n x nv) each
};
StateSet random_states(const Model& model, int n, std::uint64_t seed);

// Compares accelerations on `states` against MuJoCo loading the same file (MJCF or URDF;
// joints matched by name, torques applied as qfrc_applied, constraints disabled).
FdComparison compare_with_mujoco(const Model& model, const StateSet& states,
                                 double tolerance = 1e-8);

// Human-readable summary: bodies, joints (type, range, damping, armature), actuators
// (gear, ctrl range), sites, gravity, timestep, integrator, and dX/dU for a sensor list
// (rb::Sensor values) with nee end-effector points. Empty sensors: angles, velocities
// and, if the model has sites, all sites' points and velocities.
void print_summary(const Model& model, std::ostream& out, std::vector<int> sensors = {},
                   int nee = -1);

// Reads rows of (q, qd, tau) with a header line from CSV, writes qacc rows with a header
// (qacc_<joint>) to out_path atomically (temporary file + rename). Throws ModelError on a
// bad CSV (naming file, line and column). Returns the number of rows.
int qacc_csv(const Model& model, const Executor& ex, const std::string& in_path,
             const std::string& out_path);

}  // namespace gpsx::envs
