// Philox4x32-10 counter-based generator (Salmon et al., SC'11; Random123). Stateless:
// the same (counter, key) gives the same four words on the CPU and the GPU, so every
// random draw is addressed by indices (condition, call, item) instead of a shared
// stream. Checked against Random123's published known-answer vectors.
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"

namespace gpsx::philox {

struct Words4 {
  std::uint32_t v[4];
};

GPS_HD GPS_INLINE void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t* hi,
                                 std::uint32_t* lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  *lo = static_cast<std::uint32_t>(p);
}

// Philox4x32 with 10 rounds on counter c and key (k0, k1).
GPS_HD inline Words4 philox4x32_10(Words4 c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(kM0, c.v[0], &hi0, &lo0);
    mulhilo32(kM1, c.v[2], &hi1, &lo1);
    const Words4 next{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    c = next;
  }
  return c;
}

// Uniform integer in [0, n) from one 32-bit word (multiply-shift; the bias is below
// n / 2^32, negligible for the small n used here).
GPS_HD GPS_INLINE std::uint32_t uniform_index(std::uint32_t word, std::uint32_t n) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(word) * n) >> 32);
}

// Word `i` of the stream addressed by (seed, stream): counter = (i / 4, stream lo, stream
// hi, 0), key = seed.
GPS_HD inline std::uint32_t word(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const Words4 c{{static_cast<std::uint32_t>(i >> 2), static_cast<std::uint32_t>(stream),
                  static_cast<std::uint32_t>(stream >> 32), static_cast<std::uint32_t>(i >> 34)}};
  return philox4x32_10(c, static_cast<std::uint32_t>(seed),
                       static_cast<std::uint32_t>(seed >> 32))
      .v[i & 3];
}

}  // namespace gpsx::philox
