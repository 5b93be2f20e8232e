#include "gpsx/host/build_info.h"

#include <Eigen/Core>

namespace gpsx {

BuildInfo build_info() {
  BuildInfo b;
  b.version = GPSX_VERSION;
  b.build_type = GPSX_BUILD_TYPE;
  b.compiler = std::string("g++ ") + __VERSION__;
  b.cuda_compiled = GPSX_HAVE_CUDA != 0;
  b.cuda_architectures = GPSX_CUDA_ARCHITECTURES;
  b.eigen_version = std::to_string(EIGEN_WORLD_VERSION) + "." +
                    std::to_string(EIGEN_MAJOR_VERSION) + "." +
                    std::to_string(EIGEN_MINOR_VERSION);
  return b;
}

}  // namespace gpsx
