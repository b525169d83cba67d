// Micro-benchmarks of the exact sum of doubles (common/exact_sum): what the fast path
// ExactSum::Add(values, n) and SummarizeDoubles cost per value, beside a plain double sum.
// items_per_second is values per second; ns per value is 1e9 / items_per_second.
//
//   build/bin/bench_exact_sum
//   build/bin/bench_exact_sum --benchmark_filter=Sqrt   # the W6 shape: sum of sqrt(1..N)
//
// Inputs: positive (random mantissa in [1, 2^20)), mixed (random sign, binary exponent in
// [-1000, 1000]: the flush of the exponent bins is at its widest), spread (random sign,
// binary exponent in [-30, 30]), roots (sqrt(1..N): long
// runs of one exponent, the store-forwarding worst case the lanes are for). Arg is the number
// of values: 2^16 stays in L2, 2^22 (32 MiB) streams from memory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/exact_sum.h"

namespace gpool {
namespace {

enum class Input { kPositive, kMixed, kSpread, kRoots };

std::vector<double> MakeValues(Input input, size_t n) {
  std::mt19937_64 random(42);
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) {
    const double mantissa = 1.0 + static_cast<double>(random() >> 12) * 0x1p-52;
    switch (input) {
      case Input::kPositive:
        values[i] = std::ldexp(mantissa, static_cast<int>(random() % 20));
        break;
      case Input::kMixed: {
        const uint64_t r = random();
        const double x = std::ldexp(mantissa, static_cast<int>(r % 2001) - 1000);
        values[i] = (r >> 63) ? -x : x;
        break;
      }
      case Input::kSpread: {
        const uint64_t r = random();
        const double x = std::ldexp(mantissa, static_cast<int>(r % 61) - 30);
        values[i] = (r >> 63) ? -x : x;
        break;
      }
      case Input::kRoots:
        values[i] = std::sqrt(static_cast<double>(i + 1));
        break;
    }
  }
  return values;
}

// Stops the benchmark when the fast path disagrees with Add one value at a time.
bool CheckFastPath(benchmark::State& state, const std::vector<double>& values) {
  ExactSum fast, slow;
  fast.Add(values.data(), values.size());
  for (double x : values) slow.Add(x);
  if (fast != slow) {
    state.SkipWithError("ExactSum::Add(values, n) differs from Add one by one");
    return false;
  }
  return true;
}

void BM_ExactSum_Add(benchmark::State& state, Input input) {
  const std::vector<double> values = MakeValues(input, static_cast<size_t>(state.range(0)));
  if (!CheckFastPath(state, values)) return;
  for (auto _ : state) {
    ExactSum sum;
    sum.Add(values.data(), values.size());
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_ExactSum_Add, positive, Input::kPositive)->Arg(1 << 16)->Arg(1 << 22);
BENCHMARK_CAPTURE(BM_ExactSum_Add, mixed, Input::kMixed)->Arg(1 << 16)->Arg(1 << 22);
BENCHMARK_CAPTURE(BM_ExactSum_Add, spread, Input::kSpread)->Arg(1 << 16)->Arg(1 << 22);
BENCHMARK_CAPTURE(BM_ExactSum_Add, roots, Input::kRoots)->Arg(1 << 16)->Arg(1 << 22);

void BM_SummarizeDoubles(benchmark::State& state, Input input) {
  const std::vector<double> values = MakeValues(input, static_cast<size_t>(state.range(0)));
  if (!CheckFastPath(state, values)) return;
  for (auto _ : state) {
    DoubleStats stats = SummarizeDoubles(values.data(), values.size());
    benchmark::DoNotOptimize(stats);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_SummarizeDoubles, mixed, Input::kMixed)->Arg(1 << 16);
BENCHMARK_CAPTURE(BM_SummarizeDoubles, roots, Input::kRoots)->Arg(1 << 16);

// The baseline: a plain (rounding, order-dependent) sum the compiler may vectorise.
void BM_PlainSum(benchmark::State& state, Input input) {
  const std::vector<double> values = MakeValues(input, static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    double sum[4] = {0, 0, 0, 0};
    for (size_t i = 0; i + 4 <= values.size(); i += 4) {
      for (int l = 0; l < 4; ++l) sum[l] += values[i + l];
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_PlainSum, mixed, Input::kMixed)->Arg(1 << 16);

// W6's shape: sqrt(i) for i in [1, N], computed a block at a time and summed, exactly or
// plainly. The exact one must stay within twice the plain one's time.
constexpr size_t kSqrtBlock = 4096;

void BM_SqrtSum_Exact(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<double> block(kSqrtBlock);
  double rounded = 0;
  for (auto _ : state) {
    ExactSum sum;
    for (int64_t start = 1; start <= n; start += kSqrtBlock) {
      const size_t count = static_cast<size_t>(std::min<int64_t>(kSqrtBlock, n - start + 1));
      for (size_t i = 0; i < count; ++i) block[i] = std::sqrt(static_cast<double>(start + i));
      sum.Add(block.data(), count);
    }
    rounded = sum.Round();
    benchmark::DoNotOptimize(rounded);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SqrtSum_Exact)->Arg(1 << 22);

void BM_SqrtSum_Plain(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    double sum[4] = {0, 0, 0, 0};
    for (int64_t i = 1; i + 3 <= n; i += 4) {
      for (int l = 0; l < 4; ++l) sum[l] += std::sqrt(static_cast<double>(i + l));
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SqrtSum_Plain)->Arg(1 << 22);

}  // namespace
}  // namespace gpool

BENCHMARK_MAIN();
