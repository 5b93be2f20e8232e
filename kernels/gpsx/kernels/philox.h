// Philox4x32-10 counter-based generator (Salmon et al., SC'11; the Random123 algorithm):
// a pure function of (counter, key), so every (condition, sample, step) draws its own
// numbers with no shared state — identical results on any thread count or device.
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"

namespace gpsx::rng {

struct Philox4x32 {
  std::uint32_t v[4];
};

GPS_HD GPS_INLINE void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t* hi,
                                 std::uint32_t* lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  *lo = static_cast<std::uint32_t>(p);
}

// Ten rounds of Philox4x32 on `ctr` with the 64-bit key (k0, k1).
GPS_HD GPS_INLINE Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(kMul0, ctr.v[0], &hi0, &lo0);
    mulhilo32(kMul1, ctr.v[2], &hi1, &lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return ctr;
}

// Two standard normals from one Philox block (53-bit uniforms, Box-Muller).
template <class T>
GPS_HD GPS_INLINE void normal_pair(const Philox4x32& r, T* z0, T* z1) {
  using std::cos;
  using std::log;
  using std::sin;
  using std::sqrt;
  constexpr double kInv53 = 1.0 / 9007199254740992.0;  // 2^-53
  const std::uint64_t a = ((static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1]) >> 11;
  const std::uint64_t b = ((static_cast<std::uint64_t>(r.v[2]) << 32) | r.v[3]) >> 11;
  const double u1 = (static_cast<double>(a) + 1.0) * kInv53;  // (0, 1]: log never sees 0
  const double u2 = static_cast<double>(b) * kInv53;          // [0, 1)
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  *z0 = static_cast<T>(radius * cos(angle));
  *z1 = static_cast<T>(radius * sin(angle));
}

// Fills out[0..count) with standard normals drawn from counters
// (first_block + j, c1, c2, c3), key = seed; block j gives out[2j], out[2j+1].
template <class T>
GPS_HD void fill_normal(std::uint64_t seed, std::uint32_t first_block, std::uint32_t c1,
                        std::uint32_t c2, std::uint32_t c3, int count, T* out) {
  const std::uint32_t k0 = static_cast<std::uint32_t>(seed);
  const std::uint32_t k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int j = 0; 2 * j < count; ++j) {
    const Philox4x32 r = philox4x32_10(
        Philox4x32{{first_block + static_cast<std::uint32_t>(j), c1, c2, c3}}, k0, k1);
    T z0, z1;
    normal_pair(r, &z0, &z1);
    out[2 * j] = z0;
    if (2 * j + 1 < count) out[2 * j + 1] = z1;
  }
}

}  // namespace gpsx::rng
