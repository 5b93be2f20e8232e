// Batched C-step of GPS: the KL-constrained LQR update of M conditions at once, each
// with its own eta, step multiplier and status (kernels in gpsx/kernels/lqr.h).
//
//   std::vector<double> ws(gpsx::traj_opt_workspace_size(ex, d, M, settings));
//   gpsx::traj_opt_update(ex, d, M, inputs, step_mult, settings, out, result,
//                         ws.data(), ws.size());
//
// Buffers are condition-major, time first (see lqr::BatchInputs for every shape). On the
// CUDA executor all pointers, workspace included, must be device pointers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpsx/host/executor.h"
#include "gpsx/kernels/lqr.h"

namespace gpsx {

enum class EtaSearch {
  kSequential,  // the reference's bisection, one backward+forward pass at a time
  kParallel,    // `candidates` etas per condition per pass, bracket narrowed from all
};

struct TrajOptSettings {
  double base_kl_step = 0.2;  // KL bound per step; total = base * step_mult * T
  double min_eta = 1e-8;      // dual bracket
  double max_eta = 1e16;
  double del0 = 1e-4;         // first non-PD eta increment
  int max_iterations = 50;    // passes (dual iterations) per condition
  EtaSearch search = EtaSearch::kSequential;
  int candidates = 4;         // kParallel: etas evaluated per condition per pass
  // kSequential on the CPU executor with M >= kTrajOptLanes: run kTrajOptLanes conditions
  // per SIMD pack (lqr_lanes.h); results are bit-identical to the per-condition path.
  bool cpu_lanes = true;
};

// Conditions per SIMD pack of the CPU path (one 256-bit register of doubles).
constexpr int kTrajOptLanes = 4;

// Workspace elements (of the scalar type) traj_opt_update needs on `ex`: with the CPU
// SIMD path the staged inputs, controller and scratch of one pack per thread (~12 MB per
// thread for double, T = 100, dX = 26, dU = 7), else M x lqr::search_scratch_size.
std::size_t traj_opt_workspace_size(const Executor& ex, const lqr::Dims& d, int M,
                                    const TrajOptSettings& s);
// The per-condition path's size (CUDA, or the CPU without SIMD packs). A CPU call given
// less than the size above runs that path.
std::size_t traj_opt_workspace_size(const lqr::Dims& d, int M, const TrajOptSettings& s);

// Runs the eta dual search of every condition. `res.eta` holds the start eta on entry; on
// exit the reference's returned eta (kSequential: the converged eta, or the next proposal
// when max_iterations run out) or, for kParallel, the eta of the returned controller.
// `out` receives the new controllers, res.passes the sequential passes each condition
// used (kParallel: rounds of `candidates` evaluations). One failing
// condition (non-PD up to max_eta, NaN) is flagged in res.status and the others go on.
// Throws std::invalid_argument for bad sizes, settings, missing inputs of the mode or a
// too small workspace.
template <class Real>
void traj_opt_update(const Executor& ex, const lqr::Dims& d, int M,
                     const lqr::BatchInputs<Real>& in,
                     const Real* step_mult,  // (M)
                     const TrajOptSettings& s, const lqr::BatchController<Real>& out,
                     const lqr::BatchResult<Real>& res, Real* workspace,
                     std::size_t workspace_size);

// Laplace cost estimate of M controllers under the inputs' models: cost (M x T).
// workspace: M * lqr::forward_scratch_size(d) elements.
template <class Real>
void estimate_cost(const Executor& ex, const lqr::Dims& d, int M, const lqr::BatchInputs<Real>& in,
                   const lqr::BatchController<Real>& ctrl, Real* cost, Real* workspace,
                   std::size_t workspace_size);

}  // namespace gpsx
