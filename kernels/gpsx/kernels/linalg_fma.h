// Small dense products and solves whose inner loops are chains of fused multiply-adds,
// written for scalars and SIMD packs (Lanes, lanes.h) alike: the hot loops of the LQR pass
// and the GMM EM. The plain kernels are in linalg.h.
#pragma once

#include <cstdint>

#include "gpsx/kernels/hd.h"
#include "gpsx/kernels/linalg.h"

// ---- accumulating products with fused multiply-adds -----------------------------------------
// The innermost loops never reduce into one scalar, and they read four rows of B per pass
// over a row of C. Each term is accumulated by mul_add (why both: benchmarks/RESULTS.md,
// "Notes moved from the kernels"). Results are the same for every scalar type that
// overloads mul_add lane-wise (Lanes, lanes.h), so SIMD packs stay bit-identical to
// scalar code.
namespace gpsx::la {

// a * b + c: fused (one rounding) where the target has FMA (x86-64-v3 builds, GPUs), else
// the plain expression, since a library fma would be slow.
template <class T>
GPS_HD GPS_INLINE T mul_add(T a, T b, T c) {
#if defined(__CUDA_ARCH__) || defined(__FMA__)
  using std::fma;
  return fma(a, b, c);
#else
  return a * b + c;
#endif
}

// C (m x n) += alpha * op(A) (m x k) * B (k x n) with op(A)(i, p) = A[i * ars + p * acs].
// Blocks of 3 x 4 entries of C are accumulated over the whole k, column blocks being the
// outer loop (why: benchmarks/RESULTS.md, "Notes moved from the kernels"). Each C entry
// accumulates p = 0..k-1 in order. upper_only: blocks entirely below the diagonal are
// skipped (others are computed whole; complete with mirror_upper).
// unit: alpha == 1, whose products are skipped (a loop-invariant choice, hence a template).
// Entry (i, j) starts from start(i, j) (StartAt below): C itself, zero (without filling and
// reading C), another matrix (without copying it into C first) or any elementwise value.
template <bool unit, class T, class Start>
GPS_HD void gemm_fma_blocked(int m, int n, int k, T alpha, const T* A, int ars, int acs,
                             const T* B, int ldb, const Start& start, T* C, int ldc,
                             bool upper_only) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const int i_end = upper_only && j + 4 < m ? j + 4 : m;  // rows with an entry >= diagonal
    int i = 0;
    for (; i + 3 <= i_end; i += 3) {
      const T* x = A + i * ars;
      const T* y = x + ars;
      const T* z = y + ars;
      T* c0 = C + i * ldc + j;
      T* c1 = c0 + ldc;
      T* c2 = c1 + ldc;
      T s00 = start(i, j), s01 = start(i, j + 1), s02 = start(i, j + 2), s03 = start(i, j + 3);
      T s10 = start(i + 1, j), s11 = start(i + 1, j + 1), s12 = start(i + 1, j + 2),
        s13 = start(i + 1, j + 3);
      T s20 = start(i + 2, j), s21 = start(i + 2, j + 1), s22 = start(i + 2, j + 2),
        s23 = start(i + 2, j + 3);
      for (int p = 0; p < k; ++p) {
        const T xa = unit ? x[p * acs] : alpha * x[p * acs];
        const T ya = unit ? y[p * acs] : alpha * y[p * acs];
        const T za = unit ? z[p * acs] : alpha * z[p * acs];
        // one entry of B live at a time (see RESULTS.md, "Notes moved from the kernels")
        const T* b = B + p * ldb + j;
        T bv = b[0];
        s00 = mul_add(xa, bv, s00);
        s10 = mul_add(ya, bv, s10);
        s20 = mul_add(za, bv, s20);
        bv = b[1];
        s01 = mul_add(xa, bv, s01);
        s11 = mul_add(ya, bv, s11);
        s21 = mul_add(za, bv, s21);
        bv = b[2];
        s02 = mul_add(xa, bv, s02);
        s12 = mul_add(ya, bv, s12);
        s22 = mul_add(za, bv, s22);
        bv = b[3];
        s03 = mul_add(xa, bv, s03);
        s13 = mul_add(ya, bv, s13);
        s23 = mul_add(za, bv, s23);
      }
      c0[0] = s00, c0[1] = s01, c0[2] = s02, c0[3] = s03;
      c1[0] = s10, c1[1] = s11, c1[2] = s12, c1[3] = s13;
      c2[0] = s20, c2[1] = s21, c2[2] = s22, c2[3] = s23;
    }
    for (; i < i_end; ++i) {  // the last one or two rows
      const T* x = A + i * ars;
      T* c = C + i * ldc + j;
      T s0 = start(i, j), s1 = start(i, j + 1), s2 = start(i, j + 2), s3 = start(i, j + 3);
      for (int p = 0; p < k; ++p) {
        const T xa = unit ? x[p * acs] : alpha * x[p * acs];
        const T* b = B + p * ldb + j;
        s0 = mul_add(xa, b[0], s0);
        s1 = mul_add(xa, b[1], s1);
        s2 = mul_add(xa, b[2], s2);
        s3 = mul_add(xa, b[3], s3);
      }
      c[0] = s0, c[1] = s1, c[2] = s2, c[3] = s3;
    }
  }
  for (; j < n; ++j) {  // last columns: eight rows at a time
    const int i_end = upper_only && j + 1 < m ? j + 1 : m;
    int i = 0;
    for (; i + 8 <= i_end; i += 8) {
      const T* x = A + i * ars;
      T* c = C + i * ldc + j;
      T s0 = start(i, j), s1 = start(i + 1, j), s2 = start(i + 2, j), s3 = start(i + 3, j);
      T s4 = start(i + 4, j), s5 = start(i + 5, j), s6 = start(i + 6, j), s7 = start(i + 7, j);
      for (int p = 0; p < k; ++p) {
        const T* a = x + p * acs;
        const T b = B[p * ldb + j];
        s0 = mul_add(unit ? a[0] : alpha * a[0], b, s0);
        s1 = mul_add(unit ? a[ars] : alpha * a[ars], b, s1);
        s2 = mul_add(unit ? a[2 * ars] : alpha * a[2 * ars], b, s2);
        s3 = mul_add(unit ? a[3 * ars] : alpha * a[3 * ars], b, s3);
        s4 = mul_add(unit ? a[4 * ars] : alpha * a[4 * ars], b, s4);
        s5 = mul_add(unit ? a[5 * ars] : alpha * a[5 * ars], b, s5);
        s6 = mul_add(unit ? a[6 * ars] : alpha * a[6 * ars], b, s6);
        s7 = mul_add(unit ? a[7 * ars] : alpha * a[7 * ars], b, s7);
      }
      c[0] = s0, c[ldc] = s1, c[2 * ldc] = s2, c[3 * ldc] = s3;
      c[4 * ldc] = s4, c[5 * ldc] = s5, c[6 * ldc] = s6, c[7 * ldc] = s7;
    }
    for (; i < i_end; ++i) {
      const T* x = A + i * ars;
      T s = start(i, j);
      for (int p = 0; p < k; ++p)
        s = mul_add(unit ? x[p * acs] : alpha * x[p * acs], B[p * ldb + j], s);
      C[i * ldc + j] = s;
    }
  }
}

// gemm_fma_blocked with the unit-alpha choice made once per call.
template <class T, class Start>
GPS_HD void gemm_fma_blocked_any(int m, int n, int k, T alpha, const T* A, int ars, int acs,
                                 const T* B, int ldb, const Start& start, T* C, int ldc,
                                 bool upper_only) {
  if (alpha == T(1))
    gemm_fma_blocked<true>(m, n, k, alpha, A, ars, acs, B, ldb, start, C, ldc, upper_only);
  else
    gemm_fma_blocked<false>(m, n, k, alpha, A, ars, acs, B, ldb, start, C, ldc, upper_only);
}

// Start values of the blocked products' entries.
template <class T>
struct StartAtZero {
  GPS_HD T operator()(int, int) const { return T(0); }
};
template <class T>
struct StartAtMatrix {  // D (ldd), which may be C itself
  const T* D;
  int ldd;
  GPS_HD T operator()(int i, int j) const { return D[i * ldd + j]; }
};

// How gemm_nn_fma / gemm_tn_fma order their loops: plain scalars sweep rows of C (the
// compiler vectorises along a row); types whose every entry is already a full vector (SIMD
// packs, lanes.h specialises this) keep 3 x 4 blocks of C in registers. Both orders do the
// same operations per entry (p = 0..k-1), so results are identical.
template <class T>
struct RegisterBlocked {
  static constexpr bool value = false;
};

// C (m x n) += alpha * A (m x k) * B (k x n). With upper_only, entries below the
// diagonal are not all updated (at most the first subdiagonal is): for symmetric results,
// completed by mirror_upper.
template <class T>
GPS_HD void gemm_nn_fma(int m, int n, int k, T alpha, const T* A, int lda, const T* B, int ldb,
                        T* C, int ldc, bool upper_only = false) {
  if (RegisterBlocked<T>::value) {
    gemm_fma_blocked_any(m, n, k, alpha, A, lda, 1, B, ldb, StartAtMatrix<T>{C, ldc}, C, ldc,
                         upper_only);
    return;
  }
  int i = 0;
  for (; i + 2 <= m; i += 2) {
    T* c0 = C + i * ldc;
    T* c1 = c0 + ldc;
    const T* x = A + i * lda;
    const T* y = x + lda;
    const int j0 = upper_only ? i : 0;
    int p = 0;
    for (; p + 4 <= k; p += 4) {
      const T x0 = alpha * x[p], x1 = alpha * x[p + 1], x2 = alpha * x[p + 2], x3 = alpha * x[p + 3];
      const T y0 = alpha * y[p], y1 = alpha * y[p + 1], y2 = alpha * y[p + 2], y3 = alpha * y[p + 3];
      const T *b0 = B + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      for (int j = j0; j < n; ++j) {
        const T v0 = b0[j], v1 = b1[j], v2 = b2[j], v3 = b3[j];
        c0[j] = mul_add(x3, v3, mul_add(x2, v2, mul_add(x1, v1, mul_add(x0, v0, c0[j]))));
        c1[j] = mul_add(y3, v3, mul_add(y2, v2, mul_add(y1, v1, mul_add(y0, v0, c1[j]))));
      }
    }
    for (; p < k; ++p) {
      const T x0 = alpha * x[p], y0 = alpha * y[p];
      const T* b0 = B + p * ldb;
      for (int j = j0; j < n; ++j) {
        c0[j] = mul_add(x0, b0[j], c0[j]);
        c1[j] = mul_add(y0, b0[j], c1[j]);
      }
    }
  }
  for (; i < m; ++i) {
    T* c = C + i * ldc;
    const T* a = A + i * lda;
    const int j0 = upper_only ? i : 0;
    int p = 0;
    for (; p + 4 <= k; p += 4) {
      const T a0 = alpha * a[p], a1 = alpha * a[p + 1], a2 = alpha * a[p + 2],
              a3 = alpha * a[p + 3];
      const T *b0 = B + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      for (int j = j0; j < n; ++j)
        c[j] = mul_add(a3, b3[j], mul_add(a2, b2[j], mul_add(a1, b1[j], mul_add(a0, b0[j], c[j]))));
    }
    for (; p < k; ++p) {
      const T a0 = alpha * a[p];
      const T* b0 = B + p * ldb;
      for (int j = j0; j < n; ++j) c[j] = mul_add(a0, b0[j], c[j]);
    }
  }
}

// C (m x n) += alpha * A^T * B with A (k x m), B (k x n), upper_only as in gemm_nn_fma.
template <class T>
GPS_HD void gemm_tn_fma(int m, int n, int k, T alpha, const T* A, int lda, const T* B, int ldb,
                        T* C, int ldc, bool upper_only) {
  if (RegisterBlocked<T>::value) {
    gemm_fma_blocked_any(m, n, k, alpha, A, 1, lda, B, ldb, StartAtMatrix<T>{C, ldc}, C, ldc,
                         upper_only);
    return;
  }
  int p = 0;
  for (; p + 4 <= k; p += 4) {
    const T *b0 = B + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    const T *a0 = A + p * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    int i = 0;
    for (; i + 2 <= m; i += 2) {
      const T x0 = alpha * a0[i], x1 = alpha * a1[i], x2 = alpha * a2[i], x3 = alpha * a3[i];
      const T y0 = alpha * a0[i + 1], y1 = alpha * a1[i + 1], y2 = alpha * a2[i + 1],
              y3 = alpha * a3[i + 1];
      T* c0 = C + i * ldc;
      T* c1 = c0 + ldc;
      for (int j = upper_only ? i : 0; j < n; ++j) {
        const T v0 = b0[j], v1 = b1[j], v2 = b2[j], v3 = b3[j];
        c0[j] = mul_add(x3, v3, mul_add(x2, v2, mul_add(x1, v1, mul_add(x0, v0, c0[j]))));
        c1[j] = mul_add(y3, v3, mul_add(y2, v2, mul_add(y1, v1, mul_add(y0, v0, c1[j]))));
      }
    }
    for (; i < m; ++i) {
      const T x0 = alpha * a0[i], x1 = alpha * a1[i], x2 = alpha * a2[i], x3 = alpha * a3[i];
      T* c = C + i * ldc;
      for (int j = upper_only ? i : 0; j < n; ++j)
        c[j] = mul_add(x3, b3[j], mul_add(x2, b2[j], mul_add(x1, b1[j], mul_add(x0, b0[j], c[j]))));
    }
  }
  for (; p < k; ++p) {
    const T* b0 = B + p * ldb;
    for (int i = 0; i < m; ++i) {
      const T a0 = alpha * A[p * lda + i];
      T* c = C + i * ldc;
      for (int j = upper_only ? i : 0; j < n; ++j) c[j] = mul_add(a0, b0[j], c[j]);
    }
  }
}

// Columns [c, c + kW) of y += alpha A^T x in registers over all rows of A, each entry's
// terms in row order as gemv_t_fma's loop adds them (the same results).
template <int kW, class T>
GPS_HD GPS_INLINE void gemv_t_fma_columns(int c, int m, T alpha, const T* A, int lda,
                                          const T* x, T* y) {
  T acc[kW];
  GPS_UNROLL
  for (int k = 0; k < kW; ++k) acc[k] = y[c + k];
  for (int p = 0; p < m; ++p) {
    const T a = alpha * x[p];
    const T* row = A + p * lda + c;
    GPS_UNROLL
    for (int k = 0; k < kW; ++k) acc[k] = mul_add(a, row[k], acc[k]);
  }
  GPS_UNROLL
  for (int k = 0; k < kW; ++k) y[c + k] = acc[k];
}

// y (n) += alpha * A^T x with A (m x n), x (m). Register-blocked types keep 8 entries of
// y in registers over the rows (no load and store of y per term).
template <class T>
GPS_HD void gemv_t_fma(int m, int n, T alpha, const T* A, int lda, const T* x, T* y) {
  if (RegisterBlocked<T>::value) {
    int c = 0;
    for (; c + 8 <= n; c += 8) gemv_t_fma_columns<8>(c, m, alpha, A, lda, x, y);
    for (; c < n; ++c) gemv_t_fma_columns<1>(c, m, alpha, A, lda, x, y);
    return;
  }
  for (int p = 0; p < m; ++p) {
    const T a = alpha * x[p];
    const T* row = A + p * lda;
    for (int i = 0; i < n; ++i) y[i] = mul_add(a, row[i], y[i]);
  }
}

// Columns [c, c + kW) of row i of a substitution in registers: b_i = (b_i - sum_p l_p b_p)
// r over rows p = p0..p1-1 in order, l_p = lc[p * ls]; the same operations per entry as
// the row loops of cholesky_solve_rows_recip.
template <int kW, class T>
GPS_HD GPS_INLINE void substitute_columns(int c, int p0, int p1, const T* lc, int ls, T r,
                                          T* B, int ldb, T* bi) {
  T acc[kW];
  GPS_UNROLL
  for (int k = 0; k < kW; ++k) acc[k] = bi[c + k];
  for (int p = p0; p < p1; ++p) {
    const T l = -lc[p * ls];
    const T* bp = B + p * ldb + c;
    GPS_UNROLL
    for (int k = 0; k < kW; ++k) acc[k] = mul_add(l, bp[k], acc[k]);
  }
  GPS_UNROLL
  for (int k = 0; k < kW; ++k) bi[c + k] = acc[k] * r;
}

// cholesky_solve_rows_recip for register-blocked types: 8 entries of a row of B stay in
// registers over the row's terms.
template <class T>
GPS_HD void cholesky_solve_rows_recip_blocked(int n, int nrhs, const T* L, int ldl, T* B,
                                              int ldb) {
  const auto row = [&](int i, int p0, int p1, const T* lc, int ls) {
    const T r = T(1) / L[i * ldl + i];
    T* bi = B + i * ldb;
    int c = 0;
    for (; c + 8 <= nrhs; c += 8) substitute_columns<8>(c, p0, p1, lc, ls, r, B, ldb, bi);
    for (; c < nrhs; ++c) substitute_columns<1>(c, p0, p1, lc, ls, r, B, ldb, bi);
  };
  for (int i = 0; i < n; ++i) row(i, 0, i, L + i * ldl, 1);         // L Y = B
  for (int i = n - 1; i >= 0; --i) row(i, i + 1, n, L + i, ldl);     // L^T X = Y
}

// (L L^T) X = B in place like cholesky_solve, with fused updates and each row scaled by
// the reciprocal of its pivot instead of nrhs divisions (n divisions in all; why:
// benchmarks/RESULTS.md, "Notes moved from the kernels"). Rounding differs from
// cholesky_solve in the last bits.
template <class T>
GPS_HD void cholesky_solve_rows_recip(int n, int nrhs, const T* L, int ldl, T* B, int ldb) {
  if (RegisterBlocked<T>::value) {
    cholesky_solve_rows_recip_blocked(n, nrhs, L, ldl, B, ldb);
    return;
  }
  for (int i = 0; i < n; ++i) {
    T* bi = B + i * ldb;
    for (int p = 0; p < i; ++p) {
      const T l = -L[i * ldl + p];
      const T* bp = B + p * ldb;
      for (int c = 0; c < nrhs; ++c) bi[c] = mul_add(l, bp[c], bi[c]);
    }
    const T r = T(1) / L[i * ldl + i];
    for (int c = 0; c < nrhs; ++c) bi[c] *= r;
  }
  for (int i = n - 1; i >= 0; --i) {
    T* bi = B + i * ldb;
    for (int p = i + 1; p < n; ++p) {
      const T l = -L[p * ldl + i];
      const T* bp = B + p * ldb;
      for (int c = 0; c < nrhs; ++c) bi[c] = mul_add(l, bp[c], bi[c]);
    }
    const T r = T(1) / L[i * ldl + i];
    for (int c = 0; c < nrhs; ++c) bi[c] *= r;
  }
}

// Ainv (n x n) = (L L^T)^-1 through cholesky_solve_rows_recip on the identity, symmetrised.
template <class T>
GPS_HD void cholesky_inverse_rows_recip(int n, const T* L, int ldl, T* Ainv, int lda) {
  set_identity(n, Ainv, lda);
  cholesky_solve_rows_recip(n, n, L, ldl, Ainv, lda);
  symmetrize(n, Ainv, lda);
}

// C (m x n) = alpha * A (m x k) * B (k x n): gemm_nn_fma into a zero-filled C (the same
// results), without reading C where the products are register-blocked.
template <class T>
GPS_HD void gemm_nn_fma_set(int m, int n, int k, T alpha, const T* A, int lda, const T* B,
                            int ldb, T* C, int ldc) {
  if (RegisterBlocked<T>::value) {
    gemm_fma_blocked_any(m, n, k, alpha, A, lda, 1, B, ldb, StartAtZero<T>(), C, ldc, false);
    return;
  }
  fill(m, n, T(0), C, ldc);
  gemm_nn_fma(m, n, k, alpha, A, lda, B, ldb, C, ldc);
}

// C (m x n) = D + alpha * A (m x k) * B (k x n): gemm_nn_fma on a copy of D (the same
// results), without the copy where the products are register-blocked. upper_only as in
// gemm_nn_fma (entries below the diagonal are then not all written).
template <class T>
GPS_HD void gemm_nn_fma_from(int m, int n, int k, T alpha, const T* A, int lda, const T* B,
                             int ldb, const T* D, int ldd, T* C, int ldc, bool upper_only) {
  if (RegisterBlocked<T>::value) {
    gemm_fma_blocked_any(m, n, k, alpha, A, lda, 1, B, ldb, StartAtMatrix<T>{D, ldd}, C, ldc,
                         upper_only);
    return;
  }
  copy(m, n, D, ldd, C, ldc);
  gemm_nn_fma(m, n, k, alpha, A, lda, B, ldb, C, ldc, upper_only);
}

// C (m x n) = start(i, j) + alpha * A^T * B with A (k x m), B (k x n): gemm_tn_fma on C
// set to the start values first (the same results), without that pass over C where the
// products are register-blocked. upper_only as in gemm_nn_fma; the start values are then
// taken for j >= i only.
template <class T, class Start>
GPS_HD void gemm_tn_fma_start(int m, int n, int k, T alpha, const T* A, int lda, const T* B,
                              int ldb, const Start& start, T* C, int ldc, bool upper_only) {
  if (RegisterBlocked<T>::value) {
    gemm_fma_blocked_any(m, n, k, alpha, A, 1, lda, B, ldb, start, C, ldc, upper_only);
    return;
  }
  for (int i = 0; i < m; ++i)
    for (int j = upper_only ? i : 0; j < n; ++j) C[i * ldc + j] = start(i, j);
  gemm_tn_fma(m, n, k, alpha, A, lda, B, ldb, C, ldc, upper_only);
}

// C (m x n) = alpha * A^T * B with A (k x m), B (k x n), as gemm_nn_fma_set.
template <class T>
GPS_HD void gemm_tn_fma_set(int m, int n, int k, T alpha, const T* A, int lda, const T* B,
                            int ldb, T* C, int ldc, bool upper_only = false) {
  gemm_tn_fma_start(m, n, k, alpha, A, lda, B, ldb, StartAtZero<T>(), C, ldc, upper_only);
}

}  // namespace gpsx::la
