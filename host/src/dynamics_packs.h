// The CPU fit of 4 steps per SIMD pack (same kernels as the scalar functor, bit-identical
// results). Internal to the algorithms library.
#pragma once

#include <cstdint>

#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/lanes.h"

namespace gpsx::detail {

constexpr int kFitPackWidth = 4;
using FitPack = Lanes<double, kFitPackWidth>;

// Packs of scratch one thread needs (eval: the prior is returned too).
std::int64_t fit_pack_size(int N, int K, int dX, int dU, bool eval);

// step(i, t) for conditions i < mc and steps t < T-1 in groups of kFitPackWidth steps
// (a short last group runs scalar); work: threads x fit_pack_size packs.
void fit_prior_packs(int threads, const dyn::FitPriorStep<double>& step, int mc, FitPack* work,
                     std::int64_t pack_size);

}  // namespace gpsx::detail
