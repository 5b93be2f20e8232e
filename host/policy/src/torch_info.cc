#include "gpsx/policy/torch_info.h"

#include <torch/torch.h>

namespace gpsx::policy {

std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
         "." + std::to_string(TORCH_VERSION_PATCH);
}

bool torch_cuda_available() { return torch::cuda::is_available(); }

int torch_threads() { return at::get_num_threads(); }

}  // namespace gpsx::policy
