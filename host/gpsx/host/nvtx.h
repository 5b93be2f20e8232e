// NVTX ranges around phases, visible in Nsight Systems. Without a profiler attached an
// NVTX push/pop costs a few ns; without the NVTX headers it compiles to nothing.
#pragma once

#if GPSX_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

namespace gpsx {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#if GPSX_HAVE_NVTX
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  ~NvtxRange() {
#if GPSX_HAVE_NVTX
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace gpsx
