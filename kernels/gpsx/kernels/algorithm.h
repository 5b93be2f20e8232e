// Per-condition steps of the GPS algorithm layer that are not a phase of their own: the
// step-size adjustment (AlgorithmTrajOpt._stepadjust), sums of per-step estimates, the
// iteration's summary scalars, and keeping the last good controller of a failed
// condition. Run by gpsx::for_each on the CPU or the GPU.
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/lin_gauss.h"
#include "gpsx/kernels/lqr_dual_search.h"

namespace gpsx::algo {

// Rows of the per-condition results the host reads once per iteration: (kRows x M).
enum ScalarRow : int {
  kSampleCost = 0,   // mean over samples of the summed cost
  kPredicted,        // predicted improvement of the step adjustment
  kActual,           // actual improvement
  kEtaBefore,        // eta at the start of the iteration (restored when the C-step fails)
  kStepMultBefore,   // step multiplier at the start of the iteration (restored likewise)
  kStepMultUsed,     // step multiplier of the C-step
  kRows
};

// out[m] = sum_t x[m][t] (in time order).
struct SumOverTimeFn {
  int T;
  const double* x;  // (M x T)
  double* out;      // (M)
  GPS_HD void operator()(std::int64_t m) const {
    double s = 0.0;
    for (int t = 0; t < T; ++t) s += x[m * T + t];
    out[m] = s;
  }
};

// scalars[kSampleCost][m] = mean over the N samples of sum_t cs[m][n][t].
struct MeanSampleCostFn {
  int M, N, T;
  const double* cs;  // (M x N x T)
  double* scalars;   // (kRows x M)
  GPS_HD void operator()(std::int64_t m) const {
    double total = 0.0;
    for (int n = 0; n < N; ++n) {
      double s = 0.0;
      const double* c = cs + (m * N + n) * T;
      for (int t = 0; t < T; ++t) s += c[t];
      total += s;
    }
    scalars[kSampleCost * M + m] = total / N;
  }
};

// _stepadjust of condition m: predicted = L(prev, prev fit) - L(cur, prev fit), actual =
// L(prev, prev fit) - L(cur, this fit) (sums over time), then the reference's multiplier
// rule. A condition keeps its multiplier when it failed earlier in this iteration, when its
// previous iteration left no estimate (laplace_prev NaN: that C-step failed), or when this
// iteration's estimate is not finite (flagged with `nonfinite_bit`).
struct StepAdjustFn {
  int M, T;
  const double* laplace_cur;        // (M x T) L(cur, this fit)
  const double* laplace_prev;       // (M)
  const double* laplace_predicted;  // (M)
  double min_step_mult, max_step_mult;
  std::uint32_t nonfinite_bit;
  double* step_mult;                // (M) in/out
  std::uint32_t* failed;            // (M) phase bits, in/out
  double* scalars;                  // (kRows x M)
  GPS_HD void operator()(std::int64_t m) const {
    double actual_cost = 0.0;
    for (int t = 0; t < T; ++t) actual_cost += laplace_cur[m * T + t];
    const double predicted = laplace_prev[m] - laplace_predicted[m];
    const double actual = laplace_prev[m] - actual_cost;
    scalars[kPredicted * M + m] = predicted;
    scalars[kActual * M + m] = actual;
    if (failed[m] != 0 || laplace_prev[m] != laplace_prev[m]) return;
    if (!std::isfinite(predicted) || !std::isfinite(actual)) {
      failed[m] |= nonfinite_bit;
      return;
    }
    step_mult[m] = lqr::new_step_mult(predicted, actual, step_mult[m], min_step_mult,
                                      max_step_mult);
  }
};

// Copies (M) values into row `row` of the scalars: the state at the start of the iteration,
// the multiplier the C-step uses.
struct SaveRowFn {
  int M, row;
  const double* from;  // (M)
  double* scalars;     // (kRows x M)
  GPS_HD void operator()(std::int64_t m) const { scalars[row * M + m] = from[m]; }
};

// After the C-step of a condition that failed this iteration: no Laplace estimate for the
// next step adjustment (its controller did not change: predicted would be 0).
struct ForgetEstimateFn {
  const std::uint32_t* failed;  // (M)
  double* laplace_prev;         // (M)
  GPS_HD void operator()(std::int64_t m) const {
    if (failed[m] != 0) laplace_prev[m] = NAN;
  }
};

// After the C-step: a failed condition gets its previous controller (copied into `to`,
// the C-step's output), eta and step multiplier back. Item (m, e) copies element e of the
// controller.
struct KeepFailedControllerFn {
  int M, T, dX, dU;
  const std::uint32_t* failed;             // (M)
  lingauss::BatchController<double> from;  // the controllers the samples were drawn with
  lingauss::BatchController<double> to;    // the C-step's output
  const double* scalars;                   // (kRows x M)
  double* eta;                             // (M)
  double* step_mult;                       // (M)
  GPS_HD std::int64_t elements() const {
    const std::int64_t U = dU;
    return static_cast<std::int64_t>(T) * (U * dX + U + 3 * U * U);
  }
  GPS_HD void operator()(std::int64_t m, std::int64_t e) const {
    if (failed[m] == 0) return;
    if (e == 0) {
      eta[m] = scalars[kEtaBefore * M + m];
      step_mult[m] = scalars[kStepMultBefore * M + m];
    }
    const std::int64_t nK = static_cast<std::int64_t>(T) * dU * dX, nk = static_cast<std::int64_t>(T) * dU,
                       nUU = static_cast<std::int64_t>(T) * dU * dU;
    const double* src;
    double* dst;
    std::int64_t i = e;
    if (i < nK) {
      src = from.K + m * nK; dst = to.K + m * nK;
    } else if ((i -= nK) < nk) {
      src = from.k + m * nk; dst = to.k + m * nk;
    } else if ((i -= nk) < nUU) {
      src = from.pol_covar + m * nUU; dst = to.pol_covar + m * nUU;
    } else if ((i -= nUU) < nUU) {
      src = from.chol_pol_covar + m * nUU; dst = to.chol_pol_covar + m * nUU;
    } else {
      i -= nUU;
      src = from.inv_pol_covar + m * nUU; dst = to.inv_pol_covar + m * nUU;
    }
    dst[i] = src[i];
  }
};

// Distance of each sample's final state to its condition's target: the largest Euclidean
// distance over the target's points (`point` coordinates each: 3 for end-effector points,
// the whole block for joint targets).
struct FinalDistanceFn {
  int N, T, dX;
  int offset, dim, point;  // target block [offset, offset + dim) of x, points of `point`
  const double* target;    // (M x dim)
  const double* X;         // (M x N x T x dX)
  double* out;             // (M x N)
  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    const double* x = X + ((m * N + n) * T + (T - 1)) * dX + offset;
    const double* g = target + m * dim;
    double worst = 0.0;
    for (int p = 0; p + point <= dim; p += point) {
      double s = 0.0;
      for (int i = p; i < p + point; ++i) s += (x[i] - g[i]) * (x[i] - g[i]);
      const double d = std::sqrt(s);
      worst = d > worst || d != d ? d : worst;  // NaN propagates
    }
    out[m * N + n] = worst;
  }
};

// Mean and max over the N samples of a condition: stats (2 x M).
struct SampleStatsFn {
  int M, N;
  const double* v;  // (M x N)
  double* stats;    // (2 x M): mean, max
  GPS_HD void operator()(std::int64_t m) const {
    double sum = 0.0, mx = v[m * N];
    for (int n = 0; n < N; ++n) {
      const double x = v[m * N + n];
      sum += x;
      mx = x > mx || x != x ? x : mx;
    }
    stats[m] = sum / N;
    stats[M + m] = mx;
  }
};

}  // namespace gpsx::algo
