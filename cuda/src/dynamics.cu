// CUDA launchers for the dynamics-fit and GMM kernels (same functors as the CPU executor).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/gmm.h"

GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitLrStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitPriorStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::InitialStateStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::ClusterFactorStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitLrStep<float>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitPriorStep<float>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::InitialStateStep<float>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::ClusterFactorStep<float>)
