// CUDA launchers for the dynamics-fit and GMM kernels (same functors as the CPU executor).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/gmm.h"

#define GPSX_DYNAMICS_INSTANTIATE(T)                                  \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitLrStep<T>)          \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::PriorWeightsStep<T>)   \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::CenteredMomentStep<T>) \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitPriorStep<T>)       \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::InitialStateStep<T>)      \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::ClusterFactorStep<T>)

GPSX_DYNAMICS_INSTANTIATE(double)
GPSX_DYNAMICS_INSTANTIATE(float)
