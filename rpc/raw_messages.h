// Messages handled as bytes instead of through protobuf, where they carry many values:
// the coordinator relays the values of RunChunks responses into Map stream messages without
// copying them (see EncodedValues for why), and the client places the values of Map stream
// messages straight where they belong. Protobuf's own parser would copy each value once, or
// more: a large packed field grows its RepeatedField step by step as it is parsed.
#ifndef GPOOL_RPC_RAW_MESSAGES_H_
#define GPOOL_RPC_RAW_MESSAGES_H_

#include <string>
#include <optional>
#include <vector>

#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "common/encoded_values.h"
#include "gpool.pb.h"

namespace gpool {

// A gRPC message kept as its serialized bytes. gRPC reads and writes it through the
// SerializationTraits below, so a call typed with it neither parses nor serialises.
struct RawMessage {
  grpc::ByteBuffer bytes;
};

// One ChunkOutcome of a RunChunksResponse: everything but the values parsed, the values left
// as the received bytes.
struct RawChunkOutcome {
  v1::ChunkOutcome fields;  // values empty
  EncodedValues values;
};

// Decodes a serialized RunChunksResponse without reading its values. The values share the
// buffer's memory. INTERNAL when the bytes are not a RunChunksResponse.
absl::StatusOr<std::vector<RawChunkOutcome>> DecodeRunChunksResponse(
    const grpc::ByteBuffer& bytes);

// A RunChunksResponse of `outcomes`, each with its `values` as its values field (referenced,
// not copied): what a worker sends.
RawMessage EncodeRunChunksResponse(const std::vector<RawChunkOutcome>& outcomes);

// One ChunkResult of a Map stream: every field but values parsed, the values apart.
struct RawChunkResult {
  v1::ChunkResult fields;  // values empty
  EncodedValues values;
};

// A MapResponse with `started` (may be null), `results` and `finished` (may be null). The
// values are referenced, not copied: the message keeps their buffers alive until gRPC has
// sent it.
RawMessage EncodeMapResponse(const v1::JobStarted* started,
                             const std::vector<RawChunkResult>& results,
                             const v1::JobFinished* finished);

// A MapResponse as read by DecodeMapResponse: the chunk results with their values as bytes,
// the job's start and end parsed as usual. A reader takes them in this order: started,
// results, finished.
struct RawMapResponse {
  std::optional<v1::JobStarted> started;
  std::vector<RawChunkResult> results;
  std::optional<v1::JobFinished> finished;
};

// INTERNAL when the bytes are not a MapResponse. The values share the buffer's memory.
absl::StatusOr<RawMapResponse> DecodeMapResponse(const grpc::ByteBuffer& bytes);

}  // namespace gpool

namespace grpc {

template <>
class SerializationTraits<gpool::RawMessage, void> {
 public:
  static Status Serialize(const gpool::RawMessage& message, ByteBuffer* buffer, bool* own_buffer) {
    *buffer = message.bytes;  // references the slices, no copy
    *own_buffer = true;
    return Status::OK;
  }
  static Status Deserialize(ByteBuffer* buffer, gpool::RawMessage* message) {
    message->bytes.Swap(buffer);
    buffer->Clear();
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // GPOOL_RPC_RAW_MESSAGES_H_
