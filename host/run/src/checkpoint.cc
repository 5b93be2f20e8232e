#include "gpsx/run/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "gpsx/run/archive.h"

namespace gpsx::run {
namespace {

namespace fs = std::filesystem;
using Shape64 = std::vector<std::int64_t>;

std::vector<double> host_copy(const Executor& ex, const Buffer<double>& b, std::size_t n) {
  std::vector<double> h(n);
  download(ex, b.data(), n, h.data());
  return h;
}

void put(const Executor& ex, ArchiveWriter& w, const std::string& name, const Buffer<double>& b,
         const Shape64& shape) {
  std::size_t n = 1;
  for (std::int64_t s : shape) n *= static_cast<std::size_t>(s);
  const std::vector<double> h = host_copy(ex, b, n);
  w.add(name, h.data(), shape);
}

void get(const Executor& ex, const ArchiveReader& r, const std::string& name, Buffer<double>& b,
         const Shape64& shape) {
  const std::vector<double> h = r.f8(name, shape);
  upload(ex, h.data(), h.size(), b.data());
}

// The controller arrays as checkpoint fields ("ctrl_K", ...).
struct Field {
  const char* name;
  Buffer<double>* buffer;
  Shape64 shape;
};
std::vector<Field> controller_fields(ControllerBatch& c) {
  const std::int64_t M = c.M, T = c.T, X = c.dX, U = c.dU;
  return {{"ctrl_K", &c.K, {M, T, U, X}},
          {"ctrl_k", &c.k, {M, T, U}},
          {"ctrl_pol_covar", &c.pol_covar, {M, T, U, U}},
          {"ctrl_chol_pol_covar", &c.chol_pol_covar, {M, T, U, U}},
          {"ctrl_inv_pol_covar", &c.inv_pol_covar, {M, T, U, U}}};
}

}  // namespace

std::string checkpoint_name(std::int64_t iteration) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%06lld.npz", static_cast<long long>(iteration));
  return buf;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 15 && name.rfind("ckpt-", 0) == 0 && name.substr(11) == ".npz" &&
        std::all_of(name.begin() + 5, name.begin() + 11, [](char ch) { return ch >= '0' && ch <= '9'; }))
      out.push_back(e.path().string());
  }
  std::sort(out.rbegin(), out.rend());  // zero-padded: lexicographic = numeric
  return out;
}

void save_checkpoint(const Executor& ex, const TrajOptAlgorithm& a, const CheckpointMeta& meta,
                     const std::string& path) {
  ArchiveWriter w(kCheckpointKind);
  const std::int64_t sizes[] = {a.M, a.T, a.dX, a.dU, a.N};
  w.add("sizes", sizes, {5});
  w.add("iteration", &meta.iteration, {});
  w.add("threads", &meta.threads, {});
  w.add("file_sizes", meta.file_sizes.data(), {static_cast<std::int64_t>(meta.file_sizes.size())});
  w.add_text("config", meta.config);

  for (const Field& f : controller_fields(const_cast<ControllerBatch&>(a.ctrl)))  // read only
    put(ex, w, f.name, *f.buffer, f.shape);
  const std::int64_t M = a.M;
  put(ex, w, "eta", a.eta, {M});
  put(ex, w, "step_mult", a.step_mult, {M});
  put(ex, w, "laplace_prev", a.laplace_prev, {M});
  put(ex, w, "laplace_predicted", a.laplace_predicted, {M});

  // The prior's data set (the first `count` trajectories of each condition are valid).
  const DynamicsPrior& p = a.prior;
  const std::int64_t count = p.count, cap = p.capacity;
  w.add("prior_count", &count, {});
  put(ex, w, "prior_X", p.X, {M, cap, p.T, p.dX});
  put(ex, w, "prior_U", p.U, {M, cap, p.T, p.dU});
  const GmmState& g = p.gmm;
  const std::int64_t K = g.K, D = g.D;
  const std::uint64_t draws = g.initialisations;
  w.add("gmm_K", &K, {});
  w.add("gmm_initialisations", &draws, {});
  const GmmParameters gp = gmm_parameters(ex, g);
  w.add("gmm_mu", gp.mu.data(), {M, K, D});
  w.add("gmm_sigma", gp.sigma.data(), {M, K, D, D});
  w.add("gmm_logmass", gp.logmass.data(), {M, K});
  w.add("gmm_mass", gp.mass.data(), {M, K});
  w.add("gmm_N0", gp.N0.data(), {M});
  w.write(path);
}

CheckpointMeta load_checkpoint(const Executor& ex, TrajOptAlgorithm& a, const std::string& path) {
  const ArchiveReader r = ArchiveReader::open(path, kCheckpointKind);
  const std::vector<std::int64_t> sizes = r.i8("sizes", {5});
  const std::int64_t want[] = {a.M, a.T, a.dX, a.dU, a.N};
  if (!std::equal(sizes.begin(), sizes.end(), want))
    throw std::runtime_error("checkpoint " + path + ": sizes (M, T, dX, dU, N) = (" +
                             std::to_string(sizes[0]) + ", " + std::to_string(sizes[1]) + ", " +
                             std::to_string(sizes[2]) + ", " + std::to_string(sizes[3]) + ", " +
                             std::to_string(sizes[4]) + ") do not match the run's config");
  CheckpointMeta meta;
  meta.iteration = r.i8("iteration", {})[0];
  meta.threads = r.i8("threads", {})[0];
  meta.file_sizes = r.u8("file_sizes", {r.shape("file_sizes").at(0)});
  meta.config = r.text("config");

  for (const Field& f : controller_fields(a.ctrl)) get(ex, r, f.name, *f.buffer, f.shape);
  const std::int64_t M = a.M;
  get(ex, r, "eta", a.eta, {M});
  get(ex, r, "step_mult", a.step_mult, {M});
  get(ex, r, "laplace_prev", a.laplace_prev, {M});
  get(ex, r, "laplace_predicted", a.laplace_predicted, {M});

  DynamicsPrior& p = a.prior;
  const std::int64_t count = r.i8("prior_count", {})[0];
  if (count < 0 || count > p.capacity)
    throw std::runtime_error("checkpoint " + path + ": prior_count " + std::to_string(count) +
                             " outside [0, " + std::to_string(p.capacity) + "]");
  get(ex, r, "prior_X", p.X, {M, p.capacity, p.T, p.dX});
  get(ex, r, "prior_U", p.U, {M, p.capacity, p.T, p.dU});
  p.count = static_cast<int>(count);
  p.logobs_valid.assign(M, 0);
  GmmState& g = p.gmm;
  const std::int64_t K = r.i8("gmm_K", {})[0], D = g.D;
  if (K < 0 || K > g.max_clusters)
    throw std::runtime_error("checkpoint " + path + ": gmm_K " + std::to_string(K) +
                             " outside [0, " + std::to_string(g.max_clusters) + "]");
  GmmParameters gp;
  gp.mu = r.f8("gmm_mu", {M, K, D});
  gp.sigma = r.f8("gmm_sigma", {M, K, D, D});
  gp.logmass = r.f8("gmm_logmass", {M, K});
  gp.mass = r.f8("gmm_mass", {M, K});
  gp.N0 = r.f8("gmm_N0", {M});
  set_gmm_parameters(ex, g, static_cast<int>(K), gp);
  g.initialisations = r.u8("gmm_initialisations", {})[0];
  a.iteration = static_cast<int>(meta.iteration);
  return meta;
}

}  // namespace gpsx::run
