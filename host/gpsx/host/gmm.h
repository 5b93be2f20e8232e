// Batched Gaussian mixture models fitted by EM with the cbfinn/gps reference rules
// (../shared/reference/README.md pitfalls 9 and 11): M independent mixtures, one per
// condition, all with the same K clusters in D dimensions.
//
//   gpsx::GmmState gmm = gpsx::make_gmm_state(ex, M, max_clusters, D);
//   std::vector<double> ws(gpsx::gmm_workspace_size(ex, M, P, D, max_clusters));  // CPU
//   auto rep = gpsx::gmm_update(ex, gmm, P, data, K, settings, ws.data(), ws.size());
//   gpsx::gmm_inference(ex, gmm, Q, query, strength, out, ws.data(), ws.size());
//
// Memory contract: the state, the data and every output live in the executor's memory;
// scratch comes from the caller's workspace; only per-condition scalars (log-likelihoods,
// statuses) cross to the host inside a call. The EM loop is written once (gmm.cc) over a
// backend for its products: on the CPU register-blocked kernels over packs of points, on
// the GPU cuSOLVER batched Cholesky and cuBLAS strided-batched GEMMs, the per-element
// formulas of both in kernels/gpsx/kernels/gmm.h. Conditions are processed in chunks that
// fit the workspace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"
#include "gpsx/host/workspace.h"

namespace gpsx {

// M mixtures with K <= max_clusters clusters each in D dimensions, in executor memory.
// The arrays are laid out for the current K, (M x K x ...), inside buffers sized for
// max_clusters. Empty (K == 0) until the first update.
struct GmmState {
  int M = 0, K = 0, D = 0, max_clusters = 0;
  Buffer<double> mu;        // (M x K x D)
  Buffer<double> sigma;     // (M x K x D x D)
  Buffer<double> logmass;   // (M x K)
  Buffer<double> mass;      // (M x K)
  Buffer<double> N0;        // (M) points when the mixture was last initialised
  std::uint64_t initialisations = 0;  // random initial draws so far (Philox stream index)

  bool initialised() const { return K > 0; }
};

GmmState make_gmm_state(const Executor& ex, int M, int max_clusters, int D);

// Host copies of the current parameters, (M x K x ...), for reports, checkpoints and tests.
struct GmmParameters {
  std::vector<double> mu, sigma, logmass, mass, N0;
};
GmmParameters gmm_parameters(const Executor& ex, const GmmState& gmm);
// The inverse, for restoring a checkpoint: K clusters with parameters p (as gmm_parameters
// returns them). Throws std::invalid_argument on sizes that do not match.
void set_gmm_parameters(const Executor& ex, GmmState& gmm, int K, const GmmParameters& p);

struct GmmSettings {
  int max_iterations = 100;
  bool warmstart = true;   // keep the parameters when K is unchanged
  std::uint64_t seed = 0;  // Philox key of the random initial assignment
};

// What one gmm_update did, per condition (host memory: per-condition scalars).
struct GmmUpdateReport {
  int K = 0;
  bool reinitialised = false;
  std::vector<int> iterations;          // (M) log-likelihood evaluations (EM iterations)
  std::vector<int> stop;                // (M) gmm::EmStop
  std::vector<double> loglik;           // (M x max_iterations), NaN past iterations[m]
  std::vector<std::uint32_t> status;    // (M) StatusBits
  std::vector<std::string> message;     // (M) empty when ok
  std::vector<char> final_logobs_valid; // (M) see gmm_update's final_logobs

  int max_iterations() const;  // over conditions
  int total_iterations() const;
};

// Workspace elements (doubles) gmm_update, gmm_estep and gmm_inference need for M
// conditions of P points in D dimensions with up to K clusters: conditions are processed
// in chunks of at most budget_bytes of scratch (at least one condition per chunk).
std::size_t gmm_workspace_size(const Executor& ex, int M, int P, int D, int K,
                               std::size_t budget_bytes = kDefaultWorkspaceBudgetBytes);

// GMM.update on data (M x P x D): (re)initialises when the mixture is empty, K changed or
// warm start is off (from init_assignment (M x P, executor memory), or a Philox draw when
// it is null), then runs EM until the log-likelihood decreases, converges or
// max_iterations. Conditions with non-finite data or a non-PD covariance get a status and
// message and keep their previous parameters (NaN when just initialised); the batch goes
// on. final_logobs (M x P x K, executor memory), optional: the last E-step's log
// observations; they belong to the returned parameters where report.final_logobs_valid[m]
// (EM stopped at the top of an iteration: converged or log-likelihood decreased).
GmmUpdateReport gmm_update(const Executor& ex, GmmState& gmm, int P, const double* data,
                           int K, const GmmSettings& settings, double* workspace,
                           std::size_t workspace_size, const int* init_assignment = nullptr,
                           double* final_logobs = nullptr);

// Uniform initial assignment in [0, K) for M conditions x P points from Philox4x32-10 with
// key `seed`; draw `draw` of condition m uses stream (draw << 32 | m). Executor memory.
void gmm_random_assignment(const Executor& ex, std::uint64_t seed, std::uint64_t draw, int M,
                           int P, int K, int* assignment);  // (M x P)

// E-step of conditions [m_begin, m_begin + m_count) with the current parameters:
// logobs (m_count x P x K) = log(mass_k N(x | mu_k, sigma_k)) of points pts
// (m_count x P x D); status (m_count, executor memory, may be null).
void gmm_estep(const Executor& ex, const GmmState& gmm, int m_begin, int m_count, int P,
               const double* pts, double* logobs, std::uint32_t* status, double* workspace,
               std::size_t workspace_size);

// GMM.inference at Q query points per condition (pts (M x Q x D)), scaled like
// DynamicsPriorGMM.eval. All executor memory; logwts and status may be null.
struct GmmInferenceOut {
  double* mu0 = nullptr;          // (M x D)
  double* Phi = nullptr;          // (M x D x D) = m * moment-matched covariance
  double* m = nullptr;            // (M) = strength
  double* n0 = nullptr;           // (M) = strength (N0 - 2 - D) / N0
  double* logwts = nullptr;       // (M x K) posterior cluster weights averaged over points
  std::uint32_t* status = nullptr;  // (M)
};
void gmm_inference(const Executor& ex, const GmmState& gmm, int Q, const double* pts,
                   double strength, const GmmInferenceOut& out, double* workspace,
                   std::size_t workspace_size);

}  // namespace gpsx
