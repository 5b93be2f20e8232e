// LibTorch facts for `gpsx version` (the policy library is the only one linking Torch).
#pragma once

#include <string>

namespace gpsx::policy {

std::string torch_version();      // e.g. "1.13.1"
bool torch_cuda_available();      // Torch built with CUDA and a GPU present
int torch_threads();              // at::get_num_threads()

}  // namespace gpsx::policy
