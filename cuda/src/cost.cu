// CUDA instantiations of the cost functors (kernels/gpsx/kernels/cost.h).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/cost.h"

using EvalCostD = gpsx::cost::EvalCost<double>;
using EvalCostF = gpsx::cost::EvalCost<float>;
using SampleExpansionD = gpsx::cost::SampleExpansion<double>;
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(EvalCostD)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(EvalCostF)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(SampleExpansionD)
