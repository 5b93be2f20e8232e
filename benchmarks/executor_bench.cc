// Executor overheads: a batched random walk through gpsx::for_each_2d on 1 thread and on
// all threads against a plain serial loop over the same functor (the baseline), the cost
// of dispatching a one-item-per-thread batch, and the cost of an NVTX range without a profiler.
#include <cstdio>
#include <vector>

#include "bench_common.h"
#include "gpsx/host/executor.h"
#include "gpsx/host/nvtx.h"
#include "gpsx/kernels/random_walk.h"

int main() {
  using namespace gpsx;
  const int M = 512, N = 64, T = 100, dim = 3;
  std::vector<double> out(static_cast<std::size_t>(M) * N);
  const RandomWalk<double> walk{1, N, T, dim, 1.0, out.data()};
  const double items = static_cast<double>(M) * N * T;  // walk steps per call

  const double serial = bench::seconds_per_call([&] {
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) walk(m, n);
  });
  const Executor one = cpu_executor(1), all = cpu_executor(0);
  const double t1 = bench::seconds_per_call([&] { for_each_2d(one, M, N, walk); });
  const double tall = bench::seconds_per_call([&] { for_each_2d(all, M, N, walk); });
  // One item per thread: the cost of opening a parallel region over the work itself.
  const double empty =
      bench::seconds_per_call([&] { for_each_2d(all, all.threads, 1, walk); }) -
      bench::seconds_per_call([&] { walk(0, 0); });
  const int ranges = 1000000;
  const double nvtx = bench::seconds_per_call([&] {
                        for (int i = 0; i < ranges; ++i) NvtxRange r("bench");
                      }) / ranges;

  bench::print_machine_header("executor_bench");
  std::printf("random walk %d x %d x %d steps (%d dims)\n", M, N, T, dim);
  std::printf("  serial loop (baseline): %.3g steps/s\n", items / serial);
  std::printf("  for_each_2d, 1 thread:  %.3g steps/s (ratio to baseline %.3f)\n", items / t1,
              serial / t1);
  std::printf("  for_each_2d, %d threads: %.3g steps/s (ratio to baseline %.3f)\n",
              all.threads, items / tall, serial / tall);
  std::printf("  dispatch overhead of a one-item-per-thread batch: %.2f us\n", empty * 1e6);
  std::printf("  NVTX range push+pop without a profiler: %.1f ns\n", nvtx * 1e9);
  bench::print_result_line({{"benchmark", "executor"},
                            {"cpu_model", bench::cpu_model()},
                            {"machine", bench::machine_json()},
                            {"steps_per_s_serial", items / serial},
                            {"steps_per_s_1_thread", items / t1},
                            {"steps_per_s_all_threads", items / tall},
                            {"threads", all.threads},
                            {"ratio_1_thread", serial / t1},
                            {"ratio_all_threads", serial / tall},
                            {"dispatch_overhead_us", empty * 1e6},
                            {"nvtx_range_ns", nvtx * 1e9}});
}
