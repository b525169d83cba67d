// The reductions the client offers over a job's mapped values (--reduce), computed exactly
// from what every chunk already carries (partial sum, min, max, element count), so none
// needs the values themselves on the wire. Pure functions, unit-tested.
#ifndef GPOOL_CLIENT_REDUCTION_H_
#define GPOOL_CLIENT_REDUCTION_H_

#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/client.h"

namespace gpool {

enum class Reduction { kSum, kMin, kMax, kCount, kMean };

// "sum", "min", "max", "count" or "mean" -> the reduction. INVALID_ARGUMENT (listing the
// choices) for anything else.
absl::StatusOr<Reduction> ParseReduction(absl::string_view name);

// The flag spelling: "sum", "min", "max", "count", "mean".
std::string ReductionName(Reduction reduction);

// The word in sentences: "sum", "minimum", "maximum", "count", "mean".
std::string ReductionWord(Reduction reduction);

// An exact mean sum / count. The fraction is reduced; when its denominator has no prime
// factor but 2 and 5 the mean is a terminating decimal and `decimal` is exact. Otherwise
// `decimal` is rounded to 6 decimal places (6 significant digits for a mean below 1).
struct ExactMean {
  std::string fraction;  // "77/2", "-8/3", "5" (denominator 1)
  std::string decimal;   // "38.5", "-2.666667", "5"
  bool decimal_is_exact = true;
};

// `count` must be positive (a job has at least one element).
ExactMean ComputeMean(absl::int128 sum, uint64_t count);

// The reduction's value as exact text. Int64 values: an integer, or for the mean its exact
// decimal when it terminates, else the reduced fraction ("8/3"). Double values: the
// correctly rounded sum (math.fsum's), min, max, or the mean statistics.fmean gives, in
// shortest round-trip form. String and bytes values have only a count (ReductionApplies).
std::string ReductionValue(Reduction reduction, const MapSummary& summary);

// Whether `reduction` applies to values of `type`: every one to numbers, only count to
// strings and bytes.
bool ReductionApplies(Reduction reduction, ElementType type);

}  // namespace gpool

#endif  // GPOOL_CLIENT_REDUCTION_H_
