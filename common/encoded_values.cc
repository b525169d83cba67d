#include "common/encoded_values.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gpool {

// The wire is little-endian; decoding by memcpy is only right on a little-endian host.
#if !defined(ABSL_IS_LITTLE_ENDIAN)
#error "gpool's coordinator relays packed int64 values as raw bytes: little-endian hosts only"
#endif

EncodedValues EncodedValues::Own(std::vector<int64_t> values) {
  EncodedValues encoded;
  if (values.empty()) return encoded;
  auto owner = std::make_shared<std::vector<int64_t>>(std::move(values));
  const char* data = reinterpret_cast<const char*>(owner->data());
  const size_t bytes = owner->size() * sizeof(int64_t);
  encoded.Append(data, bytes, std::move(owner));
  return encoded;
}

EncodedValues EncodedValues::Own(std::vector<double> values) {
  EncodedValues encoded(ElementType::kDouble);
  if (values.empty()) return encoded;
  auto owner = std::make_shared<std::vector<double>>(std::move(values));
  const char* data = reinterpret_cast<const char*>(owner->data());
  const size_t bytes = owner->size() * sizeof(double);
  encoded.Append(data, bytes, std::move(owner));
  return encoded;
}

namespace {

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads the encoded elements of a string or bytes column across the pieces, handing each
// element's bytes (which may span pieces) to on_element(piece_parts) as they come.
class TextReader {
 public:
  explicit TextReader(const std::vector<EncodedValues::Piece>& pieces) : pieces_(pieces) {}

  bool done() {
    SkipEmpty();
    return piece_ == pieces_.size();
  }

  bool ReadVarint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      SkipEmpty();
      if (piece_ == pieces_.size()) return false;
      const uint8_t byte = static_cast<uint8_t>(pieces_[piece_].data[offset_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Appends (or, with out == nullptr, skips) the next `size` bytes.
  bool Take(uint64_t size, std::string* out) {
    while (size > 0) {
      SkipEmpty();
      if (piece_ == pieces_.size()) return false;
      const size_t n = std::min<uint64_t>(size, pieces_[piece_].size - offset_);
      if (out != nullptr) out->append(pieces_[piece_].data + offset_, n);
      offset_ += n;
      size -= n;
    }
    return true;
  }

 private:
  void SkipEmpty() {
    while (piece_ < pieces_.size() && offset_ == pieces_[piece_].size) {
      ++piece_;
      offset_ = 0;
    }
  }
  const std::vector<EncodedValues::Piece>& pieces_;
  size_t piece_ = 0;
  size_t offset_ = 0;
};

// Reads every element of a string or bytes column; `out` (may be null) receives them.
absl::Status ReadTexts(const std::vector<EncodedValues::Piece>& pieces, size_t& count,
                       std::vector<std::string>* out) {
  TextReader reader(pieces);
  count = 0;
  while (!reader.done()) {
    uint64_t tag = 0;
    uint64_t length = 0;
    // Field 1, length-delimited: the only field of Strings and Blobs.
    if (!reader.ReadVarint(tag) || tag != ((1 << 3) | 2) || !reader.ReadVarint(length)) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed string or bytes values at element #", count));
    }
    if (length > kMaxElementBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("value #", count, " takes ", length, " bytes, over the limit of ",
                       kMaxElementBytes, " bytes (1 MiB) per element"));
    }
    std::string* text = nullptr;
    if (out != nullptr) {
      out->emplace_back();
      out->back().reserve(length);
      text = &out->back();
    }
    if (!reader.Take(length, text)) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated string or bytes value #", count));
    }
    ++count;
  }
  return absl::OkStatus();
}

}  // namespace

EncodedValues EncodedValues::Own(Elements values) {
  switch (values.type()) {
    case ElementType::kInt64: {
      EncodedValues encoded = Own(std::move(values.mutable_int64s()));
      return encoded;
    }
    case ElementType::kDouble:
      return Own(std::move(values.mutable_doubles()));
    default:
      break;
  }
  EncodedValues encoded(values.type());
  auto owner = std::make_shared<std::string>();
  owner->reserve(values.ContentBytes() + 4 * values.size());
  for (const std::string& text : values.texts()) {
    owner->push_back(static_cast<char>((1 << 3) | 2));
    AppendVarint(text.size(), *owner);
    owner->append(text);
  }
  encoded.text_count_ = values.size();
  if (!owner->empty()) {
    const char* data = owner->data();
    const size_t size = owner->size();
    encoded.Append(data, size, std::move(owner));
  }
  return encoded;
}

absl::Status EncodedValues::CountTexts() {
  return ReadTexts(pieces_, text_count_, nullptr);
}

void EncodedValues::CopyTo(void* out) const {
  char* at = static_cast<char*>(out);
  for (const Piece& piece : pieces_) {
    std::memcpy(at, piece.data, piece.size);
    at += piece.size;
  }
}

absl::StatusOr<Elements> EncodedValues::ToElements() const {
  Elements elements(type_);
  switch (type_) {
    case ElementType::kInt64:
      elements.mutable_int64s().resize(size());
      CopyTo(elements.mutable_int64s().data());
      return elements;
    case ElementType::kDouble:
      elements.mutable_doubles().resize(size());
      CopyTo(elements.mutable_doubles().data());
      return elements;
    default: {
      size_t count = 0;
      elements.mutable_texts().reserve(text_count_);
      if (absl::Status status = ReadTexts(pieces_, count, &elements.mutable_texts());
          !status.ok()) {
        return status;
      }
      if (type_ == ElementType::kString) {
        if (absl::Status valid = ValidateElements(elements, "the received"); !valid.ok()) {
          return valid;
        }
      }
      return elements;
    }
  }
}

void EncodedValues::Append(const char* data, size_t size, std::shared_ptr<const void> owner) {
  if (size == 0) return;
  pieces_.push_back(Piece{data, size});
  bytes_ += size;
  if (owners_.empty() || owners_.back() != owner) owners_.push_back(std::move(owner));
}

std::vector<int64_t> EncodedValues::ToVector() const {
  std::vector<int64_t> values(size());
  char* out = reinterpret_cast<char*>(values.data());
  for (const Piece& piece : pieces_) {
    std::memcpy(out, piece.data, piece.size);
    out += piece.size;
  }
  return values;
}

std::shared_ptr<const void> EncodedValues::KeepAlive() const {
  if (owners_.size() == 1) return owners_.front();
  return std::make_shared<std::vector<std::shared_ptr<const void>>>(owners_);
}

}  // namespace gpool
