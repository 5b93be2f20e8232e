#include "gpsx/host/lin_gauss.h"

#include <stdexcept>
#include <string>

namespace gpsx {

ControllerBatch::ControllerBatch(const Executor& ex, int M_, int T_, int dX_, int dU_)
    : M(M_), T(T_), dX(dX_), dU(dU_) {
  if (M <= 0 || T <= 0 || dX <= 0 || dU <= 0)
    throw std::invalid_argument("ControllerBatch: M, T, dX, dU must be > 0, got " +
                                std::to_string(M) + ", " + std::to_string(T) + ", " +
                                std::to_string(dX) + ", " + std::to_string(dU));
  const std::size_t mt = static_cast<std::size_t>(M) * T;
  K.resize(ex, mt * dU * dX);
  k.resize(ex, mt * dU);
  pol_covar.resize(ex, mt * dU * dU);
  chol_pol_covar.resize(ex, mt * dU * dU);
  inv_pol_covar.resize(ex, mt * dU * dU);
}

lingauss::Controller<double> ControllerBatch::condition(int m) {
  if (m < 0 || m >= M)
    throw std::invalid_argument("ControllerBatch::condition: m = " + std::to_string(m) +
                                " outside [0, " + std::to_string(M) + ")");
  return lingauss::BatchController<double>{K.data(), k.data(), pol_covar.data(),
                                           chol_pol_covar.data(), inv_pol_covar.data()}
      .at(m, T, dX, dU);
}

namespace {

lingauss::BatchController<double> view(ControllerBatch& c) {
  return {c.K.data(), c.k.data(), c.pol_covar.data(), c.chol_pol_covar.data(),
          c.inv_pol_covar.data()};
}

void check_out(const char* fn, const ControllerBatch& out) {
  if (out.M <= 0 || out.K.size() == 0)
    throw std::invalid_argument(std::string(fn) + ": output controller batch is not allocated");
  if (out.dX < 2 * out.dU)
    throw std::invalid_argument(std::string(fn) + ": needs dX >= 2 dU (positions then "
                                "velocities), got dX " + std::to_string(out.dX) + ", dU " +
                                std::to_string(out.dU));
}

void gather_status(const Executor& ex, const Buffer<std::uint32_t>& s, int M,
                   std::uint32_t* status) {
  synchronize(ex);
  download(ex, s.data(), static_cast<std::size_t>(M), status);
}

}  // namespace

void init_lqr(const Executor& ex, const lingauss::LqrInitSettings<double>& settings,
              const double* x0, const double* gains, const double* acc, ControllerBatch& out,
              std::uint32_t* status) {
  check_out("init_lqr", out);
  if (!x0 || !gains || !acc) throw std::invalid_argument("init_lqr: x0, gains, acc are required");
  const int M = out.M, dX = out.dX, dU = out.dU;
  Buffer<double> x0_d(ex, static_cast<std::size_t>(M) * dX), gains_d(ex, dU), acc_d(ex, dU);
  upload(ex, x0, x0_d.size(), x0_d.data());
  upload(ex, gains, gains_d.size(), gains_d.data());
  upload(ex, acc, acc_d.size(), acc_d.data());
  Buffer<double> scratch(ex, static_cast<std::size_t>(M) * lingauss::init_lqr_scratch_size(dX, dU));
  Buffer<std::uint32_t> st(ex, M);
  const lingauss::InitLqrBatch<double> f{out.T,         dX,           dU,          settings,
                                         x0_d.data(),   gains_d.data(), acc_d.data(), view(out),
                                         scratch.data(), st.data()};
  for_each(ex, M, f);
  gather_status(ex, st, M, status);
}

void init_pd(const Executor& ex, const lingauss::PdInitSettings<double>& settings, int dQ,
             const double* x0, ControllerBatch& out, std::uint32_t* status) {
  check_out("init_pd", out);
  if (dQ <= 0 || dQ > out.dU)
    throw std::invalid_argument("init_pd: only the reference's dU >= dQ branch exists; got dQ " +
                                std::to_string(dQ) + ", dU " + std::to_string(out.dU));
  if (!x0) throw std::invalid_argument("init_pd: x0 is required");
  const int M = out.M;
  Buffer<double> x0_d(ex, static_cast<std::size_t>(M) * out.dX);
  upload(ex, x0, x0_d.size(), x0_d.data());
  Buffer<std::uint32_t> st(ex, M);
  const lingauss::InitPdBatch<double> f{out.T, out.dX, out.dU, dQ, settings, x0_d.data(),
                                        view(out), st.data()};
  for_each(ex, M, f);
  gather_status(ex, st, M, status);
}

}  // namespace gpsx
