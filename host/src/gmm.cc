// Host side of the batched GMM: per-condition EM loops (parallel over conditions), with
// the big products in Eigen and every per-element formula from gpsx/kernels/gmm.h.
#include "gpsx/host/gmm.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/philox.h"

namespace gpsx {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;
using Map = Eigen::Map<RowMat>;

void require_cpu(const Executor& ex, const char* fn) {
  if (ex.is_cuda())
    throw std::invalid_argument(std::string(fn) +
                                ": the CUDA path of the GMM is not implemented yet; use a cpu "
                                "executor (host buffers)");
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// Scratch for one condition, reused across conditions handled by the same thread.
struct EmWorkspace {
  RowMat Z;                    // (P x D) residuals, whitened in place
  RowMat ZL;                   // (P x D) whitened residuals
  RowMat Linv;                 // (D x D) inverse Cholesky factor of one cluster
  Eigen::VectorXd q;           // (P) squared Mahalanobis distances
  RowMat Xw;                   // (P x D) sqrt-weighted points
  RowMat W;                    // (P x K) refit weights
  RowMat XX;                   // (D x D) weighted second moment (lower triangle)
  RowMat mu;                   // (K x D)
  std::vector<double> chol;    // (K x D x D)
  std::vector<double> logc;    // (K)
  Eigen::LLT<RowMat> llt;      // (D x D) factorisation of one cluster
  std::vector<double> logobs;  // (P x K)
  std::vector<double> logw;    // (P x K)
  std::vector<double> col_lse; // (K)

  void resize(int P, int K, int D) {
    Z.resize(P, D);
    ZL.resize(P, D);
    Linv.resize(D, D);
    q.resize(P);
    Xw.resize(P, D);
    W.resize(P, K);
    XX.resize(D, D);
    mu.resize(K, D);
    chol.resize(static_cast<std::size_t>(K) * D * D);
    logc.resize(K);
    llt = Eigen::LLT<RowMat>(D);
    logobs.resize(static_cast<std::size_t>(P) * K);
    logw.resize(static_cast<std::size_t>(P) * K);
    col_lse.resize(K);
  }
};

// logobs (P x K) of points x (P x D) under mixture m; kNotPositiveDefinite when a cluster
// covariance cannot be factored.
std::uint32_t estep_condition(const GmmState& g, int m, int P, const double* x,
                              EmWorkspace& ws, double* logobs) {
  const int K = g.K, D = g.D;
  // Cholesky factors through Eigen's blocked LLT (host-side large-ish factorisations; the
  // device path uses gmm::ClusterFactorStep). Constants from the kernel formula.
  for (int k = 0; k < K; ++k) {
    const std::size_t mk = static_cast<std::size_t>(m) * K + k;
    ws.llt.compute(CMap(g.sigma.data() + mk * D * D, D, D));
    if (ws.llt.info() != Eigen::Success) return kNotPositiveDefinite;
    Map L(ws.chol.data() + static_cast<std::size_t>(k) * D * D, D, D);
    L = ws.llt.matrixL();
    ws.logc[k] = gmm::cluster_log_constant(D, L.data(), D, g.logmass[mk]);
    if (!std::isfinite(ws.logc[k])) return kNotPositiveDefinite;
  }
  const CMap X(x, P, D);
  for (int k = 0; k < K; ++k) {
    const Eigen::Map<const Eigen::RowVectorXd> mu(g.mu.data() + (static_cast<std::size_t>(m) * K + k) * D, D);
    const CMap L(ws.chol.data() + static_cast<std::size_t>(k) * D * D, D, D);
    ws.Z.noalias() = X.rowwise() - mu;
    // Whitened residuals Z L^-T as a triangular matrix product (TRMM) with the small
    // explicit inverse: GEMM-speed, unlike a TRSM over all points.
    ws.Linv.setIdentity();
    L.triangularView<Eigen::Lower>().solveInPlace(ws.Linv);
    ws.ZL.noalias() = ws.Z * ws.Linv.transpose().triangularView<Eigen::Upper>();
    ws.q.noalias() = ws.ZL.rowwise().squaredNorm();
    for (int n = 0; n < P; ++n)
      logobs[static_cast<std::size_t>(n) * K + k] = gmm::logobs_from_mahalanobis(ws.q(n), ws.logc[k]);
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

// One M-step of mixture m from the log responsibilities ws.logw (P x K).
void mstep_condition(GmmState& g, int m, int P, const double* x, EmWorkspace& ws) {
  const int K = g.K, D = g.D;
  const std::size_t mk0 = static_cast<std::size_t>(m) * K;
  gmm::mstep_mass(P, K, ws.logw.data(), ws.col_lse.data(), g.logmass.data() + mk0,
                  g.mass.data() + mk0);
  for (int n = 0; n < P; ++n)
    for (int k = 0; k < K; ++k)
      ws.W(n, k) = gmm::mstep_weight(P, K, ws.logw[static_cast<std::size_t>(n) * K + k],
                                     ws.col_lse[k], g.mass[mk0 + k]);
  const CMap X(x, P, D);
  ws.mu.noalias() = ws.W.transpose() * X;
  for (int k = 0; k < K; ++k) {
    ws.Xw = X.array().colwise() * ws.W.col(k).array().sqrt();
    ws.XX.setZero();
    // Only the lower triangle: half the flops of the full product.
    ws.XX.selfadjointView<Eigen::Lower>().rankUpdate(ws.Xw.transpose());
    double* mu = g.mu.data() + (mk0 + k) * D;
    for (int i = 0; i < D; ++i) mu[i] = ws.mu(k, i);
    gmm::mstep_covariance(D, ws.XX.data(), D, mu, g.sigma.data() + (mk0 + k) * D * D, D);
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
  require_cpu(ex, "gmm_update");
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

#pragma omp parallel num_threads(ex.threads)
  {
    EmWorkspace ws;
    ws.resize(P, K, D);
#pragma omp for schedule(dynamic)
    for (int m = 0; m < M; ++m) {
      const double* x = data + static_cast<std::size_t>(m) * P * D;
      const std::int64_t bad = first_non_finite(static_cast<std::int64_t>(P) * D, x);
      if (bad >= 0) {
        rep.status[m] = kNonFinite;
        rep.message[m] = condition_prefix(m) + "non-finite value in the GMM data at point " +
                         std::to_string(bad / D) + ", dimension " + std::to_string(bad % D);
        continue;
      }
      if (rep.reinitialised) {
        const std::uint32_t st =
            init_condition(g, m, P, x, rep.init_assignment.data() + static_cast<std::size_t>(m) * P);
        if (st != kOk) {
          rep.status[m] = st;
          rep.message[m] = condition_prefix(m) +
                           "a GMM cluster has no points in the initial assignment";
          continue;
        }
      }
      double prev_ll = -std::numeric_limits<double>::infinity();
      int stop = gmm::kEmMaxIterations;
      for (int it = 0; it < maxit; ++it) {
        const std::uint32_t st = estep_condition(g, m, P, x, ws, ws.logobs.data());
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
        mstep_condition(g, m, P, x, ws);
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
  require_cpu(ex, "gmm_estep");
  check_state(g, "gmm_estep");
  require(m_begin >= 0 && m_count >= 0 && m_begin + m_count <= g.M,
          "gmm_estep: conditions [" + std::to_string(m_begin) + ", " +
              std::to_string(m_begin + m_count) + ") outside [0, " + std::to_string(g.M) + ")");
  const int K = g.K, D = g.D;
#pragma omp parallel num_threads(ex.threads)
  {
    EmWorkspace ws;
    ws.resize(P, K, D);
#pragma omp for schedule(dynamic)
    for (int i = 0; i < m_count; ++i) {
      const std::uint32_t st =
          estep_condition(g, m_begin + i, P, pts + static_cast<std::size_t>(i) * P * D, ws,
                          logobs + static_cast<std::size_t>(i) * P * K);
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
  require_cpu(ex, "gmm_inference");
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
