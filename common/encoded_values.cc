#include "common/encoded_values.h"

#include <cstring>
#include <utility>

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
