// KL-constrained LQR C-step: one full eta search (T=100, dX=26, dU=7, double) on one
// thread vs the reference's documented ~0.42 s (cbfinn/gps numpy, 7 eta iterations, a
// constant measured by the issue author on another machine, kReferenceMachine; numpy
// cannot run here), then M conditions on all threads in both search modes, the sequential
// one per condition and with 4 conditions per SIMD pack (lqr_lanes.h), and the achieved
// GFLOP/s against a 512x512 double Eigen GEMM measured in the same run (the same-run
// baseline). The work of a pass is given two
// ways, and fractions of the GEMM rate for both: the matrix products (counted by hand) and
// all arithmetic (counted by running the pass on a counting number type).
//
// Usage: lqr_bench [max_M] [cost_scale]   (default 1024, 10; inputs ~2.2 MB per condition)
// Last output line: one JSON object with the figures.

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "gpsx/host/traj_opt.h"

namespace {

namespace lqr = gpsx::lqr;
using Clock = std::chrono::steady_clock;

// The numpy reference's update (7 eta iterations), measured on an Intel Xeon vCPU.
constexpr double kReferenceSeconds = 0.42;
constexpr int kReferenceIterations = 7;
// Where kReferenceSeconds was measured (numpy + single-threaded OpenBLAS), not this run's
// machine.
constexpr const char* kReferenceMachine = "an Intel Xeon vCPU";
// Cost scale of the random problems: chosen so that the search from eta = 1 takes about
// as many iterations as the reference's measurement (7).
constexpr double kCostScale = 10.0;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// M random well-posed conditions: stable near-identity dynamics, PD costs, a previous
// controller with unit covariance; all arrays condition-major.
struct Problems {
  lqr::Dims d;
  int M;
  std::vector<double> Fm, fv, dyn_covar, x0mu, x0sigma, Cm, cv, cc, K, k, chol, inv;

  Problems(const lqr::Dims& dims, int count, std::uint32_t seed, double cost_scale)
      : d(dims), M(count) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    const std::size_t T = d.T, X = d.dX, U = d.dU, n = d.n();
    const auto randn = [&](std::vector<double>& v, std::size_t size, double scale) {
      v.resize(size);
      for (double& x : v) x = scale * g(rng);
    };
    randn(Fm, M * T * X * n, 0.05);
    randn(fv, M * T * X, 0.01);
    randn(x0mu, M * X, 0.5);
    randn(cv, M * T * n, cost_scale);
    randn(cc, M * T, 1.0);
    randn(K, M * T * U * X, 0.05);
    randn(k, M * T * U, 0.1);
    dyn_covar.assign(M * T * X * X, 0.0);
    x0sigma.assign(M * X * X, 0.0);
    Cm.assign(M * T * n * n, 0.0);
    chol.assign(M * T * U * U, 0.0);
    inv.assign(M * T * U * U, 0.0);
    std::vector<double> A;
    for (std::size_t m = 0; m < static_cast<std::size_t>(M); ++m) {
      for (std::size_t i = 0; i < X; ++i) x0sigma[(m * X + i) * X + i] = 1e-2;
      for (std::size_t t = 0; t < T; ++t) {
        const std::size_t mt = m * T + t;
        for (std::size_t i = 0; i < X; ++i) {
          Fm[(mt * X + i) * n + i] += 0.95;  // stable: |eig| ~ 0.95 +- noise
          dyn_covar[(mt * X + i) * X + i] = 1e-3;
        }
        randn(A, n * n, 0.2);  // Cm = 0.1 I + A A^T / n
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            double s = i == j ? 0.1 : 0.0;
            for (std::size_t r = 0; r < n; ++r) s += A[i * n + r] * A[j * n + r] / n;
            Cm[(mt * n + i) * n + j] = cost_scale * s;
          }
        for (std::size_t a = 0; a < U; ++a) {
          chol[(mt * U + a) * U + a] = 1.0;
          inv[(mt * U + a) * U + a] = 1.0;
        }
      }
    }
  }

  lqr::BatchInputs<double> inputs() const {
    lqr::BatchInputs<double> in{};
    in.d = d;
    in.Fm = Fm.data();
    in.fv = fv.data();
    in.dyn_covar = dyn_covar.data();
    in.x0mu = x0mu.data();
    in.x0sigma = x0sigma.data();
    in.Cm = Cm.data();
    in.cv = cv.data();
    in.cc = cc.data();
    in.mode = lqr::Mode::kTrajOpt;
    in.prev_K = K.data();
    in.prev_k = k.data();
    in.prev_chol_pol_covar = chol.data();
    in.prev_inv_pol_covar = inv.data();
    return in;
  }
};

// Floating-point operations of the matrix products of one backward + forward + KL pass, as
// the kernels do them (symmetric results counted once, as computed).
double pass_flops(const lqr::Dims& d) {
  const double X = d.dX, U = d.dU, n = d.n();
  const double backward = 2 * X * X * n        // W = Vxx' Fm
                          + X * n * (n + 1)    // Fm^T W, upper half
                          + 2 * U * U * X      // P K (KL term)
                          + X * (X + 1) * U    // K^T P K, upper half
                          + 2 * U * U * X      // solves for K
                          + X * (X + 1) * U;   // Vxx = Qxx + Qxu K, upper half
  const double forward = 2 * X * X * U         // Acl = A + B K
                         + 2 * X * X * X       // Acl Sxx
                         + X * X * (X + 1)     // (Acl Sxx) Acl^T, upper half
                         + 2 * X * U * U       // B pol_covar
                         + X * (X + 1) * U     // (B pol_covar) B^T, upper half
                         + 2 * U * U * X       // KL: P_a dK
                         + 2 * X * X * U;      // KL: sigma (P_a dK)^T
  return d.T * (backward + forward);
}

// A double that counts the arithmetic done on it: +, -, *, / and sqrt as one operation,
// a fused multiply-add as two; not counted: multiplications by exactly 1 (the scalar
// products scale by alpha = 1, the pack products skip it), negation, log, comparisons.
struct Counted {
  double v;
  static inline long long ops = 0;
  Counted() = default;
  template <class U, class = std::enable_if_t<std::is_arithmetic_v<U>>>
  Counted(U x) : v(static_cast<double>(x)) {}
  static Counted of(double x) { Counted c; c.v = x; return c; }
  friend Counted operator+(Counted a, Counted b) { ++ops; return of(a.v + b.v); }
  friend Counted operator-(Counted a, Counted b) { ++ops; return of(a.v - b.v); }
  friend Counted operator*(Counted a, Counted b) {
    ops += a.v != 1.0 && b.v != 1.0;
    return of(a.v * b.v);
  }
  friend Counted operator/(Counted a, Counted b) { ++ops; return of(a.v / b.v); }
  friend Counted operator-(Counted a) { return of(-a.v); }
  Counted& operator+=(Counted b) { return *this = *this + b; }
  Counted& operator-=(Counted b) { return *this = *this - b; }
  Counted& operator*=(Counted b) { return *this = *this * b; }
  Counted& operator/=(Counted b) { return *this = *this / b; }
  friend bool operator<(Counted a, Counted b) { return a.v < b.v; }
  friend bool operator>(Counted a, Counted b) { return a.v > b.v; }
  friend bool operator<=(Counted a, Counted b) { return a.v <= b.v; }
  friend bool operator>=(Counted a, Counted b) { return a.v >= b.v; }
  friend bool operator==(Counted a, Counted b) { return a.v == b.v; }
  friend Counted fma(Counted a, Counted b, Counted c) {
    ops += 2;
    return of(std::fma(a.v, b.v, c.v));
  }
  friend Counted sqrt(Counted a) { ++ops; return of(std::sqrt(a.v)); }
  friend Counted log(Counted a) { return of(std::log(a.v)); }
  friend bool is_finite(Counted a) { return std::isfinite(a.v); }
};

// All arithmetic of one backward sweep + forward pass with KL (traj_opt, condition 0 of
// p), counted by running the per-condition kernels (the same code as the packs' lanes) on
// Counted: what a hardware floating-point counter would report, which this VM lacks.
double counted_pass_flops(const Problems& p) {
  const lqr::Dims d = p.d;
  const auto conv = [](const std::vector<double>& v) {
    std::vector<Counted> c(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) c[i] = v[i];
    return c;
  };
  const auto Fm = conv(p.Fm), fv = conv(p.fv), dc = conv(p.dyn_covar), x0mu = conv(p.x0mu),
             x0s = conv(p.x0sigma), Cm = conv(p.Cm), cv = conv(p.cv), K = conv(p.K), k = conv(p.k),
             chol = conv(p.chol), inv = conv(p.inv);
  const lqr::TrajInfo<Counted> info{Fm.data(), fv.data(), dc.data(), x0mu.data(), x0s.data(),
                                    Cm.data(), cv.data(), nullptr};
  lqr::Constraint<Counted> con;
  con.mode = lqr::Mode::kTrajOpt;
  con.prev = {K.data(), k.data(), nullptr, chol.data(), inv.data()};
  std::vector<Counted> ctrl_data(lqr::controller_size(d)), scratch(lqr::search_scratch_size(d));
  const lqr::Controller<Counted> ctrl = lqr::packed_controller(d, ctrl_data.data());
  Counted::ops = 0;
  lqr::backward_sweep(d, info, con, Counted(30.0), ctrl, lqr::BackwardRecord<Counted>{},
                      scratch.data());
  bool finite = true;
  lqr::forward_kl(d, info, lqr::view_of(ctrl), con.kl_anchor(), lqr::ForwardRecord<Counted>{},
                  scratch.data(), &finite);
  return double(Counted::ops);
}

// Best-of-N time of one backward sweep and of one forward pass with KL (one condition).
std::pair<double, double> phase_seconds(const Problems& p, int reps) {
  const lqr::Dims d = p.d;
  const lqr::BatchInputs<double> in = p.inputs();
  std::vector<double> ctrl_data(lqr::controller_size(d)), scratch(lqr::search_scratch_size(d));
  const lqr::Controller<double> ctrl = lqr::packed_controller(d, ctrl_data.data());
  double bwd = 1e300, fwd = 1e300, eta_out = 0, sink = 0;
  int attempts = 0;
  bool finite = true;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    lqr::backward_pass(d, in.info(0), in.constraint(0), 1.0, 1e-4, 1e16, ctrl,
                       lqr::BackwardRecord<double>{}, &eta_out, &attempts, scratch.data());
    bwd = std::min(bwd, seconds_since(t0));
    t0 = Clock::now();
    sink += lqr::forward_kl(d, in.info(0), lqr::view_of(ctrl), in.constraint(0).kl_anchor(),
                            lqr::ForwardRecord<double>{}, scratch.data(), &finite);
    fwd = std::min(fwd, seconds_since(t0));
  }
  if (sink == -1.0) std::puts("");
  // sweeps per dual iteration (non-PD retries would add some)
  const lqr::SearchSettings<double> ss;
  std::vector<double> eta_used(ss.max_iterations), kl(ss.max_iterations);
  std::vector<int> tries(ss.max_iterations);
  double eta = 1.0, total = 0;
  int iterations = 0;
  lqr::dual_search(d, in.info(0), in.constraint(0), ss, ss.kl_bound(d, 1.0), &eta, ctrl,
                   lqr::ForwardRecord<double>{},
                   lqr::SearchTrace<double>{eta_used.data(), kl.data(), tries.data()}, &total,
                   &iterations, scratch.data());
  std::printf("search trace:");
  for (int i = 0; i < iterations; ++i)
    std::printf(" eta %.3g kl %.3g (%d sweeps);", eta_used[i], kl[i], tries[i]);
  std::printf("\n");
  return {bwd, fwd};
}

struct Run {
  double seconds = 0;  // wall
  double cpu_seconds = 0;  // CPU time of the process (all threads) in the same run
  long passes = 0;    // summed over conditions
  int max_passes = 0; // sequential passes of the slowest condition
  int failed = 0;     // conditions not kOk
};

Run run_update(const Problems& p, const gpsx::TrajOptSettings& s, int threads, int repeats) {
  const lqr::Dims d = p.d;
  const int M = p.M;
  const std::size_t T = d.T, X = d.dX, U = d.dU;
  std::vector<double> ctrl(M * lqr::controller_size(d));
  double* c = ctrl.data();
  const lqr::BatchController<double> out{c, c + M * T * U * X, c + M * T * (U * X + U),
                                         c + M * T * (U * X + U + U * U),
                                         c + M * T * (U * X + U + 2 * U * U)};
  std::vector<double> eta(M), kl(M), step_mult(M, 1.0);
  std::vector<int> passes(M);
  std::vector<std::uint32_t> status(M);
  const gpsx::Executor ex = gpsx::cpu_executor(threads);
  std::vector<double> ws(gpsx::traj_opt_workspace_size(ex, d, M, s));
  Run best;
  best.seconds = 1e300;
  for (int r = 0; r < repeats; ++r) {
    std::fill(eta.begin(), eta.end(), 1.0);
    const auto t0 = Clock::now();
    const double c0 = gpsx::bench::process_cpu_seconds();
    gpsx::traj_opt_update(ex, d, M, p.inputs(), step_mult.data(), s, out,
                          lqr::BatchResult<double>{eta.data(), kl.data(), passes.data(),
                                                   status.data()},
                          ws.data(), ws.size());
    const double t = seconds_since(t0);
    const double cpu = gpsx::bench::process_cpu_seconds() - c0;
    if (t < best.seconds) {
      best.seconds = t;
      best.cpu_seconds = cpu;
      best.passes = 0;
      best.max_passes = 0;
      best.failed = 0;
      for (int m = 0; m < M; ++m) {
        best.passes += passes[m];
        best.max_passes = std::max(best.max_passes, passes[m]);
        best.failed += status[m] != gpsx::kOk;
      }
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int max_M = argc > 1 ? std::atoi(argv[1]) : 1024;
  const double cost_scale = argc > 2 ? std::atof(argv[2]) : kCostScale;
  const lqr::Dims d{100, 26, 7};
  const int threads = gpsx::hardware_threads();
  const double flops = pass_flops(d);
  const Problems one(d, 1, 1, cost_scale);
  const double all_flops = counted_pass_flops(one);
  const double all_ratio = all_flops / flops;  // all arithmetic per flop of the products
  if (all_ratio < 1.0) {  // the products are part of all arithmetic: a miscount
    std::fprintf(stderr, "lqr_bench: counted %.0f flops per pass, fewer than the products' %.0f\n",
                 all_flops, flops);
    return 1;
  }
  std::printf(
      "lqr_bench: T=%d dX=%d dU=%d, %d threads; per backward+forward+KL pass: %.2f MFLOP in "
      "the matrix products (symmetric halves once), %.2f MFLOP of all arithmetic (counted)\n",
      d.T, d.dX, d.dU, threads, flops * 1e-6, all_flops * 1e-6);

  // the best of several measurements: on a shared machine one can come out low, which
  // would flatter the fractions below
  double gemm1 = 0, gemm1_low = 1e300;
  for (int r = 0; r < 5; ++r) {
    const double g = gpsx::bench::gemm_gflops(512);
    gemm1 = std::max(gemm1, g);
    gemm1_low = std::min(gemm1_low, g);
  }
  std::printf("Eigen 512x512 double GEMM: %.2f GFLOP/s on 1 thread (best of 5; lowest %.2f)\n",
              gemm1, gemm1_low);

  // one condition, one thread, sequential search
  gpsx::TrajOptSettings seq;
  const Run single = run_update(one, seq, 1, 15);
  const auto [bwd, fwd] = phase_seconds(one, 20);
  std::printf("phases, 1 thread: backward %.3f ms, forward+KL %.3f ms (reference: ~24 ms, ~7+30 ms)\n",
              bwd * 1e3, fwd * 1e3);
  const double ref_same_iters = kReferenceSeconds / kReferenceIterations * single.passes;
  const double speedup = ref_same_iters / single.seconds;
  std::printf("one update, 1 thread: %.3f ms for %ld eta iterations (%.3f ms/pass, %.2f GFLOP/s)\n",
              single.seconds * 1e3, single.passes, single.seconds * 1e3 / single.passes,
              flops * single.passes / single.seconds * 1e-9);
  std::printf(
      "vs the reference on %s (the issue author's numpy measurement, not this run): %.3f s "
      "for the same iterations (0.42 s / 7 each) -> %.1fx\n",
      kReferenceMachine, ref_same_iters, speedup);

  // a batch on one thread: the per-thread rate without other threads of ours competing,
  // per condition (scalar kernels) and with W conditions per SIMD pack
  const Problems batch64(d, 64, 64, cost_scale);
  gpsx::TrajOptSettings seq_scalar = seq;
  seq_scalar.cpu_lanes = false;
  // CPU time of the one thread, like the GEMM's: robust to other processes on the machine
  const Run one_scalar = run_update(batch64, seq_scalar, 1, 3);
  const Run one_lanes = run_update(batch64, seq, 1, 3);
  const double gflops_scalar_1t = flops * one_scalar.passes / one_scalar.cpu_seconds * 1e-9;
  const double gflops_lanes_1t = flops * one_lanes.passes / one_lanes.cpu_seconds * 1e-9;
  // GFLOP/s of the products; "all arithmetic" scales them by the counted ratio
  std::printf("sequential M=64 on 1 thread, per condition: %.3f s (CPU %.3f s), %.1f conditions/s, %.2f GFLOP/s (%.0f%% of GEMM; all arithmetic %.0f%%)\n",
              one_scalar.seconds, one_scalar.cpu_seconds, 64 / one_scalar.cpu_seconds,
              gflops_scalar_1t, 100 * gflops_scalar_1t / gemm1,
              100 * all_ratio * gflops_scalar_1t / gemm1);
  std::printf("sequential M=64 on 1 thread, %d-lane packs: %.3f s (CPU %.3f s), %.1f conditions/s, %.2f GFLOP/s (%.0f%% of GEMM; all arithmetic %.2f GFLOP/s = %.0f%%), %.2fx the per-condition line (same-run baseline)\n",
              gpsx::kTrajOptLanes, one_lanes.seconds, one_lanes.cpu_seconds,
              64 / one_lanes.cpu_seconds, gflops_lanes_1t, 100 * gflops_lanes_1t / gemm1,
              all_ratio * gflops_lanes_1t, 100 * all_ratio * gflops_lanes_1t / gemm1,
              one_scalar.cpu_seconds / one_lanes.cpu_seconds);

  gpsx::bench::json rows = gpsx::bench::json::array();
  double best_per_thread_fraction = 0;
  struct Variant {
    const char* name;
    gpsx::EtaSearch search;
    bool lanes;
  };
  for (const Variant v : {Variant{"sequential", gpsx::EtaSearch::kSequential, false},
                          Variant{"sequential_lanes", gpsx::EtaSearch::kSequential, true},
                          Variant{"parallel4", gpsx::EtaSearch::kParallel, false}}) {
    gpsx::TrajOptSettings s;
    s.search = v.search;
    s.cpu_lanes = v.lanes;
    const char* mode = v.name;
    for (int M = 1; M <= max_M; M *= 4) {
      const Problems p(d, M, 100 + M, cost_scale);
      const Run r = run_update(p, s, threads, M <= 64 ? 3 : 1);
      const int evaluations = v.search == gpsx::EtaSearch::kSequential ? 1 : s.candidates;
      const double gflops = flops * r.passes * evaluations / r.seconds * 1e-9;
      const double fraction = gflops / threads / gemm1;
      if (M >= 64 && v.search == gpsx::EtaSearch::kSequential)
        best_per_thread_fraction = std::max(best_per_thread_fraction, fraction);
      std::printf(
          "%-16s M=%5d: %8.3f s, %9.1f conditions/s, %3d sequential passes (max), %6.2f "
          "passes/condition, %6.2f GFLOP/s (%.0f%% of GEMM per thread; all arithmetic %.0f%%), "
          "%d not ok\n",
          mode, M, r.seconds, M / r.seconds, r.max_passes, double(r.passes) / M, gflops,
          100 * fraction, 100 * all_ratio * fraction, r.failed);
      rows.push_back({{"mode", mode},
                      {"M", M},
                      {"seconds", r.seconds},
                      {"cpu_seconds", r.cpu_seconds},
                      {"conditions_per_s", M / r.seconds},
                      {"sequential_passes", r.max_passes},
                      {"passes_per_condition", double(r.passes) / M},
                      {"gflops", gflops},
                      {"fraction_of_gemm_per_thread", fraction},
                      {"fraction_of_gemm_per_thread_all_arithmetic", all_ratio * fraction},
                      {"not_ok", r.failed}});
    }
  }
  gpsx::bench::print_result_line({{"bench", "lqr"},
                                  {"machine", gpsx::bench::machine_json()},
                                  {"T", d.T},
                                  {"dX", d.dX},
                                  {"dU", d.dU},
                                  {"threads", threads},
                                  {"mflop_per_pass", flops * 1e-6},
                                  {"mflop_per_pass_all_arithmetic", all_flops * 1e-6},
                                  {"gemm_gflops_1thread", gemm1},
                                  {"gemm_gflops_1thread_lowest", gemm1_low},
                                  {"backward_ms", bwd * 1e3},
                                  {"forward_kl_ms", fwd * 1e3},
                                  {"single_seconds", single.seconds},
                                  {"single_iterations", single.passes},
                                  {"reference_seconds_same_iterations", ref_same_iters},
                                  {"speedup_vs_reference", speedup},
                                  {"reference_machine", kReferenceMachine},
                                  {"lanes", gpsx::kTrajOptLanes},
                                  {"batched_M64_1thread_scalar_gflops", gflops_scalar_1t},
                                  {"batched_M64_1thread_scalar_fraction_of_gemm",
                                   gflops_scalar_1t / gemm1},
                                  {"batched_M64_1thread_lanes_gflops", gflops_lanes_1t},
                                  {"batched_M64_1thread_lanes_fraction_of_gemm",
                                   gflops_lanes_1t / gemm1},
                                  {"batched_M64_1thread_lanes_fraction_of_gemm_all_arithmetic",
                                   all_ratio * gflops_lanes_1t / gemm1},
                                  {"best_batched_fraction_of_gemm_per_thread",
                                   best_per_thread_fraction},
                                  {"best_batched_fraction_of_gemm_per_thread_all_arithmetic",
                                   all_ratio * best_per_thread_fraction},
                                  {"batched", rows}});
  return 0;
}
