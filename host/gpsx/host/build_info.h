// How this gpsx was built (for `gpsx version` and benchmark records).
#pragma once

#include <string>

namespace gpsx {

struct BuildInfo {
  std::string version;
  std::string build_type;
  std::string compiler;
  bool cuda_compiled;
  std::string cuda_architectures;  // e.g. "90"; empty without CUDA
  std::string eigen_version;
};
BuildInfo build_info();

}  // namespace gpsx
