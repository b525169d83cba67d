#include "server/chunk_table.h"

#include <algorithm>
#include <utility>

namespace gpool {

ChunkTable::ChunkTable(ChunkPlan plan, IndexSet already_done)
    : plan_(plan), already_done_(std::move(already_done)), chunks_done_(already_done_.size()) {
  SkipDone();
}

void ChunkTable::SkipDone() { next_fresh_ = already_done_.NextAbsent(next_fresh_); }

uint64_t ChunkTable::UnsentCount() const {
  return retry_queue_.size() + (plan_.num_chunks - std::min(plan_.num_chunks, next_fresh_));
}

uint64_t ChunkTable::LowestNotDone() const {
  const uint64_t fresh = std::min(next_fresh_, plan_.num_chunks);
  return active_.empty() ? fresh : std::min(fresh, active_.begin()->first);
}

std::optional<uint64_t> ChunkTable::NextRetry() {
  // Drop entries whose chunk completed meanwhile (a late result won).
  while (!retry_queue_.empty() && active_.count(retry_queue_.front()) == 0) {
    retry_queue_.pop_front();
  }
  if (retry_queue_.empty()) return std::nullopt;
  return retry_queue_.front();
}

void ChunkTable::PopRetry() {
  if (!retry_queue_.empty()) retry_queue_.pop_front();
}

std::vector<uint64_t> ChunkTable::TakeFresh(uint64_t max_chunks, int64_t max_elements,
                                            uint64_t end) {
  std::vector<uint64_t> chunk_indices;
  int64_t elements = 0;
  while (chunk_indices.size() < max_chunks && HasFresh() && next_fresh_ < end) {
    const int64_t size = static_cast<int64_t>(plan_.ElementCount(next_fresh_));
    if (!chunk_indices.empty() && elements + size > max_elements) break;
    elements += size;
    chunk_indices.push_back(next_fresh_++);
    SkipDone();
  }
  return chunk_indices;
}

int ChunkTable::StartRun(uint64_t chunk_index, const std::string& worker_id, uint64_t call_id,
                         absl::Time now) {
  ActiveChunk& active = active_[chunk_index];
  const int attempt = ++active.dispatches;
  active.runs.push_back(ChunkRun{worker_id, attempt, call_id, now});
  return attempt;
}

bool ChunkTable::EndRun(uint64_t chunk_index, const std::string& worker_id, int attempt) {
  auto it = active_.find(chunk_index);
  if (it == active_.end()) return false;
  auto& runs = it->second.runs;
  auto run = std::find_if(runs.begin(), runs.end(), [&](const ChunkRun& r) {
    return r.worker_id == worker_id && r.attempt == attempt;
  });
  if (run == runs.end()) return false;
  runs.erase(run);
  return true;
}

const ActiveChunk* ChunkTable::Active(uint64_t chunk_index) const {
  auto it = active_.find(chunk_index);
  return it == active_.end() ? nullptr : &it->second;
}

std::optional<ActiveChunk> ChunkTable::Complete(uint64_t chunk_index) {
  auto it = active_.find(chunk_index);
  if (it == active_.end()) return std::nullopt;
  ActiveChunk done = std::move(it->second);
  active_.erase(it);
  ++chunks_done_;
  return done;
}

void ChunkTable::AddFault(uint64_t chunk_index, const std::string& worker_id) {
  auto it = active_.find(chunk_index);
  if (it != active_.end()) it->second.faulted_on.push_back(worker_id);
}

ChunkTable::Loss ChunkTable::Lost(uint64_t chunk_index, const std::string& worker_label,
                                  int max_attempts) {
  auto it = active_.find(chunk_index);
  if (it == active_.end()) return Loss::kNotActive;
  ActiveChunk& active = it->second;
  active.lost_on.push_back(worker_label);
  if (!active.runs.empty()) return Loss::kStillRunning;
  if (static_cast<int>(active.lost_on.size()) >= max_attempts) return Loss::kExhausted;
  // Retries go first: they are the oldest work of the job.
  retry_queue_.push_front(chunk_index);
  return Loss::kRequeued;
}

void ChunkTable::RequestCopy(uint64_t chunk_index, bool urgent) {
  if (active_.count(chunk_index) == 0) return;
  if (urgent) {
    retry_queue_.push_front(chunk_index);
  } else {
    retry_queue_.push_back(chunk_index);
  }
}

ChunkTable::Loss ChunkTable::HandBack(uint64_t chunk_index) {
  auto it = active_.find(chunk_index);
  if (it == active_.end()) return Loss::kNotActive;
  if (!it->second.runs.empty()) return Loss::kStillRunning;
  retry_queue_.push_front(chunk_index);
  return Loss::kRequeued;
}

}  // namespace gpool
