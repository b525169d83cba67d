#include "server/map_response_planner.h"

#include <utility>

namespace gpool {
namespace {

// What a ChunkResult takes besides its values and its worker's id and host: seven varints of
// at most 10 bytes, an Int128 of two, the WorkerRef's pid, tags, lengths and the repeated
// field's framing. Counted high: a bound, not an estimate.
constexpr int64_t kResultOverheadBytes = 192;

// The values a delivered chunk held in its job's result window: those relayed here, or those
// in the client's shared buffer, which hold memory on its host until the client has them.
int64_t WindowValues(const ChunkDelivery& chunk) {
  return static_cast<int64_t>(chunk.values_shared ? chunk.element_count : chunk.values.size());
}

// At least the bytes `chunk`'s ChunkResult takes in a MapResponse (values as sfixed64).
int64_t ResultBytesBound(const ChunkDelivery& chunk) {
  return static_cast<int64_t>(chunk.values.size()) * 8 +
         static_cast<int64_t>(chunk.worker_id.size() + chunk.worker_host.size()) +
         kResultOverheadBytes;
}

}  // namespace

MapResponsePlanner::MapResponsePlanner(const Clock* clock, MapResponseLimits limits)
    : clock_(clock), limits_(limits) {}

void MapResponsePlanner::Take(std::vector<JobEvent> events) {
  if (!open()) return;
  for (JobEvent& event : events) events_.push_back(std::move(event));
}

bool MapResponsePlanner::End(absl::Status status) {
  if (!open()) return false;
  ending_ = true;
  JobEvent end;
  end.kind = JobEvent::Kind::kFinished;
  end.status = std::move(status);
  end.final = false;
  events_.push_back(std::move(end));
  return true;
}

bool MapResponsePlanner::ReleaseHeld() {
  if (hold_released_) return false;
  hold_released_ = true;
  return true;
}

std::optional<MapResponsePlan> MapResponsePlanner::Next() {
  if (finished_ || write_in_flight_ || events_.empty() || Holding()) return std::nullopt;
  MapResponsePlan plan;
  int64_t bytes = 0;
  int64_t window_values = 0;
  while (!events_.empty()) {
    JobEvent& event = events_.front();
    if (event.kind == JobEvent::Kind::kStarted) {
      // One start per message, before its results.
      if (plan.started.has_value() || !plan.chunks.empty()) break;
      plan.started = std::move(event.plan);
      events_.pop_front();
      continue;
    }
    if (event.kind == JobEvent::Kind::kChunk) {
      // A result alone always leaves: its chunk holds at most kMaxValuesChunkSize values, which
      // max_result_bytes has room for.
      const int64_t chunk_bytes = ResultBytesBound(event.chunk);
      if (!plan.chunks.empty() &&
          (bytes + chunk_bytes > limits_.max_result_bytes ||
           static_cast<int64_t>(plan.chunks.size()) >= limits_.max_results)) {
        break;
      }
      bytes += chunk_bytes;
      window_values += WindowValues(event.chunk);
      plan.chunks.push_back(std::move(event.chunk));
      events_.pop_front();
      continue;
    }
    // kFinished. A failure ends the call with its status, after what was taken.
    if (!event.status.ok()) {
      if (plan.started.has_value() || !plan.chunks.empty()) break;
      plan.failure = std::move(event.status);
      plan.final = event.final;
    } else {
      // JobFinished leaves with the call's status, in one write. The job is over: nothing
      // waits for these results' delivery.
      plan.finished = std::move(event.stats);
    }
    events_.clear();
    finished_ = true;
    return plan;
  }
  write_in_flight_ = true;
  write_started_ = clock_->Now();
  writing_.chunks = static_cast<int64_t>(plan.chunks.size());
  writing_.values = window_values;
  return plan;
}

bool MapResponsePlanner::Holding() const {
  if (hold_released_) return false;
  const JobEvent& last = events_.back();
  if (last.kind == JobEvent::Kind::kStarted) return true;
  if (last.kind != JobEvent::Kind::kChunk || !last.chunk.tail) return false;
  int64_t held_values = 0;
  for (const JobEvent& event : events_) {
    if (event.kind != JobEvent::Kind::kChunk) continue;
    held_values += WindowValues(event.chunk);
    if (held_values > limits_.max_held_values) return false;
  }
  return true;
}

MapDelivery MapResponsePlanner::WriteDone() {
  write_in_flight_ = false;
  return std::exchange(writing_, MapDelivery{});
}

bool MapResponsePlanner::Finish() {
  if (finished_) return false;
  finished_ = true;
  events_.clear();
  return true;
}

bool MapResponsePlanner::Stalled(absl::Time now, absl::Duration timeout) {
  if (!write_in_flight_ || finished_ || stalled_ || now - write_started_ < timeout) return false;
  stalled_ = true;
  return true;
}

}  // namespace gpool
