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
#include <ctime>

namespace gpsx::bench {

using json = nlohmann::json;

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time of the calling thread: robust to other processes on a shared machine (one-
// thread measurements run on the calling thread).
inline double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// CPU time of all threads of the process (batched runs).
inline double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
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

// GFLOP/s of an n x n double matrix product through Eigen on one thread (best of 20,
// thread CPU time): the practical ceiling the batched small-matrix kernels are compared
// with.
inline double gemm_gflops(int n = 512) {
  const Eigen::MatrixXd a = Eigen::MatrixXd::Random(n, n);
  const Eigen::MatrixXd b = Eigen::MatrixXd::Random(n, n);
  Eigen::MatrixXd c(n, n);
  double best = 1e300;
  for (int rep = 0; rep < 20; ++rep) {
    const double c0 = thread_cpu_seconds();
    c.noalias() = a * b;
    best = std::min(best, thread_cpu_seconds() - c0);
  }
  if (c(0, 0) == 12345.0) std::printf(" ");  // keep the product alive
  return 2.0 * n * n * static_cast<double>(n) / best * 1e-9;
}

// The CPU model as lscpu shows it (`model name` of /proc/cpuinfo), "unknown" where the
// kernel does not say. Every benchmark prints it in its header and JSON ("cpu_model"):
// figures from different machines must not be compared.
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    const auto end = line.find_last_not_of(" \t\r");
    if (begin == std::string::npos) break;
    return line.substr(begin, end - begin + 1);
  }
  return "unknown";
}

inline json machine_json() {
  return {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}};
}

// The machine line of a benchmark's printed header.
inline void print_machine_header(const char* bench) {
  std::printf("%s on CPU: %s (%u hardware threads)\n", bench, cpu_model().c_str(),
              std::thread::hardware_concurrency());
}

// The last line of every benchmark: one JSON object.
inline void print_result_line(const json& j) { std::printf("%s\n", j.dump().c_str()); }

}  // namespace gpsx::bench
