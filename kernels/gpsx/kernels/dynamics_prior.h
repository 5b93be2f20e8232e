// Batch functors that keep the dynamics prior's data set in executor memory: appending a
// batch of trajectories, laying them out as GMM points, re-using the EM's last E-step for
// the fit, and folding per-step statuses. Layouts are condition-major, oldest first.
#pragma once

#include <cstdint>

#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/hd.h"

namespace gpsx::dyn {

// Condition m keeps the newest `keep` of [its `count` held trajectories ++ the batch's N];
// item (m, e) moves entry e of every kept trajectory. Entries move to lower trajectory
// indices only, so walking the trajectories in order shifts in place, and items of
// different e never touch the same entry.
template <class T>
struct AppendTrajectoriesStep {
  int N, count, keep, capacity;
  std::int64_t per_traj;   // T x d
  const T* batch;          // (M x N x per_traj)
  T* held;                 // (M x capacity x per_traj)

  GPS_HD void operator()(std::int64_t m, std::int64_t e) const {
    const int start = count + N - keep;  // first kept index in [held ++ batch]
    T* dst = held + m * capacity * per_traj + e;
    for (int j = 0; j < keep; ++j) {
      const int src = start + j;
      dst[j * per_traj] = src < count ? held[(m * capacity + src) * per_traj + e]
                                      : batch[(m * N + src - count) * per_traj + e];
    }
  }
};

// GMM point n (T-1) + t = [x_t; u_t; x_{t+1}] of held trajectory n of condition m;
// item (m, n (T-1) + t).
template <class T>
struct GatherPriorPointsStep {
  int count, capacity, Tn, dX, dU;
  const T* X;              // (M x capacity x T x dX)
  const T* U;              // (M x capacity x T x dU)
  T* pts;                  // (M x count (T-1) x D)

  GPS_HD void operator()(std::int64_t m, std::int64_t p) const {
    const int n = static_cast<int>(p / (Tn - 1)), t = static_cast<int>(p % (Tn - 1));
    const std::int64_t traj = m * capacity + n, D = 2 * dX + dU;
    gather_transitions(1, Tn, dX, dU, t, X + traj * Tn * dX, U + traj * Tn * dU,
                       pts + (m * count * (Tn - 1) + p) * D);
  }
};

// same[m] = 1 when the batch's N trajectories of condition m equal its newest N held
// ones (then the EM's last E-step already covers the fit's points).
template <class T>
struct SameTrajectoriesStep {
  int N, count, capacity;
  std::int64_t xs, us;     // T dX, T dU
  const T* X;              // (M x N x T x dX)
  const T* U;              // (M x N x T x dU)
  const T* HX;             // (M x capacity x T x dX)
  const T* HU;             // (M x capacity x T x dU)
  int* same;               // (M)

  GPS_HD void operator()(std::int64_t m) const {
    const std::int64_t newest = m * capacity + count - N;
    int eq = N <= count;
    for (std::int64_t e = 0; eq && e < N * xs; ++e) eq = X[m * N * xs + e] == HX[newest * xs + e];
    for (std::int64_t e = 0; eq && e < N * us; ++e) eq = U[m * N * us + e] == HU[newest * us + e];
    same[m] = eq;
  }
};

// The EM's log observations of the newest N held trajectories, (M x count (T-1) x K) point
// n (T-1) + t, into the fit's layout (M x (T-1) x N x K); item (m, n (T-1) + t).
template <class T>
struct ReorderLogobsStep {
  int N, count, Tn, K;
  const T* prior_logobs;   // (M x count (T-1) x K)
  T* logobs;               // (M x (T-1) x N x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t p) const {
    const std::int64_t n = p / (Tn - 1), t = p % (Tn - 1), P = std::int64_t(count) * (Tn - 1);
    const T* src = prior_logobs + (m * P + (count - N + n) * (Tn - 1) + t) * K;
    T* dst = logobs + ((m * (Tn - 1) + t) * N + n) * K;
    for (int k = 0; k < K; ++k) dst[k] = src[k];
  }
};

// Step T-1 of condition m of an (M x T x inner) array is never fitted: zero.
template <class T>
struct ZeroLastStep {
  int Tn;
  std::int64_t inner;
  T* a;                    // (M x T x inner)

  GPS_HD void operator()(std::int64_t m) const {
    T* last = a + (m * Tn + Tn - 1) * inner;
    for (std::int64_t e = 0; e < inner; ++e) last[e] = T(0);
  }
};

// Condition m's status: its prior E-step status ORed with every fitted step's, and the
// first failing step (-1: none) with its own status, for the report's message.
struct FoldStepStatusStep {
  int Tn;
  const std::uint32_t* prior_status;  // (M) or null
  const std::uint32_t* step_status;   // (M x T)
  std::uint32_t* status;              // (M)
  int* first_step;                    // (M)
  std::uint32_t* first_status;        // (M)

  GPS_HD void operator()(std::int64_t m) const {
    std::uint32_t st = prior_status ? prior_status[m] : std::uint32_t(kOk);
    first_step[m] = -1;
    first_status[m] = kOk;
    for (int t = 0; t + 1 < Tn; ++t) {
      const std::uint32_t s = step_status[m * Tn + t];
      if (s != kOk && first_step[m] < 0) {
        first_step[m] = t;
        first_status[m] = s;
      }
      st |= s;
    }
    status[m] = st;
  }
};

}  // namespace gpsx::dyn
