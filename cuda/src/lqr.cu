// CUDA instantiations of the LQR / dual-search functors: the GPU runs the same GPS_HD
// per-condition code as the CPU tests (one thread per condition or candidate).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/lqr_batch.h"

#define GPSX_LQR_INSTANTIATE(Real)                                  \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::lqr::SequentialSearchFn<Real>) \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::lqr::StartParallelFn<Real>)    \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::lqr::CandidatePassFn<Real>) \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::lqr::NarrowBracketFn<Real>)    \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::lqr::EstimateCostFn<Real>)

GPSX_LQR_INSTANTIATE(double)
GPSX_LQR_INSTANTIATE(float)
