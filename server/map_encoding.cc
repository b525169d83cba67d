#include "server/map_encoding.h"

#include <utility>

#include "rpc/proto_convert.h"

namespace gpool {

RawChunkResult ToOutgoing(ChunkDelivery& delivery) {
  RawChunkResult outgoing;
  v1::ChunkResult& chunk = outgoing.fields;
  chunk.set_chunk_index(static_cast<int64_t>(delivery.chunk_index));
  chunk.set_first_element(static_cast<int64_t>(delivery.first_element));
  chunk.set_element_count(static_cast<int64_t>(delivery.element_count));
  if (delivery.summary == SummaryKind::kInt64) {
    v1::Int64Summary* summary = chunk.mutable_summary()->mutable_int64_summary();
    gpool::ToProto(delivery.sum, summary->mutable_sum());
    summary->set_min(delivery.min);
    summary->set_max(delivery.max);
  } else if (delivery.summary == SummaryKind::kDouble) {
    gpool::ToProto(delivery.doubles, chunk.mutable_summary()->mutable_double_summary());
  }
  chunk.mutable_worker()->set_worker_id(delivery.worker_id);
  chunk.mutable_worker()->set_host(delivery.worker_host);
  chunk.mutable_worker()->set_pid(delivery.worker_pid);
  chunk.set_attempt(delivery.attempt);
  chunk.set_values_shared(delivery.values_shared);
  outgoing.values = std::move(delivery.values);
  return outgoing;
}

v1::JobStarted StartedOf(const JobPlanInfo& plan, uint64_t coordinator_incarnation) {
  v1::JobStarted started;
  started.set_job_id(plan.job_id);
  started.set_total_elements(static_cast<int64_t>(plan.total_elements));
  started.set_chunk_size(static_cast<int64_t>(plan.chunk_size));
  started.set_num_chunks(static_cast<int64_t>(plan.num_chunks));
  started.set_cluster_slots(plan.cluster_slots);
  started.set_job_slots(plan.job_slots);
  started.set_coordinator_incarnation(coordinator_incarnation);
  started.set_input_type(ToProto(plan.input_type));
  started.set_output_type(ToProto(plan.output_type));
  return started;
}

}  // namespace gpool
