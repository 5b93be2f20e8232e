// Small dense linear algebra for per-(condition, timestep) work: row-major matrices
// addressed by pointer + leading dimension (elements between consecutive rows).
//
// These run inside one GPU thread or one CPU loop iteration, so they are plain loops
// without allocation. Sizes are small (dX + dU <= ~64). Factorisations report failure
// through status bits instead of aborting.
#pragma once

#include <cmath>

#include "gpsx/kernels/hd.h"

namespace gpsx::la {

// C (m x n) = alpha * op(A) * op(B) + beta * C, op(A) is (m x k), op(B) is (k x n).
// ta / tb select the transpose. beta == 0 overwrites C (NaNs in C are not propagated).
template <class T>
GPS_HD void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* A, int lda,
                 const T* B, int ldb, T beta, T* C, int ldc) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      T acc = T(0);
      for (int p = 0; p < k; ++p) {
        const T a = ta ? A[p * lda + i] : A[i * lda + p];
        const T b = tb ? B[j * ldb + p] : B[p * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = (beta == T(0)) ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

// y (m) = alpha * op(A) * x + beta * y, with op(A) (m x n).
template <class T>
GPS_HD void gemv(bool ta, int m, int n, T alpha, const T* A, int lda, const T* x, T beta,
                 T* y) {
  for (int i = 0; i < m; ++i) {
    T acc = T(0);
    for (int p = 0; p < n; ++p) acc += (ta ? A[p * lda + i] : A[i * lda + p]) * x[p];
    y[i] = (beta == T(0)) ? alpha * acc : alpha * acc + beta * y[i];
  }
}

// A (n x n) = identity.
template <class T>
GPS_HD void set_identity(int n, T* A, int lda) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) A[i * lda + j] = i == j ? T(1) : T(0);
}

// A (n x n) = 0.5 * (A + A^T), in place.
template <class T>
GPS_HD void symmetrize(int n, T* A, int lda) {
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const T s = T(0.5) * (A[i * lda + j] + A[j * lda + i]);
      A[i * lda + j] = s;
      A[j * lda + i] = s;
    }
}

// In-place Cholesky A = L L^T of a symmetric (n x n) matrix; only the lower triangle is
// read. On success the lower triangle holds L and the strict upper triangle is zeroed.
// Fails (like LAPACK potrf) when a pivot is not strictly positive or not finite; A is
// then partly overwritten.
template <class T>
GPS_HD std::uint32_t cholesky_lower(int n, T* A, int lda) {
  using std::sqrt;
  for (int j = 0; j < n; ++j) {
    T d = A[j * lda + j];
    for (int p = 0; p < j; ++p) d -= A[j * lda + p] * A[j * lda + p];
    if (!(d > T(0)) || !is_finite(d)) return kNotPositiveDefinite;
    const T ljj = sqrt(d);
    A[j * lda + j] = ljj;
    const T inv = T(1) / ljj;
    for (int i = j + 1; i < n; ++i) {
      T s = A[i * lda + j];
      for (int p = 0; p < j; ++p) s -= A[i * lda + p] * A[j * lda + p];
      A[i * lda + j] = s * inv;
    }
    for (int i = 0; i < j; ++i) A[i * lda + j] = T(0);
  }
  return kOk;
}

// Solves L Y = B in place (B is n x nrhs), L lower triangular (n x n).
template <class T>
GPS_HD void solve_lower(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  for (int c = 0; c < nrhs; ++c)
    for (int i = 0; i < n; ++i) {
      T s = B[i * ldb + c];
      for (int p = 0; p < i; ++p) s -= L[i * ldl + p] * B[p * ldb + c];
      B[i * ldb + c] = s / L[i * ldl + i];
    }
}

// Solves L^T Y = B in place (B is n x nrhs), L lower triangular (n x n).
template <class T>
GPS_HD void solve_lower_transposed(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  for (int c = 0; c < nrhs; ++c)
    for (int i = n - 1; i >= 0; --i) {
      T s = B[i * ldb + c];
      for (int p = i + 1; p < n; ++p) s -= L[p * ldl + i] * B[p * ldb + c];
      B[i * ldb + c] = s / L[i * ldl + i];
    }
}

// Solves (L L^T) X = B in place given the Cholesky factor L.
template <class T>
GPS_HD void cholesky_solve(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  solve_lower(n, nrhs, L, ldl, B, ldb);
  solve_lower_transposed(n, nrhs, L, ldl, B, ldb);
}

// Ainv (n x n) = (L L^T)^-1, symmetric, from the Cholesky factor L.
template <class T>
GPS_HD void cholesky_inverse(int n, const T* L, int ldl, T* Ainv, int lda) {
  set_identity(n, Ainv, lda);
  cholesky_solve(n, n, L, ldl, Ainv, lda);
  symmetrize(n, Ainv, lda);
}

// log det(L L^T) = 2 sum log L_ii.
template <class T>
GPS_HD T cholesky_logdet(int n, const T* L, int ldl) {
  using std::log;
  T s = T(0);
  for (int i = 0; i < n; ++i) s += log(L[i * ldl + i]);
  return T(2) * s;
}

// Copies an (m x n) block.
template <class T>
GPS_HD void copy(int m, int n, const T* A, int lda, T* B, int ldb) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) B[i * ldb + j] = A[i * lda + j];
}

// Transposes an (m x n) block into B (n x m).
template <class T>
GPS_HD void transpose(int m, int n, const T* A, int lda, T* B, int ldb) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) B[j * ldb + i] = A[i * lda + j];
}

template <class T>
GPS_HD void fill(int m, int n, T value, T* A, int lda) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) A[i * lda + j] = value;
}

template <class T>
GPS_HD T dot(int n, const T* x, const T* y) {
  T s = T(0);
  for (int i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}

// Triangular solves for many right-hand sides (B is n x nrhs, row-major), L lower
// triangular. Same operations per element, in the same order, as solve_lower /
// solve_lower_transposed (so results are bit-identical), loops ordered as row updates
// (axpy over the nrhs contiguous columns) instead of one dot product per column (why:
// benchmarks/RESULTS.md, "Notes moved from the kernels").
template <class T>
GPS_HD void solve_lower_rows(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  for (int i = 0; i < n; ++i) {
    T* bi = B + i * ldb;
    for (int p = 0; p < i; ++p) {
      const T l = L[i * ldl + p];
      const T* bp = B + p * ldb;
      for (int c = 0; c < nrhs; ++c) bi[c] -= l * bp[c];
    }
    const T d = L[i * ldl + i];
    for (int c = 0; c < nrhs; ++c) bi[c] /= d;
  }
}
template <class T>
GPS_HD void solve_lower_transposed_rows(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  for (int i = n - 1; i >= 0; --i) {
    T* bi = B + i * ldb;
    for (int p = i + 1; p < n; ++p) {
      const T l = L[p * ldl + i];
      const T* bp = B + p * ldb;
      for (int c = 0; c < nrhs; ++c) bi[c] -= l * bp[c];
    }
    const T d = L[i * ldl + i];
    for (int c = 0; c < nrhs; ++c) bi[c] /= d;
  }
}

// x . y summed in four interleaved partial sums, faster than dot() (see
// benchmarks/RESULTS.md, "Notes moved from the kernels"). The rounding differs from
// dot(); use it where no golden value depends on the summation order (e.g. rollouts,
// which are reproducible either way).
template <class T>
GPS_HD T dot_split4(int n, const T* x, const T* y) {
  T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; ++i) s0 += x[i] * y[i];
  return (s0 + s1) + (s2 + s3);
}


// Copies the strict upper triangle of a square (n x n) matrix onto its lower triangle.
template <class T>
GPS_HD void mirror_upper(int n, T* A, int lda) {
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) A[j * lda + i] = A[i * lda + j];
}


// cholesky_lower computed right-looking: after column j is final it is mirrored into the
// strict upper part of row j, and every later row i subtracts l_ij times that row over
// the contiguous range (j, i]. Each entry sees the same subtractions in the same order
// (p = 0..j-1) and the same scaling as cholesky_lower, so results are bit-identical, but
// the updates vectorise instead of running as serial dot products. Same contract: the
// lower triangle is read, the strict upper triangle is zeroed on success.
template <class T>
GPS_HD std::uint32_t cholesky_lower_rows(int n, T* A, int lda) {
  using std::sqrt;
  for (int j = 0; j < n; ++j) {
    T* aj = A + j * lda;
    const T d = aj[j];
    if (!(d > T(0)) || !is_finite(d)) return kNotPositiveDefinite;
    const T ljj = sqrt(d);
    aj[j] = ljj;
    const T inv = T(1) / ljj;
    for (int i = j + 1; i < n; ++i) {
      A[i * lda + j] = A[i * lda + j] * inv;
      aj[i] = A[i * lda + j];
    }
    for (int i = j + 1; i < n; ++i) {
      T* ai = A + i * lda;
      const T lij = ai[j];
      for (int k = j + 1; k <= i; ++k) ai[k] -= lij * aj[k];
    }
  }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) A[i * lda + j] = T(0);
  return kOk;
}

}  // namespace gpsx::la
