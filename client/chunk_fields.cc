#include "client/chunk_fields.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/proto_convert.h"

namespace gpool {

JobStart JobStartOf(const v1::JobStarted& started) {
  JobStart start;
  start.job_id = started.job_id();
  start.total_elements = static_cast<uint64_t>(started.total_elements());
  start.chunk_size = static_cast<uint64_t>(started.chunk_size());
  start.num_chunks = static_cast<uint64_t>(started.num_chunks());
  start.cluster_slots = started.cluster_slots();
  start.job_slots = started.job_slots();
  start.coordinator_incarnation = started.coordinator_incarnation();
  start.input_type = FromProto(started.input_type());
  start.output_type = FromProto(started.output_type());
  return start;
}

absl::Status ReadChunkFields(const v1::ChunkResult& proto, ChunkResult& chunk) {
  chunk.chunk_index = static_cast<uint64_t>(proto.chunk_index());
  chunk.first_element = static_cast<uint64_t>(proto.first_element());
  chunk.element_count = static_cast<uint64_t>(proto.element_count());
  chunk.values_shared = proto.values_shared();
  chunk.worker = FromProto(proto.worker());
  chunk.attempt = proto.attempt();
  chunk.summary = SummaryKind::kNone;
  switch (proto.summary().kind_case()) {
    case v1::Summary::kInt64Summary: {
      const v1::Int64Summary& summary = proto.summary().int64_summary();
      chunk.summary = SummaryKind::kInt64;
      chunk.partial_sum = FromProto(summary.sum());
      chunk.partial_min = summary.min();
      chunk.partial_max = summary.max();
      break;
    }
    case v1::Summary::kDoubleSummary: {
      absl::StatusOr<DoubleStats> doubles =
          FromProto(proto.summary().double_summary(), chunk.element_count);
      if (!doubles.ok()) {
        return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index,
                                                ": unreadable double summary: ",
                                                doubles.status().message()));
      }
      chunk.summary = SummaryKind::kDouble;
      chunk.partial_doubles = *std::move(doubles);
      break;
    }
    case v1::Summary::KIND_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

}  // namespace gpool
