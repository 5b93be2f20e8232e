// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random
// numbers: as easy as 1, 2, 3"). The output is a pure function of (key, counter), so a
// seed gives the same stream on any executor and any thread count: item i of a batch
// draws from counter i, never from a shared state.
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"

namespace gpsx::rng {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace detail {
constexpr std::uint32_t kMul0 = 0xD2511F53u;
constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

GPS_HD GPS_INLINE void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi,
                               std::uint32_t* lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  *lo = static_cast<std::uint32_t>(p);
}
}  // namespace detail

// The raw block function: 10 rounds on a 128-bit counter with a 64-bit key.
GPS_HD GPS_INLINE Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t key0,
                                           std::uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += detail::kWeyl0;
      key1 += detail::kWeyl1;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    detail::mulhilo(detail::kMul0, ctr.v[0], &hi0, &lo0);
    detail::mulhilo(detail::kMul1, ctr.v[2], &hi1, &lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
  }
  return ctr;
}

// Block `index` of stream `stream` under `seed`: counter = (index, stream), key = seed.
GPS_HD GPS_INLINE Philox4x32 random_block(std::uint64_t seed, std::uint64_t stream,
                                          std::uint64_t index) {
  const Philox4x32 ctr{{static_cast<std::uint32_t>(index),
                        static_cast<std::uint32_t>(index >> 32),
                        static_cast<std::uint32_t>(stream),
                        static_cast<std::uint32_t>(stream >> 32)}};
  return philox4x32_10(ctr, static_cast<std::uint32_t>(seed),
                       static_cast<std::uint32_t>(seed >> 32));
}

// A double in the open interval (0, 1) from 52 random bits of two words: the grid
// (k + 1/2) 2^-52 is exactly representable, so neither 0 nor 1 can come out.
GPS_HD GPS_INLINE double uniform_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 20) ^ (lo >> 12);
  return (static_cast<double>(bits) + 0.5) * 0x1p-52;
}

// Two independent N(0, 1) draws from block `index` (Box-Muller). The integer stream is
// bit-identical on every executor; the normals agree to the last-ulp accuracy of each
// platform's log/sin/cos (CUDA's double versions are within 1-2 ulp of glibc's).
GPS_HD GPS_INLINE void normal_pair(std::uint64_t seed, std::uint64_t stream,
                                   std::uint64_t index, double* z0, double* z1) {
  using std::cos;
  using std::log;
  using std::sin;
  using std::sqrt;
  const Philox4x32 r = random_block(seed, stream, index);
  const double u1 = uniform_open(r.v[0], r.v[1]);
  const double u2 = uniform_open(r.v[2], r.v[3]);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925 * u2;
  *z0 = radius * cos(angle);
  *z1 = radius * sin(angle);
}

// The i-th N(0, 1) number of a stream (pairs share a block: i and i^1).
GPS_HD GPS_INLINE double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  double z0, z1;
  normal_pair(seed, stream, i >> 1, &z0, &z1);
  return (i & 1) ? z1 : z0;
}

// out[0..count) = N(0, 1) draws from blocks first_block, first_block + 1, ... of a
// stream (block j gives out[2j] and out[2j + 1]).
template <class T>
GPS_HD void fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block,
                        int count, T* out) {
  for (int j = 0; 2 * j < count; ++j) {
    double z0, z1;
    normal_pair(seed, stream, first_block + static_cast<std::uint64_t>(j), &z0, &z1);
    out[2 * j] = static_cast<T>(z0);
    if (2 * j + 1 < count) out[2 * j + 1] = static_cast<T>(z1);
  }
}

}  // namespace gpsx::rng
