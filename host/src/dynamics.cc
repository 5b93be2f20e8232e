// Host side of the batched dynamics fit: prior data set bookkeeping, the GMM update,
// the batched E-step of the fit points, and the per-(m, t) kernels via for_each_2d.
#include "gpsx/host/dynamics.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>


#include "gmm_device.h"
#include "gpsx/host/check.h"
#include "gpsx/host/exec_buffer.h"
#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/gmm.h"
#include "gpsx/kernels/lanes.h"

namespace gpsx {
namespace {



// Scratch budget per chunk of conditions (elements): bounds memory for large M.
constexpr std::int64_t kChunkElements = std::int64_t(8) << 20;  // 64 MiB of doubles

// Scratch that every kernel overwrites before reading: no zero fill.
std::unique_ptr<double[]> scratch_buffer(std::int64_t n) {
  return std::unique_ptr<double[]>(new double[static_cast<std::size_t>(std::max<std::int64_t>(n, 1))]);
}

int chunk_conditions(int M, std::int64_t per_condition) {
  return static_cast<int>(std::clamp<std::int64_t>(kChunkElements / std::max<std::int64_t>(per_condition, 1), 1, M));
}

// Points [x_t; u_t; x_{t+1}] of all steps of one condition, t-major: row t*N + n.
void gather_all_steps(int N, int T, int dX, int dU, const double* X, const double* U,
                      double* pts) {  // pts ((T-1) x N x D)
  const int D = 2 * dX + dU;
  for (int t = 0; t + 1 < T; ++t)
    dyn::gather_transitions(N, T, dX, dU, t, X, U, pts + static_cast<std::size_t>(t) * N * D);
}

// When the batch (X (M x N x T x dX), U) is the newest N trajectories of the prior data set
// and the EM's final E-step is current for conditions [m0, m0 + mc), copies those log
// observations into the fit's layout logobs (mc x (T-1) x N x K) and returns true.
bool reuse_prior_logobs(const DynamicsPrior& p, int m0, int mc, int N, const double* X,
                        const double* U, double* logobs) {
  const int T = p.T, K = p.gmm.K;
  if (N > p.count || p.logobs_valid.size() != static_cast<std::size_t>(p.M)) return false;
  const std::int64_t xs = static_cast<std::int64_t>(T) * p.dX, us = static_cast<std::int64_t>(T) * p.dU;
  for (int m = m0; m < m0 + mc; ++m) {
    if (!p.logobs_valid[m]) return false;
    const std::int64_t newest = static_cast<std::int64_t>(m) * p.capacity + p.count - N;
    if (!std::equal(X + static_cast<std::int64_t>(m) * N * xs, X + (m + 1LL) * N * xs,
                    p.X.data() + newest * xs) ||
        !std::equal(U + static_cast<std::int64_t>(m) * N * us, U + (m + 1LL) * N * us,
                    p.U.data() + newest * us))
      return false;
  }
  const std::int64_t P = static_cast<std::int64_t>(p.count) * (T - 1);
  for (int i = 0; i < mc; ++i)
    for (int n = 0; n < N; ++n)
      for (int t = 0; t + 1 < T; ++t)
        std::copy_n(p.logobs.data() + ((m0 + i) * P + (p.count - N + n) * (T - 1LL) + t) * K, K,
                    logobs + ((static_cast<std::int64_t>(i) * (T - 1) + t) * N + n) * K);
  return true;
}

// Sets step T-1 of every condition to zero in a (M x T x inner) buffer.
void zero_last_step(int M, int T, std::int64_t inner, double* a) {
  if (!a) return;
  for (int m = 0; m < M; ++m)
    std::fill_n(a + (static_cast<std::int64_t>(m) * T + T - 1) * inner, inner, 0.0);
}

// Folds per-(m, t) status into the report of condition m.
void fold_step_status(int m, int T, const std::uint32_t* st, FitReport& rep) {
  for (int t = 0; t + 1 < T; ++t) {
    if (st[static_cast<std::size_t>(m) * T + t] == kOk) continue;
    if (rep.status[m] == kOk)
      rep.message[m] = "condition " + std::to_string(m) + ": " +
                       status_name(st[static_cast<std::size_t>(m) * T + t]) +
                       " in the dynamics fit at step " + std::to_string(t);
    rep.status[m] |= st[static_cast<std::size_t>(m) * T + t];
  }
}

// Folds condition m's prior status (E-step) and its per-step statuses into the report.
void fold_condition_status(int m, std::uint32_t prior_status, int T, const std::uint32_t* st,
                           FitReport& rep) {
  if (prior_status != kOk) {
    rep.status[m] |= prior_status;
    rep.message[m] =
        "condition " + std::to_string(m) + ": a GMM prior covariance is not positive definite";
  }
  fold_step_status(m, T, st, rep);
}

FitReport make_report(int M) {
  FitReport r;
  r.status.assign(M, kOk);
  r.message.assign(M, "");
  return r;
}

// Fits steps t .. t + W - 1 of condition i as one SIMD pack: the same fit_prior_point on
// lane-interleaved copies of the steps' scratch (gathered points, cluster weights, moment
// sums), results scattered back. When a step cannot be gathered, or any lane fails a
// check inside the kernel, the pack is redone one step at a time with the scalar functor,
// so statuses and results equal the scalar path's.
constexpr int kPackWidth = 4;
using Pack = Lanes<double, kPackWidth>;

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

// Copies of host arrays in executor memory for the CUDA paths (host buffers in and out).
std::unique_ptr<ExecBuffer<double>> on_device(const Executor& ex, const double* host,
                                               std::size_t n) {
  auto b = std::make_unique<ExecBuffer<double>>(ex, std::max<std::size_t>(n, 1));
  if (host) upload(ex, host, n, b->data());
  return b;
}

// An optional output: a device buffer when the caller asked for it, else null.
struct OptionalOut {
  std::unique_ptr<ExecBuffer<double>> buf;
  double* host;
  std::size_t n;
  OptionalOut(const Executor& ex, double* h, std::size_t count) : host(h), n(count) {
    if (h) buf = std::make_unique<ExecBuffer<double>>(ex, count);
  }
  double* data() { return buf ? buf->data() : nullptr; }
  void fetch(const Executor& ex) {
    if (buf) download(ex, buf->data(), n, host);
  }
};

// dynamics_fit_prior on the CUDA executor: the fit points' E-step on the GPU (batched
// Cholesky + GEMM, detail::gmm_estep_device), then the same per-(m, t) functors as the CPU
// path; outputs are zero-initialised device buffers, so step T-1 comes back as zero.
FitReport fit_prior_device(const Executor& ex, const DynamicsPriorSettings& s,
                           const DynamicsPrior& p, int N, const double* X, const double* U,
                           double* Fm, double* fv, double* dyn_covar, const PriorEvalOut& eval) {
  const int M = p.M, T = p.T, dX = p.dX, dU = p.dU, D = p.D(), K = p.gmm.K, dXU = dX + dU;
  const std::size_t MT = static_cast<std::size_t>(M) * T, DD = static_cast<std::size_t>(D) * D;
  const std::size_t P = static_cast<std::size_t>(N) * (T - 1);
  const dyn::FitScratch L(N, K, dX, dU);
  const auto Xd = on_device(ex, X, static_cast<std::size_t>(M) * N * T * dX);   // (M x N x T x dX)
  const auto Ud = on_device(ex, U, static_cast<std::size_t>(M) * N * T * dU);   // (M x N x T x dU)
  const auto mu = on_device(ex, p.gmm.mu.data(), p.gmm.mu.size());             // (M x K x D)
  const auto sigma = on_device(ex, p.gmm.sigma.data(), p.gmm.sigma.size());    // (M x K x D x D)
  const auto logmass = on_device(ex, p.gmm.logmass.data(), p.gmm.logmass.size());  // (M x K)
  const auto N0 = on_device(ex, p.gmm.N0.data(), p.gmm.N0.size());             // (M)
  const auto pts = on_device(ex, nullptr, M * P * D);                          // (M x (T-1) x N x D)
  const auto logobs = on_device(ex, nullptr, M * P * K);                       // (M x (T-1) x N x K)
  const auto scratch = on_device(ex, nullptr, static_cast<std::size_t>(M) * (T - 1) * L.size);
  const auto center = on_device(ex, nullptr, static_cast<std::size_t>(M) * D);  // (M x D)
  const auto B = on_device(ex, nullptr, static_cast<std::size_t>(M) * K * DD);  // (M x D x D x K)
  const auto Fmd = on_device(ex, nullptr, MT * dX * dXU);                       // (M x T x dX x dXU)
  const auto fvd = on_device(ex, nullptr, MT * dX);                             // (M x T x dX)
  const auto covd = on_device(ex, nullptr, MT * dX * dX);                       // (M x T x dX x dX)
  OptionalOut e_mu0(ex, eval.mu0, MT * D), e_Phi(ex, eval.Phi, MT * DD), e_m(ex, eval.m, MT),
      e_n0(ex, eval.n0, MT);
  ExecBuffer<std::uint32_t> estep_status(ex, M);                                // (M)
  ExecBuffer<std::uint32_t> step_status(ex, MT);                                // (M x T)

  for_each_2d(ex, M, T - 1, dyn::GatherStepsStep<double>{N, T, dX, dU, Xd->data(), Ud->data(),
                                                         pts->data()});
  detail::EstepDeviceWork work;
  detail::gmm_estep_device(ex, M, K, static_cast<int>(P), D, pts->data(), mu->data(),
                           sigma->data(), logmass->data(), logobs->data(), estep_status.data(),
                           work);
  for_each_2d(ex, M, T - 1,
              dyn::PriorWeightsStep<double>{N, T, K, L.size, L.logw, L.logwts, L.wts,
                                            logobs->data(), scratch->data()});
  for_each(ex, M, dyn::MixtureCenterStep<double>{K, D, mu->data(), center->data()});
  for_each_2d(ex, M, K, dyn::CenteredMomentStep<double>{K, D, mu->data(), sigma->data(),
                                                        center->data(), B->data()});
  for_each_2d(ex, M, T - 1,
              dyn::FitPriorStep<double>{N, T, dX, dU, K, s.regularization, s.strength,
                                        Xd->data(), Ud->data(), mu->data(), N0->data(),
                                        center->data(), B->data(), Fmd->data(), fvd->data(),
                                        covd->data(), scratch->data(), step_status.data(),
                                        e_mu0.data(), e_Phi.data(), e_m.data(), e_n0.data()});
  download(ex, Fmd->data(), MT * dX * dXU, Fm);
  download(ex, fvd->data(), MT * dX, fv);
  download(ex, covd->data(), MT * dX * dX, dyn_covar);
  for (OptionalOut* o : {&e_mu0, &e_Phi, &e_m, &e_n0}) o->fetch(ex);
  std::vector<std::uint32_t> est(M), st(MT);
  download(ex, estep_status.data(), M, est.data());
  download(ex, step_status.data(), MT, st.data());
  FitReport rep = make_report(M);
  for (int m = 0; m < M; ++m) fold_condition_status(m, est[m], T, st.data(), rep);
  return rep;
}

}  // namespace

bool FitReport::all_ok() const {
  return std::all_of(status.begin(), status.end(), [](std::uint32_t s) { return s == kOk; });
}

DynamicsPrior make_dynamics_prior(int M, int T, int dX, int dU,
                                  const DynamicsPriorSettings& s) {
  require(M >= 1 && T >= 2 && dX >= 1 && dU >= 0,
          "make_dynamics_prior: need M >= 1, T >= 2, dX >= 1, dU >= 0, got (M, T, dX, dU) = " +
              dims_str({M, T, dX, dU}));
  require(s.max_samples >= 2, "make_dynamics_prior: max_samples must be >= 2 (the prior keeps "
                              "max_samples - 1 trajectories), got " + std::to_string(s.max_samples));
  require(s.min_samples_per_cluster >= 1 && s.max_clusters >= 1,
          "make_dynamics_prior: max_clusters and min_samples_per_cluster must be >= 1");
  DynamicsPrior p;
  p.M = M;
  p.T = T;
  p.dX = dX;
  p.dU = dU;
  p.capacity = s.max_samples - 1;
  p.X.assign(static_cast<std::size_t>(M) * p.capacity * T * dX, 0.0);
  p.U.assign(static_cast<std::size_t>(M) * p.capacity * T * dU, 0.0);
  return p;
}

int dynamics_prior_clusters(const DynamicsPriorSettings& s, int Ntraj, int T) {
  const int by_data = static_cast<int>(
      std::floor(static_cast<double>(Ntraj) * (T - 1) / s.min_samples_per_cluster));
  return std::max(2, std::min(s.max_clusters, by_data));
}

GmmUpdateReport dynamics_prior_update(const Executor& ex, const DynamicsPriorSettings& s,
                                      DynamicsPrior& p, int N, const double* X,
                                      const double* U, const int* init_assignment) {
  require(p.M >= 1, "dynamics_prior_update: prior not created (use make_dynamics_prior)");
  require(N >= 1, "dynamics_prior_update: need N >= 1 trajectories, got " + std::to_string(N));
  const int M = p.M, T = p.T, dX = p.dX, dU = p.dU, D = p.D();
  const std::int64_t xs = static_cast<std::int64_t>(T) * dX, us = static_cast<std::int64_t>(T) * dU;

  // Append the batch and keep the newest `capacity` trajectories (oldest first).
  const int total = p.count + N;
  const int keep = std::min(total, p.capacity);
  const int start = total - keep;
  std::vector<double> nx(p.X.size()), nu(p.U.size());
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < keep; ++j) {
      const int src = start + j;  // index in [old set ++ batch]
      const double* sx = src < p.count
                             ? p.X.data() + (static_cast<std::int64_t>(m) * p.capacity + src) * xs
                             : X + (static_cast<std::int64_t>(m) * N + src - p.count) * xs;
      const double* su = src < p.count
                             ? p.U.data() + (static_cast<std::int64_t>(m) * p.capacity + src) * us
                             : U + (static_cast<std::int64_t>(m) * N + src - p.count) * us;
      std::copy_n(sx, xs, nx.data() + (static_cast<std::int64_t>(m) * p.capacity + j) * xs);
      std::copy_n(su, us, nu.data() + (static_cast<std::int64_t>(m) * p.capacity + j) * us);
    }
  p.X.swap(nx);
  p.U.swap(nu);
  p.count = keep;

  // Points n*(T-1)+t over [x_t; u_t; x_{t+1}] of the prior data set.
  const int P = keep * (T - 1);
  std::vector<double> pts(static_cast<std::size_t>(M) * P * D);  // (M x P x D)
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < keep; ++n)
      for (int t = 0; t + 1 < T; ++t)
        dyn::gather_transitions(
            1, T, dX, dU, t, p.X.data() + (static_cast<std::int64_t>(m) * p.capacity + n) * xs,
            p.U.data() + (static_cast<std::int64_t>(m) * p.capacity + n) * us,
            pts.data() + ((static_cast<std::size_t>(m) * keep + n) * (T - 1) + t) * D);
  const int K = dynamics_prior_clusters(s, keep, T);
  p.logobs.resize(static_cast<std::size_t>(M) * P * K);
  GmmUpdateReport rep =
      gmm_update(ex, p.gmm, M, P, D, pts.data(), K, s.gmm, init_assignment, p.logobs.data());
  p.logobs_valid = rep.final_logobs_valid;
  return rep;
}

FitReport dynamics_fit_prior(const Executor& ex, const DynamicsPriorSettings& s,
                             const DynamicsPrior& p, int N, const double* X, const double* U,
                             double* Fm, double* fv, double* dyn_covar,
                             const PriorEvalOut& eval) {
  require(p.gmm.initialised() && p.gmm.M == p.M,
          "dynamics_fit_prior: the prior's GMM has not been fitted (call dynamics_prior_update)");
  require(N >= 1, "dynamics_fit_prior: need N >= 1 trajectories, got " + std::to_string(N));
  if (ex.is_cuda()) return fit_prior_device(ex, s, p, N, X, U, Fm, fv, dyn_covar, eval);
  const int M = p.M, T = p.T, dX = p.dX, dU = p.dU, D = p.D(), K = p.gmm.K, dXU = dX + dU;
  zero_last_step(M, T, static_cast<std::int64_t>(dX) * dXU, Fm);
  zero_last_step(M, T, dX, fv);
  zero_last_step(M, T, static_cast<std::int64_t>(dX) * dX, dyn_covar);
  zero_last_step(M, T, D, eval.mu0);
  zero_last_step(M, T, static_cast<std::int64_t>(D) * D, eval.Phi);
  zero_last_step(M, T, 1, eval.m);
  zero_last_step(M, T, 1, eval.n0);

  const dyn::FitScratch L(N, K, dX, dU);
  const std::int64_t S = L.size, DD = static_cast<std::int64_t>(D) * D;
  const std::int64_t P = static_cast<std::int64_t>(N) * (T - 1);
  const int Mc = chunk_conditions(M, (T - 1) * S + P * (D + K) + K * DD + D);
  const auto scratch = scratch_buffer(Mc * (T - 1) * S);  // (Mc x (T-1) x S)
  const auto pts = scratch_buffer(Mc * P * D);            // (Mc x (T-1) x N x D)
  const auto logobs = scratch_buffer(Mc * P * K);         // (Mc x (T-1) x N x K)
  const auto B = scratch_buffer(Mc * K * DD);             // (Mc x D x D x K)
  const auto center = scratch_buffer(Mc * D);             // (Mc x D)
  std::vector<std::uint32_t> estep_status(Mc, kOk);                        // (Mc)
  std::vector<std::uint32_t> step_status(static_cast<std::size_t>(M) * T, kOk);  // (M x T)
  FitReport rep = make_report(M);
  const std::int64_t xs = static_cast<std::int64_t>(N) * T * dX, us = static_cast<std::int64_t>(N) * T * dU;

  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const double* mu = p.gmm.mu.data() + static_cast<std::size_t>(m0) * K * D;
    // Log observations of every step's points under the condition's GMM.
    if (!reuse_prior_logobs(p, m0, mc, N, X, U, logobs.get())) {
      for (int i = 0; i < mc; ++i)
        gather_all_steps(N, T, dX, dU, X + (m0 + i) * xs, U + (m0 + i) * us, pts.get() + i * P * D);
      gmm_estep(ex, p.gmm, m0, mc, static_cast<int>(P), pts.get(), logobs.get(),
                estep_status.data());
    }
    // Pass 1: cluster weights per step.
    for_each_2d(ex, mc, T - 1,
                dyn::PriorWeightsStep<double>{N, T, K, S, L.logw, L.logwts, L.wts, logobs.get(),
                                              scratch.get()});
    // Pass 2: centred moments B_k of every cluster, shared by the condition's steps.
    for (int i = 0; i < mc; ++i) gmm::mixture_center(K, D, mu + i * K * D, center.get() + i * D);
    for_each_2d(ex, mc, K,
                dyn::CenteredMomentStep<double>{
                    K, D, mu, p.gmm.sigma.data() + static_cast<std::size_t>(m0) * K * DD,
                    center.get(), B.get()});
    // Pass 3: prior and MAP fit per step.
    const std::int64_t o = static_cast<std::int64_t>(m0) * T;
    dyn::FitPriorStep<double> step{N, T, dX, dU, K, s.regularization, s.strength,
                                   X + m0 * xs, U + m0 * us, mu, p.gmm.N0.data() + m0,
                                   center.get(), B.get(), Fm + o * dX * dXU, fv + o * dX,
                                   dyn_covar + o * dX * dX, scratch.get(),
                                   step_status.data() + o,
                                   eval.mu0 ? eval.mu0 + o * D : nullptr,
                                   eval.Phi ? eval.Phi + o * D * D : nullptr,
                                   eval.m ? eval.m + o : nullptr,
                                   eval.n0 ? eval.n0 + o : nullptr};
    if (s.simd_packs) {  // groups of kPackWidth steps; a short last group runs scalar
      const int groups = (T - 1 + kPackWidth - 1) / kPackWidth;
      const std::int64_t pack_size =
          PackScratch(N, K, dX, dU, eval.mu0 || eval.Phi || eval.m || eval.n0).size;
#pragma omp parallel num_threads(ex.threads)
      {
        const std::unique_ptr<Pack[]> work(new Pack[pack_size]);  // written before read
#pragma omp for schedule(static)
        for (int ig = 0; ig < mc * groups; ++ig) {
          const int i = ig / groups, t = ig % groups * kPackWidth;
          if (t + kPackWidth <= T - 1)
            fit_prior_pack(step, i, t, work.get());
          else
            for (int u = t; u < T - 1; ++u) step(i, u);
        }
      }
    } else {
      for_each_2d(ex, mc, T - 1, step);
    }
    for (int i = 0; i < mc; ++i)
      fold_condition_status(m0 + i, estep_status[i], T, step_status.data(), rep);
  }
  return rep;
}

FitReport dynamics_fit_lr(const Executor& ex, int M, int N, int T, int dX, int dU,
                          const double* X, const double* U, double regularization, double* Fm,
                          double* fv, double* dyn_covar) {
  require(M >= 1 && N >= 1 && T >= 2 && dX >= 1 && dU >= 0,
          "dynamics_fit_lr: need (M, N, T, dX, dU) >= (1, 1, 2, 1, 0), got " +
              dims_str({M, N, T, dX, dU}));
  const int dXU = dX + dU;
  const std::int64_t S = dyn::FitScratch(N, 0, dX, dU).size;
  if (ex.is_cuda()) {  // host buffers in and out; zeroed device outputs give step T-1 = 0
    const std::size_t MT = static_cast<std::size_t>(M) * T;
    const auto Xd = on_device(ex, X, MT * N * dX), Ud = on_device(ex, U, MT * N * dU);
    const auto Fmd = on_device(ex, nullptr, MT * dX * dXU), fvd = on_device(ex, nullptr, MT * dX),
               covd = on_device(ex, nullptr, MT * dX * dX),
               scratch = on_device(ex, nullptr, static_cast<std::size_t>(M) * (T - 1) * S);
    ExecBuffer<std::uint32_t> st(ex, MT);  // (M x T)
    for_each_2d(ex, M, T - 1,
                dyn::FitLrStep<double>{N, T, dX, dU, regularization, Xd->data(), Ud->data(),
                                       Fmd->data(), fvd->data(), covd->data(), scratch->data(),
                                       st.data()});
    download(ex, Fmd->data(), MT * dX * dXU, Fm);
    download(ex, fvd->data(), MT * dX, fv);
    download(ex, covd->data(), MT * dX * dX, dyn_covar);
    std::vector<std::uint32_t> st_h(MT);
    download(ex, st.data(), MT, st_h.data());
    FitReport rep = make_report(M);
    for (int m = 0; m < M; ++m) fold_step_status(m, T, st_h.data(), rep);
    return rep;
  }
  zero_last_step(M, T, static_cast<std::int64_t>(dX) * dXU, Fm);
  zero_last_step(M, T, dX, fv);
  zero_last_step(M, T, static_cast<std::int64_t>(dX) * dX, dyn_covar);
  const int Mc = chunk_conditions(M, (T - 1) * S);
  const auto scratch = scratch_buffer(Mc * (T - 1) * S);  // (Mc x (T-1) x S)
  std::vector<std::uint32_t> step_status(static_cast<std::size_t>(M) * T, kOk);  // (M x T)
  FitReport rep = make_report(M);
  const std::int64_t xs = static_cast<std::int64_t>(N) * T * dX, us = static_cast<std::int64_t>(N) * T * dU;
  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const std::int64_t o = static_cast<std::int64_t>(m0) * T;
    dyn::FitLrStep<double> step{N, T, dX, dU, regularization, X + m0 * xs, U + m0 * us,
                                Fm + o * dX * dXU, fv + o * dX, dyn_covar + o * dX * dX,
                                scratch.get(), step_status.data() + o};
    for_each_2d(ex, mc, T - 1, step);
    for (int i = 0; i < mc; ++i) fold_step_status(m0 + i, T, step_status.data(), rep);
  }
  return rep;
}

FitReport dynamics_initial_state(const Executor& ex, const DynamicsPriorSettings& s,
                                 const DynamicsPrior* prior, int M, int N, int T, int dX,
                                 const double* X, double initial_state_var, double* x0mu,
                                 double* x0sigma, const InitialStatePriorOut& out) {
  require(M >= 1 && N >= 1 && T >= 1 && dX >= 1,
          "dynamics_initial_state: need (M, N, T, dX) >= 1, got " + dims_str({M, N, T, dX}));
  if (prior)
    require(prior->M == M && prior->T == T && prior->dX == dX,
            "dynamics_initial_state: prior has (M, T, dX) = " +
                dims_str({prior->M, prior->T, prior->dX}) + ", batch " + dims_str({M, T, dX}));
  FitReport rep = make_report(M);
  const bool use_prior = prior && prior->count > 0;
  if (ex.is_cuda()) {  // host buffers in and out
    const std::size_t MD = static_cast<std::size_t>(M) * dX;
    const auto Xd = on_device(ex, X, MD * N * T);
    const auto Xp = on_device(ex, use_prior ? prior->X.data() : nullptr,
                              use_prior ? prior->X.size() : 0);
    const auto mu = on_device(ex, nullptr, MD), sig = on_device(ex, nullptr, MD * dX);
    OptionalOut o_mu0(ex, out.mu0, MD), o_Phi(ex, out.Phi, MD * dX), o_m(ex, out.m, M),
        o_n0(ex, out.n0, M);
    ExecBuffer<std::uint32_t> st(ex, M);  // (M)
    for_each(ex, M,
             dyn::InitialStateStep<double>{N, T, dX, Xd->data(), use_prior ? prior->count : 0,
                                           use_prior ? prior->capacity : 0,
                                           use_prior ? Xp->data() : nullptr, s.strength,
                                           initial_state_var, mu->data(), sig->data(),
                                           o_mu0.data(), o_Phi.data(), o_m.data(), o_n0.data(),
                                           st.data()});
    download(ex, mu->data(), MD, x0mu);
    download(ex, sig->data(), MD * dX, x0sigma);
    for (OptionalOut* o : {&o_mu0, &o_Phi, &o_m, &o_n0}) o->fetch(ex);
    download(ex, st.data(), M, rep.status.data());
  } else {
    for_each(ex, M,
             dyn::InitialStateStep<double>{N, T, dX, X, use_prior ? prior->count : 0,
                                           use_prior ? prior->capacity : 0,
                                           use_prior ? prior->X.data() : nullptr, s.strength,
                                           initial_state_var, x0mu, x0sigma, out.mu0, out.Phi,
                                           out.m, out.n0, rep.status.data()});
  }
  for (int m = 0; m < M; ++m)
    if (rep.status[m] != kOk)
      rep.message[m] = "condition " + std::to_string(m) + ": " + status_name(rep.status[m]) +
                       " in the initial-state estimate";
  return rep;
}

}  // namespace gpsx
