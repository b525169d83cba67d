// The built-in functions of the types beyond int64: sqrt (double -> double), length (string ->
// int64), upper (string -> string) and sha256 (bytes -> bytes). Their kernels are in
// common/typed_builtins.h; this file gives them their signatures and chunk loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/elements.h"
#include "common/functions.h"
#include "common/typed_builtins.h"

namespace gpool {
namespace {

// Square roots are computed and summed in blocks of this many: small enough to stay in the
// L1 cache between the vectorised sqrt pass and the exact sum, large enough to amortise the
// calls; the cancellation callback is polled every kSqrtPollBlocks blocks.
constexpr uint64_t kSqrtBlock = 2048;
constexpr uint64_t kSqrtPollBlocks = 512;

absl::Status NegativeSqrt(double x) {
  return absl::InvalidArgumentError(
      absl::StrCat("sqrt(", FormatDouble(x), ") is not a real number: inputs must be >= 0"));
}

// sqrt over a chunk: the roots of a block at once (vectorised), then their exact sum, min
// and max. Over a range of integers (taken as doubles) the first negative input is the
// range's start.
absl::StatusOr<ChunkOutput> SqrtChunk(const Input& input, ResultMode mode,
                                      const CancelledFn& cancelled) {
  ChunkOutput output;
  output.count = input.size();
  output.doubles.count = output.count;
  output.values = Elements(ElementType::kDouble);
  if (input.is_range() && input.range_start() < 0) {
    return NegativeSqrt(static_cast<double>(input.range_start()));
  }
  const bool keep = mode == ResultMode::kValues;
  std::vector<double>& values = output.values.mutable_doubles();
  if (keep) values.resize(output.count);
  std::vector<double> block(keep ? 0 : kSqrtBlock);
  const double* list = input.is_range() ? nullptr : input.elements().doubles().data();
  for (uint64_t first = 0, blocks = 0; first < output.count; first += kSqrtBlock, ++blocks) {
    if (cancelled && blocks % kSqrtPollBlocks == kSqrtPollBlocks - 1 && cancelled()) {
      return internal::CancelledChunk();
    }
    const uint64_t n = std::min(kSqrtBlock, output.count - first);
    double* out = keep ? values.data() + first : block.data();
    if (list == nullptr) {
      const int64_t start = static_cast<int64_t>(static_cast<uint64_t>(input.range_start()) + first);
      SqrtOfRange(start, start + static_cast<int64_t>(n) - 1, out);
    } else if (const size_t bad = SqrtOfDoubles(list + first, n, out); bad < n) {
      return NegativeSqrt(list[first + bad]);
    }
    output.doubles.sum.Add(out, n);
    if (list == nullptr) continue;  // a range's extremes are its ends' roots (below)
    for (uint64_t i = 0; i < n; ++i) {
      output.doubles.min = std::min(output.doubles.min, out[i]);
      output.doubles.max = std::max(output.doubles.max, out[i]);
    }
  }
  if (list == nullptr) {
    // sqrt rises with x, and each root is correctly rounded, so the ends' are the extremes.
    output.doubles.min = std::sqrt(static_cast<double>(input.range_start()));
    output.doubles.max = std::sqrt(static_cast<double>(input.range_end()));
  }
  return output;
}

absl::StatusOr<int64_t> Length(absl::string_view text) {
  absl::StatusOr<int64_t> length = Utf8Length(text);
  if (!length.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("length: ", length.status().message()));
  }
  return length;
}

}  // namespace

void RegisterTypedBuiltins(FunctionRegistry& registry) {
  // The names are distinct literals, so registration cannot fail.
  (void)registry.RegisterChunkwise({"sqrt", ElementType::kDouble, ElementType::kDouble},
                                   SqrtChunk);
  (void)registry.Register("length", Length);
  (void)registry.Register("upper", Upper);
  (void)registry.Register(
      "sha256", [](absl::string_view data) { return Sha256(data); }, ElementType::kBytes,
      ElementType::kBytes);
}

}  // namespace gpool
