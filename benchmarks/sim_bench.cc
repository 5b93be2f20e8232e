// Simulator throughput: physics steps per second for the 7-DoF arm (envs/models/arm7.xml,
// Euler, dt 0.01, 5 substeps per control step), gpsx float / double against MuJoCo mj_step
// on the same model in the same run, on 1 thread and on all threads, E = 1, 64, 4096,
// 65536 environments. MuJoCo batches the usual way: one mjData per thread, each env's
// (qpos, qvel, ctrl) copied in, 5 x mj_step, copied out. Joint limits: off on both sides
// (MuJoCo's are constraints, ours a clamp), contacts off in the model.
//
// Also counts the floating-point operations of one gpsx physics step exactly, by running
// the same kernel on a counting scalar type, to compare flops per step with the measured
// rate. Last line: one JSON object.
#include <mujoco/mujoco.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "gpsx/envs/data_dir.h"
#include "gpsx/envs/loaders.h"
#include "gpsx/envs/model_tools.h"
#include "gpsx/envs/sim.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSubsteps = 5;
constexpr double kMinSeconds = 0.4;

// A double that counts arithmetic operations (+ - * /, sqrt, sin, cos each count 1).
struct Counted {
  double v = 0;
  static inline long long ops = 0;
  Counted() = default;
  Counted(double x) : v(x) {}  // NOLINT: implicit like a scalar
  explicit operator double() const { return v; }
};
inline Counted operator+(Counted a, Counted b) { ++Counted::ops; return a.v + b.v; }
inline Counted operator-(Counted a, Counted b) { ++Counted::ops; return a.v - b.v; }
inline Counted operator*(Counted a, Counted b) { ++Counted::ops; return a.v * b.v; }
inline Counted operator/(Counted a, Counted b) { ++Counted::ops; return a.v / b.v; }
inline Counted operator-(Counted a) { return -a.v; }
inline Counted& operator+=(Counted& a, Counted b) { return a = a + b; }
inline Counted& operator-=(Counted& a, Counted b) { return a = a - b; }
inline Counted& operator*=(Counted& a, Counted b) { return a = a * b; }
inline bool operator<(Counted a, Counted b) { return a.v < b.v; }
inline bool operator>(Counted a, Counted b) { return a.v > b.v; }
inline bool operator==(Counted a, Counted b) { return a.v == b.v; }
inline Counted sqrt(Counted a) { ++Counted::ops; return std::sqrt(a.v); }
inline Counted sin(Counted a) { ++Counted::ops; return std::sin(a.v); }
inline Counted cos(Counted a) { ++Counted::ops; return std::cos(a.v); }

long long flops_per_physics_step(const gpsx::envs::Model& model, const gpsx::envs::StateSet& s) {
  gpsx::rb::ChainModel<Counted> m{};
  const auto& d = model.chain;
  m.nbody = d.nbody;
  m.nu = d.nu;
  m.nsite = d.nsite;
  for (int i = 0; i < gpsx::rb::kMaxDof; ++i) {
    m.parent[i] = d.parent[i];
    m.joint_type[i] = d.joint_type[i];
    m.mass[i] = d.mass[i];
    m.qref[i] = d.qref[i];
    m.damping[i] = d.damping[i];
    m.armature[i] = d.armature[i];
    for (int j = 0; j < 3; ++j) {
      m.axis[i][j] = d.axis[i][j];
      m.anchor[i][j] = d.anchor[i][j];
      m.pos[i][j] = d.pos[i][j];
      m.com[i][j] = d.com[i][j];
    }
    for (int j = 0; j < 9; ++j) m.rot[i][j] = d.rot[i][j];
    for (int j = 0; j < 6; ++j) m.inertia[i][j] = d.inertia[i][j];
  }
  for (int j = 0; j < 3; ++j) m.gravity[j] = d.gravity[j];
  const int nv = d.nbody;
  Counted q[gpsx::rb::kMaxDof], qd[gpsx::rb::kMaxDof], tau[gpsx::rb::kMaxDof], a[gpsx::rb::kMaxDof];
  for (int i = 0; i < nv; ++i) {
    q[i] = s.q[i];
    qd[i] = s.qd[i];
    tau[i] = s.tau[i];
  }
  Counted::ops = 0;
  gpsx::rb::integrate(m, int(gpsx::rb::kEuler), Counted(0.01), tau, q, qd, a);
  return Counted::ops;
}

struct Result {
  std::string engine;
  int threads;
  long long E;
  double steps_per_s;  // physics steps x envs / s
};

template <class T>
double time_gpsx(const gpsx::envs::Model& model, const gpsx::envs::StateSet& s, int threads,
                 long long E) {
  const auto chain = gpsx::envs::cast_chain<T>(model.chain);
  const int nv = model.nv(), nu = model.nu();
  std::vector<T> q(E * nv), qd(E * nv), ctrl(E * nu);
  for (long long e = 0; e < E; ++e)
    for (int i = 0; i < nv; ++i) {
      q[e * nv + i] = T(s.q[(e % s.n) * nv + i]);
      qd[e * nv + i] = T(s.qd[(e % s.n) * nv + i]);
    }
  for (long long e = 0; e < E; ++e)
    for (int a = 0; a < nu; ++a) ctrl[e * nu + a] = T(s.tau[(e % s.n) * nv + a]);
  const auto ex = gpsx::cpu_executor(threads);
  gpsx::envs::StepOptions opt;
  opt.dt = model.timestep;
  opt.substeps = kSubsteps;
  opt.enforce_limits = false;
  const auto q0 = q, qd0 = qd;
  long long calls = 0;
  const auto t0 = Clock::now();
  double secs = 0;
  do {
    if (calls % 20 == 19) {  // stay near the start states (bounded, realistic motion)
      q = q0;
      qd = qd0;
    }
    gpsx::envs::step(ex, chain, opt, E, q.data(), qd.data(), ctrl.data(), static_cast<T*>(nullptr),
                     static_cast<std::uint32_t*>(nullptr));
    ++calls;
    secs = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (secs < kMinSeconds);
  return double(calls) * E * kSubsteps / secs;
}

double time_mujoco(const mjModel* m, const gpsx::envs::StateSet& s, int threads, long long E) {
  const int nv = m->nv, nu = m->nu;
  std::vector<double> q(E * nv), qd(E * nv), ctrl(E * nu);
  for (long long e = 0; e < E; ++e) {
    for (int i = 0; i < nv; ++i) {
      q[e * nv + i] = s.q[(e % s.n) * nv + i];
      qd[e * nv + i] = s.qd[(e % s.n) * nv + i];
    }
    for (int a = 0; a < nu; ++a) ctrl[e * nu + a] = s.tau[(e % s.n) * nv + a];
  }
  std::vector<mjData*> data(threads);
  for (auto& d : data) d = mj_makeData(m);
  const auto q0 = q, qd0 = qd;
  long long calls = 0;
  const auto t0 = Clock::now();
  double secs = 0;
  do {
    if (calls % 20 == 19) {
      q = q0;
      qd = qd0;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long long e = 0; e < E; ++e) {
      mjData* d = data[omp_get_thread_num()];
      std::copy(&q[e * nv], &q[e * nv] + nv, d->qpos);
      std::copy(&qd[e * nv], &qd[e * nv] + nv, d->qvel);
      std::copy(&ctrl[e * nu], &ctrl[e * nu] + nu, d->ctrl);
      for (int k = 0; k < kSubsteps; ++k) mj_step(m, d);
      std::copy(d->qpos, d->qpos + nv, &q[e * nv]);
      std::copy(d->qvel, d->qvel + nv, &qd[e * nv]);
    }
    ++calls;
    secs = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (secs < kMinSeconds);
  for (auto* d : data) mj_deleteData(d);
  return double(calls) * E * kSubsteps / secs;
}

}  // namespace

int main() {
  const std::string path = gpsx::envs::find_model_file("arm7.xml");
  const gpsx::envs::Model model = gpsx::envs::load_model(path);
  char err[1000] = {0};
  std::unique_ptr<mjModel, void (*)(mjModel*)> m(mj_loadXML(path.c_str(), nullptr, err, 1000),
                                                 mj_deleteModel);
  if (!m) {
    std::fprintf(stderr, "MuJoCo: %s\n", err);
    return 1;
  }
  m->opt.disableflags |= mjDSBL_LIMIT;
  const auto states = gpsx::envs::random_states(model, 256, 1);
  const long long flops = flops_per_physics_step(model, states);
  const int all = gpsx::hardware_threads();
  std::vector<int> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);
  const long long sizes[] = {1, 64, 4096, 65536};

  gpsx::bench::print_machine_header("sim_bench");
  std::printf("arm7 (7 dof), Euler dt %.3g, %d substeps per call; %lld flops per gpsx physics step\n",
              model.timestep, kSubsteps, flops);
  std::printf("%-12s %7s %8s %14s %16s\n", "engine", "threads", "E", "steps/s", "ns/step/thread");
  std::vector<Result> results;
  for (int th : thread_counts)
    for (long long E : sizes) {
      const double f = time_gpsx<float>(model, states, th, E);
      const double d = time_gpsx<double>(model, states, th, E);
      const double mj = time_mujoco(m.get(), states, th, E);
      for (const Result& r : {Result{"gpsx_float", th, E, f}, Result{"gpsx_double", th, E, d},
                              Result{"mujoco", th, E, mj}}) {
        std::printf("%-12s %7d %8lld %14.4g %16.1f\n", r.engine.c_str(), r.threads, r.E,
                    r.steps_per_s, 1e9 * r.threads / r.steps_per_s);
        results.push_back(r);
      }
    }
  const auto find = [&](const char* engine, int th, long long E) {
    for (const auto& r : results)
      if (r.engine == engine && r.threads == th && r.E == E) return r.steps_per_s;
    return 0.0;
  };
  const double ratio_1t = find("gpsx_float", 1, 4096) / find("mujoco", 1, 4096);
  const int th_all = thread_counts.back();
  const double ratio_all = find("gpsx_float", th_all, 4096) / find("mujoco", th_all, 4096);
  const double gflops = find("gpsx_float", 1, 4096) * flops * 1e-9;
  std::printf("gpsx float / MuJoCo at E=4096: %.2fx on 1 thread, %.2fx on %d threads (bar: 5x per core)\n",
              ratio_1t, ratio_all, th_all);
  std::printf("gpsx float at E=4096 on 1 thread: %.2f GFLOP/s of counted arithmetic\n", gflops);

  std::printf("{\"bench\":\"sim\",\"cpu_model\":%s,\"model\":\"arm7\",\"substeps\":%d,\"flops_per_step\":%lld,",
              gpsx::bench::json(gpsx::bench::cpu_model()).dump().c_str(), kSubsteps,
              flops);
  std::printf("\"ratio_float_vs_mujoco_E4096_1thread\":%.3f,\"ratio_float_vs_mujoco_E4096_all\":%.3f,",
              ratio_1t, ratio_all);
  std::printf("\"gflops_float_1thread\":%.3f,\"results\":[", gflops);
  for (size_t i = 0; i < results.size(); ++i)
    std::printf("%s{\"engine\":\"%s\",\"threads\":%d,\"E\":%lld,\"steps_per_s\":%.6g}", i ? "," : "",
                results[i].engine.c_str(), results[i].threads, results[i].E, results[i].steps_per_s);
  std::printf("]}\n");
  return 0;
}
