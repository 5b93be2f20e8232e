// The batched dynamics fit: the prior's data set and GMM in executor memory, the fit's
// per-(m, t) functors over chunks of conditions carved from the caller's workspace. One
// code path for both executors; the CPU adds SIMD packs of steps for the fit itself.
#include "gpsx/host/dynamics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "dynamics_packs.h"
#include "gpsx/host/check.h"
#include "gpsx/kernels/dynamics_fit.h"
#include "gpsx/kernels/dynamics_prior.h"
#include "gpsx/kernels/gmm_batch.h"

namespace gpsx {
namespace {

FitReport make_report(int M) {
  FitReport r;
  r.status.assign(M, kOk);
  r.message.assign(M, "");
  return r;
}

// Per-condition status arrays of a chunk of Mc conditions x T steps.
struct StatusArrays {
  std::uint32_t* step;          // (Mc x T)
  std::uint32_t* prior;         // (Mc) E-step status
  std::uint32_t* status;        // (Mc) folded
  int* first_step;              // (Mc)
  std::uint32_t* first_status;  // (Mc)
  int* same;                    // (Mc) batch == newest held trajectories
  StatusArrays(Carve& c, int Mc, int T)
      : step(c.take<std::uint32_t>(static_cast<std::int64_t>(Mc) * T)),
        prior(c.take<std::uint32_t>(Mc)),
        status(c.take<std::uint32_t>(Mc)),
        first_step(c.take<int>(Mc)),
        first_status(c.take<std::uint32_t>(Mc)),
        same(c.take<int>(Mc)) {}

  // Folds the chunk's statuses on the executor and reports conditions m0 .. m0 + mc - 1
  // (three scalars per condition cross to the host).
  void report(const Executor& ex, int m0, int mc, int T, bool with_prior, FitReport& rep) const {
    for_each(ex, mc, dyn::FoldStepStatusStep{T, with_prior ? prior : nullptr, step, status,
                                             first_step, first_status});
    std::vector<std::uint32_t> st(mc), fst(mc), pst(mc, kOk);
    std::vector<int> ft(mc);
    download(ex, status, mc, st.data());
    download(ex, first_step, mc, ft.data());
    download(ex, first_status, mc, fst.data());
    if (with_prior) download(ex, prior, mc, pst.data());
    for (int i = 0; i < mc; ++i) {
      const int m = m0 + i;
      rep.status[m] = st[i];
      if (pst[i] != kOk)
        rep.message[m] = condition_label(m) + "a GMM prior covariance is not positive definite";
      else if (ft[i] >= 0)
        rep.message[m] = condition_label(m) + status_name(fst[i]) +
                         " in the dynamics fit at step " + std::to_string(ft[i]);
    }
  }
};

// Zeroes step T-1 of conditions [0, mc) of an (M x T x inner) output (null: skipped).
void zero_last_step(const Executor& ex, int mc, int T, std::int64_t inner, double* a) {
  if (a) for_each(ex, mc, dyn::ZeroLastStep<double>{T, inner, a});
}

// The same for a chunk's fitted dynamics Fm, fv, dyn_covar (never fitted at T-1).
void zero_last_dynamics(const Executor& ex, int mc, int T, int dX, int dU, double* Fm,
                        double* fv, double* dyn_covar) {
  zero_last_step(ex, mc, T, static_cast<std::int64_t>(dX) * (dX + dU), Fm);
  zero_last_step(ex, mc, T, dX, fv);
  zero_last_step(ex, mc, T, static_cast<std::int64_t>(dX) * dX, dyn_covar);
}

// The fit's arrays for a chunk of Mc conditions: scratch, gathered points, their log
// observations, cluster moments, statuses, the CPU's pack scratch, then the E-step's
// workspace for the same chunk.
struct FitLayout {
  double* scratch;      // (Mc x (T-1) x FitScratch.size)
  double* pts;          // (Mc x (T-1) x N x D)
  double* logobs;       // (Mc x (T-1) x N x K)
  double* B;            // (Mc x D x D x K)
  double* center;       // (Mc x D)
  StatusArrays st;
  detail::FitPack* packs = nullptr;  // (threads x pack_size) CPU only
  std::int64_t pack_size = 0;
  double* estep_ws;     // (estep_ws_size) gmm_estep's workspace for the chunk
  std::size_t estep_ws_size;

  FitLayout(const Executor& ex, Carve& c, int Mc, int N, int T, int dX, int dU, int K,
            bool eval, std::size_t estep_elements)
      : scratch(c.take<double>(static_cast<std::int64_t>(Mc) * (T - 1) *
                               dyn::FitScratch(N, K, dX, dU).size)),
        pts(c.take<double>(static_cast<std::int64_t>(Mc) * (T - 1) * N * (2 * dX + dU))),
        logobs(c.take<double>(static_cast<std::int64_t>(Mc) * (T - 1) * N * K)),
        B(c.take<double>(static_cast<std::int64_t>(Mc) * K * (2 * dX + dU) * (2 * dX + dU))),
        center(c.take<double>(static_cast<std::int64_t>(Mc) * (2 * dX + dU))),
        st(c, Mc, T) {
    if (!ex.is_cuda()) {
      pack_size = detail::fit_pack_size(N, K, dX, dU, eval);
      packs = c.take<detail::FitPack>(std::max(1, ex.threads) * pack_size);
    }
    estep_ws = c.take<double>(static_cast<std::int64_t>(estep_elements));
    estep_ws_size = estep_elements;
  }
};

// gmm_estep's workspace for all Mc conditions of a fit chunk in one call.
std::size_t estep_elements(const Executor& ex, int Mc, int N, int T, int D, int K) {
  return gmm_workspace_size(ex, Mc, N * (T - 1), D, K, std::numeric_limits<std::size_t>::max());
}

std::size_t fit_elements(const Executor& ex, int Mc, int N, int T, int dX, int dU, int K) {
  const std::size_t estep = estep_elements(ex, Mc, N, T, 2 * dX + dU, K);
  Carve measure;
  FitLayout layout(ex, measure, Mc, N, T, dX, dU, K, true, estep);
  return measure.elements();
}

// The plain regression's arrays for a chunk of Mc conditions.
struct LrLayout {
  double* scratch;      // (Mc x (T-1) x FitScratch(N, 0, dX, dU).size)
  StatusArrays st;
  LrLayout(Carve& c, int Mc, int N, int T, int dX, int dU)
      : scratch(c.take<double>(static_cast<std::int64_t>(Mc) * (T - 1) *
                               dyn::FitScratch(N, 0, dX, dU).size)),
        st(c, Mc, T) {}
};

std::size_t lr_elements(int Mc, int N, int T, int dX, int dU) {
  Carve measure;
  LrLayout layout(measure, Mc, N, T, dX, dU);
  return measure.elements();
}

int fit_chunk(const Executor& ex, const DynamicsPrior& p, int N, std::size_t elements) {
  return chunk_capacity(p.M, elements, [&](int Mc) {
    return fit_elements(ex, Mc, N, p.T, p.dX, p.dU, p.gmm.max_clusters);
  });
}

}  // namespace

bool FitReport::all_ok() const {
  return std::all_of(status.begin(), status.end(), [](std::uint32_t s) { return s == kOk; });
}

DynamicsPrior make_dynamics_prior(const Executor& ex, int M, int T, int dX, int dU,
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
  const std::int64_t traj = static_cast<std::int64_t>(M) * p.capacity;
  const std::int64_t P = static_cast<std::int64_t>(p.capacity) * (T - 1);
  p.X = Buffer<double>(ex, "prior X", {traj * T * dX});
  p.U = Buffer<double>(ex, "prior U", {traj * T * dU});
  p.points = Buffer<double>(ex, "prior points", {M * P * p.D()});
  // dynamics_prior_clusters never goes below 2 clusters.
  p.gmm = make_gmm_state(ex, M, std::max(s.max_clusters, 2), p.D());
  p.logobs = Buffer<double>(ex, "prior logobs", {M * P * p.gmm.max_clusters});
  p.logobs_valid.assign(M, 0);
  return p;
}

int dynamics_prior_clusters(const DynamicsPriorSettings& s, int Ntraj, int T) {
  const int by_data = static_cast<int>(
      std::floor(static_cast<double>(Ntraj) * (T - 1) / s.min_samples_per_cluster));
  return std::max(2, std::min(s.max_clusters, by_data));
}

std::size_t dynamics_workspace_size(const Executor& ex, const DynamicsPrior& p, int N,
                                    std::size_t budget_bytes) {
  require(p.M >= 1, "dynamics_workspace_size: prior not created (use make_dynamics_prior)");
  require(N >= 1, "dynamics_workspace_size: need N >= 1 trajectories, got " + std::to_string(N));
  const std::size_t budget = budget_bytes / sizeof(double);
  const int K = p.gmm.max_clusters;
  const std::size_t update =
      gmm_workspace_size(ex, p.M, p.capacity * (p.T - 1), p.D(), K, budget_bytes);
  const int Mc = std::max(1, fit_chunk(ex, p, N, budget));
  const std::size_t fit = fit_elements(ex, Mc, N, p.T, p.dX, p.dU, K);
  Carve initial_state;
  initial_state.take<std::uint32_t>(p.M);
  return std::max({update, fit, initial_state.elements(),
                   dynamics_fit_lr_workspace_size(ex, p.M, N, p.T, p.dX, p.dU, budget_bytes)});
}

std::size_t dynamics_fit_lr_workspace_size(const Executor& ex, int M, int N, int T, int dX,
                                           int dU, std::size_t budget_bytes) {
  (void)ex;
  const int Mc = std::max(1, chunk_capacity(M, budget_bytes / sizeof(double),
                                            [&](int mc) { return lr_elements(mc, N, T, dX, dU); }));
  return lr_elements(Mc, N, T, dX, dU);
}

GmmUpdateReport dynamics_prior_update(const Executor& ex, const DynamicsPriorSettings& s,
                                      DynamicsPrior& p, int N, const double* X,
                                      const double* U, double* workspace,
                                      std::size_t workspace_size, const int* init_assignment) {
  require(p.M >= 1, "dynamics_prior_update: prior not created (use make_dynamics_prior)");
  require(N >= 1, "dynamics_prior_update: need N >= 1 trajectories, got " + std::to_string(N));
  const int M = p.M, T = p.T, dX = p.dX, dU = p.dU;
  const int keep = std::min(p.count + N, p.capacity);
  const int P = keep * (T - 1), K = dynamics_prior_clusters(s, keep, T);
  // Refuse a too small workspace before the data set changes; from here on the EM's last
  // log observations no longer belong to the data set until the update has run.
  const std::size_t one = gmm_workspace_size(ex, 1, P, p.D(), K, 0);
  require_chunk(workspace_size >= one ? 1 : 0, workspace_size, one, "dynamics_prior_update",
                "dynamics_workspace_size");
  p.logobs_valid.assign(M, 0);
  // Append the batch and keep the newest `capacity` trajectories (oldest first).
  const std::int64_t xs = static_cast<std::int64_t>(T) * dX, us = static_cast<std::int64_t>(T) * dU;
  for_each_2d(ex, M, xs, dyn::AppendTrajectoriesStep<double>{N, p.count, keep, p.capacity, xs, X,
                                                             p.X.data()});
  for_each_2d(ex, M, us, dyn::AppendTrajectoriesStep<double>{N, p.count, keep, p.capacity, us, U,
                                                             p.U.data()});
  p.count = keep;
  // Points n*(T-1)+t over [x_t; u_t; x_{t+1}] of the prior data set.
  for_each_2d(ex, M, P, dyn::GatherPriorPointsStep<double>{keep, p.capacity, T, dX, dU,
                                                           p.X.data(), p.U.data(),
                                                           p.points.data()});
  GmmUpdateReport rep = gmm_update(ex, p.gmm, P, p.points.data(), K, s.gmm, workspace,
                                   workspace_size, init_assignment, p.logobs.data());
  p.logobs_valid = rep.final_logobs_valid;
  return rep;
}

FitReport dynamics_fit_prior(const Executor& ex, const DynamicsPriorSettings& s,
                             const DynamicsPrior& p, int N, const double* X, const double* U,
                             double* Fm, double* fv, double* dyn_covar, double* workspace,
                             std::size_t workspace_size, const PriorEvalOut& eval) {
  require(p.gmm.initialised() && p.gmm.M == p.M,
          "dynamics_fit_prior: the prior's GMM has not been fitted (call dynamics_prior_update)");
  require(N >= 1, "dynamics_fit_prior: need N >= 1 trajectories, got " + std::to_string(N));
  const int M = p.M, T = p.T, dX = p.dX, dU = p.dU, D = p.D(), K = p.gmm.K, dXU = dX + dU;
  const int Mc = fit_chunk(ex, p, N, workspace_size);
  require_chunk(Mc, workspace_size, fit_elements(ex, 1, N, T, dX, dU, p.gmm.max_clusters),
                "dynamics_fit_prior", "dynamics_workspace_size");
  const bool want_eval = eval.mu0 || eval.Phi || eval.m || eval.n0;
  const std::size_t estep = estep_elements(ex, Mc, N, T, D, p.gmm.max_clusters);
  Carve carve(workspace, workspace_size);
  FitLayout w(ex, carve, Mc, N, T, dX, dU, K, want_eval, estep);
  const dyn::FitScratch L(N, K, dX, dU);
  const std::int64_t S = L.size, DD = static_cast<std::int64_t>(D) * D;
  const std::int64_t P = static_cast<std::int64_t>(N) * (T - 1);
  const std::int64_t xs = static_cast<std::int64_t>(N) * T * dX, us = static_cast<std::int64_t>(N) * T * dU;
  FitReport rep = make_report(M);
  std::vector<int> same(Mc);

  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const double* Xc = X + m0 * xs;
    const double* Uc = U + m0 * us;
    const double* mu = p.gmm.mu.data() + static_cast<std::int64_t>(m0) * K * D;
    // Log observations of every step's points under the condition's GMM: the EM's last
    // E-step when the batch is the prior's newest data and it is still current.
    bool reuse = std::all_of(p.logobs_valid.begin() + m0, p.logobs_valid.begin() + m0 + mc,
                             [](char v) { return v != 0; });
    if (reuse) {
      for_each(ex, mc, dyn::SameTrajectoriesStep<double>{
                           N, p.count, p.capacity, static_cast<std::int64_t>(T) * dX,
                           static_cast<std::int64_t>(T) * dU, Xc, Uc,
                           p.X.data() + static_cast<std::int64_t>(m0) * p.capacity * T * dX,
                           p.U.data() + static_cast<std::int64_t>(m0) * p.capacity * T * dU,
                           w.st.same});
      download(ex, w.st.same, mc, same.data());
      reuse = std::all_of(same.begin(), same.begin() + mc, [](int v) { return v != 0; });
    }
    if (reuse) {
      const std::int64_t Pp = static_cast<std::int64_t>(p.count) * (T - 1);
      for_each_2d(ex, mc, P, dyn::ReorderLogobsStep<double>{N, p.count, T, K,
                                                            p.logobs.data() + m0 * Pp * K,
                                                            w.logobs});
    } else {
      for_each_2d(ex, mc, T - 1, dyn::GatherStepsStep<double>{N, T, dX, dU, Xc, Uc, w.pts});
      gmm_estep(ex, p.gmm, m0, mc, static_cast<int>(P), w.pts, w.logobs, w.st.prior, w.estep_ws,
                w.estep_ws_size);
    }
    // Pass 1: cluster weights per step.
    for_each_2d(ex, mc, T - 1, dyn::PriorWeightsStep<double>{N, T, K, S, L.logw, L.logwts, L.wts,
                                                             w.logobs, w.scratch});
    // Pass 2: centred moments B_k of every cluster, shared by the condition's steps.
    for_each(ex, mc, dyn::MixtureCenterStep<double>{K, D, mu, w.center});
    for_each_2d(ex, mc, K, dyn::CenteredMomentStep<double>{
                               K, D, mu, p.gmm.sigma.data() + static_cast<std::int64_t>(m0) * K * DD,
                               w.center, w.B});
    // Pass 3: prior and MAP fit per step.
    const std::int64_t o = static_cast<std::int64_t>(m0) * T;
    double* e_mu0 = eval.mu0 ? eval.mu0 + o * D : nullptr;
    double* e_Phi = eval.Phi ? eval.Phi + o * DD : nullptr;
    double* e_m = eval.m ? eval.m + o : nullptr;
    double* e_n0 = eval.n0 ? eval.n0 + o : nullptr;
    const dyn::FitPriorStep<double> step{N, T, dX, dU, K, s.regularization, s.strength, Xc, Uc,
                                         mu, p.gmm.N0.data() + m0, w.center, w.B,
                                         Fm + o * dX * dXU, fv + o * dX, dyn_covar + o * dX * dX,
                                         w.scratch, w.st.step, e_mu0, e_Phi, e_m, e_n0};
    if (!ex.is_cuda() && s.simd_packs)
      detail::fit_prior_packs(ex.threads, step, mc, w.packs, w.pack_size);
    else
      for_each_2d(ex, mc, T - 1, step);
    zero_last_dynamics(ex, mc, T, dX, dU, step.Fm, step.fv, step.dyn_covar);
    zero_last_step(ex, mc, T, D, e_mu0);
    zero_last_step(ex, mc, T, DD, e_Phi);
    zero_last_step(ex, mc, T, 1, e_m);
    zero_last_step(ex, mc, T, 1, e_n0);
    w.st.report(ex, m0, mc, T, !reuse, rep);
  }
  return rep;
}

FitReport dynamics_fit_lr(const Executor& ex, int M, int N, int T, int dX, int dU,
                          const double* X, const double* U, double regularization, double* Fm,
                          double* fv, double* dyn_covar, double* workspace,
                          std::size_t workspace_size) {
  require(M >= 1 && N >= 1 && T >= 2 && dX >= 1 && dU >= 0,
          "dynamics_fit_lr: need (M, N, T, dX, dU) >= (1, 1, 2, 1, 0), got " +
              dims_str({M, N, T, dX, dU}));
  const int dXU = dX + dU;
  const int Mc = chunk_capacity(M, workspace_size,
                                [&](int mc) { return lr_elements(mc, N, T, dX, dU); });
  require_chunk(Mc, workspace_size, lr_elements(1, N, T, dX, dU), "dynamics_fit_lr",
                "dynamics_fit_lr_workspace_size");
  Carve carve(workspace, workspace_size);
  const LrLayout w(carve, Mc, N, T, dX, dU);
  FitReport rep = make_report(M);
  const std::int64_t xs = static_cast<std::int64_t>(N) * T * dX, us = static_cast<std::int64_t>(N) * T * dU;
  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const std::int64_t o = static_cast<std::int64_t>(m0) * T;
    const dyn::FitLrStep<double> step{N, T, dX, dU, regularization, X + m0 * xs, U + m0 * us,
                                      Fm + o * dX * dXU, fv + o * dX, dyn_covar + o * dX * dX,
                                      w.scratch, w.st.step};
    for_each_2d(ex, mc, T - 1, step);
    zero_last_dynamics(ex, mc, T, dX, dU, step.Fm, step.fv, step.dyn_covar);
    w.st.report(ex, m0, mc, T, false, rep);
  }
  return rep;
}

FitReport dynamics_initial_state(const Executor& ex, const DynamicsPriorSettings& s,
                                 const DynamicsPrior* prior, int M, int N, int T, int dX,
                                 const double* X, double initial_state_var, double* x0mu,
                                 double* x0sigma, double* workspace,
                                 std::size_t workspace_size, const InitialStatePriorOut& out) {
  require(M >= 1 && N >= 1 && T >= 1 && dX >= 1,
          "dynamics_initial_state: need (M, N, T, dX) >= 1, got " + dims_str({M, N, T, dX}));
  if (prior)
    require(prior->M == M && prior->T == T && prior->dX == dX,
            "dynamics_initial_state: prior has (M, T, dX) = " +
                dims_str({prior->M, prior->T, prior->dX}) + ", batch " + dims_str({M, T, dX}));
  FitReport rep = make_report(M);
  const bool use_prior = prior && prior->count > 0;
  Carve layout;
  layout.take<std::uint32_t>(M);
  require_chunk(workspace_size >= layout.elements() ? 1 : 0, workspace_size, layout.elements(),
                "dynamics_initial_state", "dynamics_workspace_size");
  Carve carve(workspace, workspace_size);
  std::uint32_t* st = carve.take<std::uint32_t>(M);  // (M)
  for_each(ex, M,
           dyn::InitialStateStep<double>{N, T, dX, X, use_prior ? prior->count : 0,
                                         use_prior ? prior->capacity : 0,
                                         use_prior ? prior->X.data() : nullptr, s.strength,
                                         initial_state_var, x0mu, x0sigma, out.mu0, out.Phi,
                                         out.m, out.n0, st});
  download(ex, st, M, rep.status.data());
  for (int m = 0; m < M; ++m)
    if (rep.status[m] != kOk)
      rep.message[m] = condition_label(m) + status_name(rep.status[m]) +
                       " in the initial-state estimate";
  return rep;
}

}  // namespace gpsx
