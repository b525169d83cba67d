#include "common/input.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace gpool {

Input Input::Range(int64_t start, int64_t end) {
  Input input;
  input.is_range_ = true;
  input.start_ = start;
  input.end_ = end;
  return input;
}

Input Input::List(std::vector<int64_t> values) {
  return List(Elements::Int64s(std::move(values)));
}

Input Input::List(Elements elements) {
  Input input;
  input.is_range_ = false;
  input.elements_ = std::move(elements);
  return input;
}

uint64_t Input::size() const {
  if (!is_range_) return elements_.size();
  if (start_ > end_) return 0;
  // Unsigned arithmetic is exact here; the result may exceed kMaxElements for absurd ranges,
  // which ValidateInput rejects.
  return static_cast<uint64_t>(end_) - static_cast<uint64_t>(start_) + 1;
}

int64_t Input::At(uint64_t index) const {
  if (!is_range_) return elements_.int64s()[index];
  return static_cast<int64_t>(static_cast<uint64_t>(start_) + index);
}

Input Input::Slice(uint64_t first, uint64_t count) const {
  if (is_range_) {
    return Range(At(first), At(first + count - 1));
  }
  return List(elements_.Slice(first, count));
}

std::string Input::Describe() const {
  if (is_range_) return absl::StrCat(start_, "..", end_);
  const size_t n = elements_.size();
  return absl::StrCat(n, " ", elements_.type() == ElementType::kInt64 ? "" : ElementTypeName(elements_.type()),
                      elements_.type() == ElementType::kInt64 ? "" : " ", n == 1 ? "value" : "values");
}

std::string Input::DescribeSlice(uint64_t first, uint64_t count) const {
  if (is_range_) return absl::StrCat("elements ", At(first), "..", At(first + count - 1));
  constexpr uint64_t kValuesShown = 3;
  std::string text = absl::StrCat("list positions ", first, "..", first + count - 1, ": ");
  for (uint64_t i = 0; i < std::min(count, kValuesShown); ++i) {
    absl::StrAppend(&text, i == 0 ? "" : ", ", elements_.Show(first + i));
  }
  if (count > kValuesShown) absl::StrAppend(&text, ", ...");
  return text;
}

absl::Status ValidateInput(const Input& input) {
  if (input.is_range()) {
    if (input.range_start() > input.range_end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "empty range ", input.range_start(), "..", input.range_end(),
          ": the start must not exceed the end (ranges are inclusive, e.g. 1..5000)"));
    }
    // size() wraps to 0 for the full 2^64 span; compare the distance instead.
    const uint64_t distance =
        static_cast<uint64_t>(input.range_end()) - static_cast<uint64_t>(input.range_start());
    if (distance >= kMaxElements) {
      return absl::InvalidArgumentError(absl::StrCat(
          "range ", input.range_start(), "..", input.range_end(), " has more than ",
          kMaxElements, " elements; split it into several jobs"));
    }
    return absl::OkStatus();
  }
  if (input.elements().empty()) {
    return absl::InvalidArgumentError("the list of values is empty; give at least one value");
  }
  return ValidateElements(input.elements(), "the input's");
}

absl::StatusOr<int64_t> ParseInt64(absl::string_view text, absl::string_view what) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty; expected an integer"));
  }
  // std::from_chars rejects a leading '+', which users do write.
  absl::string_view digits = trimmed;
  if (digits.front() == '+') digits.remove_prefix(1);
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return absl::OutOfRangeError(absl::StrCat(what, " '", trimmed,
                                              "' does not fit in a signed 64-bit integer"));
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", trimmed, "' is not an integer"));
  }
  return value;
}

absl::StatusOr<Input> ParseRange(absl::string_view text) {
  const size_t dots = text.find("..");
  if (dots == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a range; write an inclusive range as A..B, e.g. 1..5000"));
  }
  absl::string_view start_text = text.substr(0, dots);
  absl::string_view end_text = text.substr(dots + 2);
  auto start = ParseInt64(start_text, "range start");
  auto end = ParseInt64(end_text, "range end");
  if (!start.ok() || !end.ok()) {
    const absl::Status& bad = !start.ok() ? start.status() : end.status();
    return absl::Status(bad.code(),
                        absl::StrCat("bad range '", text, "': ", bad.message(),
                                     " (write an inclusive range as A..B, e.g. 1..5000)"));
  }
  Input input = Input::Range(*start, *end);
  if (absl::Status status = ValidateInput(input); !status.ok()) return status;
  return input;
}

absl::StatusOr<std::vector<int64_t>> ParseValueList(absl::string_view text) {
  std::vector<int64_t> values;
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        "the list of values is empty; give comma-separated integers, e.g. --values 3,-7,12");
  }
  int position = 0;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    ++position;
    auto value = ParseInt64(item, absl::StrCat("value #", position));
    if (!value.ok()) return value.status();
    values.push_back(*value);
  }
  return values;
}

absl::StatusOr<std::vector<double>> ParseDoubleList(absl::string_view text) {
  std::vector<double> values;
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        "the list of values is empty; give comma-separated numbers, e.g. --values 2.5,-1,9");
  }
  int position = 0;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    ++position;
    double value = 0;
    absl::string_view trimmed = absl::StripAsciiWhitespace(item);
    if (!absl::SimpleAtod(trimmed, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value #", position, " '", trimmed, "' is not a number"));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<std::vector<int64_t>> ParseValueLines(std::istream& in, absl::string_view source) {
  std::vector<int64_t> values;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto value = ParseInt64(line, absl::StrCat(source, " line ", line_number));
    if (!value.ok()) return value.status();
    values.push_back(*value);
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("error while reading ", source));
  }
  if (values.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " holds no values; expected one integer per line"));
  }
  return values;
}

}  // namespace gpool
