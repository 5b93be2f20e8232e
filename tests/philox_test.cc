// Philox4x32-10 against Random123's published known-answer vectors (kat_vectors).
#include "gpsx/kernels/philox.h"

#include <gtest/gtest.h>

namespace gpsx {
namespace {

struct Kat {
  std::uint32_t ctr[4], key[2], out[4];
};

TEST(Philox, Random123KnownAnswers) {
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const philox::Words4 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    const philox::Words4 r = philox::philox4x32_10(c, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]) << "word " << i;
  }
}

TEST(Philox, WordAddressing) {
  // word(seed, stream, i) is lane i % 4 of the block with counter (i / 4, stream, 0).
  const philox::Words4 c{{1, 5, 0, 0}};
  const philox::Words4 r = philox::philox4x32_10(c, 9, 0);
  for (int lane = 0; lane < 4; ++lane) EXPECT_EQ(philox::word(9, 5, 4 + lane), r.v[lane]);
  EXPECT_EQ(philox::uniform_index(0xffffffffu, 7), 6u);
  EXPECT_EQ(philox::uniform_index(0u, 7), 0u);
}

}  // namespace
}  // namespace gpsx
