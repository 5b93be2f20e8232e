// Caller-sized scratch (the memory contract, README "Memory contract"): a phase takes a
// workspace of executor memory, `double* workspace, std::size_t workspace_size` in
// elements, that the caller allocated once from the phase's `*_workspace_size`. Inside,
// the phase lays out its arrays with a Carve: run once over a null base to measure, and
// again over the real workspace to hand out the arrays, so size and layout never diverge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace gpsx {

class Carve {
 public:
  // Measures only: take() returns null pointers and counts.
  Carve() = default;
  // Hands out [base, base + elements) of doubles.
  Carve(double* base, std::size_t elements) : base_(base), capacity_(elements * 8) {}

  // n elements of T, 64-byte aligned (a cache line; SIMD packs need 32). Throws when a
  // real workspace is too small (a measured layout never throws).
  template <class T>
  T* take(std::int64_t n) {
    static_assert(alignof(T) <= kAlign, "over-aligned type");
    // Aligns the address itself: a caller's base may be less aligned than kAlign.
    const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(base_) + used_;
    used_ += (kAlign - at % kAlign) % kAlign;
    const std::size_t bytes = static_cast<std::size_t>(n < 0 ? 0 : n) * sizeof(T);
    T* p = base_ ? reinterpret_cast<T*>(reinterpret_cast<char*>(base_) + used_) : nullptr;
    used_ += bytes;
    if (base_ && used_ > capacity_)
      throw std::invalid_argument("workspace too small: the layout needs more than the " +
                                  std::to_string(capacity_ / 8) + " elements given");
    return p;
  }
  // Elements of double used so far, rounded up, plus alignment slack for the base.
  std::size_t elements() const { return (used_ + 7) / 8 + kAlign / 8; }
  bool measuring() const { return base_ == nullptr; }

 private:
  static constexpr std::size_t kAlign = 64;
  double* base_ = nullptr;
  std::size_t capacity_ = std::numeric_limits<std::size_t>::max();
  std::size_t used_ = 0;
};

// The most conditions per chunk, in [1, M], whose layout fits `elements` (0 when not even
// one does). elements_for(Mc) measures the layout of a chunk of Mc conditions; it grows
// with Mc, so a binary search finds the largest that fits.
template <class F>
int chunk_capacity(int M, std::size_t elements, const F& elements_for) {
  if (M < 1 || elements < elements_for(1)) return 0;
  int lo = 1, hi = M;  // elements_for(lo) fits
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (elements_for(mid) <= elements) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Throws std::invalid_argument naming `fn` when no condition fits (Mc < 1): the workspace
// of `given` elements is below `needed` (one condition's layout; `size_fn` gives it).
inline void require_chunk(int Mc, std::size_t given, std::size_t needed, const std::string& fn,
                          const std::string& size_fn) {
  if (Mc >= 1) return;
  throw std::invalid_argument(fn + ": workspace of " + std::to_string(given) +
                              " elements is too small; " + size_fn + " gives at least " +
                              std::to_string(needed));
}

// Default memory budget of one phase's workspace: device phases and the CPU's batched
// phases process conditions in chunks that fit it.
constexpr std::size_t kDefaultWorkspaceBudgetBytes = std::size_t(1) << 30;  // 1 GiB

}  // namespace gpsx
