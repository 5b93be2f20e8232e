#include "gpsx/envs/model_tools.h"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <cctype>
#include <unistd.h>

#include "gpsx/envs/sim.h"
#include "gpsx/envs/task.h"

namespace gpsx::envs {

StateSet random_states(const Model& model, int n, std::uint64_t seed) {
  const rb::ChainModel<double>& c = model.chain;
  const int nv = c.nbody;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const auto uni = [&](double lo, double hi) { return lo + (hi - lo) * u01(rng); };
  // torque range per dof from the actuators driving it
  std::vector<double> tau_lo(nv, -5.0), tau_hi(nv, 5.0);
  for (int a = 0; a < c.nu; ++a)
    if (c.ctrl_limited[a]) {
      const double g = c.gear[a];
      const double x = g * c.ctrl_range[a][0], y = g * c.ctrl_range[a][1];
      tau_lo[c.actuator_dof[a]] = std::min(x, y);
      tau_hi[c.actuator_dof[a]] = std::max(x, y);
    }
  StateSet s;
  s.n = n;
  s.q.resize(size_t(n) * nv);
  s.qd.resize(size_t(n) * nv);
  s.tau.resize(size_t(n) * nv);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < nv; ++i) {
      double lo = c.joint_type[i] == rb::kRevolute ? -M_PI : -1.0, hi = -lo;
      if (c.limited[i]) {
        lo = c.range[i][0];
        hi = c.range[i][1];
      }
      s.q[k * nv + i] = uni(lo, hi);
      s.qd[k * nv + i] = uni(-2.0, 2.0);
      s.tau[k * nv + i] = uni(tau_lo[i], tau_hi[i]);
    }
  return s;
}

FdComparison compare_with_mujoco(const Model& model, const StateSet& s, double tolerance) {
  FdComparison r;
  r.tolerance = tolerance;
  r.states = s.n;
  char err[1024] = {0};
  std::unique_ptr<mjModel, void (*)(mjModel*)> m(
      mj_loadXML(model.source.c_str(), nullptr, err, sizeof err), mj_deleteModel);
  if (!m) {
    r.mujoco_error = err;
    return r;
  }
  // compare the smooth dynamics: no limits, contacts or other constraints
  m->opt.disableflags |= mjDSBL_CONSTRAINT;
  std::unique_ptr<mjData, void (*)(mjData*)> d(mj_makeData(m.get()), mj_deleteData);
  const int nv = model.nv();
  std::vector<int> qadr(nv), vadr(nv);
  for (int i = 0; i < nv; ++i) {
    // MJCF: MuJoCo compiled the same file, joint ids agree; URDF: match by name
    const int j = model.format == "mjcf" ? model.source_joint[i]
                                         : mj_name2id(m.get(), mjOBJ_JOINT, model.joint_names[i].c_str());
    if (j < 0) {
      r.mujoco_error = "MuJoCo's model has no joint named '" + model.joint_names[i] + "'";
      return r;
    }
    qadr[i] = m->jnt_qposadr[j];
    vadr[i] = m->jnt_dofadr[j];
  }
  if (m->nv != nv) {
    r.mujoco_error = "MuJoCo's model has " + std::to_string(m->nv) + " dofs, ours " + std::to_string(nv);
    return r;
  }
  std::vector<double> ours(size_t(s.n) * nv);
  accelerations(cpu_executor(1), model.chain, s.n, s.q.data(), s.qd.data(), s.tau.data(),
                ours.data(), static_cast<std::uint32_t*>(nullptr));
  for (int k = 0; k < s.n; ++k) {
    mj_resetData(m.get(), d.get());
    for (int i = 0; i < nv; ++i) {
      d->qpos[qadr[i]] = s.q[k * nv + i];
      d->qvel[vadr[i]] = s.qd[k * nv + i];
      d->qfrc_applied[vadr[i]] = s.tau[k * nv + i];
    }
    mj_forward(m.get(), d.get());
    double diff = 0, scale = 0;
    for (int i = 0; i < nv; ++i) {
      const double ref = d->qacc[vadr[i]];
      diff = std::max(diff, std::abs(ours[k * nv + i] - ref));
      scale = std::max(scale, std::abs(ref));
    }
    const double rel = diff / std::max(scale, 1e-300);
    r.max_rel_err = std::max(r.max_rel_err, std::isfinite(rel) ? rel : INFINITY);
  }
  r.passed = r.max_rel_err <= tolerance;
  return r;
}

void print_summary(const Model& model, std::ostream& out, std::vector<int> sensors, int nee) {
  const rb::ChainModel<double>& c = model.chain;
  out << "model " << model.source << " (" << model.format << ")\n";
  out << "  bodies " << c.nbody << ", dofs " << c.nbody << ", actuators " << c.nu << ", sites "
      << c.nsite << "\n";
  out << "  gravity [" << c.gravity[0] << ", " << c.gravity[1] << ", " << c.gravity[2]
      << "], timestep " << model.timestep << " s, integrator "
      << (model.integrator == rb::kRk4 ? "RK4" : "Euler") << "\n";
  for (int i = 0; i < c.nbody; ++i) {
    out << "  body " << i << " '" << model.body_names[i] << "' parent "
        << (c.parent[i] < 0 ? std::string("world") : "'" + model.body_names[c.parent[i]] + "'")
        << ", mass " << c.mass[i] << "; joint '" << model.joint_names[i] << "' "
        << (c.joint_type[i] == rb::kRevolute ? "revolute" : "prismatic") << " axis ["
        << c.axis[i][0] << ", " << c.axis[i][1] << ", " << c.axis[i][2] << "]";
    if (c.limited[i]) out << " range [" << c.range[i][0] << ", " << c.range[i][1] << "]";
    out << " damping " << c.damping[i] << " armature " << c.armature[i] << "\n";
  }
  for (int a = 0; a < c.nu; ++a) {
    out << "  actuator '" << model.actuator_names[a] << "' -> joint '"
        << model.joint_names[c.actuator_dof[a]] << "' gear " << c.gear[a];
    if (c.ctrl_limited[a]) out << " ctrl [" << c.ctrl_range[a][0] << ", " << c.ctrl_range[a][1] << "]";
    out << "\n";
  }
  for (int s = 0; s < c.nsite; ++s)
    out << "  site '" << model.site_names[s] << "' on "
        << (c.site_body[s] < 0 ? std::string("world") : "'" + model.body_names[c.site_body[s]] + "'")
        << "\n";
  if (sensors.empty()) {
    sensors = {rb::kJointAngles, rb::kJointVelocities};
    if (c.nsite > 0) {
      sensors.push_back(rb::kEndEffectorPoints);
      sensors.push_back(rb::kEndEffectorPointVelocities);
    }
  }
  if (nee < 0) nee = c.nsite;
  out << "  state for [";
  for (size_t i = 0; i < sensors.size(); ++i) out << (i ? ", " : "") << sensor_name(sensors[i]);
  out << "] with " << nee << " end-effector points: dX = " << state_size(sensors, c.nbody, nee)
      << ", dU = " << c.nu << "\n";
}

namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char ch) { return !std::isspace(ch); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

}  // namespace

int qacc_csv(const Model& model, const Executor& ex, const std::string& in_path,
             const std::string& out_path) {
  std::ifstream in(in_path);
  if (!in) throw ModelError(in_path + ": cannot open");
  const int nv = model.nv();
  const size_t cols = 3 * size_t(nv);
  std::string line;
  if (!std::getline(in, line) || trim(line).empty())
    throw ModelError(in_path + ": empty file (expected a header of " + std::to_string(cols) +
                     " columns: q, qdot, tau)");
  const auto header = split_csv(trim(line));
  if (header.size() != cols)
    throw ModelError(in_path + ": line 1 (header) has " + std::to_string(header.size()) +
                     " columns, expected " + std::to_string(cols) + " (q, qdot, tau for " +
                     std::to_string(nv) + " joints)");
  std::vector<double> q, qd, tau;
  int row = 0;
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    line = trim(line);
    if (line.empty()) continue;
    const auto cells = split_csv(line);
    if (cells.size() != cols)
      throw ModelError(in_path + ": line " + std::to_string(lineno) + " has " +
                       std::to_string(cells.size()) + " columns, expected " + std::to_string(cols));
    for (size_t j = 0; j < cols; ++j) {
      const std::string cell = trim(cells[j]);
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0' || !std::isfinite(v))
        throw ModelError(in_path + ": line " + std::to_string(lineno) + ", column " +
                         std::to_string(j + 1) + " ('" + trim(header[j]) + "'): '" + cell +
                         "' is not a finite number");
      (j < size_t(nv) ? q : j < 2 * size_t(nv) ? qd : tau).push_back(v);
    }
    ++row;
  }
  std::vector<double> qacc(size_t(row) * nv);
  std::vector<std::uint32_t> status(row);
  if (ex.is_cuda())
    throw std::invalid_argument("model qacc runs on the CPU executor (use --device cpu)");
  accelerations(ex, model.chain, row, q.data(), qd.data(), tau.data(), qacc.data(), status.data());
  for (int k = 0; k < row; ++k)
    if (status[k] != kOk)
      throw ModelError(in_path + ": row " + std::to_string(k + 1) + ": forward dynamics failed (" +
                       status_name(status[k]) + ")");
  const std::string tmp = out_path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    if (!out) throw ModelError(out_path + ": cannot write (temporary " + tmp + ")");
    for (int i = 0; i < nv; ++i) out << (i ? "," : "") << "qacc_" << model.joint_names[i];
    out << "\n" << std::setprecision(17);
    for (int k = 0; k < row; ++k) {
      for (int i = 0; i < nv; ++i) out << (i ? "," : "") << qacc[size_t(k) * nv + i];
      out << "\n";
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw ModelError(out_path + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw ModelError(out_path + ": cannot move the result into place: " + ec.message());
  }
  return row;
}

}  // namespace gpsx::envs
