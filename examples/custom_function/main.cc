// gpool-worker-custom: a gpool worker with two functions of its own beside the builtins.
//
//   triple  element-wise: 3x. The registry runs the loop and the reductions.
//   is_odd  chunk-wise: 1 for odd x, else 0. Over a range in ResultMode::kSum its count, sum,
//           min and max have closed forms, so a chunk of 10^12 elements costs nothing;
//           values and lists fall back to the element-wise loop.
//
// It takes gpool-worker's flags, registers with the coordinator advertising all five
// functions, and is sent only chunks of functions it has; see README.md.
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/functions.h"
#include "common/input.h"
#include "worker/worker_main.h"

namespace {

// Exact or OUT_OF_RANGE naming the input: never a wrapped value.
absl::StatusOr<int64_t> Triple(int64_t x) {
  if (x > INT64_MAX / 3 || x < INT64_MIN / 3) {
    return absl::OutOfRangeError(absl::StrCat(
        "triple(", x,
        ") does not fit in a signed 64-bit integer; inputs must satisfy |x| <= ", INT64_MAX / 3));
  }
  return 3 * x;
}

// Two's complement: the lowest bit is set for negative odd numbers too.
absl::StatusOr<int64_t> IsOdd(int64_t x) { return x & 1; }

absl::StatusOr<gpool::ChunkOutput> IsOddChunk(const gpool::Input& input, gpool::ResultMode mode,
                                              const gpool::CancelledFn& cancelled) {
  // The values must be listed one by one anyway; the generic loop polls `cancelled`.
  if (!input.is_range() || mode == gpool::ResultMode::kValues) {
    return gpool::MapElements(IsOdd, input, mode, cancelled);
  }
  // O(1): nothing to cancel. A range of n elements starting at an odd number holds
  // ceil(n / 2) odd numbers, otherwise floor(n / 2).
  const uint64_t n = input.size();
  const bool starts_odd = (input.range_start() & 1) != 0;
  gpool::ChunkOutput output;
  output.count = n;
  const uint64_t odd = starts_odd ? n - n / 2 : n / 2;
  output.sum = odd;
  output.min = odd == n ? 1 : 0;
  output.max = odd == 0 ? 0 : 1;
  return output;
}

}  // namespace

int main(int argc, char** argv) {
  gpool::FunctionRegistry registry = gpool::FunctionRegistry::WithBuiltins();
  // The names are new, so registering cannot fail; a clash would be ALREADY_EXISTS.
  (void)registry.Register("triple", Triple);
  (void)registry.RegisterChunkwise("is_odd", IsOddChunk);
  return gpool::RunWorkerMain(argc, argv, std::move(registry));
}
