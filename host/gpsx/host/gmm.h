// Batched Gaussian mixture models fitted by EM with the cbfinn/gps reference rules
// (../shared/reference/README.md pitfalls 9 and 11): M independent mixtures, one per
// condition, all with the same K clusters in D dimensions.
//
//   gpsx::GmmState gmm;
//   auto rep = gpsx::gmm_update(ex, gmm, M, P, D, data, K, settings, assignment);
//   gpsx::gmm_inference(ex, gmm, Q, query, strength, mu0, Phi, m, n0, logwts, status);
//
// The per-element formulas live in kernels/gpsx/kernels/gmm.h; the host runs the large
// products (E-step triangular solves over all points, M-step weighted scatter) through
// Eigen, using symmetry (half the scatter flops). On a CUDA executor the buffers are
// still host memory; the EM runs on the GPU (cuSOLVER batched Cholesky, cuBLAS
// strided-batched GEMMs for the whitened residuals, means and scatter, gmm.h functors in
// between) with uploads / downloads inside the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpsx/host/executor.h"

namespace gpsx {

// M mixtures with K clusters each in D dimensions. Empty (K == 0) until the first update.
struct GmmState {
  int M = 0, K = 0, D = 0;
  std::vector<double> mu;        // (M x K x D)
  std::vector<double> sigma;     // (M x K x D x D)
  std::vector<double> logmass;   // (M x K)
  std::vector<double> mass;      // (M x K)
  std::vector<double> N0;        // (M) points when the mixture was last initialised
  std::uint64_t initialisations = 0;  // random initial draws so far (Philox stream index)

  bool initialised() const { return K > 0; }
};

struct GmmSettings {
  int max_iterations = 100;
  bool warmstart = true;   // keep the parameters when K is unchanged
  std::uint64_t seed = 0;  // Philox key of the random initial assignment
};

// What one gmm_update did, per condition.
struct GmmUpdateReport {
  int K = 0;
  bool reinitialised = false;
  std::vector<int> init_assignment;     // (M x P) used at initialisation; empty on warm start
  std::vector<int> iterations;          // (M) log-likelihood evaluations (EM iterations)
  std::vector<int> stop;                // (M) gmm::EmStop
  std::vector<double> loglik;           // (M x max_iterations), NaN past iterations[m]
  std::vector<std::uint32_t> status;    // (M) StatusBits
  std::vector<std::string> message;     // (M) empty when ok
  std::vector<char> final_logobs_valid; // (M) see gmm_update's final_logobs

  int max_iterations() const;  // over conditions
  int total_iterations() const;
};

// Uniform initial assignment in [0, K) for M conditions x P points from Philox4x32-10 with
// key `seed`; draw `draw` of condition m uses stream (draw << 32 | m).
void gmm_random_assignment(std::uint64_t seed, std::uint64_t draw, int M, int P, int K,
                           int* assignment);  // (M x P)

// GMM.update on data (M x P x D): (re)initialises when the mixture is empty, K changed or
// warm start is off (from init_assignment (M x P), or a Philox draw when it is null),
// then runs EM until the log-likelihood decreases, converges or max_iterations.
// Conditions with non-finite data or a non-PD covariance get a status and message and keep
// their previous parameters (NaN when just initialised); the batch goes on.
// final_logobs (M x P x K), optional: the last E-step's log observations; they belong to
// the returned parameters where report.final_logobs_valid[m] (EM stopped at the top of an
// iteration: converged or log-likelihood decreased), so callers can skip a new E-step.
GmmUpdateReport gmm_update(const Executor& ex, GmmState& gmm, int M, int P, int D,
                           const double* data, int K, const GmmSettings& settings,
                           const int* init_assignment = nullptr,
                           double* final_logobs = nullptr);

// E-step with the current parameters: logobs (M x P x K) = log(mass_k N(x | mu_k,
// sigma_k)) of points pts (M x P x D). status (M), may be null.
void gmm_estep(const Executor& ex, const GmmState& gmm, int P, const double* pts,
               double* logobs, std::uint32_t* status);
// The same for conditions [m_begin, m_begin + m_count): pts (m_count x P x D), logobs
// (m_count x P x K), status (m_count).
void gmm_estep(const Executor& ex, const GmmState& gmm, int m_begin, int m_count, int P,
               const double* pts, double* logobs, std::uint32_t* status);

// GMM.inference at Q query points per condition, scaled like DynamicsPriorGMM.eval:
// logwts (M x K) posterior cluster weights averaged over the points (may be null),
// mu0 (M x D), Phi (M x D x D) = m * moment-matched covariance, m (M) = strength,
// n0 (M) = strength (N0 - 2 - D) / N0. status (M), may be null.
void gmm_inference(const Executor& ex, const GmmState& gmm, int Q, const double* pts,
                   double strength, double* mu0, double* Phi, double* m, double* n0,
                   double* logwts, std::uint32_t* status);

}  // namespace gpsx
