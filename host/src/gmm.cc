// Host side of the batched GMM: per-condition EM loops (parallel over conditions), with
// the big products as register-blocked kernels over packs of points and every per-element
// formula from gpsx/kernels/gmm.h.
#include "gpsx/host/gmm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "gmm_device.h"
#include "gpsx/host/check.h"
#include "gpsx/host/exec_buffer.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/lanes.h"
#include "gpsx/kernels/philox.h"
#if GPSX_HAVE_CUDA
#include "gpsx/cuda/dynamics_cuda.h"
#endif

namespace gpsx {
namespace {


// The CPU EM's products run on packs of kPackWidth points (gmm.h, "EM products over packs").
using PointPack = Lanes<double, 4>;
constexpr int kPackWidth = PointPack::kWidth;
constexpr int kWhitenPacks = 3;  // packs of points per whitened_sq_norms call

// Scratch for one condition, reused across conditions handled by the same thread. Points
// are held dimension-major in packs: xt (Dp x ldx) with Dp = em_padded_dim(D) and ldx packs
// per row (P points, zero-padded to a multiple of kWhitenPacks packs).
struct EmWorkspace {
  int P = 0, D = 0, Dp = 0, ldx = 0;
  std::vector<PointPack> xt;     // (Dp x ldx) points, zero padding
  std::vector<PointPack> wxt;    // (Dp x ldx) weighted points of one cluster
  std::vector<PointPack> w;      // (ldx) weights of one cluster, zero for padding
  std::vector<PointPack> zt;     // (Dp x kWhitenPacks) centred points of one tile
  std::vector<PointPack> q;      // (ldx) squared whitened distances
  std::vector<double> packed;    // (whiten_packed_size(Dp)) one Cholesky factor in row blocks
  std::vector<double> mu;        // (Dp) one cluster mean, zero padding
  std::vector<double> XX;        // (Dp x Dp) weighted second moment (lower triangle)
  std::vector<double> chol;      // (K x D x D)
  std::vector<double> logc;      // (K)
  std::vector<double> logobs;    // (P x K)
  std::vector<double> logw;      // (P x K)
  std::vector<double> col_lse;   // (K)

  void resize(int P_, int K, int D_) {
    P = P_;
    D = D_;
    Dp = gmm::em_padded_dim(D);
    const int packs = (P + kPackWidth - 1) / kPackWidth;
    ldx = (packs + kWhitenPacks - 1) / kWhitenPacks * kWhitenPacks;
    const std::size_t plane = static_cast<std::size_t>(Dp) * ldx;
    xt.assign(plane, PointPack(0));
    wxt.assign(plane, PointPack(0));
    w.assign(ldx, PointPack(0));
    zt.assign(static_cast<std::size_t>(Dp) * kWhitenPacks, PointPack(0));
    q.assign(ldx, PointPack(0));
    packed.resize(gmm::whiten_packed_size(Dp));
    mu.assign(Dp, 0.0);
    XX.assign(static_cast<std::size_t>(Dp) * Dp, 0.0);
    chol.resize(static_cast<std::size_t>(K) * D * D);
    logc.resize(K);
    logobs.resize(static_cast<std::size_t>(P) * K);
    logw.resize(static_cast<std::size_t>(P) * K);
    col_lse.resize(K);
  }

  // Points x (P x D) into xt; the padding stays zero.
  void load_points(const double* x) {
    for (int n = 0; n < P; ++n) {
      const double* point = x + static_cast<std::size_t>(n) * D;
      for (int i = 0; i < D; ++i)
        xt[static_cast<std::size_t>(i) * ldx + n / kPackWidth].set_lane(n % kPackWidth, point[i]);
    }
  }
};

// logobs (P x K) of the points loaded in ws under mixture m; kNotPositiveDefinite when a
// cluster covariance cannot be factored.
std::uint32_t estep_condition(const GmmState& g, int m, EmWorkspace& ws, double* logobs) {
  const int K = g.K, D = g.D, P = ws.P;
  for (int k = 0; k < K; ++k) {
    const std::size_t mk = static_cast<std::size_t>(m) * K + k;
    double* L = ws.chol.data() + static_cast<std::size_t>(k) * D * D;
    std::copy_n(g.sigma.data() + mk * D * D, static_cast<std::size_t>(D) * D, L);
    if (la::cholesky_lower_rows(D, L, D) != kOk) return kNotPositiveDefinite;
    ws.logc[k] = gmm::cluster_log_constant(D, L, D, g.logmass[mk]);
    if (!std::isfinite(ws.logc[k])) return kNotPositiveDefinite;
  }
  for (int k = 0; k < K; ++k) {
    gmm::whiten_pack_factor(D, ws.Dp, ws.chol.data() + static_cast<std::size_t>(k) * D * D, D,
                            ws.packed.data());
    std::copy_n(g.mu.data() + (static_cast<std::size_t>(m) * K + k) * D, D, ws.mu.data());
    for (int t = 0; t < ws.ldx; t += kWhitenPacks)
      gmm::whitened_sq_norms<kWhitenPacks>(ws.Dp, ws.packed.data(), ws.mu.data(), ws.xt.data() + t,
                                           ws.ldx, ws.zt.data(), ws.q.data() + t);
    for (int n = 0; n < P; ++n)
      logobs[static_cast<std::size_t>(n) * K + k] = gmm::logobs_from_mahalanobis(
          ws.q[n / kPackWidth].lane(n % kPackWidth), ws.logc[k]);
  }
  return kOk;
}

// Initial clusters of mixture m from an assignment (P); N0 = P.
std::uint32_t init_condition(GmmState& g, int m, int P, const double* x, const int* assign) {
  const int K = g.K, D = g.D;
  std::uint32_t st = kOk;
  for (int k = 0; k < K; ++k) {
    const std::size_t mk = static_cast<std::size_t>(m) * K + k;
    st |= gmm::init_cluster(P, D, x, D, assign, k, K, g.mu.data() + mk * D,
                            g.sigma.data() + mk * D * D);
    g.logmass[mk] = std::log(1.0 / K);
    g.mass[mk] = 1.0 / K;
  }
  g.N0[m] = P;
  return st;
}

// One M-step of mixture m (points loaded in ws) from the log responsibilities ws.logw (P x K).
void mstep_condition(GmmState& g, int m, EmWorkspace& ws) {
  const int K = g.K, D = g.D, P = ws.P;
  const std::size_t mk0 = static_cast<std::size_t>(m) * K;
  gmm::mstep_mass(P, K, ws.logw.data(), ws.col_lse.data(), g.logmass.data() + mk0,
                  g.mass.data() + mk0);
  for (int k = 0; k < K; ++k) {
    for (int n = 0; n < P; ++n)
      ws.w[n / kPackWidth].set_lane(
          n % kPackWidth, gmm::mstep_weight(P, K, ws.logw[static_cast<std::size_t>(n) * K + k],
                                            ws.col_lse[k], g.mass[mk0 + k]));
    gmm::weighted_points(ws.Dp, ws.ldx, ws.w.data(), ws.xt.data(), ws.ldx, ws.wxt.data(),
                         ws.mu.data());
    // Only the lower triangle: half the flops of the full product.
    gmm::weighted_scatter_lower(ws.Dp, ws.ldx, ws.xt.data(), ws.wxt.data(), ws.ldx,
                                ws.XX.data(), ws.Dp);
    double* mu = g.mu.data() + (mk0 + k) * D;
    std::copy_n(ws.mu.data(), D, mu);
    gmm::mstep_covariance(D, ws.XX.data(), ws.Dp, mu, g.sigma.data() + (mk0 + k) * D * D, D);
  }
}

std::string condition_prefix(int m) { return "condition " + std::to_string(m) + ": "; }

// First non-finite entry of an (n x D) block, or -1.
std::int64_t first_non_finite(std::int64_t n, const double* x) {
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

void check_state(const GmmState& g, const char* fn) {
  require(g.initialised(), std::string(fn) + ": the GMM has not been fitted yet (K == 0)");
  require(g.mu.size() == static_cast<std::size_t>(g.M) * g.K * g.D &&
              g.sigma.size() == static_cast<std::size_t>(g.M) * g.K * g.D * g.D,
          std::string(fn) + ": GmmState buffers do not match M x K x D");
}

// EM of the conditions with start[m] on the GPU (state already initialised on the host):
// per iteration one device E-step, responsibilities and log-likelihoods in functors, the
// stop rule on the host (M values), then the M-step of the still active conditions as
// two strided-batched GEMMs (means W X, scatter Xw^T Xw) around gmm.h functors.
void em_device(const Executor& ex, GmmState& g, int M, int P, int D, const double* data,
               const std::vector<char>& start, int maxit, GmmUpdateReport& rep,
               double* final_logobs) {
#if GPSX_HAVE_CUDA
  const int K = g.K;
  const std::size_t MK = static_cast<std::size_t>(M) * K, DD = static_cast<std::size_t>(D) * D;
  const std::size_t PK = static_cast<std::size_t>(P) * K, PD = static_cast<std::size_t>(P) * D;
  ExecBuffer<double> X(ex, M * PD);            // (M x P x D)
  ExecBuffer<double> mu(ex, MK * D);           // (M x K x D)
  ExecBuffer<double> sigma(ex, MK * DD);       // (M x K x D x D)
  ExecBuffer<double> logmass(ex, MK);          // (M x K)
  ExecBuffer<double> mass(ex, MK);             // (M x K)
  ExecBuffer<double> logobs(ex, M * PK);       // (M x P x K)
  ExecBuffer<double> logw(ex, M * PK);         // (M x P x K)
  ExecBuffer<double> ll(ex, M);                // (M)
  ExecBuffer<std::uint32_t> est(ex, M);        // (M)
  ExecBuffer<int> active_d(ex, M);             // (M)
  ExecBuffer<double> col_lse(ex, MK);          // (M x K)
  ExecBuffer<double> W(ex, MK * P);            // (M x K x P)
  detail::EstepDeviceWork work;
  work.resize(ex, M, K, P, D);
  double* Xw = work.R.data();  // (M x K x P x D) sqrt-weighted points; the E-step is done with R
  ExecBuffer<double> mu_new(ex, MK * D);       // (M x K x D)
  ExecBuffer<double> XX(ex, MK * DD);          // (M x K x D x D)
  upload(ex, data, M * PD, X.data());
  upload(ex, g.mu.data(), MK * D, mu.data());
  upload(ex, g.sigma.data(), MK * DD, sigma.data());
  upload(ex, g.logmass.data(), MK, logmass.data());
  upload(ex, g.mass.data(), MK, mass.data());
  std::vector<int> active(start.begin(), start.end());
  std::vector<double> prev_ll(M, -std::numeric_limits<double>::infinity()), ll_h(M);
  std::vector<std::uint32_t> est_h(M);
  for (int m = 0; m < M; ++m)
    if (active[m]) rep.stop[m] = gmm::kEmMaxIterations;
  for (int it = 0; it < maxit; ++it) {
    if (std::none_of(active.begin(), active.end(), [](int a) { return a != 0; })) break;
    detail::gmm_estep_device(ex, M, K, P, D, X.data(), mu.data(), sigma.data(), logmass.data(),
                             logobs.data(), est.data(), work);
    for_each(ex, M, gmm::EmLoglikStep<double>{P, K, logobs.data(), logw.data(), ll.data()});
    download(ex, ll.data(), M, ll_h.data());
    download(ex, est.data(), M, est_h.data());
    for (int m = 0; m < M; ++m) {
      if (!active[m]) continue;
      if (est_h[m] != kOk) {
        rep.status[m] = est_h[m];
        rep.message[m] = condition_prefix(m) + "GMM cluster covariance is not positive "
                         "definite at EM iteration " + std::to_string(it);
        rep.stop[m] = gmm::kEmFailed;
        active[m] = 0;
        continue;
      }
      rep.loglik[static_cast<std::size_t>(m) * maxit + it] = ll_h[m];
      rep.iterations[m] = it + 1;
      const int stop = gmm::em_stop_rule(ll_h[m], prev_ll[m]);
      if (stop == gmm::kEmFailed) {
        rep.status[m] = kNonFinite;
        rep.message[m] = condition_prefix(m) + "non-finite GMM log-likelihood at EM iteration " +
                         std::to_string(it);
      }
      if (stop != gmm::kEmContinue) {
        rep.stop[m] = stop;
        active[m] = 0;
        continue;
      }
      prev_ll[m] = ll_h[m];
    }
    if (std::none_of(active.begin(), active.end(), [](int a) { return a != 0; })) break;
    upload(ex, active.data(), M, active_d.data());
    for_each(ex, M, gmm::MstepMassStep<double>{P, K, active_d.data(), logw.data(), col_lse.data(),
                                               logmass.data(), mass.data()});
    for_each_2d(ex, M, P, gmm::MstepWeightStep<double>{P, K, D, active_d.data(), X.data(),
                                                       logw.data(), col_lse.data(), mass.data(),
                                                       W.data(), Xw});
    // mu_m (K x D) = W_m (K x P) X_m (P x D); XX_mk (D x D) = Xw_mk^T Xw_mk.
    cuda::gemm_strided_batched(ex.stream, false, false, K, D, P, W.data(), P, PK, X.data(), D,
                               PD, 0.0, mu_new.data(), D, K * D, M);
    cuda::gemm_strided_batched(ex.stream, true, false, D, D, P, Xw, D, PD, Xw, D,
                               PD, 0.0, XX.data(), D, DD, static_cast<int>(MK));
    for_each_2d(ex, M, K, gmm::MstepCovarianceStep<double>{K, D, active_d.data(), mu_new.data(),
                                                           XX.data(), mu.data(), sigma.data()});
  }
  download(ex, mu.data(), MK * D, g.mu.data());
  download(ex, sigma.data(), MK * DD, g.sigma.data());
  download(ex, logmass.data(), MK, g.logmass.data());
  download(ex, mass.data(), MK, g.mass.data());
  if (final_logobs) {
    // A stopped condition's parameters did not change after its last E-step, so the
    // buffer still holds that E-step's values.
    std::vector<double> lo(M * PK);
    download(ex, logobs.data(), M * PK, lo.data());
    for (int m = 0; m < M; ++m)
      if (rep.stop[m] == gmm::kEmConverged || rep.stop[m] == gmm::kEmLoglikDecreased) {
        std::copy_n(lo.data() + m * PK, PK, final_logobs + m * PK);
        rep.final_logobs_valid[m] = 1;
      }
  }
#else
  (void)ex, (void)g, (void)M, (void)P, (void)D, (void)data, (void)start, (void)maxit,
      (void)rep, (void)final_logobs;
  throw_cuda_not_built();
#endif
}

}  // namespace

namespace detail {

void gmm_estep_device(const Executor& ex, int M, int K, int P, int D, const double* X,
                      const double* mu, const double* sigma, const double* logmass,
                      double* logobs, std::uint32_t* status, EstepDeviceWork& w) {
#if GPSX_HAVE_CUDA
  const std::size_t MK = static_cast<std::size_t>(M) * K, DD = static_cast<std::size_t>(D) * D;
  const std::size_t PD = static_cast<std::size_t>(P) * D;
  w.resize(ex, M, K, P, D);
  ExecBuffer<double>&chol = w.chol, &Linv = w.Linv, &logc = w.logc, &R = w.R, &Z = w.Z;
  ExecBuffer<int>& info = w.info;
  ExecBuffer<std::uint32_t>& cst = w.status;
  cuda::copy(chol.data(), sigma, MK * DD * sizeof(double), cuda::CopyKind::kDeviceToDevice,
             ex.stream);
  cuda::cholesky_lower_batched(ex.stream, D, chol.data(), static_cast<int>(MK), info.data());
  for_each_2d(ex, M, K, gmm::EstepFactorStep<double>{K, D, info.data(), logmass, chol.data(),
                                                     Linv.data(), logc.data(), cst.data()});
  for_each_2d(ex, static_cast<std::int64_t>(MK), P,
              gmm::EstepResidualStep<double>{K, P, D, X, mu, R.data()});
  // Z_mk (P x D) = R_mk (P x D) Linv_mk^T over all clusters of all conditions.
  cuda::gemm_strided_batched(ex.stream, false, true, P, D, D, R.data(), D, PD, Linv.data(), D,
                             DD, 0.0, Z.data(), D, PD, static_cast<int>(MK));
  for_each_2d(ex, M, P, gmm::EstepLogobsStep<double>{K, P, D, Z.data(), logc.data(), logobs});
  for_each(ex, M, gmm::EstepStatusStep{K, cst.data(), status});
#else
  (void)ex, (void)M, (void)K, (void)P, (void)D, (void)X, (void)mu, (void)sigma, (void)logmass,
      (void)logobs, (void)status, (void)w;
  throw_cuda_not_built();
#endif
}

}  // namespace detail

namespace {
}  // namespace

int GmmUpdateReport::max_iterations() const {
  int r = 0;
  for (int i : iterations) r = std::max(r, i);
  return r;
}
int GmmUpdateReport::total_iterations() const {
  int r = 0;
  for (int i : iterations) r += i;
  return r;
}

void gmm_random_assignment(std::uint64_t seed, std::uint64_t draw, int M, int P, int K,
                           int* assignment) {
  require(K >= 1, "gmm_random_assignment: K must be >= 1, got " + std::to_string(K));
  for (int m = 0; m < M; ++m) {
    const std::uint64_t stream = (draw << 32) | static_cast<std::uint32_t>(m);
    for (int p = 0; p < P; ++p)
      assignment[static_cast<std::size_t>(m) * P + p] = static_cast<int>(
          rng::uniform_int(seed, stream, static_cast<std::uint64_t>(p),
                           static_cast<std::uint32_t>(K)));
  }
}

GmmUpdateReport gmm_update(const Executor& ex, GmmState& g, int M, int P, int D,
                           const double* data, int K, const GmmSettings& settings,
                           const int* init_assignment, double* final_logobs) {
  require(M >= 1 && P >= 1 && D >= 1,
          "gmm_update: data must be (M x P x D) with M, P, D >= 1, got (" + std::to_string(M) +
              " x " + std::to_string(P) + " x " + std::to_string(D) + ")");
  require(K >= 1, "gmm_update: K must be >= 1, got " + std::to_string(K));
  require(settings.max_iterations >= 1,
          "gmm_update: max_iterations must be >= 1, got " + std::to_string(settings.max_iterations));

  GmmUpdateReport rep;
  rep.K = K;
  rep.reinitialised = !settings.warmstart || !g.initialised() || K != g.K;
  if (!rep.reinitialised) {
    require(g.M == M && g.D == D, "gmm_update: warm start needs the same (M, D) = (" +
                                      std::to_string(g.M) + ", " + std::to_string(g.D) +
                                      "), got (" + std::to_string(M) + ", " +
                                      std::to_string(D) + ")");
  } else {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    g.M = M;
    g.K = K;
    g.D = D;
    g.mu.assign(static_cast<std::size_t>(M) * K * D, nan);
    g.sigma.assign(static_cast<std::size_t>(M) * K * D * D, nan);
    g.logmass.assign(static_cast<std::size_t>(M) * K, nan);
    g.mass.assign(static_cast<std::size_t>(M) * K, nan);
    g.N0.assign(M, nan);
    rep.init_assignment.resize(static_cast<std::size_t>(M) * P);
    if (init_assignment) {
      for (std::size_t i = 0; i < rep.init_assignment.size(); ++i) {
        require(init_assignment[i] >= 0 && init_assignment[i] < K,
                "gmm_update: init_assignment[" + std::to_string(i) + "] = " +
                    std::to_string(init_assignment[i]) + " is outside [0, " +
                    std::to_string(K) + ")");
        rep.init_assignment[i] = init_assignment[i];
      }
    } else {
      gmm_random_assignment(settings.seed, g.initialisations, M, P, K,
                            rep.init_assignment.data());
    }
    ++g.initialisations;
  }
  const int maxit = settings.max_iterations;
  rep.iterations.assign(M, 0);
  rep.stop.assign(M, gmm::kEmFailed);
  rep.loglik.assign(static_cast<std::size_t>(M) * maxit, std::numeric_limits<double>::quiet_NaN());
  rep.status.assign(M, kOk);
  rep.message.assign(M, "");
  rep.final_logobs_valid.assign(M, 0);

  // Data check and (re)initialisation of condition m on the host; false: skip its EM.
  const auto prepare = [&](int m) {
    const double* x = data + static_cast<std::size_t>(m) * P * D;
    const std::int64_t bad = first_non_finite(static_cast<std::int64_t>(P) * D, x);
    if (bad >= 0) {
      rep.status[m] = kNonFinite;
      rep.message[m] = condition_prefix(m) + "non-finite value in the GMM data at point " +
                       std::to_string(bad / D) + ", dimension " + std::to_string(bad % D);
      return false;
    }
    if (rep.reinitialised) {
      const std::uint32_t st =
          init_condition(g, m, P, x, rep.init_assignment.data() + static_cast<std::size_t>(m) * P);
      if (st != kOk) {
        rep.status[m] = st;
        rep.message[m] = condition_prefix(m) +
                         "a GMM cluster has no points in the initial assignment";
        return false;
      }
    }
    return true;
  };
  if (ex.is_cuda()) {
    std::vector<char> start(M);
    for (int m = 0; m < M; ++m) start[m] = prepare(m);
    em_device(ex, g, M, P, D, data, start, maxit, rep, final_logobs);
    return rep;
  }

#pragma omp parallel num_threads(ex.threads)
  {
    EmWorkspace ws;
    ws.resize(P, K, D);
#pragma omp for schedule(dynamic)
    for (int m = 0; m < M; ++m) {
      if (!prepare(m)) continue;
      ws.load_points(data + static_cast<std::size_t>(m) * P * D);
      double prev_ll = -std::numeric_limits<double>::infinity();
      int stop = gmm::kEmMaxIterations;
      for (int it = 0; it < maxit; ++it) {
        const std::uint32_t st = estep_condition(g, m, ws, ws.logobs.data());
        if (st != kOk) {
          rep.status[m] = st;
          rep.message[m] = condition_prefix(m) + "GMM cluster covariance is not positive "
                           "definite at EM iteration " + std::to_string(it);
          stop = gmm::kEmFailed;
          break;
        }
        double ll = 0.0;
        for (int n = 0; n < P; ++n)
          ll += gmm::responsibilities_row(K, ws.logobs.data() + static_cast<std::size_t>(n) * K,
                                          ws.logw.data() + static_cast<std::size_t>(n) * K);
        rep.loglik[static_cast<std::size_t>(m) * maxit + it] = ll;
        rep.iterations[m] = it + 1;
        stop = gmm::em_stop_rule(ll, prev_ll);
        if (stop == gmm::kEmFailed) {
          rep.status[m] = kNonFinite;
          rep.message[m] = condition_prefix(m) + "non-finite GMM log-likelihood at EM iteration " +
                           std::to_string(it);
        }
        if (stop != gmm::kEmContinue) break;
        prev_ll = ll;
        mstep_condition(g, m, ws);
        stop = gmm::kEmMaxIterations;
      }
      rep.stop[m] = stop;
      if (final_logobs && (stop == gmm::kEmConverged || stop == gmm::kEmLoglikDecreased)) {
        std::copy(ws.logobs.begin(), ws.logobs.end(),
                  final_logobs + static_cast<std::size_t>(m) * P * K);
        rep.final_logobs_valid[m] = 1;
      }
    }
  }
  return rep;
}

void gmm_estep(const Executor& ex, const GmmState& g, int m_begin, int m_count, int P,
               const double* pts, double* logobs, std::uint32_t* status) {
  check_state(g, "gmm_estep");
  require(m_begin >= 0 && m_count >= 0 && m_begin + m_count <= g.M,
          "gmm_estep: conditions [" + std::to_string(m_begin) + ", " +
              std::to_string(m_begin + m_count) + ") outside [0, " + std::to_string(g.M) + ")");
  const int K = g.K, D = g.D;
  if (ex.is_cuda()) {  // host buffers in and out, the work on the GPU
    if (m_count == 0) return;
    const std::size_t MK = static_cast<std::size_t>(m_count) * K, m0K = static_cast<std::size_t>(m_begin) * K;
    ExecBuffer<double> X(ex, static_cast<std::size_t>(m_count) * P * D);   // (mc x P x D)
    ExecBuffer<double> mu(ex, MK * D);                                     // (mc x K x D)
    ExecBuffer<double> sigma(ex, MK * D * D);                              // (mc x K x D x D)
    ExecBuffer<double> logmass(ex, MK);                                    // (mc x K)
    ExecBuffer<double> lo(ex, static_cast<std::size_t>(m_count) * P * K);  // (mc x P x K)
    ExecBuffer<std::uint32_t> st(ex, m_count);                             // (mc)
    upload(ex, pts, X.size(), X.data());
    upload(ex, g.mu.data() + m0K * D, MK * D, mu.data());
    upload(ex, g.sigma.data() + m0K * D * D, MK * D * D, sigma.data());
    upload(ex, g.logmass.data() + m0K, MK, logmass.data());
    detail::EstepDeviceWork work;
    detail::gmm_estep_device(ex, m_count, K, P, D, X.data(), mu.data(), sigma.data(),
                             logmass.data(), lo.data(), st.data(), work);
    download(ex, lo.data(), lo.size(), logobs);
    if (status) download(ex, st.data(), st.size(), status);
    return;
  }
#pragma omp parallel num_threads(ex.threads)
  {
    EmWorkspace ws;
    ws.resize(P, K, D);
#pragma omp for schedule(dynamic)
    for (int i = 0; i < m_count; ++i) {
      ws.load_points(pts + static_cast<std::size_t>(i) * P * D);
      const std::uint32_t st =
          estep_condition(g, m_begin + i, ws, logobs + static_cast<std::size_t>(i) * P * K);
      if (status) status[i] = st;
    }
  }
}

void gmm_estep(const Executor& ex, const GmmState& g, int P, const double* pts,
               double* logobs, std::uint32_t* status) {
  gmm_estep(ex, g, 0, g.M, P, pts, logobs, status);
}

void gmm_inference(const Executor& ex, const GmmState& g, int Q, const double* pts,
                   double strength, double* mu0, double* Phi, double* m, double* n0,
                   double* logwts, std::uint32_t* status) {
  check_state(g, "gmm_inference");
  require(Q >= 1, "gmm_inference: need at least one query point, got " + std::to_string(Q));
  const int M = g.M, K = g.K, D = g.D;
  std::vector<double> logobs(static_cast<std::size_t>(M) * Q * K);
  std::vector<std::uint32_t> st(M);
  gmm_estep(ex, g, Q, pts, logobs.data(), st.data());
  std::vector<double> lw(static_cast<std::size_t>(M) * K), wts(K + D);
  for (int c = 0; c < M; ++c) {
    const std::size_t cK = static_cast<std::size_t>(c) * K;
    gmm::cluster_weights(Q, K, logobs.data() + cK * Q, lw.data() + cK);
    gmm::moments(K, D, g.mu.data() + cK * D, g.sigma.data() + cK * D * D, lw.data() + cK,
                 wts.data(), mu0 + static_cast<std::size_t>(c) * D,
                 Phi + static_cast<std::size_t>(c) * D * D, D);
    gmm::prior_scalars(g.N0[c], D, strength, m + c, n0 + c);
    for (int i = 0; i < D * D; ++i) Phi[static_cast<std::size_t>(c) * D * D + i] *= m[c];
    if (logwts)
      for (int k = 0; k < K; ++k) logwts[cK + k] = lw[cK + k];
    if (status) status[c] = st[c];
  }
}

}  // namespace gpsx
