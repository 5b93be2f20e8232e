// CUDA instantiations of noise shaping and batched rollouts (kernels/gpsx/kernels/
// noise.h, sampling.h). Each dynamics functor used with sample_lin_gauss on the CUDA
// executor needs its rollout instantiated here.
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/noise.h"
#include "gpsx/kernels/sampling.h"

using ShapeNoiseD = gpsx::noise::ShapeNoiseBatch<double>;
using RolloutLinearD =
    gpsx::sampling::RolloutLinGauss<double, gpsx::sampling::LinearGaussianSystem<double>>;
using RolloutLinearF =
    gpsx::sampling::RolloutLinGauss<float, gpsx::sampling::LinearGaussianSystem<float>>;
GPSX_CUDA_INSTANTIATE_FOR_EACH(ShapeNoiseD)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(RolloutLinearD)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(RolloutLinearF)
