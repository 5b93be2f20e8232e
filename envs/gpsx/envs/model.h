// Robot model (read-only, shared by all environments) and batched per-environment Data.
//
// The numbers the math needs live in rb::ChainModel (kernels/gpsx/kernels/rigid_body.h):
// structure of arrays, one joint per body, parent index per body (tree-ready), fixed
// capacity so it travels by value to the GPU. Model adds what only the host needs
// (names, file, timestep, integrator). Data holds E environments with a leading
// environment dimension.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/kernels/rigid_body.h"

namespace gpsx::envs {

// Raised for malformed or unsupported model / task files; the message names the file and
// the element.
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A named frame of the source file (an MJCF body or a URDF link, merged or not), fixed in
// one of our bodies: lets points be attached to welded links after merging.
struct Frame {
  std::string name;
  int body = -1;        // our body the frame is fixed in, -1 = world
  double pos[3] = {0, 0, 0};   // frame origin in that body's frame [m]
  double rot[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // frame axes in that body's frame, row-major
  bool is_site = false;  // an MJCF site (a point) rather than a body / link
};

struct Model {
  rb::ChainModel<double> chain{};        // the numbers (SoA, see rigid_body.h)
  std::vector<std::string> body_names;   // (nbody) after merging welded bodies
  std::vector<std::string> joint_names;  // (nv) joint of body i is dof i
  std::vector<int> source_joint;         // (nv) joint's index in the file (MJCF: MuJoCo
                                         //   joint id; URDF: order of <joint> elements)
  std::vector<std::string> actuator_names;  // (nu)
  std::vector<std::string> site_names;   // (nsite)
  double timestep = 0.01;                // physics step [s]
  int integrator = rb::kEuler;           // rb::Integrator
  std::vector<Frame> frames;             // every body / link and site of the file
  std::string source;                    // file the model came from
  std::string format;                    // "mjcf" | "urdf"

  int nv() const { return chain.nbody; }
  int nu() const { return chain.nu; }
  // Index of a named site among the chain's points (site_names). Does not change the
  // model; throws ModelError naming the site and listing the model's sites when absent.
  int site_index(const std::string& name) const;
  // Makes a site of the file a point of the chain and returns its index: the loaders make
  // only the first rb::kMaxSites sites points, tasks attach the others they name. Throws
  // ModelError for an unknown site or when the chain is full.
  int attach_site(const std::string& name);
  // Adds a named point at `pos` (3) in the frame of body / link `frame`; returns its site
  // index. Throws ModelError for an unknown frame, a duplicate name or too many sites.
  int add_site(const std::string& name, const std::string& frame, const double* pos);
};

// The chain in another scalar type (float for fast batched rollouts).
template <class T>
rb::ChainModel<T> cast_chain(const rb::ChainModel<double>& m);

// Per-environment state, E environments, leading environment dimension, host memory.
template <class T>
struct Data {
  std::int64_t E = 0;
  int nv = 0;
  int nu = 0;
  std::vector<T> q;                     // (E x nv) joint positions [rad | m]
  std::vector<T> qd;                    // (E x nv) joint velocities
  std::vector<T> ctrl;                  // (E x nu) actuator controls (joint torques x 1/gear)
  std::vector<T> qacc;                  // (E x nv) accelerations of the last substep
  std::vector<std::uint32_t> status;    // (E) StatusBits, OR-ed over steps

  Data() = default;
  Data(const Model& m, std::int64_t envs)
      : E(envs), nv(m.nv()), nu(m.nu()), q(envs * m.nv()), qd(envs * m.nv()),
        ctrl(envs * m.nu()), qacc(envs * m.nv()), status(envs, 0u) {}
};

}  // namespace gpsx::envs
