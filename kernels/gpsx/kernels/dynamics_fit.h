// Per-(condition, t) linear-Gaussian dynamics fit with the cbfinn/gps conventions
// (../shared/reference/README.md pitfalls 7, 8, 12):
//   x_{t+1} ~ N(Fm [x_t; u_t] + fv, dyn_covar), fitted from N trajectories by
//   DynamicsLR (biased least squares) or DynamicsLRPrior (normal-inverse-Wishart MAP
//   with a GMM prior evaluated at the N transition points of step t).
//
// Joint point layout: [x_t; u_t; x_{t+1}], D = 2 dX + dU, dXU = dX + dU.
// Batched layouts (row-major, condition-major, time first inside a condition):
//   X (M x N x T x dX), U (M x N x T x dU), Fm (M x T x dX x dXU), fv (M x T x dX),
//   dyn_covar (M x T x dX x dX); step T-1 is never fitted (the kernels leave it
//   untouched, the host API sets it to zero).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"

namespace gpsx::dyn {

// Joint points of step t for one condition: pts (N x D) rows [x_t; u_t; x_{t+1}] from
// X (N x T x dX), U (N x T x dU). Returns kNonFinite when any value is NaN / Inf.
template <class T>
GPS_HD std::uint32_t gather_transitions(int N, int Tn, int dX, int dU, int t, const T* X,
                                        const T* U, T* pts) {
  const int D = 2 * dX + dU;
  std::uint32_t st = kOk;
  for (int n = 0; n < N; ++n) {
    const T* xt = X + (static_cast<std::int64_t>(n) * Tn + t) * dX;
    const T* ut = U + (static_cast<std::int64_t>(n) * Tn + t) * dU;
    T* p = pts + n * D;
    for (int i = 0; i < dX; ++i) p[i] = xt[i];
    for (int i = 0; i < dU; ++i) p[dX + i] = ut[i];
    for (int i = 0; i < dX; ++i) p[dX + dU + i] = xt[dX + i];  // x_{t+1}
    for (int i = 0; i < D; ++i)
      if (!is_finite(p[i])) st |= kNonFinite;
  }
  return st;
}

// Joint Gaussian of N points: mean (D) and sigma (D x D). pts (N x D) is centred in
// place. Without a prior (mu0 == nullptr): sigma = biased empirical covariance (1/N).
// With a normal-inverse-Wishart prior (mu0 (D), m, n0, and sigma holding the lower
// triangle of Phi (D x D) on entry), each point weighted 1/N (N = trajectories, pitfall 8):
//   sigma = (N S + Phi + N m / (N + m) (mean - mu0)(mean - mu0)^T) / (N + n0).
// Then `reg` is added to EVERY entry of the leading dXU x dXU block (pitfall 7: a
// rank-one term, not a diagonal). Only the lower triangle of sigma is read and written.
template <class T>
GPS_HD void joint_gaussian(int N, int D, int dXU, T* pts, const T* mu0, T m, T n0, T reg,
                           T* mean, T* sigma) {
  const T inv_n = T(1) / T(N);
  for (int i = 0; i < D; ++i) {
    T s = T(0);
    for (int n = 0; n < N; ++n) s += pts[n * D + i];
    mean[i] = s * inv_n;
  }
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < D; ++i) pts[n * D + i] -= mean[i];
  // Lower triangle: prior terms first (sigma holds Phi), then the scatter sum_n c c^T.
  T scale = inv_n;
  if (mu0 != nullptr) {
    const T nn = T(N);
    const T shrink = nn * m / (nn + m);
    scale = T(1) / (nn + n0);
    for (int i = 0; i < D; ++i) {
      const T sdi = shrink * (mean[i] - mu0[i]);
      for (int j = 0; j <= i; ++j) sigma[i * D + j] += sdi * (mean[j] - mu0[j]);
    }
  } else {
    for (int i = 0; i < D; ++i)
      for (int j = 0; j <= i; ++j) sigma[i * D + j] = T(0);
  }
  for (int n = 0; n < N; ++n) {
    const T* c = pts + n * D;
    for (int i = 0; i < D; ++i) {
      const T ci = c[i];
      T* row = sigma + i * D;
      for (int j = 0; j <= i; ++j) row[j] += ci * c[j];
    }
  }
  for (int i = 0; i < D; ++i) {
    const T add = i < dXU ? reg : T(0);  // j <= i < dXU: inside the [x;u] block
    for (int j = 0; j <= i; ++j) sigma[i * D + j] = sigma[i * D + j] * scale + add;
  }
}

// Conditions the joint Gaussian (mean (D), sigma (D x D), lower triangle read) on its
// first dXU coordinates, with dXn = D - dXU and sigma_zz = L L^T:
//   Fm (dXn x dXU) = sigma_yz sigma_zz^-1, fv (dXn) = mean_y - Fm mean_z,
//   covar (dXn x dXn) = sigma_yy - Fm sigma_zz Fm^T = sigma_yy - W^T W, W = L^-1 sigma_zy
// (the reference's covariance; symmetric by construction). sigma's leading dXU block is
// overwritten by L; Y is caller scratch (dXU x dXn).
template <class T>
GPS_HD std::uint32_t condition_gaussian(int D, int dXU, const T* mean, T* sigma, T* Y, T* Fm,
                                        T* fv, T* covar) {
  const int dXn = D - dXU;
  const std::uint32_t st = la::cholesky_lower_rows(dXU, sigma, D);
  if (st != kOk) return st;
  la::transpose(dXn, dXU, sigma + dXU * D, D, Y, dXn);  // sigma_zy from the lower triangle
  la::solve_lower_rows(dXU, dXn, sigma, D, Y, dXn);     // W
  for (int i = 0; i < dXn; ++i)
    for (int j = 0; j <= i; ++j) covar[i * dXn + j] = sigma[(dXU + i) * D + dXU + j];
  for (int p = 0; p < dXU; ++p) {
    const T* wp = Y + p * dXn;
    for (int i = 0; i < dXn; ++i) {
      const T w = wp[i];
      T* row = covar + i * dXn;
      for (int j = 0; j <= i; ++j) row[j] -= w * wp[j];
    }
  }
  for (int i = 0; i < dXn; ++i)
    for (int j = 0; j < i; ++j) covar[j * dXn + i] = covar[i * dXn + j];
  la::solve_lower_transposed_rows(dXU, dXn, sigma, D, Y, dXn);  // sigma_zz^-1 sigma_zy = Fm^T
  la::transpose(dXU, dXn, Y, dXn, Fm, dXU);
  for (int i = 0; i < dXn; ++i) fv[i] = mean[dXU + i];
  for (int p = 0; p < dXU; ++p)
    for (int i = 0; i < dXn; ++i) fv[i] -= Y[p * dXn + i] * mean[p];
  for (int i = 0; i < dXn * dXU; ++i)
    if (!is_finite(Fm[i])) return kNonFinite;
  for (int i = 0; i < dXn; ++i)
    if (!is_finite(fv[i])) return kNonFinite;
  return kOk;
}

// Offsets (elements) of one fit step's scratch; `size` is the stride between steps.
struct FitScratch {
  std::int64_t pts, mean, sigma, Y, logw, logwts, wts, mu0, size;
  GPS_HD FitScratch(int N, int K, int dX, int dU) {
    const std::int64_t D = 2 * dX + dU;
    pts = 0;                           // (N x D)
    mean = pts + N * D;                // (D)
    sigma = mean + D;                  // (D x D) sum_k w_k B_k, then m Phi, then the joint
    Y = sigma + D * D;                 // ((dX+dU) x dX)
    logw = Y + (dX + dU) * dX;         // (N x K)
    logwts = logw + static_cast<std::int64_t>(N) * K;  // (K)
    wts = logwts + K;                  // (K + D)
    mu0 = wts + K + D;                 // (D)
    size = mu0 + D;
  }
};

// DynamicsLR at one (m, t): plain biased regression.
template <class T>
struct FitLrStep {
  int N, Tn, dX, dU;
  T reg;
  const T* X;              // (M x N x T x dX)
  const T* U;              // (M x N x T x dU)
  T* Fm;                   // (M x T x dX x (dX+dU))
  T* fv;                   // (M x T x dX)
  T* dyn_covar;            // (M x T x dX x dX)
  T* scratch;              // (M x (T-1) x FitScratch(N, 0, dX, dU).size)
  std::uint32_t* status;   // (M x T)

  GPS_HD void operator()(std::int64_t m, std::int64_t t) const {
    const int D = 2 * dX + dU, dXU = dX + dU;
    const FitScratch L(N, 0, dX, dU);
    T* base = scratch + (m * (Tn - 1) + t) * L.size;
    T* pts = base + L.pts;
    T* mean = base + L.mean;
    T* sigma = base + L.sigma;
    T* Y = base + L.Y;
    std::uint32_t& st = status[m * Tn + t];
    st = N < 2 ? std::uint32_t(kTooFewSamples) : std::uint32_t(kOk);
    st |= gather_transitions(N, Tn, dX, dU, static_cast<int>(t), X + m * N * Tn * dX,
                             U + m * N * Tn * dU, pts);
    if (st != kOk) return;
    joint_gaussian<T>(N, D, dXU, pts, nullptr, T(0), T(0), reg, mean, sigma);
    const std::int64_t mt = m * Tn + t;
    st |= condition_gaussian(D, dXU, mean, sigma, Y, Fm + mt * dX * dXU, fv + mt * dX,
                             dyn_covar + mt * dX * dX);
  }
};

// DynamicsLRPrior, evaluated in passes over the (m, t) grid:
//  1. PriorWeightsStep: posterior cluster weights of the step's N points
//     (DynamicsPriorGMM.eval -> GMM.clusterwts) from their log observations.
//  2. CenteredMomentStep: B_k of every cluster of the condition (shared by its steps).
//  3. FitPriorStep: mu0, Phi, m, n0 of the prior from the weights and B_k, then the MAP fit.
// Passes 1 and 3 share the per-step scratch laid out by FitScratch.
template <class T>
struct PriorWeightsStep {
  int N, Tn, K;
  std::int64_t stride;     // FitScratch(N, K, dX, dU).size
  std::int64_t logw_at, logwts_at, wts_at;  // FitScratch offsets
  const T* logobs;         // (M x (T-1) x N x K) the step's points under the GMM
  T* scratch;              // (M x (T-1) x stride)

  GPS_HD void operator()(std::int64_t m, std::int64_t t) const {
    using std::exp;
    T* base = scratch + (m * (Tn - 1) + t) * stride;
    T* logw = base + logw_at;
    la::copy(N, K, logobs + (m * (Tn - 1) + t) * N * K, K, logw, K);
    gmm::cluster_weights(N, K, logw, base + logwts_at);
    // Weights below the normal range count as zero: their terms are below round-off of
    // every sum they enter, and subnormal operands cost ~100x on x86 cores.
    for (int k = 0; k < K; ++k) {
      const T w = exp(base[logwts_at + k]);
      base[wts_at + k] = w < std::numeric_limits<T>::min() ? T(0) : w;
    }
  }
};

// B_k of cluster (m, k) around the mixture centre c (M x D), clusters innermost.
template <class T>
struct CenteredMomentStep {
  int K, D;
  const T* mu;             // (M x K x D)
  const T* sigma;          // (M x K x D x D)
  const T* center;         // (M x D) gmm::mixture_center of each condition
  T* B;                    // (M x D x D x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t k) const {
    const std::int64_t mk = m * K + k;
    gmm::centered_second_moment(D, mu + mk * D, sigma + mk * D * D, center + m * D,
                                B + m * D * D * K + k, K);
  }
};

// The prior at one step's points and the MAP fit (DynamicsPriorGMM.eval +
// DynamicsLRPrior.fit): gmm_mu (K x D) and center (D) of the condition, wts (K) the
// step's cluster weights, B (D x D x K) the clusters' centred moments around center,
// pts (N x D) the step's gathered points (centred in place); mean, mu0 (D), sigma (D x D)
// and Y (dXU x dX) scratch. eval_* (mu0 (D), Phi (D x D), m, n0) may be null. T may be a
// SIMD pack (lanes.h) that fits several steps at once; B stays scalar (S), shared.
template <class T, class S>
GPS_HD std::uint32_t fit_prior_point(int N, int dX, int dU, int K, T reg, T strength, T N0,
                                     const T* gmm_mu, const T* center, const T* wts, const S* B,
                                     T* pts, T* mean, T* sigma, T* mu0, T* Y, T* Fm, T* fv,
                                     T* covar, T* eval_mu0, T* eval_Phi, T* eval_m,
                                     T* eval_n0) {
  const int D = 2 * dX + dU, dXU = dX + dU;
  gmm::mixture_mean(K, D, gmm_mu, wts, mu0);
  gmm::weighted_moment_sum(K, D, wts, B, sigma, D);
  T mm, n0;
  gmm::prior_scalars(N0, D, strength, &mm, &n0);
  gmm::moments_from_centered(K, D, wts, center, mu0, mm, sigma, D);  // m Phi, lower
  if (eval_mu0) la::copy(1, D, mu0, D, eval_mu0, D);
  if (eval_Phi)
    for (int i = 0; i < D; ++i)
      for (int j = 0; j <= i; ++j) eval_Phi[i * D + j] = eval_Phi[j * D + i] = sigma[i * D + j];
  if (eval_m) *eval_m = mm;
  if (eval_n0) *eval_n0 = n0;
  joint_gaussian(N, D, dXU, pts, mu0, mm, n0, reg, mean, sigma);
  return condition_gaussian(D, dXU, mean, sigma, Y, Fm, fv, covar);
}

template <class T>
struct FitPriorStep {
  int N, Tn, dX, dU, K;
  T reg, strength;
  const T* X;              // (M x N x T x dX)
  const T* U;              // (M x N x T x dU)
  const T* gmm_mu;         // (M x K x D)
  const T* gmm_N0;         // (M) points at the GMM's last initialisation
  const T* center;         // (M x D) centre used for B_k
  const T* B;              // (M x D x D x K) CenteredMomentStep
  T* Fm;                   // (M x T x dX x (dX+dU))
  T* fv;                   // (M x T x dX)
  T* dyn_covar;            // (M x T x dX x dX)
  T* scratch;              // (M x (T-1) x FitScratch(N, K, dX, dU).size), pass 1 done
  std::uint32_t* status;   // (M x T)
  T* prior_mu0;            // (M x T x D) or null: prior evaluated at step t
  T* prior_Phi;            // (M x T x D x D) or null
  T* prior_m;              // (M x T) or null
  T* prior_n0;             // (M x T) or null

  // Gathers the points of step (m, t) into its scratch; kOk when they can be fitted.
  GPS_HD std::uint32_t gather(std::int64_t m, std::int64_t t) const {
    const FitScratch L(N, K, dX, dU);
    T* base = scratch + (m * (Tn - 1) + t) * L.size;
    std::uint32_t st = N < 2 ? std::uint32_t(kTooFewSamples) : std::uint32_t(kOk);
    st |= gather_transitions(N, Tn, dX, dU, static_cast<int>(t), X + m * N * Tn * dX,
                             U + m * N * Tn * dU, base + L.pts);
    return st;
  }

  GPS_HD void operator()(std::int64_t m, std::int64_t t) const {
    const int D = 2 * dX + dU, dXU = dX + dU;
    const FitScratch L(N, K, dX, dU);
    T* base = scratch + (m * (Tn - 1) + t) * L.size;
    const std::int64_t mt = m * Tn + t;
    status[mt] = gather(m, t);
    if (status[mt] != kOk) return;
    status[mt] = fit_prior_point(
        N, dX, dU, K, reg, strength, gmm_N0[m], gmm_mu + m * K * D, center + m * D,
        base + L.wts, B + m * K * D * D, base + L.pts, base + L.mean, base + L.sigma, base + L.mu0, base + L.Y,
        Fm + mt * dX * dXU, fv + mt * dX, dyn_covar + mt * dX * dX,
        prior_mu0 ? prior_mu0 + mt * D : nullptr, prior_Phi ? prior_Phi + mt * D * D : nullptr,
        prior_m ? prior_m + mt : nullptr, prior_n0 ? prior_n0 + mt : nullptr);
  }
};

// Points of step t of condition m for the fit's E-step: pts (M x (T-1) x N x D), t-major.
template <class T>
struct GatherStepsStep {
  int N, Tn, dX, dU;
  const T* X;              // (M x N x T x dX)
  const T* U;              // (M x N x T x dU)
  T* pts;                  // (M x (T-1) x N x (2 dX + dU))

  GPS_HD void operator()(std::int64_t m, std::int64_t t) const {
    const int D = 2 * dX + dU;
    gather_transitions(N, Tn, dX, dU, static_cast<int>(t), X + m * N * Tn * dX,
                       U + m * N * Tn * dU, pts + (m * (Tn - 1) + t) * N * D);
  }
};

// Unweighted centre of the cluster means of condition m (gmm::mixture_center).
template <class T>
struct MixtureCenterStep {
  int K, D;
  const T* mu;             // (M x K x D)
  T* center;               // (M x D)

  GPS_HD void operator()(std::int64_t m) const { gmm::mixture_center(K, D, mu + m * K * D, center + m * D); }
};

// Initial-state distribution of one condition (Algorithm._update_dynamics, pitfall 12):
//   x0mu = mean of the batch's x_0, x0sigma = diag(max(var(x_0), init_var)) and, with a
//   prior data set of Np trajectories (DynamicsPriorGMM.initial_state):
//   mu0 = mean, Phi = m0 diag(var) of the prior set's x_0, m0 = n0 = dX strength,
//   x0sigma += Phi + (N m0 / (N + m0)) (x0mu - mu0)(x0mu - mu0)^T / (N + n0).
// Variances are population variances (1/N).
template <class T>
struct InitialStateStep {
  int N, Tn, dX;
  const T* X;              // (M x N x T x dX) batch
  int Np;                  // prior trajectories (0: no prior)
  int prior_capacity;      // trajectories allocated per condition in Xprior
  const T* Xprior;         // (M x prior_capacity x T x dX), first Np valid, or null
  T strength, init_var;
  T* x0mu;                 // (M x dX)
  T* x0sigma;              // (M x dX x dX)
  T* prior_mu0;            // (M x dX) or null
  T* prior_Phi;            // (M x dX x dX) or null
  T* prior_m;              // (M) or null
  T* prior_n0;             // (M) or null
  std::uint32_t* status;   // (M)

  // Mean and population variance of x_0 over n samples with stride `stride` between them.
  GPS_HD static void mean_var(int n, int dX, const T* x0, std::int64_t stride, int i, T* mean,
                              T* var) {
    T s = T(0);
    for (int k = 0; k < n; ++k) s += x0[k * stride + i];
    const T mu = s / T(n);
    T v = T(0);
    for (int k = 0; k < n; ++k) {
      const T d = x0[k * stride + i] - mu;
      v += d * d;
    }
    *mean = mu;
    *var = v / T(n);
  }

  GPS_HD void operator()(std::int64_t m) const {
    const std::int64_t stride = static_cast<std::int64_t>(Tn) * dX;
    const T* xb = X + m * N * stride;
    T* mu = x0mu + m * dX;
    T* sig = x0sigma + m * dX * dX;
    status[m] = N < 1 ? std::uint32_t(kTooFewSamples) : std::uint32_t(kOk);
    if (status[m] != kOk) return;
    la::fill(dX, dX, T(0), sig, dX);
    for (int i = 0; i < dX; ++i) {
      T var;
      mean_var(N, dX, xb, stride, i, &mu[i], &var);
      sig[i * dX + i] = var > init_var ? var : init_var;
    }
    if (Np > 0 && Xprior != nullptr) {
      const T* xp = Xprior + m * prior_capacity * stride;
      const T m0 = T(dX) * strength, n0 = T(dX) * strength;
      const T nn = T(N);
      const T scale = nn * m0 / (nn + m0);
      for (int i = 0; i < dX; ++i) {
        T pmu_i, pvar_i;
        mean_var(Np, dX, xp, stride, i, &pmu_i, &pvar_i);
        sig[i * dX + i] += pvar_i * m0;
        if (prior_mu0) prior_mu0[m * dX + i] = pmu_i;
        if (prior_Phi) {
          for (int j = 0; j < dX; ++j) prior_Phi[(m * dX + i) * dX + j] = T(0);
          prior_Phi[(m * dX + i) * dX + i] = pvar_i * m0;
        }
      }
      for (int i = 0; i < dX; ++i) {
        T pmu_i, pv;
        mean_var(Np, dX, xp, stride, i, &pmu_i, &pv);
        for (int j = 0; j < dX; ++j) {
          T pmu_j;
          mean_var(Np, dX, xp, stride, j, &pmu_j, &pv);
          sig[i * dX + j] += scale * (mu[i] - pmu_i) * (mu[j] - pmu_j) / (nn + n0);
        }
      }
      if (prior_m) prior_m[m] = m0;
      if (prior_n0) prior_n0[m] = n0;
    }
    for (int i = 0; i < dX * dX; ++i)
      if (!is_finite(sig[i])) status[m] |= kNonFinite;
  }
};

}  // namespace gpsx::dyn
