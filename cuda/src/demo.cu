// CUDA instantiations of the demo / executor-probe functor.
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/random_walk.h"

GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::RandomWalk<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::RandomWalk<float>)
