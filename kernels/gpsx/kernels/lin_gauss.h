// Time-varying linear-Gaussian controllers p(u|x) = N(K_t x + k_t, pol_covar_t) and the
// reference's initialisations (cbfinn/gps lin_gauss_init.py: init_lqr, init_pd).
//
// Per condition: K (T x dU x dX), k (T x dU), pol_covar, chol_pol_covar (UPPER factor C,
// C^T C = pol_covar), inv_pol_covar (T x dU x dU each).
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"

namespace gpsx::lingauss {

// Pointers to one condition's controller (or, offset by m, to condition m of a batch).
template <class T>
struct Controller {
  T* K;               // (T x dU x dX)
  T* k;               // (T x dU)
  T* pol_covar;       // (T x dU x dU)
  T* chol_pol_covar;  // (T x dU x dU) upper
  T* inv_pol_covar;   // (T x dU x dU)
};

// init_lqr hyperparameters (reference defaults). gains / acc are per action dimension.
template <class T>
struct LqrInitSettings {
  T init_var = T(1);
  T stiffness = T(1);
  T stiffness_vel = T(0.5);
  T final_weight = T(1);
  T dt = T(0.05);
};

GPS_HD GPS_INLINE int init_lqr_scratch_size(int dX, int dU) {
  const int dxu = dX + dU;
  return 2 * dX * dxu + 3 * dX + 3 * dxu + dX * dX + dxu * dxu + dU * dU;
}

// Controller that holds x0 under guessed dynamics (pitfall 18: the state starts with dU
// joint positions then dU joint velocities). Guess dynamics x' = Fd [x; u] + fc,
//   Fd = [[I, dt I, 0, dt^2 diag(g)], [0, I, 0, dt diag(g)], [0, 0, 0, 0]],
//   fc = [acc dt^2; acc dt; 0],
// cost 0.5 (y - y0)^T Ltt (y - y0), Ltt = diag([stiffness, stiffness*stiffness_vel, 0,
// 1]) / init_var, y0 = [x0; 0], final step times final_weight; then an LQR backward pass
// with pol_covar = Quu^-1, inv_pol_covar = Quu. Needs dX >= 2 dU.
template <class T>
GPS_HD std::uint32_t init_lqr(int steps, int dX, int dU, const LqrInitSettings<T>& s,
                              const T* x0,     // (dX)
                              const T* gains,  // (dU) init_gains
                              const T* acc,    // (dU) init_acc
                              Controller<T> out, T* scratch) {
  if (dX < 2 * dU || dU <= 0 || steps <= 0) return kInvalidArgument;
  const int dxu = dX + dU;
  T* Fd = scratch;              // (dX x dXU)
  T* fc = Fd + dX * dxu;        // (dX)
  T* ltt = fc + dX;             // (dXU) diagonal of Ltt
  T* lt = ltt + dxu;            // (dXU)
  T* Vxx = lt + dxu;            // (dX x dX)
  T* vx = Vxx + dX * dX;        // (dX)
  T* Qtt = vx + dX;             // (dXU x dXU)
  T* qt = Qtt + dxu * dxu;      // (dXU)
  T* VF = qt + dxu;             // (dX x dXU) Vxx Fd
  T* vnext = VF + dX * dxu;     // (dX) vx + Vxx fc
  T* L = vnext + dX;            // (dU x dU) Cholesky factors

  la::fill(dX, dxu, T(0), Fd, dxu);
  const T dt2 = s.dt * s.dt;
  for (int i = 0; i < dU; ++i) {
    Fd[i * dxu + i] = T(1);
    Fd[i * dxu + dU + i] = s.dt;
    Fd[i * dxu + dX + i] = dt2 * gains[i];
    Fd[(dU + i) * dxu + dU + i] = T(1);
    Fd[(dU + i) * dxu + dX + i] = s.dt * gains[i];
    fc[i] = acc[i] * dt2;
    fc[dU + i] = acc[i] * s.dt;
  }
  for (int i = 2 * dU; i < dX; ++i) fc[i] = T(0);
  for (int i = 0; i < dxu; ++i) {
    T diag = T(0);
    if (i < dU) diag = s.stiffness;
    else if (i < 2 * dU) diag = s.stiffness * s.stiffness_vel;
    else if (i >= dX) diag = T(1);
    ltt[i] = diag / s.init_var;
    lt[i] = -(ltt[i] * (i < dX ? x0[i] : T(0)));
  }
  la::fill(dX, dX, T(0), Vxx, dX);
  for (int i = 0; i < dX; ++i) vx[i] = T(0);

  for (int t = steps - 1; t >= 0; --t) {
    const T w = (t == steps - 1) ? s.final_weight : T(1);
    // Qtt = w Ltt + Fd^T Vxx Fd,  qt = w lt + Fd^T (vx + Vxx fc)
    la::gemm(false, false, dX, dxu, dX, T(1), Vxx, dX, Fd, dxu, T(0), VF, dxu);
    la::gemm(true, false, dxu, dxu, dX, T(1), Fd, dxu, VF, dxu, T(0), Qtt, dxu);
    for (int i = 0; i < dxu; ++i) Qtt[i * dxu + i] += w * ltt[i];
    for (int i = 0; i < dX; ++i) vnext[i] = vx[i];
    la::gemv(false, dX, dX, T(1), Vxx, dX, fc, T(1), vnext);
    la::gemv(true, dxu, dX, T(1), Fd, dxu, vnext, T(0), qt);
    for (int i = 0; i < dxu; ++i) qt[i] += w * lt[i];

    const T* Quu = Qtt + dX * dxu + dX;
    T* K = out.K + t * dU * dX;
    T* k = out.k + t * dU;
    T* covar = out.pol_covar + t * dU * dU;
    T* chol = out.chol_pol_covar + t * dU * dU;
    T* inv = out.inv_pol_covar + t * dU * dU;
    la::copy(dU, dU, Quu, dxu, inv, dU);
    la::copy(dU, dU, Quu, dxu, L, dU);
    if (la::cholesky_lower(dU, L, dU) != kOk) return kNotPositiveDefinite;
    la::cholesky_inverse(dU, L, dU, covar, dU);
    // K = -Quu^-1 Qux, k = -Quu^-1 qu
    la::copy(dU, dX, Qtt + dX * dxu, dxu, K, dX);
    la::cholesky_solve(dU, dX, L, dU, K, dX);
    for (int i = 0; i < dU; ++i) k[i] = qt[dX + i];
    la::cholesky_solve(dU, 1, L, dU, k, 1);
    for (int i = 0; i < dU * dX; ++i) K[i] = -K[i];
    for (int i = 0; i < dU; ++i) k[i] = -k[i];
    // upper factor of pol_covar
    la::copy(dU, dU, covar, dU, L, dU);
    if (la::cholesky_lower(dU, L, dU) != kOk) return kNotPositiveDefinite;
    la::transpose(dU, dU, L, dU, chol, dU);
    // Vxx = Qxx + Qxu K, vx = qx + Qxu k (then symmetrised)
    la::copy(dX, dX, Qtt, dxu, Vxx, dX);
    la::gemm(false, false, dX, dX, dU, T(1), Qtt + dX, dxu, K, dX, T(1), Vxx, dX);
    for (int i = 0; i < dX; ++i) vx[i] = qt[i];
    la::gemv(false, dX, dU, T(1), Qtt + dX, dxu, k, T(1), vx);
    la::symmetrize(dX, Vxx, dX);
  }
  return kOk;
}

// init_pd hyperparameters (reference defaults).
template <class T>
struct PdInitSettings {
  T init_var = T(10);
  T pos_gains = T(10);
  T vel_gains_mult = T(0.01);
};

// PD controller around x0: K = -pos_gains [I, vel_gains_mult I, 0], k = -K x0,
// pol_covar = init_var I. Only the reference's dU >= dQ branch exists (pitfall 18); it
// needs dX >= 2 dU.
template <class T>
GPS_HD std::uint32_t init_pd(int steps, int dX, int dU, int dQ, const PdInitSettings<T>& s,
                             const T* x0,  // (dX)
                             Controller<T> out) {
  using std::sqrt;
  if (dU < dQ || dX < 2 * dU || dU <= 0) return kInvalidArgument;
  const T neg_gain = -s.pos_gains;
  for (int t = 0; t < steps; ++t) {
    T* K = out.K + t * dU * dX;
    T* k = out.k + t * dU;
    for (int i = 0; i < dU; ++i) {
      for (int j = 0; j < dX; ++j) {
        T v = T(0);
        if (j == i) v = T(1);
        else if (j == dU + i) v = s.vel_gains_mult;
        K[i * dX + j] = neg_gain * v;
      }
      T acc = T(0);
      for (int j = 0; j < dX; ++j) acc += K[i * dX + j] * x0[j];
      k[i] = -acc;
      for (int j = 0; j < dU; ++j) {
        const bool diag = (i == j);
        out.pol_covar[(t * dU + i) * dU + j] = diag ? s.init_var : T(0);
        out.chol_pol_covar[(t * dU + i) * dU + j] = diag ? sqrt(s.init_var) : T(0);
        out.inv_pol_covar[(t * dU + i) * dU + j] = diag ? T(1) / s.init_var : T(0);
      }
    }
  }
  return kOk;
}

// u = K_t x + k_t + C_t^T n (C upper, n ~ N(0, I)), clamped to [u_min, u_max] when given.
// u must not alias x or n.
template <class T>
GPS_HD void act(int dX, int dU, const T* K, const T* k, const T* chol, const T* x,
                const T* n, const T* u_min, const T* u_max, T* u) {
  for (int i = 0; i < dU; ++i) {
    T noise = T(0);
    for (int j = 0; j < dU; ++j) noise += chol[j * dU + i] * n[j];  // (C^T)_ij = C_ji
    T v = la::dot_split4(dX, K + i * dX, x) + k[i] + noise;
    if (u_min && v < u_min[i]) v = u_min[i];
    if (u_max && v > u_max[i]) v = u_max[i];
    u[i] = v;
  }
}

// Batched initialisation over M conditions (for_each over m).

template <class T>
struct BatchController {
  T* K;               // (M x T x dU x dX)
  T* k;               // (M x T x dU)
  T* pol_covar;       // (M x T x dU x dU)
  T* chol_pol_covar;  // (M x T x dU x dU)
  T* inv_pol_covar;   // (M x T x dU x dU)

  GPS_HD Controller<T> at(std::int64_t m, int steps, int dX, int dU) const {
    const std::int64_t uu = static_cast<std::int64_t>(steps) * dU * dU;
    return Controller<T>{K + m * steps * dU * dX, k + m * steps * dU, pol_covar + m * uu,
                         chol_pol_covar + m * uu, inv_pol_covar + m * uu};
  }
};

template <class T>
struct InitLqrBatch {
  int steps, dX, dU;
  LqrInitSettings<T> settings;
  const T* x0;     // (M x dX)
  const T* gains;  // (dU)
  const T* acc;    // (dU)
  BatchController<T> out;
  T* scratch;              // (M x init_lqr_scratch_size)
  std::uint32_t* status;   // (M)

  GPS_HD void operator()(std::int64_t m) const {
    status[m] = init_lqr(steps, dX, dU, settings, x0 + m * dX, gains, acc,
                         out.at(m, steps, dX, dU),
                         scratch + m * init_lqr_scratch_size(dX, dU));
  }
};

template <class T>
struct InitPdBatch {
  int steps, dX, dU, dQ;
  PdInitSettings<T> settings;
  const T* x0;  // (M x dX)
  BatchController<T> out;
  std::uint32_t* status;  // (M)

  GPS_HD void operator()(std::int64_t m) const {
    status[m] = init_pd(steps, dX, dU, dQ, settings, x0 + m * dX, out.at(m, steps, dX, dU));
  }
};

}  // namespace gpsx::lingauss
