// Batched sampling of linear-Gaussian controllers: one (condition, sample) rollout per
// work item, u_t = K_t x_t + k_t + C_t^T n_t with n shaped by noise::generate_noise from
// Philox normals, clamped to the torque limits, x_{t+1} from a dynamics functor.
//
// Random numbers (rng::random_block): key = seed, Philox stream = (stream, condition m),
// block = (sample n, block within the sample). Action noise uses blocks
// [0, ceil(T dU / 2)); dynamics use blocks from kDynamicsBlock. Each rollout depends
// only on (seed, stream, m, n), never on the thread that runs it.
//
// A dynamics functor provides
//   GPS_HD int scratch_size() const;
//   GPS_HD std::uint32_t operator()(std::int64_t m, std::int64_t n, int t, const T* x,
//                                   const T* u, T* x_next, T* scratch) const;
// (the rigid-arm simulator plugs in through an adapter with this shape).
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/lin_gauss.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/noise.h"
#include "gpsx/kernels/philox.h"

namespace gpsx::sampling {

constexpr std::uint32_t kDynamicsBlock = 1u << 30;

GPS_HD GPS_INLINE std::uint64_t noise_stream(std::int64_t m, std::uint32_t stream) {
  return (static_cast<std::uint64_t>(stream) << 32) | static_cast<std::uint32_t>(m);
}
GPS_HD GPS_INLINE std::uint64_t noise_block(std::int64_t n, std::uint32_t block) {
  return (static_cast<std::uint64_t>(n) << 32) | block;
}

// x' = F_t [x; u] + f_t + C_t^T w, w ~ N(0, I) (C upper, null: deterministic), per
// condition (or one plant for all conditions). Test system for sampling statistics and
// benchmarks.
template <class T>
struct LinearGaussianSystem {
  int steps, dX, dU;
  const T* F;            // (M x T x dX x dXU), (T x dX x dXU) when shared
  const T* f;            // (M x T x dX), (T x dX) when shared
  const T* noise_chol;   // (M x T x dX x dX) upper, (T x dX x dX) when shared, or null
  std::uint64_t seed;
  std::uint32_t stream;
  bool shared = false;   // one plant for every condition

  GPS_HD int scratch_size() const { return noise_chol ? dX : 0; }

  GPS_HD std::uint32_t operator()(std::int64_t m, std::int64_t n, int t, const T* x, const T* u,
                                  T* x_next, T* scratch) const {
    const int dxu = dX + dU;
    const std::int64_t mt = shared ? t : m * steps + t;
    const T* Ft = F + mt * dX * dxu;
    const T* ft = f + mt * dX;
    for (int i = 0; i < dX; ++i)
      x_next[i] = la::dot_split4(dX, Ft + i * dxu, x) +
                  la::dot_split4(dU, Ft + i * dxu + dX, u) + ft[i];
    if (noise_chol) {
      const std::uint32_t blocks_per_step = static_cast<std::uint32_t>((dX + 1) / 2);
      rng::fill_normal(seed, noise_stream(m, stream),
                       noise_block(n, kDynamicsBlock + static_cast<std::uint32_t>(t) *
                                                          blocks_per_step),
                       dX, scratch);
      const T* C = noise_chol + mt * dX * dX;
      for (int i = 0; i < dX; ++i)
        for (int j = 0; j < dX; ++j) x_next[i] += C[j * dX + i] * scratch[j];
    }
    return kOk;
  }
};

// One rollout per (m, n); for_each_2d over (M, N).
template <class T, class Dynamics>
struct RolloutLinGauss {
  int samples, steps, dX, dU;
  const T* x0;              // (M x dX) initial state of each condition
  const T* K;               // (M x T x dU x dX)
  const T* k;               // (M x T x dU)
  const T* chol_pol_covar;  // (M x T x dU x dU) upper
  const T* u_min;           // (dU) torque limits, or null
  const T* u_max;           // (dU) or null
  noise::NoiseSettings noise;
  std::uint64_t seed;
  std::uint32_t stream;
  Dynamics dynamics;
  T* X;                     // (M x N x T x dX)
  T* U;                     // (M x N x T x dU)
  T* scratch;               // (M x N x scratch_size())
  std::uint32_t* status;    // (M x N)

  GPS_HD int scratch_size() const {
    return noise::noise_scratch_size(steps, noise) + dU + dynamics.scratch_size();
  }

  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    const std::int64_t mn = m * samples + n;
    T* Xs = X + mn * steps * dX;  // (T x dX)
    T* Us = U + mn * steps * dU;  // (T x dU): holds the shaped noise until step t overwrites it
    T* noise_scratch = scratch + mn * scratch_size();
    T* n_t = noise_scratch + noise::noise_scratch_size(steps, noise);  // (dU)
    T* dyn_scratch = n_t + dU;
    rng::fill_normal(seed, noise_stream(m, stream), noise_block(n, 0u), steps * dU, Us);
    std::uint32_t st = noise::generate_noise(steps, dU, noise, Us, noise_scratch);
    for (int i = 0; i < dX; ++i) Xs[i] = x0[m * dX + i];
    for (int t = 0; t < steps; ++t) {
      const std::int64_t mt = m * steps + t;
      T* x = Xs + t * dX;
      T* u = Us + t * dU;
      for (int i = 0; i < dU; ++i) n_t[i] = u[i];
      lingauss::act(dX, dU, K + mt * dU * dX, k + mt * dU, chol_pol_covar + mt * dU * dU, x,
                    n_t, u_min, u_max, u);
      if (t + 1 == steps) break;
      T* x_next = x + dX;
      st |= dynamics(m, n, t, x, u, x_next, dyn_scratch);
      for (int i = 0; i < dX; ++i)
        if (!is_finite(x_next[i])) st |= kNonFinite;
    }
    status[mn] = st;
  }
};

}  // namespace gpsx::sampling
