// CUDA launchers for the dynamics-fit and GMM kernels (same functors as the CPU executor).
#include "gpsx/cuda/launch.cuh"
#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/dynamics_prior.h"
#include "gpsx/kernels/gmm_batch.h"

#define GPSX_DYNAMICS_INSTANTIATE(T)                                  \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitLrStep<T>)          \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::PriorWeightsStep<T>)   \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::CenteredMomentStep<T>) \
  GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::FitPriorStep<T>)       \
  GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::InitialStateStep<T>)

GPSX_DYNAMICS_INSTANTIATE(double)

// The prior's data set, the GMM's initialisation and inference, the fit's status folds
// (double only, like the host API).
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::AppendTrajectoriesStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::GatherPriorPointsStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::SameTrajectoriesStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::ReorderLogobsStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::ZeroLastStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::FoldStepStatusStep)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::RandomAssignmentStep)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::FirstNonFiniteStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::FirstBadLabelStep)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::InitClusterStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::InferenceStep<double>)

// Device path of the GMM EM and the fit's E-step (double only, like the host API).
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::dyn::GatherStepsStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::dyn::MixtureCenterStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::EstepFactorStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::EstepResidualStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::EstepLogobsStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::EstepStatusStep)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::ResponsibilitiesStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::LoglikSumStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::ColumnLseStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH(gpsx::gmm::MassStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::MstepWeightStep<double>)
GPSX_CUDA_INSTANTIATE_FOR_EACH_2D(gpsx::gmm::MstepCovarianceStep<double>)
GPSX_DYNAMICS_INSTANTIATE(float)
