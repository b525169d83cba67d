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
  gpool::ToProto(delivery.sum, chunk.mutable_partial_sum());
  chunk.set_partial_min(delivery.min);
  chunk.set_partial_max(delivery.max);
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
  return started;
}

}  // namespace gpool
