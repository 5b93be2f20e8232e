// GPS_HD functors used by the executor tests on the CPU and on the GPU (same code).
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/philox.h"

namespace gpsx::test {

// out[i] = a non-trivial function of i and of Philox draws (transcendentals, branches).
struct MixFunctor {
  std::uint64_t seed;
  double* out;                // (n)
  std::uint32_t* raw;         // (n x 4) raw Philox words of block i

  GPS_HD void operator()(std::int64_t i) const {
    using std::exp;
    using std::sin;
    const rng::Philox4x32 r = rng::random_block(seed, 7, static_cast<std::uint64_t>(i));
    for (int k = 0; k < 4; ++k) raw[4 * i + k] = r.v[k];
    const double z = rng::normal(seed, 3, static_cast<std::uint64_t>(i));
    const double x = static_cast<double>(i) * 1e-3;
    out[i] = (i % 3 == 0) ? sin(x) * z : exp(-x) + z * z;
  }
};

}  // namespace gpsx::test
