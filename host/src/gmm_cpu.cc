// The GMM EM's products on the CPU executor: per condition, the two big products per
// cluster run as register-blocked kernels over packs of points (gmm.h, "EM products over
// packs"), conditions in parallel. Results do not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "gmm_backend.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/lanes.h"

namespace gpsx::detail {
namespace {

using PointPack = Lanes<double, 4>;
constexpr int kPackWidth = PointPack::kWidth;
constexpr int kWhitenPacks = 3;  // packs of points per whitened_sq_norms call

// Points are held dimension-major in packs: xt (Dp x ldx) with Dp = em_padded_dim(D) and
// ldx packs per row (P points, zero-padded to a multiple of kWhitenPacks packs).
class CpuEm final : public EmBackend {
 public:
  CpuEm(const Executor& ex, GmmState& g, int P, int K, int Mc, Carve& c)
      : g_(g), threads_(std::max(1, ex.threads)), P_(P), D_(g.D), Dp_(gmm::em_padded_dim(g.D)) {
    const int packs = (P + kPackWidth - 1) / kPackWidth;
    ldx_ = (packs + kWhitenPacks - 1) / kWhitenPacks * kWhitenPacks;
    plane_ = static_cast<std::int64_t>(Dp_) * ldx_;
    const std::int64_t PK = static_cast<std::int64_t>(P) * K;
    xt_ = c.take<PointPack>(Mc * plane_);           // (Mc x Dp x ldx) points
    logobs_ = c.take<double>(Mc * PK);              // (Mc x P x K)
    logw_ = c.take<double>(Mc * PK);                // (Mc x P x K) log responsibilities
    thread_.resize(threads_);
    for (Thread& t : thread_) {
      t.wxt = c.take<PointPack>(plane_);            // (Dp x ldx) weighted points of a cluster
      t.w = c.take<PointPack>(ldx_);                // (ldx) weights of a cluster, 0 padding
      t.zt = c.take<PointPack>(static_cast<std::int64_t>(Dp_) * kWhitenPacks);
      t.q = c.take<PointPack>(ldx_);                // (ldx) squared whitened distances
      t.packed = c.take<double>(gmm::whiten_packed_size(Dp_));
      t.mu = c.take<double>(Dp_);                   // (Dp) a cluster mean, 0 padding
      t.XX = c.take<double>(static_cast<std::int64_t>(Dp_) * Dp_);  // lower triangle
      t.chol = c.take<double>(static_cast<std::int64_t>(K) * D_ * D_);
      t.logc = c.take<double>(K);
      t.col_lse = c.take<double>(K);
    }
  }

  void load(int m0, int mc, const double* data) override {
    m0_ = m0;
    mc_ = mc;
    K_ = g_.K;
    for_each_cpu(threads_, mc, [&](std::int64_t i) {
      PointPack* xt = xt_ + i * plane_;
      std::fill_n(xt, plane_, PointPack(0));
      const double* x = data + i * P_ * D_;
      for (int n = 0; n < P_; ++n)
        for (int d = 0; d < D_; ++d)
          xt[static_cast<std::int64_t>(d) * ldx_ + n / kPackWidth].set_lane(n % kPackWidth,
                                                                           x[n * D_ + d]);
    });
    for (Thread& t : thread_) {  // padding entries stay zero from here on
      std::fill_n(t.w, ldx_, PointPack(0));
      std::fill_n(t.mu, Dp_, 0.0);
    }
  }

  void estep(double* logobs, std::uint32_t* status) override {
    const std::int64_t PK = static_cast<std::int64_t>(P_) * K_;
    parallel([&](int i, Thread& t) {
      status[i] = estep_condition(i, t, (logobs ? logobs : logobs_) + i * PK);
    });
  }

  void estep_loglik(double* ll, std::uint32_t* status, const std::vector<int>& active) override {
    const std::int64_t PK = static_cast<std::int64_t>(P_) * K_;
    parallel([&](int i, Thread& t) {
      if (!active[i]) return;  // stopped: its log observations belong to its final parameters
      double* lo = logobs_ + i * PK;
      status[i] = estep_condition(i, t, lo);
      double s = 0.0;
      if (status[i] == kOk)
        for (int n = 0; n < P_; ++n)
          s += gmm::responsibilities_row(K_, lo + static_cast<std::int64_t>(n) * K_,
                                         logw_ + i * PK + static_cast<std::int64_t>(n) * K_);
      ll[i] = s;
    });
  }

  void mstep(const std::vector<int>& active) override {
    parallel([&](int i, Thread& t) {
      if (active[i]) mstep_condition(i, t);
    });
  }

  double* logobs(int i) override { return logobs_ + static_cast<std::int64_t>(i) * P_ * K_; }

 private:
  struct Thread {
    PointPack *wxt, *w, *zt, *q;
    double *packed, *mu, *XX, *chol, *logc, *col_lse;
  };

  // f(i, thread scratch) for every loaded condition; dynamic: conditions differ in work.
  template <class F>
  void parallel(const F& f) {
#pragma omp parallel for num_threads(threads_) schedule(dynamic)
    for (int i = 0; i < mc_; ++i) f(i, thread_[omp_get_thread_num()]);
  }

  // logobs (P x K) of loaded condition i; kNotPositiveDefinite when a cluster covariance
  // cannot be factored.
  std::uint32_t estep_condition(int i, Thread& t, double* logobs) {
    const int K = K_, D = D_, m = m0_ + i;
    const PointPack* xt = xt_ + static_cast<std::int64_t>(i) * plane_;
    for (int k = 0; k < K; ++k) {
      const std::size_t mk = static_cast<std::size_t>(m) * K + k;
      double* L = t.chol + static_cast<std::size_t>(k) * D * D;
      std::copy_n(g_.sigma.data() + mk * D * D, static_cast<std::size_t>(D) * D, L);
      if (la::cholesky_lower_rows(D, L, D) != kOk) return kNotPositiveDefinite;
      t.logc[k] = gmm::cluster_log_constant(D, L, D, g_.logmass.data()[mk]);
      if (!std::isfinite(t.logc[k])) return kNotPositiveDefinite;
    }
    for (int k = 0; k < K; ++k) {
      gmm::whiten_pack_factor(D, Dp_, t.chol + static_cast<std::size_t>(k) * D * D, D, t.packed);
      std::copy_n(g_.mu.data() + (static_cast<std::size_t>(m) * K + k) * D, D, t.mu);
      for (int u = 0; u < ldx_; u += kWhitenPacks)
        gmm::whitened_sq_norms<kWhitenPacks>(Dp_, t.packed, t.mu, xt + u, ldx_, t.zt, t.q + u);
      for (int n = 0; n < P_; ++n)
        logobs[static_cast<std::size_t>(n) * K + k] =
            gmm::logobs_from_mahalanobis(t.q[n / kPackWidth].lane(n % kPackWidth), t.logc[k]);
    }
    return kOk;
  }

  // One M-step of loaded condition i from its log responsibilities.
  void mstep_condition(int i, Thread& t) {
    const int K = K_, D = D_, P = P_;
    const std::size_t mk0 = static_cast<std::size_t>(m0_ + i) * K;
    const double* logw = logw_ + static_cast<std::int64_t>(i) * P * K;
    const PointPack* xt = xt_ + static_cast<std::int64_t>(i) * plane_;
    gmm::mstep_mass(P, K, logw, t.col_lse, g_.logmass.data() + mk0, g_.mass.data() + mk0);
    for (int k = 0; k < K; ++k) {
      for (int n = 0; n < P; ++n)
        t.w[n / kPackWidth].set_lane(
            n % kPackWidth, gmm::mstep_weight(P, K, logw[static_cast<std::size_t>(n) * K + k],
                                              t.col_lse[k], g_.mass.data()[mk0 + k]));
      gmm::weighted_points(Dp_, ldx_, t.w, xt, ldx_, t.wxt, t.mu);
      // Only the lower triangle: half the flops of the full product.
      gmm::weighted_scatter_lower(Dp_, ldx_, xt, t.wxt, ldx_, t.XX, Dp_);
      double* mu = g_.mu.data() + (mk0 + k) * D;
      std::copy_n(t.mu, D, mu);
      gmm::mstep_covariance(D, t.XX, Dp_, mu, g_.sigma.data() + (mk0 + k) * D * D, D);
    }
  }

  GmmState& g_;
  int threads_, P_, D_, Dp_, ldx_ = 0, K_ = 0, m0_ = 0, mc_ = 0;
  std::int64_t plane_ = 0;
  PointPack* xt_;
  double *logobs_, *logw_;
  std::vector<Thread> thread_;
};

}  // namespace

std::unique_ptr<EmBackend> make_cpu_em(const Executor& ex, GmmState& g, int P, int K, int Mc,
                                       Carve& carve) {
  return std::make_unique<CpuEm>(ex, g, P, K, Mc, carve);
}

}  // namespace gpsx::detail
