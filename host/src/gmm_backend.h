// The products of the GMM EM over one chunk of conditions, on one executor: the EM loop
// (gmm.cc) is written once over this interface. Internal to the algorithms library.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpsx/host/executor.h"
#include "gpsx/host/gmm.h"
#include "gpsx/host/workspace.h"

namespace gpsx::detail {

class EmBackend {
 public:
  virtual ~EmBackend() = default;
  // Points of conditions [m0, m0 + mc), data (mc x P x D) in executor memory; mc <= the
  // chunk capacity the backend was laid out for. Uses the state's current K.
  virtual void load(int m0, int mc, const double* data) = 0;
  // E-step of the loaded conditions: logobs (mc x P x K, executor memory; null: the
  // backend's own array, see logobs()); status (mc, executor memory).
  virtual void estep(double* logobs, std::uint32_t* status) = 0;
  // E-step, log responsibilities and log-likelihood of the loaded conditions with
  // active[i] != 0 (host flags, mc); ll and status (mc) on the host, the others' entries
  // are left as they are. A backend may also recompute stopped conditions (their
  // parameters no longer change), but should not: in lockstep EM a condition would pay for
  // the chunk's slowest.
  virtual void estep_loglik(double* ll, std::uint32_t* status, const std::vector<int>& active) = 0;
  // One M-step of the loaded conditions with active[i] != 0 (host flags, mc).
  virtual void mstep(const std::vector<int>& active) = 0;
  // The backend's log observations of loaded condition i, (P x K) executor memory.
  virtual double* logobs(int i) = 0;
};

// Lays the backend out in `carve` for chunks of up to Mc conditions of P points with up
// to K clusters. With a measuring Carve only the layout is computed (nothing is touched).
std::unique_ptr<EmBackend> make_cpu_em(const Executor& ex, GmmState& g, int P, int K, int Mc,
                                       Carve& carve);
std::unique_ptr<EmBackend> make_cuda_em(const Executor& ex, GmmState& g, int P, int K, int Mc,
                                        Carve& carve);

inline std::unique_ptr<EmBackend> make_em_backend(const Executor& ex, GmmState& g, int P, int K,
                                                  int Mc, Carve& carve) {
  return ex.is_cuda() ? make_cuda_em(ex, g, P, K, Mc, carve) : make_cpu_em(ex, g, P, K, Mc, carve);
}

}  // namespace gpsx::detail
