// The CPU fit over SIMD packs of steps (dynamics_packs.h).
#include "dynamics_packs.h"

#include <omp.h>

namespace gpsx::detail {
namespace {

// Fits steps t .. t + W - 1 of condition i as one SIMD pack: the same fit_prior_point on
// lane-interleaved copies of the steps' scratch (gathered points, cluster weights, moment
// sums), results scattered back. When a step cannot be gathered, or any lane fails a
// check inside the kernel, the pack is redone one step at a time with the scalar functor,
// so statuses and results equal the scalar path's.
constexpr int kPackWidth = kFitPackWidth;
using Pack = FitPack;

struct PackScratch {
  std::int64_t pts, mean, sigma, mu0, Y, Fm, fv, covar, wts, mu, center, eval_mu0, eval_Phi,
      eval_m, eval_n0, size;
  PackScratch(int N, int K, int dX, int dU, bool eval) {
    const std::int64_t D = 2 * dX + dU, dXU = dX + dU;
    pts = 0;                          // (N x D)
    mean = pts + N * D;               // (D)
    sigma = mean + D;                 // (D x D)
    mu0 = sigma + D * D;              // (D)
    Y = mu0 + D;                      // (dXU x dX)
    Fm = Y + dXU * dX;                // (dX x dXU)
    fv = Fm + dX * dXU;               // (dX)
    covar = fv + dX;                  // (dX x dX)
    wts = covar + dX * dX;            // (K)
    mu = wts + K;                     // (K x D) broadcast
    center = mu + K * D;              // (D) broadcast
    eval_mu0 = center + D;            // (D)
    eval_Phi = eval_mu0 + D;          // (D x D), only when the prior is returned
    eval_m = eval_Phi + (eval ? D * D : 0);  // (1)
    eval_n0 = eval_m + 1;             // (1)
    size = eval_n0 + 1;
  }
};

void fit_prior_pack(const dyn::FitPriorStep<double>& f, int i, int t, Pack* work) {
  const int N = f.N, T = f.Tn, dX = f.dX, dU = f.dU, K = f.K, D = 2 * dX + dU, dXU = dX + dU;
  const dyn::FitScratch L(N, K, dX, dU);
  const bool eval = f.prior_mu0 || f.prior_Phi || f.prior_m || f.prior_n0;
  const PackScratch P(N, K, dX, dU, eval);
  bool ok = true;
  for (int l = 0; l < kPackWidth; ++l) ok = f.gather(i, t + l) == kOk && ok;
  if (!ok) {
    for (int l = 0; l < kPackWidth; ++l) f(i, t + l);
    return;
  }
  const double* base[kPackWidth];
  for (int l = 0; l < kPackWidth; ++l)
    base[l] = f.scratch + (static_cast<std::int64_t>(i) * (T - 1) + t + l) * L.size;
  const auto interleave = [&](std::int64_t from, std::int64_t to, int n) {
    for (int e = 0; e < n; ++e)
      for (int l = 0; l < kPackWidth; ++l) work[to + e].set_lane(l, base[l][from + e]);
  };
  interleave(L.pts, P.pts, N * D);
  interleave(L.wts, P.wts, K);
  for (int e = 0; e < K * D; ++e) work[P.mu + e] = Pack(f.gmm_mu[i * K * D + e]);
  for (int e = 0; e < D; ++e) work[P.center + e] = Pack(f.center[i * D + e]);
  const std::uint32_t st = dyn::fit_prior_point<Pack>(
      N, dX, dU, K, Pack(f.reg), Pack(f.strength), Pack(f.gmm_N0[i]), work + P.mu,
      work + P.center, work + P.wts, f.B + static_cast<std::int64_t>(i) * K * D * D, work + P.pts, work + P.mean, work + P.sigma, work + P.mu0,
      work + P.Y, work + P.Fm, work + P.fv, work + P.covar, eval ? work + P.eval_mu0 : nullptr,
      eval ? work + P.eval_Phi : nullptr, eval ? work + P.eval_m : nullptr,
      eval ? work + P.eval_n0 : nullptr);
  if (st != kOk) {
    for (int l = 0; l < kPackWidth; ++l) f(i, t + l);
    return;
  }
  const auto scatter = [&](std::int64_t from, double* out, std::int64_t per_step, int n) {
    if (!out) return;
    for (int l = 0; l < kPackWidth; ++l) {
      double* o = out + (static_cast<std::int64_t>(i) * T + t + l) * per_step;
      for (int e = 0; e < n; ++e) o[e] = work[from + e].lane(l);
    }
  };
  scatter(P.Fm, f.Fm, dX * dXU, dX * dXU);
  scatter(P.fv, f.fv, dX, dX);
  scatter(P.covar, f.dyn_covar, dX * dX, dX * dX);
  scatter(P.eval_mu0, f.prior_mu0, D, D);
  scatter(P.eval_Phi, f.prior_Phi, D * D, D * D);
  scatter(P.eval_m, f.prior_m, 1, 1);
  scatter(P.eval_n0, f.prior_n0, 1, 1);
  for (int l = 0; l < kPackWidth; ++l) f.status[static_cast<std::int64_t>(i) * T + t + l] = kOk;
}

}  // namespace

std::int64_t fit_pack_size(int N, int K, int dX, int dU, bool eval) {
  return PackScratch(N, K, dX, dU, eval).size;
}

void fit_prior_packs(int threads, const dyn::FitPriorStep<double>& step, int mc, FitPack* work,
                     std::int64_t pack_size) {
  const int T = step.Tn, groups = (T - 1 + kPackWidth - 1) / kPackWidth;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int ig = 0; ig < mc * groups; ++ig) {
    const int i = ig / groups, t = ig % groups * kPackWidth;
    Pack* w = work + omp_get_thread_num() * pack_size;
    if (t + kPackWidth <= T - 1)
      fit_prior_pack(step, i, t, w);
    else
      for (int u = t; u < T - 1; ++u) step(i, u);
  }
}

}  // namespace gpsx::detail
