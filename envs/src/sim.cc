#include "gpsx/envs/sim.h"

#include "gpsx/kernels/rigid_body_lanes.h"

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
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

Executor make_executor(const std::string& device, int threads, std::string* notice) {
  if (device == "cpu") return cpu_executor(threads);
  if (device != "cuda" && device != "auto")
    throw std::invalid_argument("--device must be auto, cpu or cuda, got '" + device + "'");
#if GPSX_HAVE_CUDA
  const cuda::GpuInfo info = cuda::probe();
  if (info.usable) {
    Executor ex;
    ex.backend = Backend::kCuda;
    return ex;
  }
  if (device == "cuda") throw std::runtime_error("--device cuda: no usable GPU (" + info.reason + ")");
  if (notice) *notice = "no usable GPU (" + info.reason + "), running on the CPU";
#else
  if (device == "cuda") throw_cuda_not_built();
  if (notice) *notice = "built without CUDA, running on the CPU";
#endif
  return cpu_executor(threads);
}

namespace {

// A buffer in host memory or, for a CUDA executor, device memory.
template <class T>
class Buffer {
 public:
  Buffer(const Executor& ex, size_t n) : ex_(ex), n_(n) {
    if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
      ptr_ = static_cast<T*>(cuda::malloc_device(n * sizeof(T)));
#endif
    } else {
      host_.resize(n);
      ptr_ = host_.data();
    }
  }
  ~Buffer() {
#if GPSX_HAVE_CUDA
    if (ex_.is_cuda()) cuda::free_device(ptr_);
#endif
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() { return ptr_; }
  void upload(const std::vector<T>& src) {
    if (!ex_.is_cuda()) {
      host_ = src;
      ptr_ = host_.data();
      return;
    }
#if GPSX_HAVE_CUDA
    cuda::copy(ptr_, src.data(), n_ * sizeof(T), cuda::CopyKind::kHostToDevice, ex_.stream);
#endif
  }
  std::vector<T> download() const {
    if (!ex_.is_cuda()) return host_;
    std::vector<T> out(n_);
#if GPSX_HAVE_CUDA
    cuda::copy(out.data(), ptr_, n_ * sizeof(T), cuda::CopyKind::kDeviceToHost, ex_.stream);
#endif
    return out;
  }

 private:
  Executor ex_;
  size_t n_;
  std::vector<T> host_;
  T* ptr_ = nullptr;
};

template <class T>
SimReport run_sim_typed(const Task& task, const Executor& ex, std::int64_t E, int steps,
                        std::uint64_t seed) {
  const rb::ChainModel<T> model = cast_chain<T>(task.model.chain);
  const int nv = model.nbody, nu = model.nu;
  std::vector<T> q0(E * nv), qd0(E * nv);
  for (std::int64_t e = 0; e < E; ++e)
    for (int i = 0; i < nv; ++i) {
      if (task.conditions.empty()) continue;
      const Condition& c = task.conditions[e % task.conditions.size()];
      q0[e * nv + i] = T(c.q0[i]);
      qd0[e * nv + i] = T(c.qd0[i]);
    }
  Buffer<T> q(ex, E * nv), qd(ex, E * nv), ctrl(ex, std::max<std::int64_t>(E * nu, 1));
  Buffer<std::uint32_t> status(ex, E);
  q.upload(q0);
  qd.upload(qd0);
  status.upload(std::vector<std::uint32_t>(E, 0u));
  const StepOptions opt = step_options(task);
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    random_controls(ex, model, seed, static_cast<std::uint64_t>(s), E, ctrl.data());
    step(ex, model, opt, E, q.data(), qd.data(), ctrl.data(), static_cast<T*>(nullptr),
         status.data());
  }
  synchronize(ex);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SimReport r;
  r.executor = ex.describe();
  r.envs = E;
  r.steps = steps;
  r.substeps = opt.substeps;
  r.seconds = secs;
  r.env_steps_per_s = secs > 0 ? double(E) * steps / secs : 0;
  r.physics_steps_per_s = r.env_steps_per_s * opt.substeps;
  const auto st = status.download();
  for (auto s : st) r.failed_envs += s != 0;
  const auto qf = q.download();
  double sum = 0;
  for (std::int64_t e = 0; e < E; ++e) sum += qf[e * nv];
  r.mean_final_q0 = E > 0 ? sum / E : 0;
  return r;
}

}  // namespace

SimReport run_sim(const Task& task, const Executor& ex, std::int64_t envs, int steps,
                  bool use_float, std::uint64_t seed) {
  if (envs < 1) throw std::invalid_argument("--envs must be >= 1, got " + std::to_string(envs));
  if (steps < 1) throw std::invalid_argument("--steps must be >= 1, got " + std::to_string(steps));
  return use_float ? run_sim_typed<float>(task, ex, envs, steps, seed)
                   : run_sim_typed<double>(task, ex, envs, steps, seed);
}

}  // namespace gpsx::envs
