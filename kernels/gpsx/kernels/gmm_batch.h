// Batch functors of the GMM EM (one item per condition, cluster or point) over
// condition-major arrays: the per-element work of both executors around the products.
// Layouts: points X (M x P x D), mu (M x K x D), sigma / chol / Linv (M x K x D x D),
// logmass / mass (M x K), logobs / logw (M x P x K).
#pragma once

#include <cstdint>

#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/philox.h"

namespace gpsx::gmm {

// ---- Device-path EM pieces (CUDA executor). The host queues a batched Cholesky of every
// cluster covariance (cuSOLVER) and the large products as batched GEMMs (cuBLAS); these
// functors do the per-element work between them.

// After the batched factorisation of cluster (m, k): zeroes the strict upper triangle of
// L, checks the pivot info, and forms logc and Linv = L^-1 for the whitening GEMM.
template <class T>
struct EstepFactorStep {
  int K, D;
  const int* info;          // (M x K) factorisation info, 0 when positive definite
  const T* logmass;         // (M x K)
  T* chol;                  // (M x K x D x D) L in the lower triangle
  T* Linv;                  // (M x K x D x D)
  T* logc;                  // (M x K)
  std::uint32_t* status;    // (M x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t k) const {
    const std::int64_t mk = m * K + k;
    T* L = chol + mk * D * D;
    T* Li = Linv + mk * D * D;
    for (int i = 0; i < D; ++i)
      for (int j = i + 1; j < D; ++j) L[i * D + j] = T(0);
    logc[mk] = T(0);
    status[mk] = info[mk] == 0 ? std::uint32_t(kOk) : std::uint32_t(kNotPositiveDefinite);
    if (status[mk] != kOk) return;
    logc[mk] = cluster_log_constant(D, L, D, logmass[mk]);
    if (!is_finite(logc[mk])) {
      status[mk] = kNotPositiveDefinite;
      return;
    }
    la::set_identity(D, Li, D);
    la::solve_lower_rows(D, D, L, D, Li, D);
  }
};

// Residuals R (M x K x P x D) = x_n - mu_k of every point and cluster; item (m K + k, n).
template <class T>
struct EstepResidualStep {
  int K, P, D;
  const T* X;               // (M x P x D)
  const T* mu;              // (M x K x D)
  T* R;                     // (M x K x P x D)

  GPS_HD void operator()(std::int64_t mk, std::int64_t n) const {
    const std::int64_t m = mk / K;
    const T* x = X + (m * P + n) * D;
    const T* c = mu + mk * D;
    T* r = R + (mk * P + n) * D;
    for (int i = 0; i < D; ++i) r[i] = x[i] - c[i];
  }
};

// logobs of point (m, n) from the whitened residuals Z (M x K x P x D) = R Linv^T.
template <class T>
struct EstepLogobsStep {
  int K, P, D;
  const T* Z;               // (M x K x P x D)
  const T* logc;            // (M x K)
  T* logobs;                // (M x P x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    for (int k = 0; k < K; ++k) {
      const T* z = Z + ((m * K + k) * P + n) * D;
      logobs[(m * P + n) * K + k] = logobs_from_mahalanobis(la::dot(D, z, z), logc[m * K + k]);
    }
  }
};

// Per-condition E-step status: OR over the clusters.
struct EstepStatusStep {
  int K;
  const std::uint32_t* cluster_status;  // (M x K)
  std::uint32_t* status;                // (M)

  GPS_HD void operator()(std::int64_t m) const {
    std::uint32_t st = kOk;
    for (int k = 0; k < K; ++k) st |= cluster_status[m * K + k];
    status[m] = st;
  }
};

// Log responsibilities logw of point (m, n) and its log normaliser lse (one item per point,
// so a few conditions still fill the GPU).
template <class T>
struct ResponsibilitiesStep {
  int P, K;
  const T* logobs;          // (M x P x K)
  T* logw;                  // (M x P x K)
  T* lse;                   // (M x P)

  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    const std::int64_t mn = m * P + n;
    lse[mn] = responsibilities_row(K, logobs + mn * K, logw + mn * K);
  }
};

// Log-likelihood ll (M) of condition m: its points' normalisers summed in point order
// (the CPU path's order, so both give the same bits).
template <class T>
struct LoglikSumStep {
  int P;
  const T* lse;             // (M x P)
  T* ll;                    // (M)

  GPS_HD void operator()(std::int64_t m) const {
    T s = T(0);
    for (int n = 0; n < P; ++n) s += lse[m * P + n];
    ll[m] = s;
  }
};

// M-step column normaliser col_lse (M x K) of cluster (m, k) of an active condition (one
// item per cluster); MassStep then forms the masses as gmm::mstep_mass does.
template <class T>
struct ColumnLseStep {
  int P, K;
  const int* active;        // (M)
  const T* logw;            // (M x P x K)
  T* col_lse;               // (M x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t k) const {
    if (active[m]) col_lse[m * K + k] = log_sum_exp(P, logw + m * P * K + k, K);
  }
};

template <class T>
struct MassStep {
  int K;
  const int* active;        // (M)
  const T* col_lse;         // (M x K)
  T* logmass;               // (M x K)
  T* mass;                  // (M x K)

  GPS_HD void operator()(std::int64_t m) const {
    using std::exp;
    if (!active[m]) return;
    const T total = log_sum_exp(K, col_lse + m * K, 1);
    for (int k = 0; k < K; ++k) {
      logmass[m * K + k] = col_lse[m * K + k] - total;
      mass[m * K + k] = exp(logmass[m * K + k]);
    }
  }
};

// Refit weights W (M x K x P) and sqrt-weighted points Xw (M x K x P x D) of point (m, n),
// inputs of the mean GEMM (W X) and the scatter GEMM (Xw^T Xw).
template <class T>
struct MstepWeightStep {
  int P, K, D;
  const int* active;        // (M)
  const T* X;               // (M x P x D)
  const T* logw;            // (M x P x K)
  const T* col_lse;         // (M x K)
  const T* mass;            // (M x K)
  T* W;                     // (M x K x P)
  T* Xw;                    // (M x K x P x D)

  GPS_HD void operator()(std::int64_t m, std::int64_t n) const {
    using std::sqrt;
    if (!active[m]) return;
    const T* x = X + (m * P + n) * D;
    for (int k = 0; k < K; ++k) {
      const std::int64_t mk = m * K + k;
      const T w = mstep_weight(P, K, logw[(m * P + n) * K + k], col_lse[mk], mass[mk]);
      W[mk * P + n] = w;
      const T sw = sqrt(w);
      T* xw = Xw + (mk * P + n) * D;
      for (int i = 0; i < D; ++i) xw[i] = x[i] * sw;
    }
  }
};

// New mean and covariance of cluster (m, k) of an active condition from the GEMM results.
template <class T>
struct MstepCovarianceStep {
  int K, D;
  const int* active;        // (M)
  const T* mu_new;          // (M x K x D) W X
  const T* XX;              // (M x K x D x D) Xw^T Xw
  T* mu;                    // (M x K x D)
  T* sigma;                 // (M x K x D x D)

  GPS_HD void operator()(std::int64_t m, std::int64_t k) const {
    if (!active[m]) return;
    const std::int64_t mk = m * K + k;
    for (int i = 0; i < D; ++i) mu[mk * D + i] = mu_new[mk * D + i];
    mstep_covariance(D, XX + mk * D * D, D, mu + mk * D, sigma + mk * D * D, D);
  }
};

// ---- Initialisation and inference (both executors) --------------------------------------

// Uniform initial assignment in [0, K) of point (i, p) of condition m_begin + i: Philox
// stream (draw << 32 | m), counter p, so a chunked draw equals the whole-batch one.
struct RandomAssignmentStep {
  std::uint64_t seed, draw;
  int m_begin, P, K;
  int* assignment;          // (mc x P)

  GPS_HD void operator()(std::int64_t i, std::int64_t p) const {
    const std::uint64_t stream = (draw << 32) | static_cast<std::uint32_t>(m_begin + i);
    assignment[i * P + p] = static_cast<int>(
        rng::uniform_int(seed, stream, static_cast<std::uint64_t>(p), static_cast<std::uint32_t>(K)));
  }
};

// Index of the first non-finite entry of condition m's data (n values), or -1.
template <class T>
struct FirstNonFiniteStep {
  std::int64_t n;
  const T* x;               // (M x n)
  std::int64_t* first;      // (M)

  GPS_HD void operator()(std::int64_t m) const {
    first[m] = -1;
    for (std::int64_t i = 0; i < n; ++i)
      if (!is_finite(x[m * n + i])) {
        first[m] = i;
        return;
      }
  }
};

// Index of the first label of condition m's assignment outside [0, K), or -1.
struct FirstBadLabelStep {
  int P, K;
  const int* assignment;    // (M x P)
  std::int64_t* first;      // (M)

  GPS_HD void operator()(std::int64_t m) const {
    first[m] = -1;
    for (int p = 0; p < P; ++p) {
      const int a = assignment[m * P + p];
      if (a < 0 || a >= K) {
        first[m] = p;
        return;
      }
    }
  }
};

// Initial cluster (m, k) from the assignment (init_cluster), uniform masses and N0 = P;
// conditions with ok[m] == 0 get NaN parameters (they have no valid data).
template <class T>
struct InitClusterStep {
  int P, K, D;
  const int* ok;            // (M)
  const T* X;               // (M x P x D)
  const int* assignment;    // (M x P)
  T* mu;                    // (M x K x D)
  T* sigma;                 // (M x K x D x D)
  T* logmass;               // (M x K)
  T* mass;                  // (M x K)
  T* N0;                    // (M)
  std::uint32_t* status;    // (M x K)

  GPS_HD void operator()(std::int64_t m, std::int64_t k) const {
    using std::log;
    const std::int64_t mk = m * K + k;
    status[mk] = kOk;
    if (!ok[m]) {
      const T nan = T(0) / T(0);
      la::fill(1, D, nan, mu + mk * D, D);
      la::fill(D, D, nan, sigma + mk * D * D, D);
      logmass[mk] = mass[mk] = nan;
      if (k == 0) N0[m] = nan;
      return;
    }
    status[mk] = init_cluster(P, D, X + m * P * D, D, assignment + m * P, static_cast<int>(k), K,
                              mu + mk * D, sigma + mk * D * D);
    logmass[mk] = log(T(1) / T(K));
    mass[mk] = T(1) / T(K);
    if (k == 0) N0[m] = T(P);
  }
};

// GMM.inference of condition m from the E-step's log observations of its Q query points
// (overwritten by the log responsibilities), scaled like DynamicsPriorGMM.eval. A condition
// whose E-step failed (no valid log observations) gets NaN outputs.
template <class T>
struct InferenceStep {
  int Q, K, D;
  T strength;
  const std::uint32_t* estep_status;  // (M)
  const T* mu;              // (M x K x D)
  const T* sigma;           // (M x K x D x D)
  const T* N0;              // (M)
  T* logobs;                // (M x Q x K)
  T* wts;                   // (M x (K + D)) scratch
  T* logwts;                // (M x K)
  T* mu0;                   // (M x D)
  T* Phi;                   // (M x D x D)
  T* m_out;                 // (M)
  T* n0;                    // (M)

  GPS_HD void operator()(std::int64_t m) const {
    T* lw = logwts + m * K;
    T* P = Phi + m * D * D;
    if (estep_status[m] != kOk) {
      const T nan = T(0) / T(0);
      la::fill(1, K, nan, lw, K);
      la::fill(1, D, nan, mu0 + m * D, D);
      la::fill(D, D, nan, P, D);
      m_out[m] = n0[m] = nan;
      return;
    }
    cluster_weights(Q, K, logobs + m * Q * K, lw);
    moments(K, D, mu + m * K * D, sigma + m * K * D * D, lw, wts + m * (K + D), mu0 + m * D, P, D);
    prior_scalars(N0[m], D, strength, m_out + m, n0 + m);
    for (int i = 0; i < D * D; ++i) P[i] *= m_out[m];
  }
};

}  // namespace gpsx::gmm
