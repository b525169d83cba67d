// Micro-benchmarks of the worker's compute kernels: what one worker slot can map per second
// before any RPC. items_per_second is elements per second.
//
//   build/bin/bench_kernels                                  # everything
//   build/bin/bench_kernels --benchmark_filter='SquareSum'   # the W4 kernel only
//
// BM_SquareSum_FastPath is the reduce-only map of issue 6's W4 (the builtin square over a
// range in ResultMode::kSum); /threads:2 is the two-slot figure to set beside the peers'
// vectorised two-thread loop. BM_SquareSum_Kernel runs each SIMD level this CPU has, and
// BM_SquareSum_Elementwise the generic one-call-per-element loop, the baseline.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/functions.h"
#include "common/input.h"

namespace gpool {
namespace {

constexpr int64_t kSumElements = 100'000'000;
constexpr int64_t kValueElements = 1'000'000;

const FunctionRegistry& Builtins() {
  static const FunctionRegistry* registry = new FunctionRegistry(FunctionRegistry::WithBuiltins());
  return *registry;
}

// The generic loop: `square` registered element by element.
const FunctionRegistry& Elementwise() {
  static const FunctionRegistry* registry = [] {
    auto* registry = new FunctionRegistry();
    (void)registry->Register("square", Square);
    return registry;
  }();
  return *registry;
}

// Each thread maps its own range of state.range(0) elements starting at state.range(1), so
// two threads are two busy worker slots.
void RunMap(benchmark::State& state, const FunctionRegistry& registry, ResultMode mode) {
  const int64_t length = state.range(0);
  const int64_t start = state.range(1) + state.thread_index() * length;
  const Input input = Input::Range(start, start + length - 1);
  for (auto _ : state) {
    absl::StatusOr<ChunkOutput> output = registry.Run("square", input, mode);
    if (!output.ok()) {
      state.SkipWithError(std::string(output.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(output->sum);
    benchmark::DoNotOptimize(output->values.int64s().data());
  }
  state.SetItemsProcessed(state.iterations() * length);
}

void BM_SquareSum_FastPath(benchmark::State& state) { RunMap(state, Builtins(), ResultMode::kSum); }
// From 1, as the seed job; from -10^8, crossing zero; and near the largest exact input.
BENCHMARK(BM_SquareSum_FastPath)
    ->Args({kSumElements, 1})
    ->Args({kSumElements, -kSumElements})
    ->Args({kSumElements, kMaxSquareInput - 2 * kSumElements})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SquareSum_FastPath)
    ->Args({kSumElements, 1})
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SquareSum_Elementwise(benchmark::State& state) {
  RunMap(state, Elementwise(), ResultMode::kSum);
}
BENCHMARK(BM_SquareSum_Elementwise)
    ->Args({kSumElements, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The kernel a benchmark's argument names, labelled; nullopt (the benchmark reports why) when
// this CPU cannot run it.
std::optional<internal::SquareSumKernel> KernelOf(benchmark::State& state) {
  const auto kernel = static_cast<internal::SquareSumKernel>(state.range(0));
  for (internal::SquareSumKernel available : internal::AvailableSquareSumKernels()) {
    if (available == kernel) {
      state.SetLabel(internal::SquareSumKernelName(kernel));
      return kernel;
    }
  }
  state.SkipWithError("this CPU cannot run the kernel");
  return std::nullopt;
}

void BM_SquareSum_Kernel(benchmark::State& state) {
  const std::optional<internal::SquareSumKernel> kernel = KernelOf(state);
  if (!kernel.has_value()) return;
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::SumOfSquares(1, kSumElements, *kernel));
  }
  state.SetItemsProcessed(state.iterations() * kSumElements);
}
BENCHMARK(BM_SquareSum_Kernel)
    ->Arg(static_cast<int>(internal::SquareSumKernel::kScalar))
    ->Arg(static_cast<int>(internal::SquareSumKernel::kSse2))
    ->Arg(static_cast<int>(internal::SquareSumKernel::kAvx2))
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The values kernels alone, into a buffer that stays allocated (no page faults): what the
// kValues pass costs per element for each SIMD level.
void BM_SquareValues_Kernel(benchmark::State& state) {
  const std::optional<internal::SquareSumKernel> kernel = KernelOf(state);
  if (!kernel.has_value()) return;
  std::vector<int64_t> values(kValueElements);
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::SquareValues(1, kValueElements, *kernel, values.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kValueElements);
}
BENCHMARK(BM_SquareValues_Kernel)
    ->Arg(static_cast<int>(internal::SquareSumKernel::kScalar))
    ->Arg(static_cast<int>(internal::SquareSumKernel::kSse2))
    ->Arg(static_cast<int>(internal::SquareSumKernel::kAvx2))
    ->UseRealTime();

void BM_SquareValues_FastPath(benchmark::State& state) {
  RunMap(state, Builtins(), ResultMode::kValues);
}
BENCHMARK(BM_SquareValues_FastPath)->Args({kValueElements, 1})->UseRealTime();

void BM_SquareValues_Elementwise(benchmark::State& state) {
  RunMap(state, Elementwise(), ResultMode::kValues);
}
BENCHMARK(BM_SquareValues_Elementwise)->Args({kValueElements, 1})->UseRealTime();

}  // namespace
}  // namespace gpool

BENCHMARK_MAIN();
