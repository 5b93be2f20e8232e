// Batched C-step of GPS: the KL-constrained LQR update of M conditions at once, each
// with its own eta, step multiplier and status (kernels in gpsx/kernels/lqr_*.h).
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
#include "gpsx/kernels/lqr_batch.h"
#include "gpsx/kernels/lqr_dual_search.h"

namespace gpsx {

// The eta search's settings (fields and defaults in lqr_dual_search.h).
using EtaSearch = lqr::EtaSearch;
using TrajOptSettings = lqr::SearchSettings<double>;

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
