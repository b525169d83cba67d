// The exact sum of doubles, mergeable in any order, rounded once at the end the way Python's
// math.fsum rounds (to nearest, ties to even). A chunk's partial sum travels as
// DoubleSummary.exact_sum / nonfinite_sum (proto/gpool.proto); summing partial sums in any
// grouping and order gives the same bits, so a job's sum does not depend on how it was
// chunked or which worker answered first. Transport-free.
//
// Where this differs from math.fsum (python3 3.11 on the build machine):
//  - An exact sum beyond DBL_MAX (after rounding) is +-inf; fsum raises OverflowError, and it
//    also raises when an intermediate partial sum overflows even if the total would not
//    (fsum([1e308, 1e308, -1e308]) raises; Round() gives 1e308).
//  - inf + -inf is NaN here (IEEE); fsum raises ValueError.
//  - A zero sum is +0.0, as fsum gives for [] and for [-0.0].
#ifndef GPOOL_COMMON_EXACT_SUM_H_
#define GPOOL_COMMON_EXACT_SUM_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

struct DoubleStats;

class ExactSum {
 public:
  // The most bytes an exact_sum field may have: 2^63 doubles of at most DBL_MAX need 271.
  static constexpr size_t kMaxBytes = 280;

  // A finite x joins the exact sum; +-inf and NaN join nonfinite_sum (IEEE addition).
  void Add(double x);
  // The same as n calls of Add(x), at about a nanosecond per value.
  void Add(const double* values, size_t n);
  // Adds `other`'s values to these, exactly.
  void Merge(const ExactSum& other);

  // nonfinite_sum() when it is not 0 (NaN included); otherwise the exact sum correctly
  // rounded to a double (ties to even), +-inf beyond DBL_MAX, +0.0 for 0.
  double Round() const;

  // The DoubleSummary.exact_sum field: sum x 2^1074 as a signed little-endian two's
  // complement integer of minimal length (empty for 0). At most kMaxBytes for the sum of up
  // to 2^63 doubles.
  std::string ExactBytes() const;
  double nonfinite_sum() const { return nonfinite_sum_; }

  // The inverse of ExactBytes() and nonfinite_sum(). INVALID_ARGUMENT when the bytes are
  // longer than kMaxBytes or nonfinite_sum is finite and not 0.
  static absl::StatusOr<ExactSum> FromParts(absl::string_view exact_sum_bytes,
                                            double nonfinite_sum);

  // Equal exact sums, and nonfinite sums with the same bits or both NaN.
  friend bool operator==(const ExactSum& a, const ExactSum& b);
  friend bool operator!=(const ExactSum& a, const ExactSum& b) { return !(a == b); }

 private:
  friend DoubleStats SummarizeDoubles(const double* values, size_t n);

  // The exact sum x 2^1074 is sum(digits_[i] x 2^(32 i)). Digits may run past 32 bits (carry
  // save: adding never propagates a carry); Normalize() brings digits 0..68 into [0, 2^32)
  // and leaves the sign in digit 69. 70 digits are the 2240 bits of kMaxBytes.
  static constexpr int kDigits = 70;
  // Each pending addition adds less than 2^32 in magnitude to a digit: normalise before
  // digits could reach 2^62, so that merging two accumulators cannot overflow either.
  static constexpr uint32_t kMaxPending = uint32_t{1} << 29;

  void Normalize();
  void NotePending(uint32_t additions);
  template <bool kStats>
  void AddValues(const double* values, size_t n, double* min, double* max);

  // Allocated at the first finite value, so that a sum never used (an int64 job's result
  // carries one) costs neither the memory nor the zeroing: empty means 0.
  std::vector<int64_t> digits_;
  // The digits, allocated (zero) when still empty: for writing.
  int64_t* Digits();
  uint32_t pending_ = 0;
  double nonfinite_sum_ = 0;
};

// A chunk's doubles at a glance: count, exact sum, smallest and largest that is not NaN
// (+inf and -inf when there is none).
struct DoubleStats {
  uint64_t count = 0;
  ExactSum sum;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Merge(const DoubleStats& other);
};

// One pass over the values, at about the cost of ExactSum::Add(values, n).
DoubleStats SummarizeDoubles(const double* values, size_t n);

}  // namespace gpool

#endif  // GPOOL_COMMON_EXACT_SUM_H_
