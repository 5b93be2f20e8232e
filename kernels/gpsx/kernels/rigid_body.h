// Rigid serial-chain (tree-ready) dynamics: forward kinematics, site points / velocities /
// Jacobians, forward dynamics, and the batched integration step.
//
// Algorithm choice: composite-rigid-body (CRBA) for the joint-space inertia H(q), the
// recursive Newton-Euler pass with qdd = 0 for the bias C(q, qd) + gravity, then our own
// Cholesky (linalg.h) for H qdd = tau - C. For <= ~10 DoF this costs about the same as
// Featherstone's ABA, is exact (no articulated-inertia recursion to get wrong), gives H
// for free (energy, implicit damping in Euler), and matches how MuJoCo itself computes
// qacc (CRBA + sparse LDL), so agreement is at round-off level.
//
// Spatial vectors are expressed in the WORLD frame at the world origin, (angular;
// linear). Then the motion subspaces, velocities and composite inertias of all bodies
// live in one frame and need no frame transforms between parent and child; the arms we
// simulate sit within a metre or two of the origin, so nothing is lost in precision.
//
// Every body carries exactly one joint (a dof): loaders merge jointless (welded) bodies
// into their parent. Bodies are in topological order, parent[i] < i.
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"

namespace gpsx::rb {

constexpr int kMaxDof = 16;    // bodies == dofs; fixed capacity keeps scratch on the stack
constexpr int kMaxSites = 8;   // named points (end effectors) per model
constexpr int kMaxSensors = 4;

enum JointType : int { kRevolute = 0, kPrismatic = 1 };
enum Integrator : int { kEuler = 0, kRk4 = 1 };
// Blocks of the assembled state, in the order the task lists them.
enum Sensor : int {
  kJointAngles = 0,          // nv
  kJointVelocities = 1,      // nv
  kEndEffectorPoints = 2,    // 3 x (number of ee sites)
  kEndEffectorPointVelocities = 3,  // 3 x (number of ee sites)
};

// Read-only model, structure of arrays with a fixed capacity so that it is trivially
// copyable and travels by value into a CUDA kernel (a few kB of parameter space).
template <class T>
struct ChainModel {
  int nbody = 0;                 // number of bodies == number of dofs (nv == nq)
  int nu = 0;                    // number of actuators (controls)
  int nsite = 0;                 // number of named points
  // per body i < nbody
  int parent[kMaxDof];           // (nbody) parent body, -1 = world; parent[i] < i
  int joint_type[kMaxDof];       // (nbody) JointType of the body's joint
  T axis[kMaxDof][3];            // (nbody x 3) unit joint axis, body frame
  T anchor[kMaxDof][3];          // (nbody x 3) point on a revolute axis, body frame [m]
  T pos[kMaxDof][3];             // (nbody x 3) body origin in parent frame at q = qref [m]
  T rot[kMaxDof][9];             // (nbody x 3 x 3) body orientation in parent frame at
                                 //   q = qref, row-major, maps body to parent coordinates
  T mass[kMaxDof];               // (nbody) [kg]
  T com[kMaxDof][3];             // (nbody x 3) centre of mass, body frame [m]
  T inertia[kMaxDof][6];         // (nbody x 6) inertia about the CoM in body axes,
                                 //   (xx, yy, zz, xy, xz, yz) [kg m^2]
  // per dof (dof i moves body i)
  T qref[kMaxDof];               // (nv) joint position at which pos/rot hold [rad | m]
  T damping[kMaxDof];            // (nv) viscous damping [N m s / rad | N s / m]
  T armature[kMaxDof];           // (nv) rotor inertia added to H's diagonal
  int limited[kMaxDof];          // (nv) 1: range applies
  T range[kMaxDof][2];           // (nv x 2) joint range [lo, hi]
  // per actuator (motor: tau[dof] += gear * clamp(ctrl))
  int actuator_dof[kMaxDof];     // (nu) dof the actuator drives
  T gear[kMaxDof];               // (nu) torque per unit control
  int ctrl_limited[kMaxDof];     // (nu) 1: ctrl is clamped to ctrl_range
  T ctrl_range[kMaxDof][2];      // (nu x 2)
  T gravity[3];                  // (3) world gravity [m / s^2]
  // named points
  int site_body[kMaxSites];      // (nsite) body the point is fixed to, -1 = world
  T site_pos[kMaxSites][3];      // (nsite x 3) point in body frame [m]
};

// Per-environment kinematic quantities, world frame.
template <class T>
struct Kinematics {
  T R[kMaxDof][9];   // (nbody x 3 x 3) body orientation, maps body to world
  T p[kMaxDof][3];   // (nbody x 3) body origin
  T S[kMaxDof][6];   // (nbody x 6) joint motion subspace (angular; linear at origin)
};

namespace detail {

template <class T>
GPS_HD GPS_INLINE void cross(const T* a, const T* b, T* c) {
  const T c0 = a[1] * b[2] - a[2] * b[1];
  const T c1 = a[2] * b[0] - a[0] * b[2];
  const T c2 = a[0] * b[1] - a[1] * b[0];
  c[0] = c0;
  c[1] = c1;
  c[2] = c2;
}

template <class T>
GPS_HD GPS_INLINE T dot3(const T* a, const T* b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// y = R x, R row-major 3x3.
template <class T>
GPS_HD GPS_INLINE void mat3_vec(const T* R, const T* x, T* y) {
  const T y0 = R[0] * x[0] + R[1] * x[1] + R[2] * x[2];
  const T y1 = R[3] * x[0] + R[4] * x[1] + R[5] * x[2];
  const T y2 = R[6] * x[0] + R[7] * x[1] + R[8] * x[2];
  y[0] = y0;
  y[1] = y1;
  y[2] = y2;
}

// C = A B (3x3, row-major, C may not alias).
template <class T>
GPS_HD GPS_INLINE void mat3_mul(const T* A, const T* B, T* C) {
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

// Rotation by angle about unit axis u (Rodrigues), row-major.
template <class T>
GPS_HD GPS_INLINE void axis_angle(const T* u, T angle, T* R) {
  using std::cos;
  using std::sin;
  const T c = cos(angle), s = sin(angle), t = T(1) - c;
  R[0] = c + t * u[0] * u[0];
  R[1] = t * u[0] * u[1] - s * u[2];
  R[2] = t * u[0] * u[2] + s * u[1];
  R[3] = t * u[1] * u[0] + s * u[2];
  R[4] = c + t * u[1] * u[1];
  R[5] = t * u[1] * u[2] - s * u[0];
  R[6] = t * u[2] * u[0] - s * u[1];
  R[7] = t * u[2] * u[1] + s * u[0];
  R[8] = c + t * u[2] * u[2];
}

// Spatial inertia in world coordinates at the origin, 10 numbers, additive:
// [0] mass, [1..3] mass * com, [4..9] rotational inertia about the origin
// (xx, yy, zz, xy, xz, yz).
template <class T>
GPS_HD GPS_INLINE void inertia_apply(const T* I, const T* v, T* f) {
  // f_ang = I_O w + h x v;  f_lin = m v + w x h   (v = (w; v_origin))
  const T* h = I + 1;
  const T* J = I + 4;
  const T* w = v;
  const T* vl = v + 3;
  T hxv[3], wxh[3];
  cross(h, vl, hxv);
  cross(w, h, wxh);
  f[0] = J[0] * w[0] + J[3] * w[1] + J[4] * w[2] + hxv[0];
  f[1] = J[3] * w[0] + J[1] * w[1] + J[5] * w[2] + hxv[1];
  f[2] = J[4] * w[0] + J[5] * w[1] + J[2] * w[2] + hxv[2];
  f[3] = I[0] * vl[0] + wxh[0];
  f[4] = I[0] * vl[1] + wxh[1];
  f[5] = I[0] * vl[2] + wxh[2];
}

// Motion cross product v x m.
template <class T>
GPS_HD GPS_INLINE void cross_motion(const T* v, const T* m, T* out) {
  T a[3], b[3], c[3];
  cross(v, m, a);
  cross(v, m + 3, b);
  cross(v + 3, m, c);
  out[0] = a[0];
  out[1] = a[1];
  out[2] = a[2];
  out[3] = b[0] + c[0];
  out[4] = b[1] + c[1];
  out[5] = b[2] + c[2];
}

// Force cross product v x* f.
template <class T>
GPS_HD GPS_INLINE void cross_force(const T* v, const T* f, T* out) {
  T a[3], b[3], c[3];
  cross(v, f, a);
  cross(v + 3, f + 3, b);
  cross(v, f + 3, c);
  out[0] = a[0] + b[0];
  out[1] = a[1] + b[1];
  out[2] = a[2] + b[2];
  out[3] = c[0];
  out[4] = c[1];
  out[5] = c[2];
}

template <class T>
GPS_HD GPS_INLINE T dot6(const T* a, const T* b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] + a[4] * b[4] + a[5] * b[5];
}

}  // namespace detail

// World pose of every body and the joint motion subspaces at joint positions q (nv).
template <class T>
GPS_HD void forward_kinematics(const ChainModel<T>& m, const T* q, Kinematics<T>& k) {
  using detail::mat3_mul;
  using detail::mat3_vec;
  const T identity[9] = {T(1), T(0), T(0), T(0), T(1), T(0), T(0), T(0), T(1)};
  const T zero[3] = {T(0), T(0), T(0)};
  for (int i = 0; i < m.nbody; ++i) {
    const int pa = m.parent[i];
    const T* Rp = pa < 0 ? identity : k.R[pa];
    const T* pp = pa < 0 ? zero : k.p[pa];
    T Rb[9], pb[3];
    mat3_mul(Rp, m.rot[i], Rb);  // frame before the joint moves
    mat3_vec(Rp, m.pos[i], pb);
    pb[0] += pp[0];
    pb[1] += pp[1];
    pb[2] += pp[2];
    const T s = q[i] - m.qref[i];
    T* R = k.R[i];
    T* p = k.p[i];
    T* S = k.S[i];
    if (m.joint_type[i] == kRevolute) {
      T Rj[9];
      detail::axis_angle(m.axis[i], s, Rj);
      mat3_mul(Rb, Rj, R);
      // rotation about the axis through the anchor a: origin moves by a - Rj a
      T ra[3], d[3], dw[3];
      mat3_vec(Rj, m.anchor[i], ra);
      d[0] = m.anchor[i][0] - ra[0];
      d[1] = m.anchor[i][1] - ra[1];
      d[2] = m.anchor[i][2] - ra[2];
      mat3_vec(Rb, d, dw);
      p[0] = pb[0] + dw[0];
      p[1] = pb[1] + dw[1];
      p[2] = pb[2] + dw[2];
      T w[3], c[3];
      mat3_vec(R, m.axis[i], w);
      mat3_vec(R, m.anchor[i], c);
      c[0] += p[0];
      c[1] += p[1];
      c[2] += p[2];
      S[0] = w[0];
      S[1] = w[1];
      S[2] = w[2];
      detail::cross(c, w, S + 3);  // velocity of the point at the origin: c x w
    } else {
      for (int j = 0; j < 9; ++j) R[j] = Rb[j];
      T a[3];
      mat3_vec(Rb, m.axis[i], a);
      p[0] = pb[0] + a[0] * s;
      p[1] = pb[1] + a[1] * s;
      p[2] = pb[2] + a[2] * s;
      S[0] = S[1] = S[2] = T(0);
      S[3] = a[0];
      S[4] = a[1];
      S[5] = a[2];
    }
  }
}

// Spatial velocity of every body (nbody x 6) from joint velocities qd (nv).
template <class T>
GPS_HD void body_velocities(const ChainModel<T>& m, const Kinematics<T>& k, const T* qd,
                            T (*V)[6]) {
  for (int i = 0; i < m.nbody; ++i) {
    const int pa = m.parent[i];
    for (int j = 0; j < 6; ++j) V[i][j] = (pa < 0 ? T(0) : V[pa][j]) + k.S[i][j] * qd[i];
  }
}

// World position of site s.
template <class T>
GPS_HD void site_position(const ChainModel<T>& m, const Kinematics<T>& k, int s, T* x) {
  const int b = m.site_body[s];
  if (b < 0) {
    x[0] = m.site_pos[s][0];
    x[1] = m.site_pos[s][1];
    x[2] = m.site_pos[s][2];
    return;
  }
  detail::mat3_vec(k.R[b], m.site_pos[s], x);
  x[0] += k.p[b][0];
  x[1] += k.p[b][1];
  x[2] += k.p[b][2];
}

// World linear velocity xd (3) of site s at world position x (3), given body velocities.
template <class T>
GPS_HD void site_velocity(const ChainModel<T>& m, const T (*V)[6], int s, const T* x, T* xd) {
  const int b = m.site_body[s];
  if (b < 0) {
    xd[0] = xd[1] = xd[2] = T(0);
    return;
  }
  T wx[3];
  detail::cross(V[b], x, wx);  // v(x) = v_origin + w x x
  xd[0] = V[b][3] + wx[0];
  xd[1] = V[b][4] + wx[1];
  xd[2] = V[b][5] + wx[2];
}

// Translational Jacobian J (3 x nv, row-major, ld = nv) of site s at world position x.
template <class T>
GPS_HD void site_jacobian(const ChainModel<T>& m, const Kinematics<T>& k, int s, const T* x,
                          T* J) {
  const int nv = m.nbody;
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < nv; ++j) J[r * nv + j] = T(0);
  for (int b = m.site_body[s]; b >= 0; b = m.parent[b]) {
    T col[3];
    detail::cross(k.S[b], x, col);  // column = S_lin + S_ang x x
    for (int r = 0; r < 3; ++r) J[r * nv + b] = k.S[b][3 + r] + col[r];
  }
}

// Spatial inertia of every body (nbody x 10, see detail::inertia_apply), world frame.
template <class T>
GPS_HD void world_inertias(const ChainModel<T>& m, const Kinematics<T>& k, T (*I)[10]) {
  for (int i = 0; i < m.nbody; ++i) {
    const T* R = k.R[i];
    const T mass = m.mass[i];
    T c[3];
    detail::mat3_vec(R, m.com[i], c);
    c[0] += k.p[i][0];
    c[1] += k.p[i][1];
    c[2] += k.p[i][2];
    // R Ic R^T
    const T* in = m.inertia[i];
    const T Ic[9] = {in[0], in[3], in[4], in[3], in[1], in[5], in[4], in[5], in[2]};
    T RI[9], W[9];
    detail::mat3_mul(R, Ic, RI);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        W[3 * a + b] = RI[3 * a] * R[3 * b] + RI[3 * a + 1] * R[3 * b + 1] +
                       RI[3 * a + 2] * R[3 * b + 2];
    // parallel axis to the origin: + m (|c|^2 1 - c c^T)
    const T cc = detail::dot3(c, c);
    T* out = I[i];
    out[0] = mass;
    out[1] = mass * c[0];
    out[2] = mass * c[1];
    out[3] = mass * c[2];
    out[4] = W[0] + mass * (cc - c[0] * c[0]);
    out[5] = W[4] + mass * (cc - c[1] * c[1]);
    out[6] = W[8] + mass * (cc - c[2] * c[2]);
    out[7] = W[1] - mass * c[0] * c[1];
    out[8] = W[2] - mass * c[0] * c[2];
    out[9] = W[5] - mass * c[1] * c[2];
  }
}

// Joint-space inertia H (nv x nv, ld = ldh) by CRBA; consumes I (composites built in place).
template <class T>
GPS_HD void mass_matrix(const ChainModel<T>& m, const Kinematics<T>& k, T (*I)[10], T* H,
                        int ldh) {
  const int n = m.nbody;
  for (int i = n - 1; i >= 0; --i) {
    const int pa = m.parent[i];
    if (pa >= 0)
      for (int j = 0; j < 10; ++j) I[pa][j] += I[i][j];
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) H[i * ldh + j] = T(0);
  for (int i = 0; i < n; ++i) {
    T F[6];
    detail::inertia_apply(I[i], k.S[i], F);
    for (int j = i; j >= 0; j = m.parent[j]) {
      const T h = detail::dot6(k.S[j], F);
      H[i * ldh + j] = h;
      H[j * ldh + i] = h;
    }
  }
}

// Bias forces C (nv): Coriolis, centrifugal and gravity (RNEA with qdd = 0), given body
// velocities V and world inertias I (not yet turned into composites).
template <class T>
GPS_HD void bias_forces(const ChainModel<T>& m, const Kinematics<T>& k, const T* qd,
                        const T (*V)[6], const T (*I)[10], T* C) {
  const int n = m.nbody;
  T A[kMaxDof][6];
  T F[kMaxDof][6];
  for (int i = 0; i < n; ++i) {
    const int pa = m.parent[i];
    T Sq[6], c[6];
    for (int j = 0; j < 6; ++j) Sq[j] = k.S[i][j] * qd[i];
    detail::cross_motion(V[i], Sq, c);
    // gravity as a fictitious upward acceleration of the base
    for (int j = 0; j < 6; ++j) {
      const T base = j < 3 ? T(0) : -m.gravity[j - 3];
      A[i][j] = (pa < 0 ? base : A[pa][j]) + c[j];
    }
    T IA[6], IV[6], vIv[6];
    detail::inertia_apply(I[i], A[i], IA);
    detail::inertia_apply(I[i], V[i], IV);
    detail::cross_force(V[i], IV, vIv);
    for (int j = 0; j < 6; ++j) F[i][j] = IA[j] + vIv[j];
  }
  for (int i = n - 1; i >= 0; --i) {
    C[i] = detail::dot6(k.S[i], F[i]);
    const int pa = m.parent[i];
    if (pa >= 0)
      for (int j = 0; j < 6; ++j) F[pa][j] += F[i][j];
  }
}

// Joint torques (nv) from controls (nu): tau = gear * clamp(ctrl, ctrl_range).
template <class T>
GPS_HD void actuator_torques(const ChainModel<T>& m, const T* ctrl, T* tau) {
  for (int i = 0; i < m.nbody; ++i) tau[i] = T(0);
  for (int a = 0; a < m.nu; ++a) {
    T u = ctrl[a];
    if (m.ctrl_limited[a]) {
      if (u < m.ctrl_range[a][0]) u = m.ctrl_range[a][0];
      if (u > m.ctrl_range[a][1]) u = m.ctrl_range[a][1];
    }
    tau[m.actuator_dof[a]] += m.gear[a] * u;
  }
}

// Forward dynamics: qacc (nv) = (H + diag(armature + h * damping))^-1 (tau - C - D qd).
// h > 0 treats damping implicitly over a step of h (MuJoCo's Euler does the same);
// h = 0 is the plain continuous-time acceleration. Returns kNotPositiveDefinite if H is
// singular (e.g. massless bodies without armature), kNonFinite on NaN/Inf.
template <class T>
GPS_HD std::uint32_t forward_dynamics(const ChainModel<T>& m, const T* q, const T* qd,
                                      const T* tau, T h, T* qacc) {
  const int n = m.nbody;
  Kinematics<T> k;
  T V[kMaxDof][6];
  T I[kMaxDof][10];
  T H[kMaxDof * kMaxDof];
  forward_kinematics(m, q, k);
  body_velocities(m, k, qd, V);
  world_inertias(m, k, I);
  bias_forces(m, k, qd, V, I, qacc);  // qacc holds C for now
  mass_matrix(m, k, I, H, n);
  for (int i = 0; i < n; ++i) {
    H[i * n + i] += m.armature[i] + h * m.damping[i];
    qacc[i] = tau[i] - qacc[i] - m.damping[i] * qd[i];
  }
  const std::uint32_t st = la::cholesky_lower(n, H, n);
  if (st != kOk) return st;
  la::cholesky_solve(n, 1, H, n, qacc, 1);
  for (int i = 0; i < n; ++i)
    if (!is_finite(qacc[i])) return kNonFinite;
  return kOk;
}

// Kinetic + potential energy (gravity) of a state; used to check integrators.
template <class T>
GPS_HD T total_energy(const ChainModel<T>& m, const T* q, const T* qd) {
  const int n = m.nbody;
  Kinematics<T> k;
  T I[kMaxDof][10];
  T H[kMaxDof * kMaxDof];
  forward_kinematics(m, q, k);
  world_inertias(m, k, I);
  T potential = T(0);
  for (int i = 0; i < n; ++i) potential -= detail::dot3(m.gravity, I[i] + 1);  // -m g.c
  mass_matrix(m, k, I, H, n);
  T kinetic = T(0);
  for (int i = 0; i < n; ++i) {
    T row = T(0);
    for (int j = 0; j < n; ++j) row += (H[i * n + j] + (i == j ? m.armature[i] : T(0))) * qd[j];
    kinetic += qd[i] * row;
  }
  return T(0.5) * kinetic + potential;
}

// Clamps q into the joint range and stops motion into the limit (an inelastic stop; MuJoCo
// uses soft constraints instead, so trajectories that touch a limit differ from MuJoCo's).
template <class T>
GPS_HD void enforce_range(const ChainModel<T>& m, T* q, T* qd) {
  for (int i = 0; i < m.nbody; ++i) {
    if (!m.limited[i]) continue;
    if (q[i] < m.range[i][0]) {
      q[i] = m.range[i][0];
      if (qd[i] < T(0)) qd[i] = T(0);
    } else if (q[i] > m.range[i][1]) {
      q[i] = m.range[i][1];
      if (qd[i] > T(0)) qd[i] = T(0);
    }
  }
}

// One physics step of length dt with joint torques tau held constant; q, qd updated in
// place, qacc gets the (first-stage) acceleration.
//  Euler: semi-implicit (qd += dt qacc; q += dt qd), damping implicit - as MuJoCo mjINT_EULER.
//  RK4: classic 4-stage Runge-Kutta on (q, qd) - as MuJoCo mjINT_RK4.
template <class T>
GPS_HD std::uint32_t integrate(const ChainModel<T>& m, int integrator, T dt, const T* tau,
                               T* q, T* qd, T* qacc) {
  const int n = m.nbody;
  std::uint32_t st = kOk;
  if (integrator == kEuler) {
    st = forward_dynamics(m, q, qd, tau, dt, qacc);
    for (int i = 0; i < n; ++i) {
      qd[i] += dt * qacc[i];
      q[i] += dt * qd[i];
    }
    return st;
  }
  // q, qd keep the start state until the final update
  T qs[kMaxDof], vs[kMaxDof], a[kMaxDof];
  T dq[kMaxDof], dv[kMaxDof];
  st |= forward_dynamics(m, q, qd, tau, T(0), qacc);  // k1 = (qd, a1)
  for (int i = 0; i < n; ++i) {
    dq[i] = qd[i];
    dv[i] = qacc[i];
    qs[i] = q[i] + T(0.5) * dt * qd[i];
    vs[i] = qd[i] + T(0.5) * dt * qacc[i];
  }
  const T stage_scale[2] = {T(0.5), T(1)};
  for (int s = 0; s < 2; ++s) {  // k2, k3
    st |= forward_dynamics(m, qs, vs, tau, T(0), a);
    for (int i = 0; i < n; ++i) {
      dq[i] += T(2) * vs[i];
      dv[i] += T(2) * a[i];
      const T v = vs[i];
      qs[i] = q[i] + stage_scale[s] * dt * v;
      vs[i] = qd[i] + stage_scale[s] * dt * a[i];
    }
  }
  st |= forward_dynamics(m, qs, vs, tau, T(0), a);  // k4
  for (int i = 0; i < n; ++i) {
    dq[i] += vs[i];
    dv[i] += a[i];
    q[i] = q[i] + dt / T(6) * dq[i];
    qd[i] = qd[i] + dt / T(6) * dv[i];
  }
  return st;
}

// One control step of one environment: `substeps` physics steps of dt with ctrl held,
// range enforcement after each. q, qd (nv) in/out; qacc (nv) out, may be null.
template <class T>
GPS_HD std::uint32_t step_env(const ChainModel<T>& model, T dt, int substeps, int integrator,
                              int enforce_limits, T* q, T* qd, const T* ctrl, T* qacc) {
  const int n = model.nbody;
  T qe[kMaxDof], ve[kMaxDof], tau[kMaxDof], a[kMaxDof];
  for (int i = 0; i < n; ++i) {
    qe[i] = q[i];
    ve[i] = qd[i];
  }
  actuator_torques(model, ctrl, tau);
  std::uint32_t st = kOk;
  for (int s = 0; s < substeps; ++s) {
    st |= integrate(model, integrator, dt, tau, qe, ve, a);
    if (enforce_limits) enforce_range(model, qe, ve);
  }
  for (int i = 0; i < n; ++i) {
    q[i] = qe[i];
    qd[i] = ve[i];
    if (qacc) qacc[i] = a[i];
  }
  return st;
}

// One batched control step over E environments (step_env on row e).
template <class T>
struct StepBatch {
  ChainModel<T> model;
  T dt = T(0);                  // physics time step [s]
  int substeps = 1;
  int integrator = kEuler;
  int enforce_limits = 1;       // 1: clamp q into range (see enforce_range)
  T* q = nullptr;               // (E x nv)
  T* qd = nullptr;              // (E x nv)
  const T* ctrl = nullptr;      // (E x nu)
  T* qacc = nullptr;            // (E x nv) acceleration of the last substep; may be null
  std::uint32_t* status = nullptr;  // (E) OR-ed StatusBits; may be null

  GPS_HD void operator()(std::int64_t e) const {
    const int n = model.nbody;
    const std::uint32_t st = step_env(model, dt, substeps, integrator, enforce_limits, q + e * n,
                                      qd + e * n, ctrl + e * model.nu, qacc ? qacc + e * n : nullptr);
    if (status) status[e] |= st;
  }
};

// The same model in another scalar type (float, a SIMD pack, ...).
template <class To, class From>
GPS_HD ChainModel<To> convert_model(const ChainModel<From>& m) {
  ChainModel<To> c{};
  c.nbody = m.nbody;
  c.nu = m.nu;
  c.nsite = m.nsite;
  for (int i = 0; i < kMaxDof; ++i) {
    c.parent[i] = m.parent[i];
    c.joint_type[i] = m.joint_type[i];
    c.mass[i] = To(m.mass[i]);
    c.qref[i] = To(m.qref[i]);
    c.damping[i] = To(m.damping[i]);
    c.armature[i] = To(m.armature[i]);
    c.limited[i] = m.limited[i];
    c.actuator_dof[i] = m.actuator_dof[i];
    c.gear[i] = To(m.gear[i]);
    c.ctrl_limited[i] = m.ctrl_limited[i];
    for (int j = 0; j < 2; ++j) {
      c.range[i][j] = To(m.range[i][j]);
      c.ctrl_range[i][j] = To(m.ctrl_range[i][j]);
    }
    for (int j = 0; j < 3; ++j) {
      c.axis[i][j] = To(m.axis[i][j]);
      c.anchor[i][j] = To(m.anchor[i][j]);
      c.pos[i][j] = To(m.pos[i][j]);
      c.com[i][j] = To(m.com[i][j]);
    }
    for (int j = 0; j < 9; ++j) c.rot[i][j] = To(m.rot[i][j]);
    for (int j = 0; j < 6; ++j) c.inertia[i][j] = To(m.inertia[i][j]);
  }
  for (int s = 0; s < kMaxSites; ++s) {
    c.site_body[s] = m.site_body[s];
    for (int j = 0; j < 3; ++j) c.site_pos[s][j] = To(m.site_pos[s][j]);
  }
  for (int j = 0; j < 3; ++j) c.gravity[j] = To(m.gravity[j]);
  return c;
}

// Batched accelerations from joint torques: qacc = FD(q, qd, tau) for each row.
template <class T>
struct AccelBatch {
  ChainModel<T> model;
  const T* q = nullptr;         // (E x nv)
  const T* qd = nullptr;        // (E x nv)
  const T* tau = nullptr;       // (E x nv) joint torques / forces
  T* qacc = nullptr;            // (E x nv)
  std::uint32_t* status = nullptr;  // (E)

  GPS_HD void operator()(std::int64_t e) const {
    const int n = model.nbody;
    const std::uint32_t st =
        forward_dynamics(model, q + e * n, qd + e * n, tau + e * n, T(0), qacc + e * n);
    if (status) status[e] = st;
  }
};

// Batched state assembly: x (E x dX) from q, qd using a sensor list like the reference's
// (JOINT_ANGLES, JOINT_VELOCITIES, END_EFFECTOR_POINTS, END_EFFECTOR_POINT_VELOCITIES).
// Points are world positions of the sites; point velocities are the exact instantaneous
// J(q) qd. (The reference's MuJoCo agent instead differences the points over one control
// step, (p_t - p_{t-1}) / dt, with zeros at t = 0; a rollout driver that wants that
// convention differences the END_EFFECTOR_POINTS block itself.)
template <class T>
struct ObserveBatch {
  ChainModel<T> model;
  int nsensor = 0;
  int sensors[kMaxSensors];     // (nsensor) Sensor blocks in state order
  int nee = 0;
  int ee_sites[kMaxSites];      // (nee) site indices used as end-effector points
  int dX = 0;
  const T* q = nullptr;         // (E x nv)
  const T* qd = nullptr;        // (E x nv)
  T* x = nullptr;               // (E x dX)

  GPS_HD void operator()(std::int64_t e) const {
    const int n = model.nbody;
    const T* qe = q + e * n;
    const T* ve = qd + e * n;
    T* xe = x + e * dX;
    Kinematics<T> k;
    T V[kMaxDof][6];
    forward_kinematics(model, qe, k);
    body_velocities(model, k, ve, V);
    int o = 0;
    for (int s = 0; s < nsensor; ++s) {
      const int kind = sensors[s];
      if (kind == kJointAngles || kind == kJointVelocities) {
        const T* src = kind == kJointAngles ? qe : ve;
        for (int i = 0; i < n; ++i) xe[o++] = src[i];
      } else {
        for (int p = 0; p < nee; ++p) {
          T pt[3];
          site_position(model, k, ee_sites[p], pt);
          if (kind == kEndEffectorPoints) {
            xe[o] = pt[0];
            xe[o + 1] = pt[1];
            xe[o + 2] = pt[2];
          } else {
            site_velocity(model, V, ee_sites[p], pt, xe + o);
          }
          o += 3;
        }
      }
    }
  }
};

// Batched end-effector point Jacobians, as the reference's END_EFFECTOR_POINT_JACOBIANS
// (CostFK): J[e] (3 nee x nv) stacks d point_p / dq for the ee sites in order.
template <class T>
struct EeJacobianBatch {
  ChainModel<T> model;
  int nee = 0;
  int ee_sites[kMaxSites];      // (nee) site indices
  const T* q = nullptr;         // (E x nv)
  T* J = nullptr;               // (E x 3 nee x nv)

  GPS_HD void operator()(std::int64_t e) const {
    const int n = model.nbody;
    Kinematics<T> k;
    forward_kinematics(model, q + e * n, k);
    T* Je = J + e * 3 * nee * n;
    for (int p = 0; p < nee; ++p) {
      T pt[3];
      site_position(model, k, ee_sites[p], pt);
      site_jacobian(model, k, ee_sites[p], pt, Je + 3 * p * n);
    }
  }
};

// Uniform random controls in the actuator ranges ([-1, 1] where unlimited), from a
// counter-based hash: reproducible, no RNG state, same numbers on CPU and GPU.
template <class T>
struct RandomCtrlBatch {
  ChainModel<T> model;
  std::uint64_t seed = 1;
  std::uint64_t step = 0;
  T* ctrl = nullptr;            // (E x nu)

  GPS_HD static std::uint64_t mix(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  GPS_HD void operator()(std::int64_t e) const {
    for (int a = 0; a < model.nu; ++a) {
      const std::uint64_t h =
          mix(seed ^ mix(step ^ mix(static_cast<std::uint64_t>(e) * 64u + a)));
      const T u01 = T(h >> 11) * T(1.0 / 9007199254740992.0);
      const T lo = model.ctrl_limited[a] ? model.ctrl_range[a][0] : T(-1);
      const T hi = model.ctrl_limited[a] ? model.ctrl_range[a][1] : T(1);
      ctrl[e * model.nu + a] = lo + (hi - lo) * u01;
    }
  }
};

}  // namespace gpsx::rb
