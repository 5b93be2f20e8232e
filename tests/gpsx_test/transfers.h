// Host<->device bytes that the CUDA memory layer has copied so far (0 in a build without
// CUDA): a gpu test reads it around a phase to assert that only scalars crossed.
#pragma once

#include <cstdint>

#include "gpsx/cuda/runtime.h"

namespace gpsx::test {

inline std::uint64_t transferred_bytes() {
#if GPSX_HAVE_CUDA
  return cuda::transfer_bytes().total();
#else
  return 0;
#endif
}

}  // namespace gpsx::test
