#include "gpsx/envs/sim.h"

#include "gpsx/kernels/rigid_body_lanes.h"

#include <stdexcept>

namespace gpsx::envs {

StepOptions step_options(const Task& task) {
  StepOptions o;
  o.dt = task.model.timestep;
  o.substeps = task.substeps;
  o.integrator = task.model.integrator;
  return o;
}

template <class T>
void step(const Executor& ex, const rb::ChainModel<T>& model, const StepOptions& opt,
          std::int64_t E, T* q, T* qd, const T* ctrl, T* qacc, std::uint32_t* status) {
  if (opt.substeps < 1) throw std::invalid_argument("step: substeps must be >= 1");
  // 32-byte packs: 8 floats or 4 doubles per item (fewer environments: one per item)
  constexpr int W = 32 / sizeof(T);
  rb::StepBatch<T> f;
  f.model = model;
  f.dt = T(opt.dt);
  f.substeps = opt.substeps;
  f.integrator = opt.integrator;
  f.enforce_limits = opt.enforce_limits ? 1 : 0;
  f.q = q;
  f.qd = qd;
  f.ctrl = ctrl;
  f.qacc = qacc;
  f.status = status;
  if (opt.simd && !ex.is_cuda() && E >= W) {
    const rb::StepBatchLanes<T, W> packs{f, rb::convert_model<Lanes<T, W>>(model), E};
    for_each_cpu(ex.threads, packs.items(E), packs);  // host-only SIMD packs
    return;
  }
  for_each(ex, E, f);
}

template <class T>
void step(const Executor& ex, const rb::ChainModel<T>& model, const StepOptions& opt, Data<T>& d) {
  if (ex.is_cuda())
    throw std::invalid_argument("step: Data holds host vectors; on a CUDA executor pass "
                                "device arrays (the pointer overload of step)");
  const auto check = [&](const char* name, size_t got, size_t expected) {
    if (got != expected)
      throw std::invalid_argument(std::string("step: Data.") + name + " has " + std::to_string(got) +
                                  " elements, expected " + std::to_string(expected) + " (E = " +
                                  std::to_string(d.E) + ", nv = " + std::to_string(model.nbody) +
                                  ", nu = " + std::to_string(model.nu) + ")");
  };
  check("q", d.q.size(), size_t(d.E) * model.nbody);
  check("qd", d.qd.size(), size_t(d.E) * model.nbody);
  check("ctrl", d.ctrl.size(), size_t(d.E) * model.nu);
  check("qacc", d.qacc.size(), size_t(d.E) * model.nbody);
  check("status", d.status.size(), size_t(d.E));
  step(ex, model, opt, d.E, d.q.data(), d.qd.data(), d.ctrl.data(), d.qacc.data(), d.status.data());
}

template <class T>
void accelerations(const Executor& ex, const rb::ChainModel<T>& model, std::int64_t E,
                   const T* q, const T* qd, const T* tau, T* qacc, std::uint32_t* status) {
  rb::AccelBatch<T> f;
  f.model = model;
  f.q = q;
  f.qd = qd;
  f.tau = tau;
  f.qacc = qacc;
  f.status = status;
  for_each(ex, E, f);
}

template <class T>
rb::SensorList sensor_list(const rb::ChainModel<T>& model, const std::vector<int>& sensors,
                           const std::vector<int>& ee_sites, int ee_velocity) {
  if (sensors.size() > static_cast<size_t>(rb::kMaxSensors))
    throw std::invalid_argument("sensor list: " + std::to_string(sensors.size()) +
                                " sensors, at most " + std::to_string(rb::kMaxSensors));
  if (ee_sites.size() > static_cast<size_t>(rb::kMaxSites))
    throw std::invalid_argument("sensor list: " + std::to_string(ee_sites.size()) +
                                " ee sites, at most " + std::to_string(rb::kMaxSites));
  if (ee_velocity != rb::kEeVelocityDifference && ee_velocity != rb::kEeVelocityExact)
    throw std::invalid_argument("sensor list: unknown ee velocity convention " +
                                std::to_string(ee_velocity));
  rb::SensorList s;
  s.count = static_cast<int>(sensors.size());
  for (size_t i = 0; i < sensors.size(); ++i) {
    if (sensors[i] < rb::kJointAngles || sensors[i] > rb::kEndEffectorPointVelocities)
      throw std::invalid_argument("sensor list: unknown sensor " + std::to_string(sensors[i]));
    s.kinds[i] = sensors[i];
  }
  s.nee = static_cast<int>(ee_sites.size());
  for (size_t i = 0; i < ee_sites.size(); ++i) {
    if (ee_sites[i] < 0 || ee_sites[i] >= model.nsite)
      throw std::invalid_argument("sensor list: ee site index " + std::to_string(ee_sites[i]) +
                                  " out of range [0, " + std::to_string(model.nsite) + ")");
    s.ee_sites[i] = ee_sites[i];
  }
  s.ee_velocity = ee_velocity;
  return s;
}

template <class T>
void observe(const Executor& ex, const rb::ChainModel<T>& model, const std::vector<int>& sensors,
             const std::vector<int>& ee_sites, std::int64_t E, const T* q, const T* qd, T* x,
             int ee_velocity) {
  rb::ObserveBatch<T> f;
  f.model = model;
  f.sensors = sensor_list(model, sensors, ee_sites, ee_velocity);
  f.dX = state_size(sensors, model.nbody, f.sensors.nee);
  f.q = q;
  f.qd = qd;
  f.x = x;
  for_each(ex, E, f);
}

template <class T>
void ee_jacobians(const Executor& ex, const rb::ChainModel<T>& model, const std::vector<int>& ee_sites,
                  std::int64_t E, const T* q, T* J, int ldq) {
  const rb::SensorList s = sensor_list(model, {}, ee_sites, rb::kEeVelocityExact);
  rb::EeJacobianBatch<T> f;
  f.model = model;
  f.nee = s.nee;
  for (int i = 0; i < s.nee; ++i) f.ee_sites[i] = s.ee_sites[i];
  f.q = q;
  f.ldq = ldq;
  f.J = J;
  for_each(ex, E, f);
}

template <class T>
void random_controls(const Executor& ex, const rb::ChainModel<T>& model, std::uint64_t seed,
                     std::uint64_t step_index, std::int64_t E, T* ctrl) {
  rb::RandomCtrlBatch<T> f;
  f.model = model;
  f.seed = seed;
  f.step = step_index;
  f.ctrl = ctrl;
  for_each(ex, E, f);
}

#define GPSX_SIM_INSTANTIATE(T)                                                              \
  template void step<T>(const Executor&, const rb::ChainModel<T>&, const StepOptions&,      \
                        std::int64_t, T*, T*, const T*, T*, std::uint32_t*);                 \
  template void step<T>(const Executor&, const rb::ChainModel<T>&, const StepOptions&, Data<T>&); \
  template void accelerations<T>(const Executor&, const rb::ChainModel<T>&, std::int64_t,    \
                                 const T*, const T*, const T*, T*, std::uint32_t*);          \
  template rb::SensorList sensor_list<T>(const rb::ChainModel<T>&, const std::vector<int>&,     \
                                          const std::vector<int>&, int);                     \
  template void observe<T>(const Executor&, const rb::ChainModel<T>&, const std::vector<int>&, \
                           const std::vector<int>&, std::int64_t, const T*, const T*, T*, int); \
  template void ee_jacobians<T>(const Executor&, const rb::ChainModel<T>&, const std::vector<int>&, \
                                std::int64_t, const T*, T*, int);                            \
  template void random_controls<T>(const Executor&, const rb::ChainModel<T>&, std::uint64_t, \
                                   std::uint64_t, std::int64_t, T*);
GPSX_SIM_INSTANTIATE(float)
GPSX_SIM_INSTANTIATE(double)
#undef GPSX_SIM_INSTANTIATE

}  // namespace gpsx::envs
