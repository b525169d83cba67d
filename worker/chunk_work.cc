#include "worker/chunk_work.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/chunking.h"
#include "rpc/proto_convert.h"

namespace gpool {

absl::StatusOr<ChunkWork> ChunkWorkOf(const v1::RunChunksRequest& request, int max_chunks) {
  if (request.chunks_size() < 1 || request.chunks_size() > max_chunks) {
    return absl::FailedPreconditionError(
        absl::StrCat("a RunChunks call must carry 1 to ", max_chunks,
                     " chunks (this worker's max_chunks_per_call), got ", request.chunks_size()));
  }
  if (!v1::ResultMode_IsValid(request.result_mode())) {
    return absl::InvalidArgumentError(absl::StrCat("RunChunksRequest.result_mode is ",
                                                   static_cast<int>(request.result_mode()),
                                                   ", which is not a ResultMode"));
  }
  ChunkWork work;
  work.function = request.function();
  work.mode = FromProto(request.result_mode());
  work.inputs.reserve(request.chunks_size());
  work.first_elements.reserve(request.chunks_size());
  for (const v1::ChunkTask& chunk : request.chunks()) {
    absl::StatusOr<Input> input = FromProto(chunk.input());
    if (input.ok()) {
      if (absl::Status invalid = ValidateInput(*input); !invalid.ok()) input = invalid;
    }
    if (!input.ok()) {
      return absl::Status(input.status().code(), absl::StrCat("chunk ", chunk.chunk_index(), ": ",
                                                              input.status().message()));
    }
    if (chunk.first_element() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", chunk.chunk_index(),
                                                     ": first_element must be >= 0, got ",
                                                     chunk.first_element()));
    }
    // Summed before the check, in 64 bits: each chunk has at most 2^63 elements, and the
    // check below stops the sum long before it could wrap.
    work.elements += input->size();
    if (work.mode == ResultMode::kValues && work.elements > kMaxValuesChunkSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a RunChunks call in RESULT_MODE_VALUES may hold at most ", kMaxValuesChunkSize,
          " elements in all (their values leave in one answer); chunk ", chunk.chunk_index(),
          " brings it past that"));
    }
    work.inputs.push_back(*std::move(input));
    work.first_elements.push_back(static_cast<uint64_t>(chunk.first_element()));
  }
  if (request.has_shared_values()) work.shared_values = request.shared_values();
  return work;
}

}  // namespace gpool
