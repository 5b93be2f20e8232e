// CUDA instantiations of the controller initialisations (kernels/gpsx/kernels/lin_gauss.h).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/lin_gauss.h"

using InitLqrD = gpsx::lingauss::InitLqrBatch<double>;
using InitPdD = gpsx::lingauss::InitPdBatch<double>;
GPSX_CUDA_INSTANTIATE_FOR_EACH(InitLqrD)
GPSX_CUDA_INSTANTIATE_FOR_EACH(InitPdD)
