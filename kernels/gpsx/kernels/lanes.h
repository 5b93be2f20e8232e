// Lanes<S, W>: a pack of W scalars that kernels accept as their scalar type T, so the same
// templated math runs W independent items (environments) at once in SIMD lanes on the
// CPU. Built on GCC/Clang vector extensions (g++ only; never included from .cu files).
//
// Arithmetic is lane-wise. Comparisons are true only when they hold in EVERY lane, so a
// kernel's checks (a Cholesky pivot > 0, is_finite) fail for the whole pack if any lane
// fails; callers then redo that pack lane by lane with the plain scalar type, which keeps
// per-item status exact. Lane results equal the scalar results: the operations are the
// same IEEE operations in the same order (no reassociation, no FMA contraction unless the
// build enables it for both).
#pragma once

#include <cmath>
#include <type_traits>

// Packs wider than the enabled ISA's registers are legal; g++ then notes that passing them
// by value would change the ABI between ISAs. They never cross a library boundary.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace gpsx {

template <class S, int W>
struct Lanes {
  typedef S Vec __attribute__((vector_size(sizeof(S) * W)));
  static constexpr int kWidth = W;
  Vec v;

  Lanes() = default;
  template <class U, class = std::enable_if_t<std::is_arithmetic_v<U>>>
  Lanes(U x) : v(Vec{} + static_cast<S>(x)) {}  // broadcast, like a scalar literal

  S lane(int i) const { return v[i]; }
  void set_lane(int i, S x) { v[i] = x; }

  friend Lanes operator+(Lanes a, Lanes b) { return from(a.v + b.v); }
  friend Lanes operator-(Lanes a, Lanes b) { return from(a.v - b.v); }
  friend Lanes operator*(Lanes a, Lanes b) { return from(a.v * b.v); }
  friend Lanes operator/(Lanes a, Lanes b) { return from(a.v / b.v); }
  friend Lanes operator-(Lanes a) { return from(-a.v); }
  Lanes& operator+=(Lanes b) { v += b.v; return *this; }
  Lanes& operator-=(Lanes b) { v -= b.v; return *this; }
  Lanes& operator*=(Lanes b) { v *= b.v; return *this; }
  Lanes& operator/=(Lanes b) { v /= b.v; return *this; }

  friend bool operator<(Lanes a, Lanes b) { return all(a.v < b.v); }
  friend bool operator>(Lanes a, Lanes b) { return all(a.v > b.v); }
  friend bool operator<=(Lanes a, Lanes b) { return all(a.v <= b.v); }
  friend bool operator>=(Lanes a, Lanes b) { return all(a.v >= b.v); }
  friend bool operator==(Lanes a, Lanes b) { return all(a.v == b.v); }

  // x > lo ? x : lo per lane, as the kernels' scalar clip_below (a NaN lane gives lo).
  friend Lanes clip_below(Lanes x, Lanes lo) { return from(x.v > lo.v ? x.v : lo.v); }

  // a * b + c per lane under la::mul_add's rule (fused where the target has FMA). Packs
  // of one vector register use the vector instruction directly: a lane loop of std::fma
  // also vectorises, but g++ may then give accumulators stack homes and spill whole
  // register blocks of the products.
  friend Lanes mul_add(Lanes a, Lanes b, Lanes c) {
#if defined(__FMA__)
    if constexpr (std::is_same_v<S, double> && W == 4) {
      return from(__builtin_ia32_vfmaddpd256(a.v, b.v, c.v));
    } else if constexpr (std::is_same_v<S, float> && W == 8) {
      return from(__builtin_ia32_vfmaddps256(a.v, b.v, c.v));
    } else if constexpr (std::is_same_v<S, double> && W == 2) {
      return from(__builtin_ia32_vfmaddpd(a.v, b.v, c.v));
    } else if constexpr (std::is_same_v<S, float> && W == 4) {
      return from(__builtin_ia32_vfmaddps(a.v, b.v, c.v));
    } else {
      Lanes r;
      for (int i = 0; i < W; ++i) r.v[i] = std::fma(a.v[i], b.v[i], c.v[i]);
      return r;
    }
#else
    return from(a.v * b.v + c.v);
#endif
  }

  friend S lane_sum(Lanes a) {
    S s = a.v[0];
    for (int i = 1; i < W; ++i) s += a.v[i];
    return s;
  }

  // A lane-wise libm function (scalar calls: the results equal the scalar code's).
  template <class F>
  static Lanes map(Lanes a, F f) {
    Lanes r;
    for (int i = 0; i < W; ++i) r.v[i] = f(a.v[i]);
    return r;
  }
  // sqrt is correctly rounded in IEEE arithmetic, so the vector instruction gives the
  // scalar results; one instruction instead of W calls (the 7 x 7 Cholesky factors).
  friend Lanes sqrt(Lanes a) {
#if defined(__AVX__)
    if constexpr (std::is_same_v<S, double> && W == 4) return from(__builtin_ia32_sqrtpd256(a.v));
    if constexpr (std::is_same_v<S, float> && W == 8) return from(__builtin_ia32_sqrtps256(a.v));
#endif
#if defined(__SSE2__)
    if constexpr (std::is_same_v<S, double> && W == 2) return from(__builtin_ia32_sqrtpd(a.v));
    if constexpr (std::is_same_v<S, float> && W == 4) return from(__builtin_ia32_sqrtps(a.v));
#endif
    return map(a, [](S x) { return std::sqrt(x); });
  }
  friend Lanes sin(Lanes a) { return map(a, [](S x) { return std::sin(x); }); }
  friend Lanes cos(Lanes a) { return map(a, [](S x) { return std::cos(x); }); }
  friend Lanes log(Lanes a) { return map(a, [](S x) { return std::log(x); }); }

 private:
  static Lanes from(Vec x) {
    Lanes r;
    r.v = x;
    return r;
  }
  template <class M>
  static bool all(M mask) {
    for (int i = 0; i < W; ++i)
      if (!mask[i]) return false;
    return true;
  }
};

// linalg_fma.h's products keep blocks of C in registers for packs (see la::RegisterBlocked).
namespace la {
template <class T>
struct RegisterBlocked;
template <class S, int W>
struct RegisterBlocked<Lanes<S, W>> {
  static constexpr bool value = true;
};
}  // namespace la

}  // namespace gpsx

#pragma GCC diagnostic pop
