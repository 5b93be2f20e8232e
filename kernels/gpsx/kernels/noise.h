// Action-noise shaping, equal to the reference's agent_utils.generate_noise applied to a
// given standard-normal draw (pitfall 17 of ../shared/reference/README.md):
//   * each action column is filtered by a Gaussian whose STANDARD DEVIATION is
//     smooth_noise_var (despite the name), kernel radius int(4 sigma + 0.5), weights
//     exp(-x^2 / (2 sigma^2)) normalised to sum 1 (scipy.ndimage.gaussian_filter);
//   * samples outside [0, T) use half-sample symmetric reflection (d c b a | a b c d |
//     d c b a), periodic with period 2T, so kernels longer than the signal work;
//   * renormalisation divides each column by sqrt of its population variance; the mean
//     is not removed.
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"

namespace gpsx::noise {

struct NoiseSettings {
  bool smooth = true;        // smooth_noise
  double sigma = 2.0;        // smooth_noise_var (used as the standard deviation)
  bool renormalize = true;   // smooth_noise_renormalize
};

// Kernel radius of scipy's gaussian_filter with truncate = 4.
GPS_HD GPS_INLINE int gaussian_radius(double sigma) {
  return static_cast<int>(4.0 * sigma + 0.5);
}

// Scratch elements generate_noise needs: one column (T) + half kernel (radius + 1).
GPS_HD GPS_INLINE int noise_scratch_size(int T, const NoiseSettings& s) {
  return s.smooth ? T + gaussian_radius(s.sigma) + 1 : 0;
}

// Index into [0, n) for a signal extended by half-sample symmetric reflection.
GPS_HD GPS_INLINE int reflect_index(int i, int n) {
  if (i >= 0 && i < n) return i;
  const int period = 2 * n;
  int r = i % period;
  if (r < 0) r += period;
  return r < n ? r : period - 1 - r;
}

// w[0..radius]: one half of the normalised symmetric kernel (w[j] weights offset +-j).
template <class T>
GPS_HD void gaussian_half_kernel(T sigma, int radius, T* w) {
  using std::exp;
  const T scale = T(-0.5) / (sigma * sigma);
  T total = T(0);
  for (int j = 0; j <= radius; ++j) {
    w[j] = exp(scale * T(j) * T(j));
    total += (j == 0) ? w[j] : T(2) * w[j];
  }
  for (int j = 0; j <= radius; ++j) w[j] /= total;
}

// Shapes `noise` (T x dU, row-major, time first) in place. Returns kNonFinite when a
// renormalised column has zero or non-finite variance (e.g. T == 1).
template <class T>
GPS_HD std::uint32_t generate_noise(int steps, int dU, const NoiseSettings& s,
                                    T* noise,      // (T x dU) in: raw N(0,1); out: shaped
                                    T* scratch) {  // (noise_scratch_size(T, s))
  using std::sqrt;
  if (!s.smooth) return kOk;
  const int radius = gaussian_radius(s.sigma);
  T* column = scratch;         // (T)
  T* w = scratch + steps;      // (radius + 1)
  gaussian_half_kernel(static_cast<T>(s.sigma), radius, w);
  std::uint32_t status = kOk;
  for (int i = 0; i < dU; ++i) {
    for (int t = 0; t < steps; ++t) column[t] = noise[t * dU + i];
    for (int t = 0; t < steps; ++t) {
      T acc = w[0] * column[t];
      if (t >= radius && t + radius < steps) {  // interior: no reflection needed
        for (int j = 1; j <= radius; ++j) acc += w[j] * (column[t - j] + column[t + j]);
      } else {
        for (int j = 1; j <= radius; ++j)
          acc += w[j] * (column[reflect_index(t - j, steps)] + column[reflect_index(t + j, steps)]);
      }
      noise[t * dU + i] = acc;
    }
    if (!s.renormalize) continue;
    T mean = T(0);
    for (int t = 0; t < steps; ++t) mean += noise[t * dU + i];
    mean /= T(steps);
    T var = T(0);
    for (int t = 0; t < steps; ++t) {
      const T c = noise[t * dU + i] - mean;
      var += c * c;
    }
    var /= T(steps);
    if (!(var > T(0)) || !is_finite(var)) status |= kNonFinite;
    const T std_dev = sqrt(var);
    for (int t = 0; t < steps; ++t) noise[t * dU + i] /= std_dev;
  }
  return status;
}

// generate_noise over a batch of B independent (T x dU) draws; for_each over b.
template <class T>
struct ShapeNoiseBatch {
  int steps, dU;
  NoiseSettings settings;
  T* noise;               // (B x T x dU) in/out
  T* scratch;             // (B x noise_scratch_size)
  std::uint32_t* status;  // (B)

  GPS_HD void operator()(std::int64_t b) const {
    status[b] = generate_noise(steps, dU, settings, noise + b * steps * dU,
                               scratch + b * noise_scratch_size(steps, settings));
  }
};

}  // namespace gpsx::noise
