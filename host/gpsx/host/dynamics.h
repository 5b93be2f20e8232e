// Batched linear-Gaussian dynamics fitting, equal to the cbfinn/gps reference
// (DynamicsLR, DynamicsLRPrior with DynamicsPriorGMM; ../shared/reference/README.md
// pitfalls 7-12):
//   x_{t+1} ~ N(Fm[m][t] [x_t; u_t] + fv[m][t], dyn_covar[m][t])
// for M conditions x T steps in one call. The per-(m, t) math is in
// gpsx/kernels/dynamics_fit.h and runs through gpsx::for_each_2d.
//
// One GPS iteration per condition batch (all arrays in the executor's memory, the
// workspace sized once per run; see the README's memory contract):
//   DynamicsPrior prior = make_dynamics_prior(ex, M, T, dX, dU, settings);
//   Buffer<double> ws(ex, dynamics_workspace_size(ex, prior, N));
//   dynamics_prior_update(ex, settings, prior, N, X, U, ws.data(), ws.size());
//   dynamics_fit_prior(ex, settings, prior, N, X, U, Fm, fv, dyn_covar, ws.data(), ws.size());
//   dynamics_initial_state(ex, settings, &prior, M, N, T, dX, X, init_var, x0mu, x0sigma,
//                          ws.data(), ws.size());
//
// X (M x N x T x dX), U (M x N x T x dU), Fm (M x T x dX x (dX+dU)), fv (M x T x dX),
// dyn_covar (M x T x dX x dX); step T-1 of Fm / fv / dyn_covar is never fitted and is set
// to zero. On a CUDA executor the GMM EM and the fit's E-step use cuSOLVER / cuBLAS, the
// rest runs as the same functors as on the CPU; only per-condition scalars (statuses,
// log-likelihoods) cross to the host. Conditions are processed in chunks that fit the
// workspace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"
#include "gpsx/host/gmm.h"
#include "gpsx/host/workspace.h"

namespace gpsx {

// DynamicsLRPrior + DynamicsPriorGMM hyperparameters (reference defaults).
struct DynamicsPriorSettings {
  double regularization = 1e-6;   // added to every entry of the [x;u] covariance block
  int max_clusters = 50;
  int min_samples_per_cluster = 20;
  int max_samples = 20;           // the prior keeps the newest max_samples - 1 trajectories
  double strength = 1.0;
  // CPU executors fit 4 steps per SIMD pack (same kernels, bit-identical results);
  // false fits one step at a time.
  bool simd_packs = true;
  GmmSettings gmm;                // EM: 100 iterations, warm start, Philox seed
};

// Prior data set and GMM of M conditions (all conditions get the same sample counts), in
// the executor's memory, allocated once by make_dynamics_prior.
struct DynamicsPrior {
  int M = 0, T = 0, dX = 0, dU = 0;
  int capacity = 0;               // max_samples - 1
  int count = 0;                  // trajectories held per condition (<= capacity)
  Buffer<double> X;               // (M x capacity x T x dX) oldest first, first `count` valid
  Buffer<double> U;               // (M x capacity x T x dU)
  Buffer<double> points;          // (M x count*(T-1) x D) GMM points [x_t; u_t; x_{t+1}]
  GmmState gmm;                   // over the points, D = 2 dX + dU, K <= max_clusters
  // Log observations of the points under the current GMM, from the EM's final E-step;
  // lets the fit skip its E-step when it fits the newest batch.
  Buffer<double> logobs;          // (M x count*(T-1) x K)
  std::vector<char> logobs_valid; // (M) host flags, cleared whenever the data set changes

  int D() const { return 2 * dX + dU; }
};

DynamicsPrior make_dynamics_prior(const Executor& ex, int M, int T, int dX, int dU,
                                  const DynamicsPriorSettings& settings);

// Workspace elements (doubles) that dynamics_prior_update, dynamics_fit_prior and
// dynamics_fit_lr need for batches of N trajectories per condition: conditions are
// processed in chunks of at most budget_bytes of scratch (at least one per chunk).
std::size_t dynamics_workspace_size(const Executor& ex, const DynamicsPrior& prior, int N,
                                    std::size_t budget_bytes = kDefaultWorkspaceBudgetBytes);
// The same for dynamics_fit_lr alone (no prior).
std::size_t dynamics_fit_lr_workspace_size(const Executor& ex, int M, int N, int T, int dX,
                                           int dU,
                                           std::size_t budget_bytes = kDefaultWorkspaceBudgetBytes);

// K = max(2, min(max_clusters, floor(Ntraj (T-1) / min_samples_per_cluster))).
int dynamics_prior_clusters(const DynamicsPriorSettings& settings, int Ntraj, int T);

// Per-condition outcome of a batched call: StatusBits and a readable message. Outputs of
// a failed condition (or step) are unspecified; check the status before using them.
struct FitReport {
  std::vector<std::uint32_t> status;   // (M)
  std::vector<std::string> message;    // (M), empty when ok
  bool all_ok() const;
};

// DynamicsPriorGMM.update: appends the batch X (M x N x T x dX), U (M x N x T x dU),
// keeps the newest max_samples - 1 trajectories, and refits (or warm-starts) the GMM on
// the points n*(T-1)+t. init_assignment (M x Ntraj*(T-1), executor memory) replaces the
// random draw when the GMM is (re)initialised; null draws from Philox (settings.gmm.seed).
GmmUpdateReport dynamics_prior_update(const Executor& ex, const DynamicsPriorSettings& settings,
                                      DynamicsPrior& prior, int N, const double* X,
                                      const double* U, double* workspace,
                                      std::size_t workspace_size,
                                      const int* init_assignment = nullptr);

// The prior evaluated at every step (DynamicsPriorGMM.eval), optional output of the fit.
struct PriorEvalOut {
  double* mu0 = nullptr;   // (M x T x D)
  double* Phi = nullptr;   // (M x T x D x D), already multiplied by m
  double* m = nullptr;     // (M x T)
  double* n0 = nullptr;    // (M x T)
};

// DynamicsLRPrior.fit on the batch (N >= 1; a step with N < 2 reports kTooFewSamples).
FitReport dynamics_fit_prior(const Executor& ex, const DynamicsPriorSettings& settings,
                             const DynamicsPrior& prior, int N, const double* X,
                             const double* U, double* Fm, double* fv, double* dyn_covar,
                             double* workspace, std::size_t workspace_size,
                             const PriorEvalOut& eval = {});

// DynamicsLR.fit: plain biased regression, `regularization` on every [x;u] entry.
FitReport dynamics_fit_lr(const Executor& ex, int M, int N, int T, int dX, int dU,
                          const double* X, const double* U, double regularization, double* Fm,
                          double* fv, double* dyn_covar, double* workspace,
                          std::size_t workspace_size);

// The prior's x_0 distribution (DynamicsPriorGMM.initial_state), optional output.
struct InitialStatePriorOut {
  double* mu0 = nullptr;   // (M x dX)
  double* Phi = nullptr;   // (M x dX x dX)
  double* m = nullptr;     // (M)
  double* n0 = nullptr;    // (M)
};

// x0mu (M x dX), x0sigma (M x dX x dX) from the batch's x_0 as Algorithm._update_dynamics
// does; with a prior (may be null) its initial-state term is added (pitfall 12).
// workspace: at least M / 2 + 16 elements (dynamics_workspace_size covers it).
FitReport dynamics_initial_state(const Executor& ex, const DynamicsPriorSettings& settings,
                                 const DynamicsPrior* prior, int M, int N, int T, int dX,
                                 const double* X, double initial_state_var, double* x0mu,
                                 double* x0sigma, double* workspace, std::size_t workspace_size,
                                 const InitialStatePriorOut& out = {});

}  // namespace gpsx
