// CUDA instantiations of linear-Gaussian sampling on the rigid-arm simulator
// (kernels/gpsx/kernels/sim_sampling.h): the same rollout, step and assembly code as on
// the CPU. Jacobians of the samples use rb::EeJacobianBatch (rigid_body.cu).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/sampling.h"
#include "gpsx/kernels/sim_sampling.h"

using RolloutArmD = gpsx::sampling::RolloutLinGauss<double, gpsx::rb::ArmDynamics<double>>;
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(RolloutArmD)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::ObserveSamples<double>)
