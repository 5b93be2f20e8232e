// Model loaders. MJCF goes through MuJoCo's own parser and compiler (mj_loadXML); the
// compiled mjModel is then read into our Model. URDF is read with tinyxml2.
//
// What our model cannot represent is rejected with a ModelError naming the file and the
// element, never ignored: contacts (we simulate no contacts, so every geom needs
// contype = conaffinity = 0, or <option><flag contact="disable"/></option>), tendons,
// equality constraints, free / ball joints, bodies with several joints, joint stiffness and
// friction loss, fluid forces, implicit integrator, and actuators other than plain motors
// on a joint (force = gear * gain * ctrl, no dynamics, no bias, no force limit).
#pragma once

#include <string>

#include "gpsx/envs/model.h"

struct mjModel_;

namespace gpsx::envs {

Model load_mjcf(const std::string& path);
Model load_urdf(const std::string& path);
// By extension: .urdf -> URDF, anything else -> MJCF.
Model load_model(const std::string& path);

// Reads an already compiled MuJoCo model (what load_mjcf uses after mj_loadXML).
Model from_mujoco(const mjModel_* m, const std::string& source);

}  // namespace gpsx::envs
