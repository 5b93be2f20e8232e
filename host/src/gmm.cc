// The batched GMM: state in executor memory, initialisation in gmm_batch.h functors, and
// the EM loop -- written once -- over a backend for its products (gmm_backend.h), one
// chunk of conditions at a time.
#include "gpsx/host/gmm.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gmm_backend.h"
#include "gpsx/host/check.h"
#include "gpsx/kernels/gmm_batch.h"

namespace gpsx {
namespace {

// A chunk's arrays besides the backend's: initial assignment, non-finite scan, flags,
// inference scratch.
struct ChunkArrays {
  int* assignment;               // (Mc x P)
  std::int64_t* first_bad;       // (Mc)
  int* ok;                       // (Mc)
  std::uint32_t* cluster_status; // (Mc x K)
  std::uint32_t* status;         // (Mc)
  double* wts;                   // (Mc x (K + D)) gmm_inference scratch
  double* logwts;                // (Mc x K) gmm_inference's cluster weights when not wanted
  ChunkArrays(Carve& c, int Mc, int P, int K, int D)
      : assignment(c.take<int>(static_cast<std::int64_t>(Mc) * P)),
        first_bad(c.take<std::int64_t>(Mc)),
        ok(c.take<int>(Mc)),
        cluster_status(c.take<std::uint32_t>(static_cast<std::int64_t>(Mc) * K)),
        status(c.take<std::uint32_t>(Mc)),
        wts(c.take<double>(static_cast<std::int64_t>(Mc) * (K + D))),
        logwts(c.take<double>(static_cast<std::int64_t>(Mc) * K)) {}
};

// The layout of one chunk of Mc conditions: its arrays, then the backend.
struct ChunkLayout {
  ChunkArrays arrays;
  std::unique_ptr<detail::EmBackend> em;
  ChunkLayout(const Executor& ex, GmmState& g, int Mc, int P, int K, Carve& c)
      : arrays(c, Mc, P, K, g.D), em(detail::make_em_backend(ex, g, P, K, Mc, c)) {}
};

std::size_t chunk_elements(const Executor& ex, int M, int D, int Mc, int P, int K) {
  GmmState shape;
  shape.M = M;
  shape.D = D;
  Carve measure;
  ChunkLayout layout(ex, shape, Mc, P, K, measure);
  return measure.elements();
}

int chunk_capacity(const Executor& ex, int M, int D, int P, int K, std::size_t elements) {
  return gpsx::chunk_capacity(M, elements, [&](int Mc) { return chunk_elements(ex, M, D, Mc, P, K); });
}

int checked_chunk(const Executor& ex, const GmmState& g, int P, int K, std::size_t ws_size,
                  const char* fn) {
  const int Mc = chunk_capacity(ex, g.M, g.D, P, K, ws_size);
  require_chunk(Mc, ws_size, chunk_elements(ex, g.M, g.D, 1, P, K), fn, "gmm_workspace_size");
  return Mc;
}

void check_state(const GmmState& g, int K, const char* fn) {
  require(g.M >= 1 && g.D >= 1 && g.max_clusters >= 1,
          std::string(fn) + ": GmmState not created (use make_gmm_state)");
  require(K >= 1 && K <= g.max_clusters, std::string(fn) + ": K must be in [1, " +
                                             std::to_string(g.max_clusters) + "], got " +
                                             std::to_string(K));
}

// A caller's initial assignment (mc x P, executor memory) must hold labels in [0, K).
void check_assignment(const Executor& ex, const int* assignment, int m0, int mc, int P, int K,
                      std::int64_t* first_bad, std::vector<std::int64_t>& first_bad_host) {
  for_each(ex, mc, gmm::FirstBadLabelStep{P, K, assignment, first_bad});
  download(ex, first_bad, mc, first_bad_host.data());
  for (int i = 0; i < mc; ++i)
    if (first_bad_host[i] >= 0)
      throw std::invalid_argument("gmm_update: init_assignment of condition " +
                                  std::to_string(m0 + i) + ", point " +
                                  std::to_string(first_bad_host[i]) + " is outside [0, " +
                                  std::to_string(K) + ")");
}

// EM of the loaded chunk (conditions m0 + i with active[i]) until every condition stops.
// The stop rule and every per-condition message live here, once for both backends.
void run_em(detail::EmBackend& em, int m0, int mc, int maxit, std::vector<int>& active,
            GmmUpdateReport& rep) {
  std::vector<double> ll(mc), prev(mc, -std::numeric_limits<double>::infinity());
  std::vector<std::uint32_t> st(mc);
  const auto any = [&] { return std::any_of(active.begin(), active.end(), [](int a) { return a; }); };
  for (int i = 0; i < mc; ++i)
    if (active[i]) rep.stop[m0 + i] = gmm::kEmMaxIterations;
  for (int it = 0; it < maxit && any(); ++it) {
    em.estep_loglik(ll.data(), st.data(), active);
    for (int i = 0; i < mc; ++i) {
      if (!active[i]) continue;
      const int m = m0 + i;
      if (st[i] != kOk) {
        rep.status[m] = st[i];
        rep.message[m] = condition_label(m) + "GMM cluster covariance is not positive "
                         "definite at EM iteration " + std::to_string(it);
        rep.stop[m] = gmm::kEmFailed;
        active[i] = 0;
        continue;
      }
      rep.loglik[static_cast<std::size_t>(m) * maxit + it] = ll[i];
      rep.iterations[m] = it + 1;
      const int stop = gmm::em_stop_rule(ll[i], prev[i]);
      if (stop == gmm::kEmFailed) {
        rep.status[m] = kNonFinite;
        rep.message[m] = condition_label(m) + "non-finite GMM log-likelihood at EM iteration " +
                         std::to_string(it);
      }
      if (stop != gmm::kEmContinue) {
        rep.stop[m] = stop;
        active[i] = 0;
        continue;
      }
      prev[i] = ll[i];
    }
    if (any()) em.mstep(active);
  }
}

}  // namespace

GmmState make_gmm_state(const Executor& ex, int M, int max_clusters, int D) {
  require(M >= 1 && max_clusters >= 1 && D >= 1,
          "make_gmm_state: need M, max_clusters, D >= 1, got " + dims_str({M, max_clusters, D}));
  GmmState g;
  g.M = M;
  g.D = D;
  g.max_clusters = max_clusters;
  const std::int64_t MK = static_cast<std::int64_t>(M) * max_clusters;
  g.mu = Buffer<double>(ex, "gmm mu", {MK * D});
  g.sigma = Buffer<double>(ex, "gmm sigma", {MK * D * D});
  g.logmass = Buffer<double>(ex, "gmm logmass", {MK});
  g.mass = Buffer<double>(ex, "gmm mass", {MK});
  g.N0 = Buffer<double>(ex, "gmm N0", {M});
  return g;
}

GmmParameters gmm_parameters(const Executor& ex, const GmmState& g) {
  const std::size_t MK = static_cast<std::size_t>(g.M) * g.K, D = g.D;
  GmmParameters p;
  p.mu.resize(MK * D);
  p.sigma.resize(MK * D * D);
  p.logmass.resize(MK);
  p.mass.resize(MK);
  p.N0.resize(g.M);
  download(ex, g.mu.data(), p.mu.size(), p.mu.data());
  download(ex, g.sigma.data(), p.sigma.size(), p.sigma.data());
  download(ex, g.logmass.data(), MK, p.logmass.data());
  download(ex, g.mass.data(), MK, p.mass.data());
  download(ex, g.N0.data(), p.N0.size(), p.N0.data());
  return p;
}

void set_gmm_parameters(const Executor& ex, GmmState& g, int K, const GmmParameters& p) {
  require(K >= 0 && K <= g.max_clusters,
          "set_gmm_parameters: K = " + std::to_string(K) + " outside [0, " +
              std::to_string(g.max_clusters) + "]");
  const std::size_t MK = static_cast<std::size_t>(g.M) * K, D = g.D;
  require(p.mu.size() == MK * D && p.sigma.size() == MK * D * D && p.logmass.size() == MK &&
              p.mass.size() == MK && p.N0.size() == static_cast<std::size_t>(g.M),
          "set_gmm_parameters: parameter sizes do not match M = " + std::to_string(g.M) +
              ", K = " + std::to_string(K) + ", D = " + std::to_string(g.D));
  upload(ex, p.mu.data(), p.mu.size(), g.mu.data());
  upload(ex, p.sigma.data(), p.sigma.size(), g.sigma.data());
  upload(ex, p.logmass.data(), MK, g.logmass.data());
  upload(ex, p.mass.data(), MK, g.mass.data());
  upload(ex, p.N0.data(), p.N0.size(), g.N0.data());
  g.K = K;
}

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

std::size_t gmm_workspace_size(const Executor& ex, int M, int P, int D, int K,
                               std::size_t budget_bytes) {
  require(M >= 1 && P >= 1 && D >= 1 && K >= 1,
          "gmm_workspace_size: need M, P, D, K >= 1, got " + dims_str({M, P, D, K}));
  const int Mc = std::max(1, chunk_capacity(ex, M, D, P, K, budget_bytes / sizeof(double)));
  return chunk_elements(ex, M, D, Mc, P, K);
}

void gmm_random_assignment(const Executor& ex, std::uint64_t seed, std::uint64_t draw, int M,
                           int P, int K, int* assignment) {
  require(K >= 1, "gmm_random_assignment: K must be >= 1, got " + std::to_string(K));
  for_each_2d(ex, M, P, gmm::RandomAssignmentStep{seed, draw, 0, P, K, assignment});
}

GmmUpdateReport gmm_update(const Executor& ex, GmmState& g, int P, const double* data, int K,
                           const GmmSettings& settings, double* workspace,
                           std::size_t workspace_size, const int* init_assignment,
                           double* final_logobs) {
  check_state(g, K, "gmm_update");
  require(P >= 1, "gmm_update: need P >= 1 points per condition, got " + std::to_string(P));
  require(settings.max_iterations >= 1,
          "gmm_update: max_iterations must be >= 1, got " + std::to_string(settings.max_iterations));
  const int M = g.M, D = g.D, maxit = settings.max_iterations;
  const int Mc = checked_chunk(ex, g, P, K, workspace_size, "gmm_update");
  GmmUpdateReport rep;
  rep.K = K;
  rep.reinitialised = !settings.warmstart || !g.initialised() || K != g.K;
  rep.iterations.assign(M, 0);
  rep.stop.assign(M, gmm::kEmFailed);
  rep.loglik.assign(static_cast<std::size_t>(M) * maxit, std::numeric_limits<double>::quiet_NaN());
  rep.status.assign(M, kOk);
  rep.message.assign(M, "");
  rep.final_logobs_valid.assign(M, 0);
  Carve carve(workspace, workspace_size);
  ChunkLayout chunk(ex, g, Mc, P, K, carve);
  const ChunkArrays& a = chunk.arrays;
  std::vector<std::int64_t> first_bad(Mc);
  std::vector<int> active(Mc);
  std::vector<std::uint32_t> init_status(Mc);
  const std::int64_t PD = static_cast<std::int64_t>(P) * D, PK = static_cast<std::int64_t>(P) * K;
  // A bad caller assignment is refused before anything changes.
  if (rep.reinitialised && init_assignment)
    for (int m0 = 0; m0 < M; m0 += Mc)
      check_assignment(ex, init_assignment + m0 * static_cast<std::int64_t>(P), m0,
                       std::min(Mc, M - m0), P, K, a.first_bad, first_bad);
  const std::uint64_t draw = g.initialisations;
  if (rep.reinitialised) {
    g.K = K;
    ++g.initialisations;
  }
  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const double* x = data + m0 * PD;
    // Data check, then (re)initialisation of the chunk's conditions.
    for_each(ex, mc, gmm::FirstNonFiniteStep<double>{PD, x, a.first_bad});
    download(ex, a.first_bad, mc, first_bad.data());
    for (int i = 0; i < mc; ++i) {
      active[i] = first_bad[i] < 0;
      if (active[i]) continue;
      rep.status[m0 + i] = kNonFinite;
      rep.message[m0 + i] = condition_label(m0 + i) + "non-finite value in the GMM data at point " +
                            std::to_string(first_bad[i] / D) + ", dimension " +
                            std::to_string(first_bad[i] % D);
    }
    if (rep.reinitialised) {
      const int* assign = init_assignment ? init_assignment + m0 * static_cast<std::int64_t>(P)
                                          : a.assignment;
      if (!init_assignment)
        for_each_2d(ex, mc, P, gmm::RandomAssignmentStep{settings.seed, draw, m0, P, K, a.assignment});
      upload(ex, active.data(), mc, a.ok);
      const std::int64_t k0 = static_cast<std::int64_t>(m0) * K;
      for_each_2d(ex, mc, K, gmm::InitClusterStep<double>{
                                 P, K, D, a.ok, x, assign, g.mu.data() + k0 * D,
                                 g.sigma.data() + k0 * D * D, g.logmass.data() + k0,
                                 g.mass.data() + k0, g.N0.data() + m0, a.cluster_status});
      for_each(ex, mc, gmm::EstepStatusStep{K, a.cluster_status, a.status});
      download(ex, a.status, mc, init_status.data());
      for (int i = 0; i < mc; ++i)
        if (active[i] && init_status[i] != kOk) {
          rep.status[m0 + i] = init_status[i];
          rep.message[m0 + i] = condition_label(m0 + i) +
                                "a GMM cluster has no points in the initial assignment";
          active[i] = 0;
        }
    }
    chunk.em->load(m0, mc, x);
    run_em(*chunk.em, m0, mc, maxit, active, rep);
    if (!final_logobs) continue;
    // A stopped condition's parameters did not change after its last E-step.
    for (int i = 0; i < mc; ++i) {
      const int stop = rep.stop[m0 + i];
      if (stop != gmm::kEmConverged && stop != gmm::kEmLoglikDecreased) continue;
      copy_within(ex, chunk.em->logobs(i), PK, final_logobs + (m0 + i) * PK);
      rep.final_logobs_valid[m0 + i] = 1;
    }
  }
  return rep;
}

void gmm_estep(const Executor& ex, const GmmState& g, int m_begin, int m_count, int P,
               const double* pts, double* logobs, std::uint32_t* status, double* workspace,
               std::size_t workspace_size) {
  require(g.initialised(), "gmm_estep: the GMM has not been fitted yet (K == 0)");
  require(m_begin >= 0 && m_count >= 0 && m_begin + m_count <= g.M,
          "gmm_estep: conditions [" + std::to_string(m_begin) + ", " +
              std::to_string(m_begin + m_count) + ") outside [0, " + std::to_string(g.M) + ")");
  const int K = g.K, D = g.D;
  const int Mc = checked_chunk(ex, g, P, K, workspace_size, "gmm_estep");
  Carve carve(workspace, workspace_size);
  GmmState& state = const_cast<GmmState&>(g);  // the E-step only reads it
  ChunkLayout chunk(ex, state, Mc, P, K, carve);
  for (int i0 = 0; i0 < m_count; i0 += Mc) {
    const int mc = std::min(Mc, m_count - i0);
    chunk.em->load(m_begin + i0, mc, pts + static_cast<std::int64_t>(i0) * P * D);
    chunk.em->estep(logobs + static_cast<std::int64_t>(i0) * P * K,
                    status ? status + i0 : chunk.arrays.status);
  }
}

void gmm_inference(const Executor& ex, const GmmState& g, int Q, const double* pts,
                   double strength, const GmmInferenceOut& out, double* workspace,
                   std::size_t workspace_size) {
  require(g.initialised(), "gmm_inference: the GMM has not been fitted yet (K == 0)");
  require(Q >= 1, "gmm_inference: need at least one query point, got " + std::to_string(Q));
  require(out.mu0 && out.Phi && out.m && out.n0, "gmm_inference: mu0, Phi, m and n0 are required");
  const int M = g.M, K = g.K, D = g.D;
  const int Mc = checked_chunk(ex, g, Q, K, workspace_size, "gmm_inference");
  Carve carve(workspace, workspace_size);
  GmmState& state = const_cast<GmmState&>(g);  // read only
  ChunkLayout chunk(ex, state, Mc, Q, K, carve);
  const ChunkArrays& a = chunk.arrays;
  for (int m0 = 0; m0 < M; m0 += Mc) {
    const int mc = std::min(Mc, M - m0);
    const std::int64_t k0 = static_cast<std::int64_t>(m0) * K;
    std::uint32_t* st = out.status ? out.status + m0 : a.status;  // (mc) executor memory
    chunk.em->load(m0, mc, pts + static_cast<std::int64_t>(m0) * Q * D);
    chunk.em->estep(nullptr, st);
    for_each(ex, mc, gmm::InferenceStep<double>{
                         Q, K, D, strength, st, g.mu.data() + k0 * D,
                         g.sigma.data() + k0 * D * D, g.N0.data() + m0, chunk.em->logobs(0), a.wts,
                         out.logwts ? out.logwts + k0 : a.logwts,
                         out.mu0 + static_cast<std::int64_t>(m0) * D,
                         out.Phi + static_cast<std::int64_t>(m0) * D * D, out.m + m0, out.n0 + m0});
  }
}

}  // namespace gpsx
