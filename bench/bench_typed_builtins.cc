// Micro-benchmarks of the typed built-ins' kernels (common/typed_builtins): what one worker
// slot computes per second before any RPC. items_per_second is strings or elements per second.
//
//   build/bin/bench_typed_builtins
//   build/bin/bench_typed_builtins --benchmark_filter=Upper   # W5's function
//   build/bin/bench_typed_builtins --benchmark_filter=Sqrt    # W6's function, per SIMD level
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/typed_builtins.h"

namespace gpool {
namespace {

using typed_builtins_internal::AvailableSimdLevels;
using typed_builtins_internal::SimdLevel;

constexpr int kStrings = 1000;

// kStrings strings of `length` bytes: ASCII letters, digits and spaces (W5's 100-byte strings),
// or Cyrillic (2-byte code points, the table path).
std::vector<std::string> Strings(size_t length, bool cyrillic) {
  std::mt19937 random(7);
  static const char kAscii[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  std::vector<std::string> strings(kStrings);
  for (std::string& s : strings) {
    while (s.size() + (cyrillic ? 2 : 1) <= length) {
      if (cyrillic) {
        const uint32_t cp = 0x410 + random() % 64;  // А..я
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        s.push_back(kAscii[random() % (sizeof(kAscii) - 1)]);
      }
    }
  }
  return strings;
}

void BM_Upper(benchmark::State& state, bool cyrillic) {
  const std::vector<std::string> strings = Strings(state.range(0), cyrillic);
  if (!Upper(strings[0]).ok() || Upper(strings[0])->size() != strings[0].size()) {
    state.SkipWithError("upper changed the length of a string");
    return;
  }
  for (auto _ : state) {
    for (const std::string& s : strings) {
      absl::StatusOr<std::string> upper = Upper(s);
      benchmark::DoNotOptimize(upper);
    }
  }
  state.SetItemsProcessed(state.iterations() * kStrings);
  state.SetBytesProcessed(state.iterations() * kStrings * state.range(0));
}
void BM_Upper_Ascii(benchmark::State& state) { BM_Upper(state, false); }
void BM_Upper_Cyrillic(benchmark::State& state) { BM_Upper(state, true); }
BENCHMARK(BM_Upper_Ascii)->Arg(100)->Arg(10'000);
BENCHMARK(BM_Upper_Cyrillic)->Arg(100);

void BM_Utf8Length(benchmark::State& state, bool cyrillic) {
  const std::vector<std::string> strings = Strings(state.range(0), cyrillic);
  for (auto _ : state) {
    for (const std::string& s : strings) {
      absl::StatusOr<int64_t> length = Utf8Length(s);
      benchmark::DoNotOptimize(length);
    }
  }
  state.SetItemsProcessed(state.iterations() * kStrings);
  state.SetBytesProcessed(state.iterations() * kStrings * state.range(0));
}
void BM_Utf8Length_Ascii(benchmark::State& state) { BM_Utf8Length(state, false); }
void BM_Utf8Length_Cyrillic(benchmark::State& state) { BM_Utf8Length(state, true); }
BENCHMARK(BM_Utf8Length_Ascii)->Arg(100);
BENCHMARK(BM_Utf8Length_Cyrillic)->Arg(100);

// state.range(0) elements from 1, on one SIMD level; main registers each level this CPU has.
void BM_SqrtOfRange(benchmark::State& state, SimdLevel level) {
  const int64_t n = state.range(0);
  std::vector<double> out(n);
  for (auto _ : state) {
    typed_builtins_internal::SqrtOfRange(level, 1, n, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  if (out[n - 1] != std::sqrt(static_cast<double>(n))) state.SkipWithError("wrong sqrt");
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_SqrtOfDoubles(benchmark::State& state, SimdLevel level) {
  const int64_t n = state.range(0);
  std::vector<double> in(n);
  for (int64_t i = 0; i < n; ++i) in[i] = 0.5 * static_cast<double>(i);
  std::vector<double> out(n);
  for (auto _ : state) {
    const size_t negative =
        typed_builtins_internal::SqrtOfDoubles(level, in.data(), in.size(), out.data());
    benchmark::DoNotOptimize(negative);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Sha256(benchmark::State& state) {
  const std::string data(state.range(0), 'x');
  for (auto _ : state) {
    std::string digest = Sha256(data);
    benchmark::DoNotOptimize(digest);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(100)->Arg(1 << 20);

void BM_ToHex(benchmark::State& state) {
  const std::string digest = Sha256("abc");
  for (auto _ : state) {
    std::string hex = ToHex(digest);
    benchmark::DoNotOptimize(hex);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ToHex);

void BM_ShortestDouble(benchmark::State& state) {
  std::vector<double> values(kStrings);
  std::mt19937_64 random(9);
  for (double& x : values) x = std::ldexp(static_cast<double>(random() >> 11), -40);
  for (auto _ : state) {
    for (const double x : values) {
      std::string text = ShortestDouble(x);
      benchmark::DoNotOptimize(text);
    }
  }
  state.SetItemsProcessed(state.iterations() * kStrings);
}
BENCHMARK(BM_ShortestDouble);

// The sqrt kernels once per SIMD level this CPU has: BM_SqrtOfRange/avx/65536.
void RegisterSqrtBenchmarks() {
  for (const SimdLevel level : AvailableSimdLevels()) {
    const std::string name = typed_builtins_internal::SimdLevelName(level);
    benchmark::RegisterBenchmark(("BM_SqrtOfRange/" + name).c_str(), BM_SqrtOfRange, level)
        ->Arg(1 << 16);
    benchmark::RegisterBenchmark(("BM_SqrtOfDoubles/" + name).c_str(), BM_SqrtOfDoubles, level)
        ->Arg(1 << 16);
  }
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  gpool::RegisterSqrtBenchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
