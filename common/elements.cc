#include "common/elements.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/typed_builtins.h"

namespace gpool {
namespace {

// How much of a string or bytes element a message shows.
constexpr size_t kShownBytes = 64;

}  // namespace

const char* ElementTypeName(ElementType type) {
  switch (type) {
    case ElementType::kInt64:
      return "int64";
    case ElementType::kDouble:
      return "double";
    case ElementType::kString:
      return "string";
    case ElementType::kBytes:
      return "bytes";
  }
  return "unknown";
}

absl::StatusOr<ElementType> ParseElementType(absl::string_view name) {
  for (ElementType type : {ElementType::kInt64, ElementType::kDouble, ElementType::kString,
                           ElementType::kBytes}) {
    if (name == ElementTypeName(type)) return type;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown element type '", name, "'; the types are int64, double, string and bytes"));
}

bool IsNumeric(ElementType type) {
  return type == ElementType::kInt64 || type == ElementType::kDouble;
}

bool TakesElements(ElementType declared, ElementType given) {
  if (declared == given) return true;
  if (declared == ElementType::kDouble) return given == ElementType::kInt64;
  if (declared == ElementType::kBytes) return given == ElementType::kString;
  return false;
}

std::string FunctionSignature::Describe() const {
  return absl::StrCat(name, "(", ElementTypeName(input_type), ") -> ",
                      ElementTypeName(output_type));
}

Elements Elements::Int64s(std::vector<int64_t> values) {
  Elements elements(ElementType::kInt64);
  elements.int64s_ = std::move(values);
  return elements;
}

Elements Elements::Doubles(std::vector<double> values) {
  Elements elements(ElementType::kDouble);
  elements.doubles_ = std::move(values);
  return elements;
}

Elements Elements::Strings(std::vector<std::string> values) {
  Elements elements(ElementType::kString);
  elements.texts_ = std::move(values);
  return elements;
}

Elements Elements::Blobs(std::vector<std::string> values) {
  Elements elements(ElementType::kBytes);
  elements.texts_ = std::move(values);
  return elements;
}

size_t Elements::size() const {
  switch (type_) {
    case ElementType::kInt64:
      return int64s_.size();
    case ElementType::kDouble:
      return doubles_.size();
    default:
      return texts_.size();
  }
}

Elements Elements::Slice(size_t first, size_t count) const {
  Elements slice(type_);
  switch (type_) {
    case ElementType::kInt64:
      slice.int64s_.assign(int64s_.begin() + first, int64s_.begin() + first + count);
      break;
    case ElementType::kDouble:
      slice.doubles_.assign(doubles_.begin() + first, doubles_.begin() + first + count);
      break;
    default:
      slice.texts_.assign(texts_.begin() + first, texts_.begin() + first + count);
      break;
  }
  return slice;
}

void Elements::Append(const Elements& other) {
  int64s_.insert(int64s_.end(), other.int64s_.begin(), other.int64s_.end());
  doubles_.insert(doubles_.end(), other.doubles_.begin(), other.doubles_.end());
  texts_.insert(texts_.end(), other.texts_.begin(), other.texts_.end());
}

void Elements::Reserve(size_t count) {
  switch (type_) {
    case ElementType::kInt64:
      int64s_.reserve(count);
      break;
    case ElementType::kDouble:
      doubles_.reserve(count);
      break;
    default:
      texts_.reserve(count);
      break;
  }
}

uint64_t Elements::ContentBytes() const {
  if (IsNumeric(type_)) return uint64_t{8} * size();
  uint64_t bytes = 0;
  for (const std::string& text : texts_) bytes += text.size();
  return bytes;
}

size_t Elements::LargestElementBytes() const {
  size_t largest = 0;
  for (const std::string& text : texts_) largest = std::max(largest, text.size());
  return largest;
}

std::string Elements::Show(size_t index) const {
  switch (type_) {
    case ElementType::kInt64:
      return absl::StrCat(int64s_[index]);
    case ElementType::kDouble:
      return FormatDouble(doubles_[index]);
    case ElementType::kString: {
      const std::string& text = texts_[index];
      const bool cut = text.size() > kShownBytes;
      return absl::StrCat("\"", absl::CHexEscape(absl::string_view(text).substr(0, kShownBytes)),
                          cut ? "...\"" : "\"");
    }
    case ElementType::kBytes: {
      const std::string& text = texts_[index];
      const bool cut = text.size() > kShownBytes;
      return absl::StrCat("0x", ToHex(absl::string_view(text).substr(0, kShownBytes)),
                          cut ? "..." : "", " (", text.size(), " bytes)");
    }
  }
  return "";
}

bool Elements::operator==(const Elements& other) const {
  if (type_ != other.type_) return false;
  if (type_ == ElementType::kDouble) {
    // Bit patterns: a NaN result equals the same NaN, as values relayed byte for byte do.
    return doubles_.size() == other.doubles_.size() &&
           (doubles_.empty() ||
            std::memcmp(doubles_.data(), other.doubles_.data(), 8 * doubles_.size()) == 0);
  }
  return int64s_ == other.int64s_ && texts_ == other.texts_;
}

absl::Status ValidateElements(const Elements& elements, absl::string_view what) {
  if (IsNumeric(elements.type())) return absl::OkStatus();
  const std::vector<std::string>& texts = elements.texts();
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].size() > kMaxElementBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " element #", i, " takes ", texts[i].size(), " bytes, over the limit of ",
          kMaxElementBytes, " bytes (1 MiB) per element"));
    }
    size_t offset = 0;
    if (elements.type() == ElementType::kString && !IsUtf8(texts[i], &offset)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " element #", i, " is not UTF-8 (byte ", offset,
          "); map it as bytes instead of string"));
    }
  }
  return absl::OkStatus();
}

bool IsUtf8(absl::string_view text, size_t* error_offset) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  auto fail = [&](size_t at) {
    if (error_offset != nullptr) *error_offset = at;
    return false;
  };
  while (i < n) {
    // Eight ASCII bytes at once: the common case.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, bytes + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return fail(i);
    }
    if (i + length > n) return fail(i);
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return fail(i);
      code_point = (code_point << 6) | (bytes[i + k] & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return fail(i);
    }
    i += length;
  }
  return true;
}

std::string FormatDouble(double value) { return ShortestDouble(value); }

}  // namespace gpool
