// What a chunk's values add up to (count, exact sum, smallest, largest), computed from the
// values themselves. A worker reports these for every chunk; the coordinator and the client
// recompute them from the values they receive and refuse a chunk whose report does not match,
// so that a worker that garbles its values cannot go unseen. Transport-free.
#ifndef GPOOL_COMMON_VALUE_STATS_H_
#define GPOOL_COMMON_VALUE_STATS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"
#include "common/elements.h"
#include "common/encoded_values.h"
#include "common/exact_sum.h"

namespace gpool {

// Which reductions a chunk's result carries: those of int64 values (ValueStats' sum, min,
// max), of double values (DoubleStats), or none (string and bytes values).
enum class SummaryKind { kNone, kInt64, kDouble };

// The summary that results of `type` carry.
inline SummaryKind SummaryKindOf(ElementType type) {
  return type == ElementType::kInt64    ? SummaryKind::kInt64
         : type == ElementType::kDouble ? SummaryKind::kDouble
                                        : SummaryKind::kNone;
}

struct ValueStats {
  uint64_t count = 0;
  absl::int128 sum = 0;
  // Of no values: INT64_MAX and INT64_MIN, so that merging finds the others'.
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;

  // Adds `other`'s values to these.
  void Merge(const ValueStats& other);
};

// One pass over the values; vectorised (AVX2 where the CPU has it), so it costs little more
// than reading them.
ValueStats Summarize(const int64_t* values, size_t n);
// The same, while copying the values to `out` (which must not overlap them).
ValueStats CopyAndSummarize(const int64_t* values, size_t n, int64_t* out);
// The same over values kept as received (pieces need not end at a value's boundary).
ValueStats Summarize(const EncodedValues& values);

// Empty when `values` (computed from a chunk's values) agree with what a worker reported for
// them; otherwise what differs, in words, e.g. "its 10 values sum to 385, not 384".
std::string Disagreement(const ValueStats& values, uint64_t count, absl::int128 sum,
                         int64_t min, int64_t max);

// The same for double values (a numeric column of type double): count, exact sum, smallest
// and largest (NaN left out of both).
DoubleStats SummarizeDoubles(const EncodedValues& values);

// Empty when double values agree with the count and summary a worker reported for them;
// otherwise what differs, in words.
std::string Disagreement(const DoubleStats& values, uint64_t count, const DoubleStats& reported);

}  // namespace gpool

#endif  // GPOOL_COMMON_VALUE_STATS_H_
