// Kernel conventions shared by every file in kernels/.
//
// Everything in kernels/ is header-only math on raw pointers + sizes + caller-provided
// scratch. It compiles as plain C++ under g++ (CPU executor, tests) and as
// __host__ __device__ code under nvcc (CUDA executor): one copy of every formula.
// No allocation, no exceptions, no CUDA API, no Torch. Failures are status codes.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GPS_HD __host__ __device__
#define GPS_INLINE __forceinline__
#else
#define GPS_HD
#define GPS_INLINE inline
#endif

// Fully unrolls the next loop (constant trip count): register blocks written as small
// arrays then live in registers instead of on the stack.
#if defined(__CUDACC__)
#define GPS_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && !defined(__clang__)
#define GPS_UNROLL _Pragma("GCC unroll 16")
#else
#define GPS_UNROLL
#endif

namespace gpsx {

// Per-item status bits. Device code never aborts: it records what went wrong for its
// condition / item and returns; the host decides (raise regularisation, flag, go on).
enum StatusBits : std::uint32_t {
  kOk = 0,
  kNotPositiveDefinite = 1u << 0,  // a Cholesky factorisation failed
  kNonFinite = 1u << 1,            // NaN or Inf in inputs or results
  kNotConverged = 1u << 2,         // an iterative search ran out of iterations
  kTooFewSamples = 1u << 3,        // not enough data for a well-posed fit
  kInvalidArgument = 1u << 4,      // sizes or settings out of range
  kLimitReached = 1u << 5,         // a parameter hit its hard bound (e.g. eta max)
};

// Human-readable name of the lowest set bit ("ok" when none).
inline const char* status_name(std::uint32_t s) {
  if (s == kOk) return "ok";
  if (s & kNotPositiveDefinite) return "not positive definite";
  if (s & kNonFinite) return "non-finite value";
  if (s & kNotConverged) return "not converged";
  if (s & kTooFewSamples) return "too few samples";
  if (s & kInvalidArgument) return "invalid argument";
  if (s & kLimitReached) return "limit reached";
  return "unknown status";
}

template <class T>
GPS_HD GPS_INLINE bool is_finite(T x) {
  // x - x is NaN for both NaN and +-Inf; avoids std::isfinite, which is host-only on
  // some toolchains.
  return (x - x) == (x - x);
}

// Sum over the lanes of a SIMD pack (lanes.h overloads it); a plain scalar is one lane.
template <class T>
GPS_HD GPS_INLINE T lane_sum(T x) {
  return x;
}

}  // namespace gpsx
