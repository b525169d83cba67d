// Mapped values as they travel: packed little-endian int64 (protobuf's packed sfixed64), held
// as pieces of the buffers they arrived in. Transport-free.
#ifndef GPOOL_COMMON_ENCODED_VALUES_H_
#define GPOOL_COMMON_ENCODED_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/config.h"

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

  // Values held in `values` itself, which they keep (moved, not copied).
  static EncodedValues Own(std::vector<int64_t> values);

  // Appends `size` bytes at `data`, which `owner` keeps alive. The bytes of all pieces
  // together must be whole int64 values, in order.
  void Append(const char* data, size_t size, std::shared_ptr<const void> owner);

  // Number of values (the bytes of all pieces / 8).
  size_t size() const { return bytes_ / sizeof(int64_t); }
  size_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  const std::vector<Piece>& pieces() const { return pieces_; }

  // Decodes every value (tests and diagnostics; the coordinator never needs to).
  std::vector<int64_t> ToVector() const;

  // Keeps the buffers of the pieces alive for as long as the returned pointer lives; the
  // transport hands it to whoever sends the pieces without copying them.
  std::shared_ptr<const void> KeepAlive() const;

 private:
  std::vector<Piece> pieces_;
  std::vector<std::shared_ptr<const void>> owners_;
  size_t bytes_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_COMMON_ENCODED_VALUES_H_
