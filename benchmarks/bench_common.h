// Shared pieces of the benchmarks: wall-clock timing, the machine's practical dense
// matrix-product ceiling (measured in the same run), machine facts, and the closing JSON
// line every benchmark prints last.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace gpsx::bench {

using json = nlohmann::json;

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Seconds per call of f: repeats until at least min_seconds have passed (after one warm-up
// call) and returns the best of `rounds` such averages, to shrug off noise from other
// processes on a shared machine.
template <class F>
double seconds_per_call(F&& f, double min_seconds = 0.2, int rounds = 3) {
  f();
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    int calls = 0;
    const double start = now_seconds();
    double elapsed = 0.0;
    do {
      f();
      ++calls;
      elapsed = now_seconds() - start;
    } while (elapsed < min_seconds);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

// GFLOP/s of an n x n double matrix product through Eigen on one thread: the practical
// ceiling that the batched small-matrix kernels are compared with.
inline double gemm_gflops(int n = 512) {
  Eigen::setNbThreads(1);
  const Eigen::MatrixXd a = Eigen::MatrixXd::Random(n, n);
  const Eigen::MatrixXd b = Eigen::MatrixXd::Random(n, n);
  Eigen::MatrixXd c(n, n);
  const double s = seconds_per_call([&] { c.noalias() = a * b; }, 0.3);
  return 2.0 * n * n * static_cast<double>(n) / s * 1e-9;
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

inline json machine_json() {
  return {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}};
}

// The last line of every benchmark: one JSON object.
inline void print_result_line(const json& j) { std::printf("%s\n", j.dump().c_str()); }

}  // namespace gpsx::bench
