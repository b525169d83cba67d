#include "server/map_request.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/proto_convert.h"

namespace gpool {

absl::StatusOr<JobSpec> ToJobSpec(const v1::MapRequest& request) {
  JobSpec spec;
  spec.function = request.function();
  if (!request.has_input()) {
    return absl::InvalidArgumentError("the request has no input: set a range or a list");
  }
  absl::StatusOr<Input> input = FromProto(request.input());
  if (!input.ok()) return input.status();
  spec.input = std::make_shared<const Input>(std::move(*input));
  spec.chunk_size = request.chunk_size();
  spec.max_workers = request.max_workers();
  spec.verify_fraction = request.verify_fraction();
  spec.max_chunks_ahead = request.max_chunks_ahead();
  // proto3 keeps an enum value this file does not name; guessing a mode for it would answer a
  // question the client did not ask.
  if (!v1::ResultMode_IsValid(request.result_mode())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MapRequest.result_mode is ", static_cast<int>(request.result_mode()),
        ", which is not a ResultMode; use RESULT_MODE_VALUES (1) or RESULT_MODE_SUM (2), or "
        "leave it unset for values"));
  }
  spec.mode = FromProto(request.result_mode());
  if (request.has_shared_values()) spec.shared_values = FromProto(request.shared_values());
  for (const v1::ChunkRange& range : request.completed_chunks()) {
    if (range.first() < 0 || range.last() < 0) {
      return absl::InvalidArgumentError("completed chunk indices must be >= 0");
    }
    spec.completed_chunks.emplace_back(range.first(), range.last());
  }
  return spec;
}

}  // namespace gpool
