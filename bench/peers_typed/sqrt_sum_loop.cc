// W6's peer: the sum of sqrt(i) over i in 1..N as doubles, on T threads (each a contiguous
// share of the range), the loop vectorised by the compiler (built with -O3
// -fno-math-errno -march=native: sqrt then compiles to vsqrtpd). Plain double accumulation in
// kLanes independent lanes (that is what lets it vectorise without -ffast-math), so its sum
// differs from the correctly rounded one in the last bits; it is printed for comparison.
// Prints one JSON line like bench/compare.sh's (median of the timed repetitions).
//
//   sqrt_sum_loop N [THREADS=2] [REPS=5]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kLanes = 8;

// sum of sqrt(x) for x in [first, last), integers held exactly as doubles (N < 2^53).
double SqrtSum(int64_t first, int64_t last) {
  double lanes[kLanes] = {};
  double base = static_cast<double>(first);
  int64_t i = first;
  for (; i + kLanes <= last; i += kLanes, base += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += std::sqrt(base + j);
  }
  double sum = 0;
  for (; i < last; ++i) sum += std::sqrt(static_cast<double>(i));
  for (double lane : lanes) sum += lane;
  return sum;
}

double ParallelSqrtSum(int64_t n, int threads) {
  std::vector<double> partial(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const int64_t first = 1 + n * t / threads;
    const int64_t last = 1 + n * (t + 1) / threads;
    pool.emplace_back([&partial, t, first, last] { partial[t] = SqrtSum(first, last); });
  }
  for (std::thread& thread : pool) thread.join();
  double sum = 0;
  for (double p : partial) sum += p;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sqrt_sum_loop N [THREADS=2] [REPS=5]\n");
    return 2;
  }
  const int64_t n = static_cast<int64_t>(std::atof(argv[1]));
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  if (n < 1 || n >= (int64_t{1} << 53) || threads < 1 || reps < 1) {
    std::fprintf(stderr, "sqrt_sum_loop: need 1 <= N < 2^53, THREADS >= 1, REPS >= 1\n");
    return 2;
  }
  (void)ParallelSqrtSum(n, threads);  // untimed: threads, pages and clocks warm
  std::vector<double> times;
  double sum = 0;
  for (int rep = 0; rep < reps; ++rep) {
    const auto started = std::chrono::steady_clock::now();
    sum = ParallelSqrtSum(n, threads);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                        .count());
    std::fprintf(stderr, "w6 loop rep %d: %.6f s\n", rep, times.back());
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = reps % 2 ? sorted[reps / 2]
                                 : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
  std::printf(
      "{\"system\": \"loop\", \"workload\": \"w6_sqrt_sum\", \"elements\": %lld, "
      "\"threads\": %d, \"reps\": %d, \"median_s\": %.9g, \"min_s\": %.9g, \"max_s\": %.9g, "
      "\"rate_per_s\": %.9g, \"sum\": %.17g}\n",
      static_cast<long long>(n), threads, reps, median, sorted.front(), sorted.back(),
      static_cast<double>(n) / median, sum);
  return 0;
}
