// CUDA instantiations of the test functors (the same code the CPU tests run).
#include "gpsx/cuda/launch.cuh"
#include "gpsx_test/probe_functors.h"

GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::test::MixFunctor)
