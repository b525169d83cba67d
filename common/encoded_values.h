// Mapped values as they travel, held as pieces of the buffers they arrived in: the contents
// of one typed column of gpool.v1.Elements. Numbers (int64, double) are packed little-endian
// 8-byte values (protobuf's packed sfixed64 and double); strings and bytes are their
// repeated field as encoded (tag 1, length, bytes; for each element). Transport-free.
#ifndef GPOOL_COMMON_ENCODED_VALUES_H_
#define GPOOL_COMMON_ENCODED_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <string>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/elements.h"

namespace gpool {

// The coordinator only relays values: it reads them once, to check them against what their
// worker reported (common/value_stats.h), but never copies them. Keeping them as the received
// bytes, by reference, lets a worker's response become the client's stream message without
// being parsed, copied or re-encoded: both user-space copies of every value (protobuf
// parsing, then serialisation) were over a third of the coordinator's CPU in W2.
//
// Copyable and movable; copies share the pieces (they are immutable).
class EncodedValues {
 public:
  struct Piece {
    const char* data = nullptr;
    size_t size = 0;  // bytes
  };

  EncodedValues() = default;

  explicit EncodedValues(ElementType type) : type_(type) {}

  // Values held in `values` itself, which they keep (moved, not copied).
  static EncodedValues Own(std::vector<int64_t> values);
  static EncodedValues Own(std::vector<double> values);
  // Any column: numbers are kept as they are (moved); strings and bytes are encoded (copied).
  static EncodedValues Own(Elements values);

  ElementType type() const { return type_; }
  void set_type(ElementType type) { type_ = type; }

  // Appends `size` bytes at `data`, which `owner` keeps alive. For numbers, the bytes of all
  // pieces together must be whole 8-byte values, in order. For strings and bytes, call
  // CountTexts once every piece is appended.
  void Append(const char* data, size_t size, std::shared_ptr<const void> owner);

  // Strings and bytes: reads the encoded elements to count them, checking that they are
  // well-formed and each at most kMaxElementBytes. INVALID_ARGUMENT (naming what is wrong)
  // otherwise. Does not check UTF-8 (the reader's protobuf parser does).
  absl::Status CountTexts();

  // Number of values.
  size_t size() const { return IsNumeric(type_) ? bytes_ / sizeof(int64_t) : text_count_; }
  size_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  const std::vector<Piece>& pieces() const { return pieces_; }

  // Decodes every value (tests and diagnostics; the coordinator never needs to).
  std::vector<int64_t> ToVector() const;
  // Copies the values of a numeric column, as 8-byte words, to out[0 .. size()).
  void CopyTo(void* out) const;
  // Decodes every value, of any type. INVALID_ARGUMENT for malformed strings or bytes.
  absl::StatusOr<Elements> ToElements() const;

  // Keeps the buffers of the pieces alive for as long as the returned pointer lives; the
  // transport hands it to whoever sends the pieces without copying them.
  std::shared_ptr<const void> KeepAlive() const;

 private:
  ElementType type_ = ElementType::kInt64;
  std::vector<Piece> pieces_;
  std::vector<std::shared_ptr<const void>> owners_;
  size_t bytes_ = 0;
  size_t text_count_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_COMMON_ENCODED_VALUES_H_
