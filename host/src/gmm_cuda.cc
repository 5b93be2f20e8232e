// The GMM EM's products on the CUDA executor: a cuSOLVER batched Cholesky of every cluster
// covariance, whitened residuals, means and scatter as cuBLAS strided-batched GEMMs over
// all points of the chunk, the per-element work in gmm_batch.h functors. Everything stays
// in device memory; per iteration only the chunk's log-likelihoods and statuses (and the
// active flags going back) cross.
#include <algorithm>

#include "gmm_backend.h"
#include "gpsx/host/buffer.h"
#include "gpsx/kernels/gmm_batch.h"
#if GPSX_HAVE_CUDA
#include "gpsx/cuda/dynamics_cuda.h"
#endif

namespace gpsx::detail {

#if GPSX_HAVE_CUDA
namespace {

class CudaEm final : public EmBackend {
 public:
  CudaEm(const Executor& ex, GmmState& g, int P, int K, int Mc, Carve& c)
      : ex_(ex), g_(g), P_(P), D_(g.D) {
    const std::int64_t MK = static_cast<std::int64_t>(Mc) * K, DD = static_cast<std::int64_t>(D_) * D_;
    const std::int64_t PK = static_cast<std::int64_t>(P) * K, PD = static_cast<std::int64_t>(P) * D_;
    logobs_ = c.take<double>(Mc * PK);       // (Mc x P x K)
    logw_ = c.take<double>(Mc * PK);         // (Mc x P x K)
    chol_ = c.take<double>(MK * DD);         // (Mc x K x D x D)
    Linv_ = c.take<double>(MK * DD);         // (Mc x K x D x D)
    logc_ = c.take<double>(MK);              // (Mc x K)
    R_ = c.take<double>(MK * PD);            // (Mc x K x P x D) residuals, then weighted points
    Z_ = c.take<double>(MK * PD);            // (Mc x K x P x D) whitened residuals
    W_ = c.take<double>(MK * P);             // (Mc x K x P) refit weights
    mu_new_ = c.take<double>(MK * D_);       // (Mc x K x D)
    XX_ = c.take<double>(MK * DD);           // (Mc x K x D x D)
    col_lse_ = c.take<double>(MK);           // (Mc x K)
    ll_ = c.take<double>(Mc);                // (Mc)
    lse_ = c.take<double>(static_cast<std::int64_t>(Mc) * P);  // (Mc x P) point normalisers
    info_ = c.take<int>(MK);                 // (Mc x K)
    active_ = c.take<int>(Mc);               // (Mc)
    cluster_status_ = c.take<std::uint32_t>(MK);  // (Mc x K)
    status_ = c.take<std::uint32_t>(Mc);     // (Mc)
    ptrs_ = c.take<double*>(MK);             // (Mc x K) cuSOLVER's matrix pointers
  }

  void load(int m0, int mc, const double* data) override {
    m0_ = m0;
    mc_ = mc;
    K_ = g_.K;
    X_ = data;
  }

  void estep(double* logobs, std::uint32_t* status) override {
    device_estep(logobs ? logobs : logobs_, status);
  }

  // All loaded conditions run in the same batched launches here (stopped ones included:
  // their parameters no longer change, so their log observations stay the same).
  void estep_loglik(double* ll, std::uint32_t* status, const std::vector<int>& /*active*/) override {
    device_estep(logobs_, status_);
    for_each_2d(ex_, mc_, P_, gmm::ResponsibilitiesStep<double>{P_, K_, logobs_, logw_, lse_});
    for_each(ex_, mc_, gmm::LoglikSumStep<double>{P_, lse_, ll_});
    download(ex_, ll_, mc_, ll);
    download(ex_, status_, mc_, status);
  }

  void mstep(const std::vector<int>& active) override {
    const int K = K_, D = D_, P = P_;
    const std::int64_t PK = static_cast<std::int64_t>(P) * K, PD = static_cast<std::int64_t>(P) * D;
    const std::int64_t DD = static_cast<std::int64_t>(D) * D, k0 = static_cast<std::int64_t>(m0_) * K;
    upload(ex_, active.data(), mc_, active_);
    double *mu = g_.mu.data() + k0 * D, *sigma = g_.sigma.data() + k0 * DD;
    for_each_2d(ex_, mc_, K, gmm::ColumnLseStep<double>{P, K, active_, logw_, col_lse_});
    for_each(ex_, mc_, gmm::MassStep<double>{K, active_, col_lse_, g_.logmass.data() + k0,
                                             g_.mass.data() + k0});
    for_each_2d(ex_, mc_, P, gmm::MstepWeightStep<double>{P, K, D, active_, X_, logw_, col_lse_,
                                                          g_.mass.data() + k0, W_, R_});
    // mu_m (K x D) = W_m (K x P) X_m (P x D); XX_mk (D x D) = Xw_mk^T Xw_mk.
    cuda::gemm_strided_batched(ex_.stream, false, false, K, D, P, W_, P, PK, X_, D, PD, 0.0,
                               mu_new_, D, K * D, mc_);
    cuda::gemm_strided_batched(ex_.stream, true, false, D, D, P, R_, D, PD, R_, D, PD, 0.0, XX_,
                               D, DD, mc_ * K);
    for_each_2d(ex_, mc_, K,
                gmm::MstepCovarianceStep<double>{K, D, active_, mu_new_, XX_, mu, sigma});
  }

  double* logobs(int i) override { return logobs_ + static_cast<std::int64_t>(i) * P_ * K_; }

 private:
  // logobs (mc x P x K) and statuses (mc) of the loaded conditions, device memory.
  void device_estep(double* logobs, std::uint32_t* status) {
    const int K = K_, D = D_, P = P_, MK = mc_ * K;
    const std::int64_t PD = static_cast<std::int64_t>(P) * D, DD = static_cast<std::int64_t>(D) * D;
    const std::int64_t k0 = static_cast<std::int64_t>(m0_) * K;
    copy_within(ex_, g_.sigma.data() + k0 * DD, MK * DD, chol_);
    cuda::cholesky_lower_batched(ex_.stream, D, chol_, MK, info_, ptrs_);
    for_each_2d(ex_, mc_, K, gmm::EstepFactorStep<double>{K, D, info_, g_.logmass.data() + k0,
                                                          chol_, Linv_, logc_, cluster_status_});
    for_each_2d(ex_, MK, P, gmm::EstepResidualStep<double>{K, P, D, X_, g_.mu.data() + k0 * D, R_});
    // Z_mk (P x D) = R_mk (P x D) Linv_mk^T over all clusters of all conditions.
    cuda::gemm_strided_batched(ex_.stream, false, true, P, D, D, R_, D, PD, Linv_, D, DD, 0.0, Z_,
                               D, PD, MK);
    for_each_2d(ex_, mc_, P, gmm::EstepLogobsStep<double>{K, P, D, Z_, logc_, logobs});
    for_each(ex_, mc_, gmm::EstepStatusStep{K, cluster_status_, status});
  }

  Executor ex_;
  GmmState& g_;
  int P_, D_, K_ = 0, m0_ = 0, mc_ = 0;
  const double* X_ = nullptr;
  double *logobs_, *logw_, *chol_, *Linv_, *logc_, *R_, *Z_, *W_, *mu_new_, *XX_, *col_lse_, *ll_,
      *lse_;
  int *info_, *active_;
  std::uint32_t *cluster_status_, *status_;
  double** ptrs_;
};

}  // namespace

std::unique_ptr<EmBackend> make_cuda_em(const Executor& ex, GmmState& g, int P, int K, int Mc,
                                        Carve& carve) {
  return std::make_unique<CudaEm>(ex, g, P, K, Mc, carve);
}
#else
std::unique_ptr<EmBackend> make_cuda_em(const Executor&, GmmState&, int, int, int, Carve&) {
  throw_cuda_not_built();
}
#endif

}  // namespace gpsx::detail
