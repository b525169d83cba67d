#include "server/job.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/index_set.h"

namespace gpool {
namespace {

// How many recent samples a job keeps of each kind.
constexpr size_t kSamples = 64;

}  // namespace

void JobDispatchState::RecordChunkDuration(absl::Duration duration) {
  chunk_durations.push_back(duration);
  if (chunk_durations.size() > kSamples) chunk_durations.pop_front();
}

void JobDispatchState::RecordCall(absl::Duration duration, int64_t chunks) {
  time_per_chunk.push_back(duration / std::max<int64_t>(1, chunks));
  if (time_per_chunk.size() > kSamples) time_per_chunk.pop_front();
}

Job::Job(uint64_t sequence_in, JobSpec spec_in, ResultWindow window_in, absl::Time submitted_in)
    : sequence(sequence_in),
      job_id(absl::StrCat("job-", sequence_in)),
      spec(std::move(spec_in)),
      stream(std::make_shared<JobStream>()),
      submitted(submitted_in),
      window(window_in) {
  dispatch.function = spec.function;
  dispatch.max_workers = spec.max_workers;
}

absl::StatusOr<JobEvent> Job::Plan(int cluster_slots, int job_slots) {
  absl::StatusOr<ChunkPlan> plan =
      PlanChunks(spec.input->size(), spec.chunk_size, job_slots, spec.mode);
  if (!plan.ok()) return plan.status();
  IndexSet already_done;
  for (const auto& [first, last] : spec.completed_chunks) {
    if (last >= plan->num_chunks) {
      return absl::InvalidArgumentError(absl::StrCat("completed chunk range ", first, "..",
                                                     last, " is beyond the ", plan->num_chunks,
                                                     " chunks of the job"));
    }
    already_done.InsertRange(first, last);
  }
  chunks.emplace(*plan, std::move(already_done));
  JobEvent event;
  event.kind = JobEvent::Kind::kStarted;
  event.plan.job_id = job_id;
  event.plan.total_elements = plan->total_elements;
  event.plan.chunk_size = plan->chunk_size;
  event.plan.num_chunks = plan->num_chunks;
  event.plan.cluster_slots = cluster_slots;
  event.plan.job_slots = job_slots;
  return event;
}

std::string Job::CheckReply(uint64_t chunk_index, const ChunkReply& reply,
                            const std::string& contradiction) const {
  const uint64_t expected = chunks->plan().ElementCount(chunk_index);
  // Values come in the reply, or, only where the client offered a buffer, in that buffer.
  const uint64_t expected_in_reply =
      spec.mode == ResultMode::kValues && !reply.values_shared ? expected : 0;
  if (reply.count != expected ||
      static_cast<uint64_t>(reply.values.size()) != expected_in_reply) {
    return absl::StrCat("it answered ", reply.count, " elements and ", reply.values.size(),
                        reply.values_shared ? " (+ shared)" : "", " values for a chunk of ",
                        expected, " elements");
  }
  if (reply.values_shared && !spec.shared_values.has_value()) {
    return "it answered values_shared for a job that offered no shared buffer";
  }
  if (!contradiction.empty()) {
    return absl::StrCat("its result contradicts itself: ", contradiction);
  }
  return "";
}

JobEvent Job::ChunkEvent(uint64_t chunk_index, ChunkReply reply, const std::string& worker_id,
                         int attempt) const {
  JobEvent event;
  event.kind = JobEvent::Kind::kChunk;
  ChunkDelivery& chunk = event.chunk;
  chunk.chunk_index = chunk_index;
  chunk.first_element = chunks->plan().FirstElement(chunk_index);
  chunk.element_count = chunks->plan().ElementCount(chunk_index);
  chunk.values = std::move(reply.values);
  chunk.values_shared = reply.values_shared;
  chunk.sum = reply.sum;
  chunk.min = reply.min;
  chunk.max = reply.max;
  chunk.worker_id = worker_id;
  chunk.worker_pid = reply.pid;
  chunk.attempt = attempt;
  chunk.tail = !chunks->HasRetries() && !chunks->HasFresh();
  return event;
}

JobEvent Job::FinishedEvent(const absl::Status& status) const {
  JobEvent event;
  event.kind = JobEvent::Kind::kFinished;
  event.status = status;
  // UNAVAILABLE (no worker for the job) may pass: a later resubmission can succeed. Every
  // other failure is the job's own.
  event.final = !absl::IsUnavailable(status);
  event.stats = stats;
  return event;
}

JobSnapshot Job::Snapshot(absl::Time now) const {
  JobSnapshot j;
  j.job_id = job_id;
  j.function = spec.function;
  j.total_elements = spec.input->size();
  j.num_chunks = chunks.has_value() ? chunks->plan().num_chunks : 0;
  j.chunks_done = chunks.has_value() ? chunks->chunks_done() : 0;
  j.elapsed = now - submitted;
  j.stats = stats;
  return j;
}

}  // namespace gpool
