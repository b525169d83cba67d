// The hand-written decoders of rpc/raw_messages (the coordinator reads workers' RunChunks
// answers with one, the client reads Map streams with the other), from any bytes cut into
// slices at any points: they never crash or read out of bounds, and whenever protobuf's own
// parser accepts the same bytes, theirs agree with it field by field and value by value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "gpool.pb.h"
#include "absl/status/statusor.h"
#include "common/elements.h"
#include "common/encoded_values.h"
#include "rpc/proto_convert.h"
#include "rpc/raw_messages.h"

namespace {

// The first byte picks the slice length, so that values straddle slice boundaries too.
grpc::ByteBuffer InSlices(const uint8_t* data, size_t size, size_t slice_bytes) {
  std::vector<grpc::Slice> slices;
  for (size_t at = 0; at < size; at += slice_bytes) {
    const size_t length = std::min(slice_bytes, size - at);
    slices.emplace_back(data + at, length);
  }
  if (slices.empty()) return grpc::ByteBuffer();
  return grpc::ByteBuffer(slices.data(), slices.size());
}

// Whether the raw decoder's values are protobuf's, element for element and of the same type.
bool SameElements(const gpool::EncodedValues& got, const gpool::v1::Elements& expected) {
  absl::StatusOr<gpool::Elements> decoded = got.ToElements();
  return decoded.ok() && *decoded == gpool::FromProto(expected);
}

void CheckRunChunksResponse(const uint8_t* data, size_t size, const grpc::ByteBuffer& buffer) {
  absl::StatusOr<std::vector<gpool::RawChunkOutcome>> raw =
      gpool::DecodeRunChunksResponse(buffer);
  gpool::v1::RunChunksResponse parsed;
  if (!parsed.ParseFromArray(data, static_cast<int>(size)) || !raw.ok()) return;
  if (static_cast<int>(raw->size()) != parsed.results_size()) std::abort();
  for (int i = 0; i < parsed.results_size(); ++i) {
    const gpool::v1::ChunkOutcome& expected = parsed.results(i);
    const gpool::RawChunkOutcome& got = (*raw)[i];
    if (got.fields.element_count() != expected.element_count() ||
        got.fields.pid() != expected.pid() ||
        !SameElements(got.values, expected.values())) {
      std::abort();
    }
  }
}

void CheckMapResponse(const uint8_t* data, size_t size, const grpc::ByteBuffer& buffer) {
  absl::StatusOr<gpool::RawMapResponse> raw = gpool::DecodeMapResponse(buffer);
  gpool::v1::MapResponse parsed;
  if (!parsed.ParseFromArray(data, static_cast<int>(size)) || !raw.ok()) return;
  if (static_cast<int>(raw->results.size()) != parsed.results_size() ||
      raw->started.has_value() != parsed.has_started() ||
      raw->finished.has_value() != parsed.has_finished()) {
    std::abort();
  }
  for (int i = 0; i < parsed.results_size(); ++i) {
    const gpool::v1::ChunkResult& expected = parsed.results(i);
    const gpool::RawChunkResult& got = raw->results[i];
    if (got.fields.chunk_index() != expected.chunk_index() ||
        !SameElements(got.values, expected.values())) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t slice_bytes = 1 + data[0] % 16;
  ++data;
  --size;
  const grpc::ByteBuffer buffer = InSlices(data, size, slice_bytes);
  CheckRunChunksResponse(data, size, buffer);
  CheckMapResponse(data, size, buffer);
  return 0;
}
