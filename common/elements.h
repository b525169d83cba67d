// Elements of one of the four types gpool maps (int64, double, UTF-8 string, bytes), held as
// one column: a job's input list, a chunk's slice of it, or the values a chunk mapped to.
// Transport-free; rpc/proto_convert.h converts it to and from gpool.v1.Elements.
#ifndef GPOOL_COMMON_ELEMENTS_H_
#define GPOOL_COMMON_ELEMENTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

enum class ElementType { kInt64, kDouble, kString, kBytes };

// The largest string or bytes element, in an input or a result (gpool.v1.Elements).
inline constexpr size_t kMaxElementBytes = size_t{1} << 20;

// "int64", "double", "string", "bytes": the spelling of the CLI's --type and of messages.
const char* ElementTypeName(ElementType type);
// INVALID_ARGUMENT naming the four spellings.
absl::StatusOr<ElementType> ParseElementType(absl::string_view name);
// Whether numbers (int64, double), whose values take 8 bytes each.
bool IsNumeric(ElementType type);

// Whether a function that takes `declared` elements takes `given` ones: the same type, int64
// for double (converted to the nearest double), or string for bytes (its UTF-8 bytes).
bool TakesElements(ElementType declared, ElementType given);

// A function's name and types, as a worker offers it.
struct FunctionSignature {
  std::string name;
  ElementType input_type = ElementType::kInt64;
  ElementType output_type = ElementType::kInt64;

  // "upper(string) -> string".
  std::string Describe() const;
  bool operator==(const FunctionSignature& other) const {
    return name == other.name && input_type == other.input_type &&
           output_type == other.output_type;
  }
  bool operator!=(const FunctionSignature& other) const { return !(*this == other); }
};

// A column of elements of one type. Strings and bytes share their storage (texts()); the
// type says which. Value type; copying copies the elements.
class Elements {
 public:
  // An empty int64 column.
  Elements() = default;
  explicit Elements(ElementType type) : type_(type) {}
  static Elements Int64s(std::vector<int64_t> values);
  static Elements Doubles(std::vector<double> values);
  static Elements Strings(std::vector<std::string> values);
  static Elements Blobs(std::vector<std::string> values);

  ElementType type() const { return type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }

  // The column of the matching type; the others are empty.
  const std::vector<int64_t>& int64s() const { return int64s_; }
  const std::vector<double>& doubles() const { return doubles_; }
  const std::vector<std::string>& texts() const { return texts_; }
  std::vector<int64_t>& mutable_int64s() { return int64s_; }
  std::vector<double>& mutable_doubles() { return doubles_; }
  std::vector<std::string>& mutable_texts() { return texts_; }

  // Elements [first, first + count), of the same type.
  Elements Slice(size_t first, size_t count) const;
  // Appends `other`'s elements; it must be of the same type.
  void Append(const Elements& other);
  void Reserve(size_t count);

  // Bytes of the elements' contents: 8 per number, the lengths of strings and bytes.
  uint64_t ContentBytes() const;
  // The largest string or bytes element (0 for numbers).
  size_t LargestElementBytes() const;

  // Element `index` for a message: "42", "2.5", "\"abc\"" (escaped, cut at 64 bytes),
  // "0x616263" (bytes as hex, cut).
  std::string Show(size_t index) const;

  bool operator==(const Elements& other) const;
  bool operator!=(const Elements& other) const { return !(*this == other); }

 private:
  ElementType type_ = ElementType::kInt64;
  std::vector<int64_t> int64s_;
  std::vector<double> doubles_;
  std::vector<std::string> texts_;
};

// INVALID_ARGUMENT when a string or bytes element is over kMaxElementBytes (naming its
// position and the limit) or a string is not UTF-8. `what` names the elements ("the input").
absl::Status ValidateElements(const Elements& elements, absl::string_view what);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points beyond
// U+10FFFF). On failure, `error_offset` (if not null) is the offset of the first bad byte.
bool IsUtf8(absl::string_view text, size_t* error_offset = nullptr);

// The shortest text that reads back as `value` (Python's repr(): "0.1", "2.0", "1e+16",
// "inf", "nan").
std::string FormatDouble(double value);

}  // namespace gpool

#endif  // GPOOL_COMMON_ELEMENTS_H_
