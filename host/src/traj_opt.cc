#include "gpsx/host/traj_opt.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpsx/host/check.h"
#include "gpsx/kernels/lqr_lanes.h"

namespace gpsx {
namespace {

// Every message names the call.
void check(bool ok, const std::string& what) { require(ok, "traj_opt: " + what); }

void check_dims(const lqr::Dims& d, int M) {
  check(d.T > 0 && d.dX > 0 && d.dU > 0,
          "dims must be positive, got T=" + std::to_string(d.T) + " dX=" + std::to_string(d.dX) +
              " dU=" + std::to_string(d.dU));
  check(M >= 0, "M must be >= 0, got " + std::to_string(M));
}

template <class Real>
void check_inputs(const lqr::Dims& d, const lqr::BatchInputs<Real>& in) {
  check(in.d.T == d.T && in.d.dX == d.dX && in.d.dU == d.dU,
          "inputs.d (T=" + std::to_string(in.d.T) + " dX=" + std::to_string(in.d.dX) +
              " dU=" + std::to_string(in.d.dU) + ") differs from d (T=" + std::to_string(d.T) +
              " dX=" + std::to_string(d.dX) + " dU=" + std::to_string(d.dU) + ")");
  const auto need = [](const void* p, const char* name) {
    check(p != nullptr, std::string("input ") + name + " is null");
  };
  need(in.Fm, "Fm");
  need(in.fv, "fv");
  need(in.dyn_covar, "dyn_covar");
  need(in.x0mu, "x0mu");
  need(in.x0sigma, "x0sigma");
  need(in.Cm, "Cm");
  need(in.cv, "cv");
  need(in.cc, "cc");
  const bool prev = in.mode != lqr::Mode::kMdgps;
  const bool policy = in.mode != lqr::Mode::kTrajOpt;
  if (prev) {
    need(in.prev_K, "prev_K (traj_opt/BADMM)");
    need(in.prev_k, "prev_k (traj_opt/BADMM)");
    need(in.prev_chol_pol_covar, "prev_chol_pol_covar (traj_opt/BADMM)");
    need(in.prev_inv_pol_covar, "prev_inv_pol_covar (traj_opt/BADMM)");
  }
  if (policy) {
    need(in.pol_K, "pol_K (MDGPS/BADMM)");
    need(in.pol_k, "pol_k (MDGPS/BADMM)");
    need(in.chol_pol_S, "chol_pol_S (MDGPS/BADMM)");
  }
  if (in.mode == lqr::Mode::kBadmm) {
    need(in.pol_wt, "pol_wt (BADMM)");
    need(in.lambda_K, "lambda_K (BADMM)");
    need(in.lambda_k, "lambda_k (BADMM)");
  }
}

void check_settings(const TrajOptSettings& s) {
  check(s.base_kl_step > 0, "base_kl_step must be > 0, got " + std::to_string(s.base_kl_step));
  check(s.min_eta > 0 && s.max_eta > s.min_eta,
          "need 0 < min_eta < max_eta, got " + std::to_string(s.min_eta) + ", " +
              std::to_string(s.max_eta));
  check(s.del0 > 0, "del0 must be > 0, got " + std::to_string(s.del0));
  check(s.max_iterations >= 1,
          "max_iterations must be >= 1, got " + std::to_string(s.max_iterations));
  check(s.search == EtaSearch::kSequential || s.candidates >= 1,
          "candidates must be >= 1, got " + std::to_string(s.candidates));
}

// Workspace elements (of Real) one bracket takes.
template <class Real>
constexpr std::size_t bracket_elements() {
  return (sizeof(lqr::Bracket<Real>) + sizeof(Real) - 1) / sizeof(Real);
}
// The sizes are asked without the scalar type: enough for either.
constexpr std::size_t kBracketElements =
    std::max(bracket_elements<double>(), bracket_elements<float>());

// Parallel-search workspace, carved from one block.
template <class Real>
struct ParallelWorkspace {
  lqr::Bracket<Real>* bracket;  // (M)
  Real* cand_eta;               // (M x E)
  Real* cand_used;              // (M x E)
  Real* cand_kl;                // (M x E)
  Real* cand_status;            // (M x E)
  Real* cand_ctrl;              // (M x E x controller_size)
  Real* scratch;                // (M x E x search_scratch_size)
};

std::size_t parallel_size(const lqr::Dims& d, std::size_t M, std::size_t E) {
  return M * kBracketElements + 4 * M * E +
         M * E * (lqr::controller_size(d) + lqr::search_scratch_size(d));
}

template <class Real>
ParallelWorkspace<Real> carve(const lqr::Dims& d, std::size_t M, std::size_t E, Real* w) {
  static_assert(alignof(lqr::Bracket<Real>) <= alignof(Real), "brackets start the workspace");
  ParallelWorkspace<Real> p;
  p.bracket = reinterpret_cast<lqr::Bracket<Real>*>(w);
  p.cand_eta = w + kBracketElements * M;
  p.cand_used = p.cand_eta + M * E;
  p.cand_kl = p.cand_used + M * E;
  p.cand_status = p.cand_kl + M * E;
  p.cand_ctrl = p.cand_status + M * E;
  p.scratch = p.cand_ctrl + M * E * lqr::controller_size(d);
  return p;
}

template <class Real>
bool any_active(const Executor& ex, const lqr::Bracket<Real>* bracket, int M) {
  std::vector<lqr::Bracket<Real>> host;
  const lqr::Bracket<Real>* b = bracket;
  if (ex.is_cuda()) {
#if GPSX_HAVE_CUDA
    host.resize(M);
    cuda::copy(host.data(), bracket, M * sizeof(lqr::Bracket<Real>), cuda::CopyKind::kDeviceToHost,
               ex.stream);
    b = host.data();
#else
    throw_cuda_not_built();
#endif
  }
  for (int m = 0; m < M; ++m)
    if (b[m].active) return true;
  return false;
}

bool use_lanes(const Executor& ex, int M, const TrajOptSettings& s) {
  return !ex.is_cuda() && s.cpu_lanes && s.search == EtaSearch::kSequential && M >= kTrajOptLanes;
}

// Threads of the SIMD path: each searches a contiguous share of at least W conditions.
int lane_workers(const Executor& ex, int M) {
  return std::max(1, std::min(ex.threads, M / kTrajOptLanes));
}

template <class Real>
using SearchLanes = lqr::SequentialSearchLanes<Real, kTrajOptLanes>;

std::size_t lanes_size(const Executor& ex, const lqr::Dims& d, int M) {
  // both scalar types have the same number of lanes, so the double layout covers float's
  return static_cast<std::size_t>(lane_workers(ex, M)) * SearchLanes<double>::worker_size(d);
}

}  // namespace

std::size_t traj_opt_workspace_size(const Executor& ex, const lqr::Dims& d, int M,
                                    const TrajOptSettings& s) {
  const std::size_t scalar = traj_opt_workspace_size(d, M, s);
  return use_lanes(ex, M, s) ? std::max(scalar, lanes_size(ex, d, M)) : scalar;
}

std::size_t traj_opt_workspace_size(const lqr::Dims& d, int M, const TrajOptSettings& s) {
  check_dims(d, M);
  check_settings(s);
  if (s.search == EtaSearch::kParallel) return parallel_size(d, M, s.candidates);
  return static_cast<std::size_t>(M) * lqr::search_scratch_size(d);
}

template <class Real>
void traj_opt_update(const Executor& ex, const lqr::Dims& d, int M,
                     const lqr::BatchInputs<Real>& in, const Real* step_mult,
                     const TrajOptSettings& s, const lqr::BatchController<Real>& out,
                     const lqr::BatchResult<Real>& res, Real* workspace,
                     std::size_t workspace_size) {
  check_dims(d, M);
  check_settings(s);
  check_inputs(d, in);
  const std::size_t need = traj_opt_workspace_size(d, M, s);
  check(workspace_size >= need, "workspace has " + std::to_string(workspace_size) +
                                      " elements, expected at least " + std::to_string(need));
  if (M == 0) return;
  check(step_mult && workspace, "step_mult and workspace must not be null");
  check(out.K && out.k && out.pol_covar && out.chol_pol_covar && out.inv_pol_covar,
          "every output controller array must be given");
  check(res.eta && res.kl && res.passes && res.status, "every result array must be given");

  const lqr::SearchSettings<Real> search = s.as<Real>();
  if (s.search == EtaSearch::kSequential) {
    const lqr::SequentialSearchFn<Real> scalar{in, search, step_mult, out, res, workspace};
    if (use_lanes(ex, M, s) && workspace_size >= lanes_size(ex, d, M)) {
      SearchLanes<Real> lanes;
      lanes.scalar = scalar;
      lanes.M = M;
      lanes.workers = lane_workers(ex, M);
      lanes.workspace = workspace;
      for_each_cpu(lanes.workers, lanes.workers, lanes);  // host-only SIMD packs
      return;
    }
    for_each(ex, M, scalar);
    return;
  }

  const int E = s.candidates;
  const ParallelWorkspace<Real> w = carve(d, M, E, workspace);
  for_each(ex, M, lqr::StartParallelFn<Real>{search, w.bracket, w.cand_eta, res});
  const lqr::CandidatePassFn<Real> pass{in,        search,      w.bracket,     w.cand_eta,
                                        w.cand_used, w.cand_kl, w.cand_status, w.cand_ctrl,
                                        w.scratch};
  const lqr::NarrowBracketFn<Real> narrow{d,           search,        step_mult, w.bracket,
                                          w.cand_eta,  w.cand_used,   w.cand_kl, w.cand_status,
                                          w.cand_ctrl, out,           res};
  for (int p = 0; p < s.max_iterations; ++p) {
    for_each_2d(ex, M, E, pass);
    for_each(ex, M, narrow);
    if (!any_active(ex, w.bracket, M)) break;
  }
}

template <class Real>
void estimate_cost(const Executor& ex, const lqr::Dims& d, int M, const lqr::BatchInputs<Real>& in,
                   const lqr::BatchController<Real>& ctrl, Real* cost, Real* workspace,
                   std::size_t workspace_size) {
  check_dims(d, M);
  check(in.Fm && in.fv && in.dyn_covar && in.x0mu && in.x0sigma && in.Cm && in.cv && in.cc,
          "estimate_cost needs every model input");
  const std::size_t need = static_cast<std::size_t>(M) * lqr::forward_scratch_size(d);
  check(workspace_size >= need, "estimate_cost workspace has " + std::to_string(workspace_size) +
                                      " elements, expected at least " + std::to_string(need));
  for_each(ex, M, lqr::EstimateCostFn<Real>{in, ctrl, cost, workspace});
}

#define GPSX_TRAJ_OPT_INSTANTIATE(Real)                                                         \
  template void traj_opt_update<Real>(const Executor&, const lqr::Dims&, int,                  \
                                      const lqr::BatchInputs<Real>&, const Real*,              \
                                      const TrajOptSettings&, const lqr::BatchController<Real>&, \
                                      const lqr::BatchResult<Real>&, Real*, std::size_t);     \
  template void estimate_cost<Real>(const Executor&, const lqr::Dims&, int,                    \
                                    const lqr::BatchInputs<Real>&,                             \
                                    const lqr::BatchController<Real>&, Real*, Real*, std::size_t);
GPSX_TRAJ_OPT_INSTANTIATE(double)
GPSX_TRAJ_OPT_INSTANTIATE(float)
#undef GPSX_TRAJ_OPT_INSTANTIATE

}  // namespace gpsx
