// gpool-worker-custom: a gpool worker with four functions of its own beside the builtins.
//
//   triple   element-wise, int64 -> int64: 3x. The registry runs the loop and the reductions.
//   is_odd   chunk-wise, int64 -> int64: 1 for odd x, else 0. Over a range in ResultMode::kSum
//            its count, sum, min and max have closed forms, so a chunk of 10^12 elements costs
//            nothing; values and lists fall back to the element-wise loop.
//   celsius  element-wise, double -> double: degrees Fahrenheit to Celsius. Integers come in
//            as doubles; the registry sums the results exactly (correctly rounded).
//   crc32    element-wise, bytes -> int64: the CRC-32 of zlib and PNG. Strings come in as
//            their UTF-8 bytes.
//
// It takes gpool-worker's flags, registers with the coordinator advertising all its
// functions with their types, and is sent only chunks of functions it has; see README.md.
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

double Celsius(double fahrenheit) { return (fahrenheit - 32) * 5 / 9; }

// Bit by bit (reflected polynomial 0xEDB88320): slow beside a table, but short, and an
// example. crc32("123456789") is 0xCBF43926.
int64_t Crc32(absl::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace

int main(int argc, char** argv) {
  gpool::FunctionRegistry registry = gpool::FunctionRegistry::WithBuiltins();
  // The names are new, so registering cannot fail; a clash would be ALREADY_EXISTS.
  (void)registry.Register("triple", Triple);
  (void)registry.RegisterChunkwise("is_odd", IsOddChunk);
  // The C++ types declare double -> double; a string_view argument would mean a string, so
  // crc32 names its types to take bytes.
  (void)registry.Register("celsius", Celsius);
  (void)registry.Register("crc32", Crc32, gpool::ElementType::kBytes, gpool::ElementType::kInt64);
  return gpool::RunWorkerMain(argc, argv, std::move(registry));
}
