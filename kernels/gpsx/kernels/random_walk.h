// A batched Gaussian random walk: the `gpsx demo` workload and the executor tests' probe.
// Item (m, n) walks T steps of size `step` in dim dimensions from the origin and writes
// its final squared distance. E[dist2] = T * dim * step^2.
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/philox.h"

namespace gpsx {

template <class T>
struct RandomWalk {
  std::uint64_t seed;
  int num_samples;  // N
  int horizon;      // T
  int dim;          // <= 8
  T step;
  T* final_dist2;   // (M x N)

  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    T pos[8] = {};
    const std::uint64_t stream = static_cast<std::uint64_t>(m * num_samples + n);
    for (int t = 0; t < horizon; ++t)
      for (int i = 0; i < dim; ++i)
        pos[i] += step * static_cast<T>(rng::normal(seed, stream,
                                                    static_cast<std::uint64_t>(t) * dim + i));
    T d2 = T(0);
    for (int i = 0; i < dim; ++i) d2 += pos[i] * pos[i];
    final_dist2[m * num_samples + n] = d2;
  }
};

}  // namespace gpsx
