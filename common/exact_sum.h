// PLACEHOLDER (the exactsum branch replaces this file): an exact, mergeable sum of doubles.
#ifndef GPOOL_COMMON_EXACT_SUM_H_
#define GPOOL_COMMON_EXACT_SUM_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

class ExactSum {
 public:
  void Add(double x);
  void Add(const double* values, size_t n) {
    for (size_t i = 0; i < n; ++i) Add(values[i]);
  }
  void Merge(const ExactSum& other);
  double Round() const;
  std::string ExactBytes() const;
  double nonfinite_sum() const { return nonfinite_; }
  static absl::StatusOr<ExactSum> FromParts(absl::string_view exact_sum_bytes,
                                            double nonfinite_sum);
  bool operator==(const ExactSum& other) const;
  bool operator!=(const ExactSum& other) const { return !(*this == other); }

 private:
  static constexpr int kLimbs = 34;
  void AddShifted(uint64_t mantissa, int shift, bool negative);
  uint64_t limbs_[kLimbs] = {};
  double nonfinite_ = 0;
};

struct DoubleStats {
  uint64_t count = 0;
  ExactSum sum;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void Merge(const DoubleStats& other);
};

DoubleStats SummarizeDoubles(const double* values, size_t n);

}  // namespace gpool

#endif  // GPOOL_COMMON_EXACT_SUM_H_
