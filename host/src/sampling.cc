#include "gpsx/host/sampling.h"

namespace gpsx {

void reduce_sample_status(const Executor& ex, SamplingWorkspace& ws, int M, int N,
                          std::uint32_t* status) {
  const std::size_t mn = static_cast<std::size_t>(M) * N;
  ws.status_host.resize(mn);
  synchronize(ex);
  download(ex, ws.status.data(), mn, ws.status_host.data());
  for (int m = 0; m < M; ++m) {
    std::uint32_t s = kOk;
    for (int n = 0; n < N; ++n) s |= ws.status_host[static_cast<std::size_t>(m) * N + n];
    status[m] = s;
  }
}

void generate_noise(const Executor& ex, const noise::NoiseSettings& settings, int B, int T,
                    int dU, double* noise, std::uint32_t* status) {
  if (B <= 0 || T <= 0 || dU <= 0)
    throw std::invalid_argument("generate_noise: B, T, dU must be > 0, got " +
                                std::to_string(B) + ", " + std::to_string(T) + ", " +
                                std::to_string(dU));
  if (settings.smooth && !(settings.sigma > 0))
    throw std::invalid_argument("generate_noise: sigma must be > 0 when smoothing, got " +
                                std::to_string(settings.sigma));
  Buffer<double> scratch(ex, static_cast<std::size_t>(B) *
                                     noise::noise_scratch_size(T, settings));
  Buffer<std::uint32_t> st(ex, B);
  const noise::ShapeNoiseBatch<double> f{T, dU, settings, noise, scratch.data(), st.data()};
  for_each(ex, B, f);
  synchronize(ex);
  download(ex, st.data(), static_cast<std::size_t>(B), status);
}

}  // namespace gpsx
