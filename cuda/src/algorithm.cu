// CUDA instantiations of the algorithm layer's per-condition steps
// (kernels/gpsx/kernels/algorithm.h).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/algorithm.h"

GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::SumOverTimeFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::MeanSampleCostFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::StepAdjustFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::SaveRowFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::ForgetEstimateFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::algo::KeepFailedControllerFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::algo::FinalDistanceFn)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::algo::SampleStatsFn)
