// Gaussian mixture model pieces with the cbfinn/gps reference conventions
// (../shared/reference/README.md, pitfalls 7, 9, 11). Each function works on one
// mixture (K clusters in D dimensions) or one point; the host batches them.
//
// Layouts (row-major): mu (K x D), sigma / chol (K x D x D), logmass (K),
// logobs / logw (P x K) for P points, data (P x D) with row stride ldd.
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"
#include "gpsx/kernels/linalg_fma.h"

namespace gpsx::gmm {

// Diagonal added to every cluster covariance at initialisation / after each M-step.
constexpr double kInitCovarianceReg = 2e-6;
constexpr double kMstepCovarianceReg = 1e-6;
// Clusters whose mass falls below kSmallMassFactor / K get uniform weights 1 / P.
constexpr double kSmallMassFactor = 1e-4;
// EM stops when |ll - prev| < kConvergenceTol * prev (only possible for prev > 0).
constexpr double kConvergenceTol = 1e-5;

// Why an EM run ended (values are stable: they are stored in reports).
enum EmStop : int {
  kEmContinue = 0,
  kEmMaxIterations = 1,
  kEmConverged = 2,
  kEmLoglikDecreased = 3,
  kEmFailed = 4,  // non-finite log-likelihood or a non-PD cluster covariance
};

// The reference's name of a stop reason (as in the golden data and in progress logs).
inline const char* em_stop_name(int stop) {
  switch (stop) {
    case kEmContinue: return "running";
    case kEmMaxIterations: return "max_iterations";
    case kEmConverged: return "converged";
    case kEmLoglikDecreased: return "loglik_decreased";
    default: return "failed";
  }
}

// log sum_i exp(v[i * stride]) for n >= 1 values. As in the reference, a maximum of
// -inf is replaced by 0 so that an all -inf input gives -inf instead of NaN.
template <class T>
GPS_HD T log_sum_exp(int n, const T* v, int stride) {
  using std::exp;
  using std::log;
  T vmax = v[0];
  for (int i = 1; i < n; ++i)
    if (v[i * stride] > vmax) vmax = v[i * stride];
  if (!is_finite(vmax) && vmax < T(0)) vmax = T(0);
  T s = T(0);
  for (int i = 0; i < n; ++i) s += exp(v[i * stride] - vmax);
  return log(s) + vmax;
}

// Per-cluster constant of the log density: -D/2 log(2 pi) - sum log L_ii + logmass,
// with L the lower Cholesky factor of the cluster covariance.
template <class T>
GPS_HD T cluster_log_constant(int D, const T* L, int ldl, T logmass) {
  using std::log;
  const T log_2pi = T(1.8378770664093454835606594728112);
  T c = T(-0.5) * T(D) * log_2pi;
  for (int i = 0; i < D; ++i) c -= log(L[i * ldl + i]);
  return c + logmass;
}

// log(mass_k N(x | mu_k, sigma_k)) from the squared Mahalanobis distance q = |z|^2,
// z = L_k^-1 (x - mu_k).
template <class T>
GPS_HD T logobs_from_mahalanobis(T q, T log_constant) {
  return log_constant - T(0.5) * q;
}

// Normalises one row of log observations into log responsibilities
// (logw = logobs - logsumexp(logobs)); returns the row's log-sum-exp, i.e. the point's
// contribution to the log-likelihood.
template <class T>
GPS_HD T responsibilities_row(int K, const T* logobs, T* logw) {
  const T lse = log_sum_exp(K, logobs, 1);
  for (int k = 0; k < K; ++k) logw[k] = logobs[k] - lse;
  return lse;
}

// Stop rule evaluated at the top of every EM iteration with the fresh log-likelihood.
template <class T>
GPS_HD int em_stop_rule(T ll, T prev_ll) {
  using std::fabs;
  if (!is_finite(ll)) return kEmFailed;
  if (ll < prev_ll) return kEmLoglikDecreased;
  if (fabs(ll - prev_ll) < T(kConvergenceTol) * prev_ll) return kEmConverged;
  return kEmContinue;
}

// M-step masses from the log responsibilities logw (P x K): col_lse[k] =
// logsumexp_n logw[n][k] (also the normaliser of the cluster weights), then
// logmass = col_lse - logsumexp(col_lse) and mass = exp(logmass).
template <class T>
GPS_HD void mstep_mass(int P, int K, const T* logw, T* col_lse, T* logmass, T* mass) {
  using std::exp;
  for (int k = 0; k < K; ++k) col_lse[k] = log_sum_exp(P, logw + k, K);
  const T total = log_sum_exp(K, col_lse, 1);
  for (int k = 0; k < K; ++k) {
    logmass[k] = col_lse[k] - total;
    mass[k] = exp(logmass[k]);
  }
}

// Refit weight of point n for cluster k: exp(logw - col_lse[k]), or 1/P when the cluster's
// mass is below kSmallMassFactor / K (the reference "reboots" such clusters).
template <class T>
GPS_HD T mstep_weight(int P, int K, T logw_nk, T col_lse_k, T mass_k) {
  using std::exp;
  if (mass_k < T(kSmallMassFactor) / T(K)) return T(1) / T(P);
  return exp(logw_nk - col_lse_k);
}

// Covariance from the weighted second moment XX (D x D, lower triangle read) and the
// weighted mean mu: sigma = XX - mu mu^T (symmetric) + 1e-6 I.
template <class T>
GPS_HD void mstep_covariance(int D, const T* XX, int ldxx, const T* mu, T* sigma, int lds) {
  for (int i = 0; i < D; ++i)
    for (int j = 0; j <= i; ++j) {
      T s = XX[i * ldxx + j] - mu[i] * mu[j];
      if (i == j) s += T(kMstepCovarianceReg);
      sigma[i * lds + j] = s;
      sigma[j * lds + i] = s;
    }
}

// Initial cluster k from an assignment (P), data (P x D, row stride ldd):
// mu = mean of the member points, sigma = (1/K) sum (x - mu)(x - mu)^T + 2e-6 I
// (1/K, not 1/count: pitfall 11). An empty cluster has no mean: mu and sigma become NaN
// and kTooFewSamples is returned.
template <class T>
GPS_HD std::uint32_t init_cluster(int P, int D, const T* data, int ldd, const int* assignment,
                                  int k, int K, T* mu, T* sigma) {
  int count = 0;
  for (int i = 0; i < D; ++i) mu[i] = T(0);
  for (int n = 0; n < P; ++n) {
    if (assignment[n] != k) continue;
    ++count;
    for (int i = 0; i < D; ++i) mu[i] += data[n * ldd + i];
  }
  if (count == 0) {
    const T nan = T(0) / T(0);
    la::fill(1, D, nan, mu, D);
    la::fill(D, D, nan, sigma, D);
    return kTooFewSamples;
  }
  for (int i = 0; i < D; ++i) mu[i] /= T(count);
  la::fill(D, D, T(0), sigma, D);
  for (int n = 0; n < P; ++n) {
    if (assignment[n] != k) continue;
    const T* x = data + n * ldd;
    for (int i = 0; i < D; ++i) {
      const T di = x[i] - mu[i];
      for (int j = 0; j <= i; ++j) sigma[i * D + j] += di * (x[j] - mu[j]);
    }
  }
  const T scale = T(1) / T(K);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j <= i; ++j) {
      T s = scale * sigma[i * D + j];
      if (i == j) s += T(kInitCovarianceReg);
      sigma[i * D + j] = s;
      sigma[j * D + i] = s;
    }
  return kOk;
}

// Posterior cluster weights averaged over Nq query points (GMM.clusterwts): logobs
// (Nq x K) is overwritten by the per-point log responsibilities; logwts (K) =
// logsumexp_n logw[n][k] - log Nq.
template <class T>
GPS_HD void cluster_weights(int Nq, int K, T* logobs, T* logwts) {
  using std::log;
  for (int n = 0; n < Nq; ++n) responsibilities_row(K, logobs + n * K, logobs + n * K);
  const T log_nq = log(T(Nq));
  for (int k = 0; k < K; ++k) logwts[k] = log_sum_exp(Nq, logobs + k, K) - log_nq;
}

// Moment matching (GMM.moments) with weights w = exp(logwts): mu0 = sum_k w_k mu_k and
//   Phi = sum_k w_k (sigma_k + (mu_k - mu0) mu_k^T).
// Written around a fixed centre c (any point; we use the unweighted mean of the cluster
// means) this is exactly
//   Phi = sum_k w_k B_k - (mu0 - c)(mu0 - c)^T + (1 - W) c c^T,
//   B_k = sigma_k + (mu_k - c)(mu_k - c)^T,  W = sum_k w_k,
// which is symmetric (the reference's form differs from it by round-off only). The sum
// over clusters is then one matrix product over all query sets (a GEMM on the host or
// cuBLAS), and centring keeps the subtraction free of cancellation.

// c (D) = unweighted mean of the cluster means mu (K x D).
template <class T>
GPS_HD void mixture_center(int K, int D, const T* mu, T* c) {
  for (int i = 0; i < D; ++i) {
    T s = T(0);
    for (int k = 0; k < K; ++k) s += mu[k * D + i];
    c[i] = s / T(K);
  }
}

// One entry of B = sigma + a a^T, a = mu - c.
template <class T>
GPS_HD GPS_INLINE T centered_moment_entry(T sigma_ij, T ai, T aj) {
  return sigma_ij + ai * aj;
}

// B (D x D) = sigma + (mu - c)(mu - c)^T for one cluster; entry (i, j) at
// B[(i D + j) stride] (stride K interleaves the clusters of a (D x D x K) array).
template <class T>
GPS_HD void centered_second_moment(int D, const T* mu, const T* sigma, const T* c, T* B,
                                   int stride = 1) {
  for (int i = 0; i < D; ++i) {
    const T ai = mu[i] - c[i];
    for (int j = 0; j < D; ++j)
      B[(i * D + j) * stride] = centered_moment_entry(sigma[i * D + j], ai, mu[j] - c[j]);
  }
}

// Mixture mean mu0 (D) = sum_k w_k mu_k.
template <class T>
GPS_HD void mixture_mean(int K, int D, const T* mu, const T* wts, T* mu0) {
  for (int i = 0; i < D; ++i) {
    T s = T(0);
    for (int k = 0; k < K; ++k) s += mu[k * D + i] * wts[k];
    mu0[i] = s;
  }
}

// Lower triangle of Bw = sum_k w_k B_k (D x D, row stride ldp) over the clusters' centred
// moments B (D x D x K, clusters innermost), summed in cluster order. B may hold plain
// scalars while T is a SIMD pack of several query sets (lanes.h) sharing the clusters.
// Four entries at a time: independent sums hide the add latency.
template <class T, class S>
GPS_HD void weighted_moment_sum(int K, int D, const T* wts, const S* B, T* Bw, int ldp) {
  for (int i = 0; i < D; ++i) {
    int j = 0;
    for (; j + 3 <= i; j += 4) {
      const S* b = B + (i * D + j) * K;
      T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
      for (int k = 0; k < K; ++k) {
        const T w = wts[k];
        s0 += w * T(b[k]);
        s1 += w * T(b[K + k]);
        s2 += w * T(b[2 * K + k]);
        s3 += w * T(b[3 * K + k]);
      }
      T* out = Bw + i * ldp + j;
      out[0] = s0;
      out[1] = s1;
      out[2] = s2;
      out[3] = s3;
    }
    for (; j <= i; ++j) {
      const S* b = B + (i * D + j) * K;
      T s = T(0);
      for (int k = 0; k < K; ++k) s += wts[k] * T(b[k]);
      Bw[i * ldp + j] = s;
    }
  }
}

// scale * Phi (D x D, row stride ldp) from Bw = sum_k w_k B_k held in Phi on entry.
// Only the lower triangle is read and written (Phi is symmetric).
template <class T>
GPS_HD void moments_from_centered(int K, int D, const T* wts, const T* c, const T* mu0, T scale,
                                  T* Phi, int ldp) {
  T W = T(0);
  for (int k = 0; k < K; ++k) W += wts[k];
  const T excess = T(1) - W;
  for (int i = 0; i < D; ++i) {
    const T bi = mu0[i] - c[i];
    const T eci = excess * c[i];
    T* row = Phi + i * ldp;
    for (int j = 0; j <= i; ++j) row[j] = scale * (row[j] - bi * (mu0[j] - c[j]) + eci * c[j]);
  }
}

// All of the above for one query set: mu0 (D), Phi (D x D, row stride ldp). wts is
// caller scratch (K + D).
template <class T>
GPS_HD void moments(int K, int D, const T* mu, const T* sigma, const T* logwts, T* wts, T* mu0,
                    T* Phi, int ldp) {
  using std::exp;
  T* c = wts + K;
  for (int k = 0; k < K; ++k) wts[k] = exp(logwts[k]);
  mixture_mean(K, D, mu, wts, mu0);
  mixture_center(K, D, mu, c);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j <= i; ++j) {
      T s = T(0);
      for (int k = 0; k < K; ++k)
        s += wts[k] * centered_moment_entry(sigma[(k * D + i) * D + j], mu[k * D + i] - c[i],
                                            mu[k * D + j] - c[j]);
      Phi[i * ldp + j] = s;
    }
  moments_from_centered(K, D, wts, c, mu0, T(1), Phi, ldp);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < i; ++j) Phi[j * ldp + i] = Phi[i * ldp + j];
}

// Normal-inverse-Wishart scalars of the GMM prior (pitfall 9): m = strength and
// n0 = strength (N0 - 2 - D) / N0, with N0 the point count at the last initialisation.
template <class T>
GPS_HD void prior_scalars(T N0, int D, T strength, T* m, T* n0) {
  *m = (N0 / N0) * strength;
  *n0 = ((N0 - T(2) - T(D)) / N0) * strength;
}

// ---- EM products over packs of points (CPU path) ---------------------------------------------
// The EM's two big products per cluster -- the squared whitened distances |L^-1 (x - mu)|^2
// of all points and the weighted scatter sum_n w_n x_n x_n^T -- written for a point type T
// that may be a SIMD pack of points (Lanes, lanes.h). Points are stored dimension-major,
// xt (Dp x ldx packs), so every term is one vector fused multiply-add on a block of
// accumulators (why these block shapes: benchmarks/RESULTS.md, "Notes moved from the
// kernels"). Dimensions are padded with zero rows to Dp = em_padded_dim(D) and points with
// zero points, so every block is whole. The device path computes the same sums as cuBLAS
// products over plain points.

constexpr int kEmDimBlock = 12;  // multiple of the 4-row and 3 x 4 blocks below

GPS_HD inline int em_padded_dim(int D) { return (D + kEmDimBlock - 1) / kEmDimBlock * kEmDimBlock; }

// Entries of a Cholesky factor packed by whiten_pack_factor.
GPS_HD inline int whiten_packed_size(int Dp) { return 2 * (Dp / 4) * (Dp / 4 + 1) * 4; }

// L (D x D, lower Cholesky factor) -> packed (whiten_packed_size(Dp)) for whitened_sq_norms:
// block b holds rows 4b .. 4b+3 over columns 0 .. 4b+3, the four rows of a column side by
// side, with 1 / L_ii in place of each diagonal entry; zero above the diagonal and beyond D.
template <class S>
GPS_HD void whiten_pack_factor(int D, int Dp, const S* L, int ldl, S* packed) {
  for (int b = 0; b < Dp / 4; ++b) {
    S* block = packed + 8 * b * (b + 1);
    for (int j = 0; j < 4 * b + 4; ++j)
      for (int r = 0; r < 4; ++r) {
        const int i = 4 * b + r;
        S v = S(0);
        if (i < D && j < i) v = L[i * ldl + j];
        if (i < D && j == i) v = S(1) / L[i * ldl + i];
        block[j * 4 + r] = v;
      }
  }
}

// q (kPacks packs) = |z|^2 with L z = x - mu (forward substitution), for the kPacks packs of
// points starting at xt (Dp rows, row stride ldx packs). mu (Dp) is zero beyond D; zt is
// scratch (Dp x kPacks). Rows go in blocks of four: the terms of the columns already solved
// are independent fused multiply-adds; only the 4 x 4 diagonal block is a dependent chain.
template <int kPacks, class T, class S>
GPS_HD void whitened_sq_norms(int Dp, const S* packed, const S* mu, const T* xt, int ldx, T* zt,
                              T* q) {
  using la::mul_add;
  for (int j = 0; j < Dp; ++j)
    GPS_UNROLL
    for (int c = 0; c < kPacks; ++c) zt[j * kPacks + c] = xt[j * ldx + c] - T(mu[j]);
  T qs[kPacks];
  GPS_UNROLL
  for (int c = 0; c < kPacks; ++c) qs[c] = T(0);
  for (int b = 0; b < Dp / 4; ++b) {
    const S* block = packed + 8 * b * (b + 1);
    T s[4][kPacks];
    GPS_UNROLL
    for (int r = 0; r < 4; ++r)
      GPS_UNROLL
      for (int c = 0; c < kPacks; ++c) s[r][c] = T(0);
    for (int j = 0; j < 4 * b; ++j) {
      T x[kPacks];
      GPS_UNROLL
      for (int c = 0; c < kPacks; ++c) x[c] = zt[j * kPacks + c];
      GPS_UNROLL
      for (int r = 0; r < 4; ++r) {
        const T l(block[j * 4 + r]);
        GPS_UNROLL
        for (int c = 0; c < kPacks; ++c) s[r][c] = mul_add(l, x[c], s[r][c]);
      }
    }
    const S* diag = block + 16 * b;  // columns 4b .. 4b+3
    T* zb = zt + 4 * b * kPacks;
    GPS_UNROLL
    for (int r = 0; r < 4; ++r)
      GPS_UNROLL
      for (int c = 0; c < kPacks; ++c) {
        T t = zb[r * kPacks + c] - s[r][c];
        GPS_UNROLL
        for (int p = 0; p < r; ++p) t = mul_add(T(-diag[p * 4 + r]), zb[p * kPacks + c], t);
        const T z = t * T(diag[r * 4 + r]);
        zb[r * kPacks + c] = z;
        qs[c] = mul_add(z, z, qs[c]);
      }
  }
  GPS_UNROLL
  for (int c = 0; c < kPacks; ++c) q[c] = qs[c];
}

// wxt (Dp x ldx packs) = w .* xt over npacks packs of points, and mean (Dp) = the weighted
// sums sum_n w_n x_n (w: npacks packs, zero for padding points).
template <class T, class S>
GPS_HD void weighted_points(int Dp, int npacks, const T* w, const T* xt, int ldx, T* wxt,
                            S* mean) {
  for (int i = 0; i < Dp; ++i) {
    T s = T(0);
    for (int n = 0; n < npacks; ++n) {
      const T v = w[n] * xt[i * ldx + n];
      wxt[i * ldx + n] = v;
      s += v;
    }
    mean[i] = lane_sum(s);
  }
}

// XX (Dp x Dp) lower triangle = sum_n xt[i][n] wxt[j][n] (j <= i) over npacks packs; entries
// just above the diagonal may be written too. Blocks of 3 x 4 entries accumulate over all
// points.
template <class T, class S>
GPS_HD void weighted_scatter_lower(int Dp, int npacks, const T* xt, const T* wxt, int ldx, S* XX,
                                   int ldxx) {
  using la::mul_add;
  for (int i0 = 0; i0 < Dp; i0 += 3)
    for (int j0 = 0; j0 <= i0 + 2; j0 += 4) {
      const T* x0 = xt + i0 * ldx;
      const T* x1 = x0 + ldx;
      const T* x2 = x1 + ldx;
      const T* w0 = wxt + j0 * ldx;
      const T* w1 = w0 + ldx;
      const T* w2 = w1 + ldx;
      const T* w3 = w2 + ldx;
      T s00(0), s01(0), s02(0), s03(0), s10(0), s11(0), s12(0), s13(0), s20(0), s21(0), s22(0),
          s23(0);
      for (int n = 0; n < npacks; ++n) {
        const T a0 = x0[n], a1 = x1[n], a2 = x2[n];
        T b = w0[n];
        s00 = mul_add(a0, b, s00), s10 = mul_add(a1, b, s10), s20 = mul_add(a2, b, s20);
        b = w1[n];
        s01 = mul_add(a0, b, s01), s11 = mul_add(a1, b, s11), s21 = mul_add(a2, b, s21);
        b = w2[n];
        s02 = mul_add(a0, b, s02), s12 = mul_add(a1, b, s12), s22 = mul_add(a2, b, s22);
        b = w3[n];
        s03 = mul_add(a0, b, s03), s13 = mul_add(a1, b, s13), s23 = mul_add(a2, b, s23);
      }
      S* c0 = XX + i0 * ldxx + j0;
      S* c1 = c0 + ldxx;
      S* c2 = c1 + ldxx;
      c0[0] = lane_sum(s00), c0[1] = lane_sum(s01), c0[2] = lane_sum(s02), c0[3] = lane_sum(s03);
      c1[0] = lane_sum(s10), c1[1] = lane_sum(s11), c1[2] = lane_sum(s12), c1[3] = lane_sum(s13);
      c2[0] = lane_sum(s20), c2[1] = lane_sum(s21), c2[2] = lane_sum(s22), c2[3] = lane_sum(s23);
    }
}

}  // namespace gpsx::gmm
