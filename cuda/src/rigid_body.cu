// CUDA instantiations of the simulator functors (kernels/gpsx/kernels/rigid_body.h):
// the same step / acceleration / observation / random-control code as on the CPU.
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/rigid_body.h"

#define GPSX_RB_INSTANTIATE(T)                                      \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::StepBatch<T>)            \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::AccelBatch<T>)           \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::ObserveBatch<T>)         \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::EeJacobianBatch<T>)      \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::rb::RandomCtrlBatch<T>)

GPSX_RB_INSTANTIATE(float)
GPSX_RB_INSTANTIATE(double)
