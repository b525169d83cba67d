// The elements a job maps over: an inclusive integer range (travels as two bounds) or an
// explicit list of any element type (common/elements.h). Also the parsers for the CLI's
// spellings of them.
#ifndef GPOOL_COMMON_INPUT_H_
#define GPOOL_COMMON_INPUT_H_

#include <cstdint>
#include <istream>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/elements.h"

namespace gpool {

// The largest number of elements one job may have; element positions travel as int64.
inline constexpr uint64_t kMaxElements = static_cast<uint64_t>(INT64_MAX);

// Value type; copying a list input copies the list.
class Input {
 public:
  // The range start, start+1, ..., end. Call ValidateInput before trusting it.
  static Input Range(int64_t start, int64_t end);
  static Input List(std::vector<int64_t> values);
  static Input List(Elements elements);

  bool is_range() const { return is_range_; }
  int64_t range_start() const { return start_; }
  int64_t range_end() const { return end_; }
  // The type of the elements: int64 for a range.
  ElementType type() const { return is_range_ ? ElementType::kInt64 : elements_.type(); }
  // A list's elements.
  const Elements& elements() const { return elements_; }
  // An int64 list's values (empty for other types).
  const std::vector<int64_t>& list() const { return elements_.int64s(); }

  // Number of elements. For an invalid range (start > end) this is 0.
  uint64_t size() const;
  // The int64 element at position `index` (< size()) of a range or an int64 list.
  int64_t At(uint64_t index) const;
  // Elements [first, first + count) as an input of the same kind.
  Input Slice(uint64_t first, uint64_t count) const;

  // "1..5000" or "3 values".
  std::string Describe() const;
  // Elements [first, first + count) (count >= 1) for a message: for a range, the values they
  // are ("elements 11..20"); for a list, their positions and the first few values ("list
  // positions 10..19: 9, -4, 7, ..."), since a list's values need not be in order.
  std::string DescribeSlice(uint64_t first, uint64_t count) const;

 private:
  Input() = default;
  bool is_range_ = true;
  int64_t start_ = 0;
  int64_t end_ = -1;
  Elements elements_;
};

// INVALID_ARGUMENT when the range is reversed or longer than kMaxElements, the list is
// empty, or one of its elements is not valid (ValidateElements).
absl::Status ValidateInput(const Input& input);

// Parses a decimal int64. `what` names the text in the error message.
// INVALID_ARGUMENT when it is not an integer, OUT_OF_RANGE when it does not fit.
absl::StatusOr<int64_t> ParseInt64(absl::string_view text, absl::string_view what);

// Parses an inclusive range "A..B" (either bound may be negative) and validates it.
absl::StatusOr<Input> ParseRange(absl::string_view text);

// Parses "3,-7,12". Spaces around values are allowed; empty items are not.
absl::StatusOr<std::vector<int64_t>> ParseValueList(absl::string_view text);
// Parses "2.5,-1e3,4" as doubles ("inf", "nan" too).
absl::StatusOr<std::vector<double>> ParseDoubleList(absl::string_view text);

// Reads one integer per line; blank lines are skipped. `source` names the stream in errors
// (e.g. the file name), which also cite the line number.
absl::StatusOr<std::vector<int64_t>> ParseValueLines(std::istream& in, absl::string_view source);

}  // namespace gpool

#endif  // GPOOL_COMMON_INPUT_H_
