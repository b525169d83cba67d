#include "server/dispatch_policy.h"

#include <algorithm>
#include <deque>
#include <functional>

namespace gpool {
namespace {

// The median of `samples` (the upper median for an even count). `samples` must not be empty.
absl::Duration Median(const std::deque<absl::Duration>& samples) {
  std::vector<absl::Duration> sorted(samples.begin(), samples.end());
  auto middle = sorted.begin() + sorted.size() / 2;
  std::nth_element(sorted.begin(), middle, sorted.end());
  return *middle;
}

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

bool DispatchPolicy::MayRun(const RegisteredWorker& worker, const JobDispatchState& job) {
  if (!worker.Accepts(job.function)) return false;
  const bool at_worker_limit =
      job.max_workers > 0 && job.workers_used.size() >= static_cast<size_t>(job.max_workers);
  return !at_worker_limit || job.workers_used.count(worker.worker_id) > 0;
}

RegisteredWorker* DispatchPolicy::PickWorker(WorkerRegistry& workers,
                                             const JobDispatchState& job,
                                             const std::vector<std::string>& exclude) const {
  RegisteredWorker* best = nullptr;
  double best_load = 0;
  for (auto& [id, worker] : workers.workers()) {
    if (!MayRun(worker, job) || Contains(exclude, id)) continue;
    const int capacity = worker.registration.slots + options_.pipeline_depth;
    const int held = worker.calls_in_flight;
    if (held >= capacity) continue;
    // The least loaded worker relative to its slots: idle slots fill before pipelines do.
    const double load = static_cast<double>(held) / worker.registration.slots;
    if (best == nullptr || load < best_load) {
      best = &worker;
      best_load = load;
    }
  }
  return best;
}

RegisteredWorker* DispatchPolicy::PickForRetry(WorkerRegistry& workers,
                                               const JobDispatchState& job,
                                               const std::vector<std::string>& faulted,
                                               const std::vector<std::string>& excluded) const {
  RegisteredWorker* first_choice = PickWorker(workers, job, excluded);
  if (first_choice == nullptr || !Contains(faulted, first_choice->worker_id)) {
    return first_choice;
  }
  // This worker failed the chunk before: another one takes it, as soon as one has room.
  std::vector<std::string> avoid = excluded;
  avoid.insert(avoid.end(), faulted.begin(), faulted.end());
  if (RegisteredWorker* other = PickWorker(workers, job, avoid); other != nullptr) {
    return other;
  }
  // Only when no other worker may run the job does it get the chunk again (bounded by
  // max_attempts).
  for (const auto& [id, worker] : workers.workers()) {
    if (MayRun(worker, job) && !Contains(avoid, id)) return nullptr;
  }
  return first_choice;
}

RegisteredWorker* DispatchPolicy::PickBackup(WorkerRegistry& workers,
                                             const JobDispatchState& job,
                                             const std::vector<std::string>& excluded) const {
  for (auto& [id, worker] : workers.workers()) {
    if (!Contains(excluded, id) && MayRun(worker, job) &&
        worker.calls_in_flight < worker.registration.slots) {
      return &worker;
    }
  }
  return nullptr;
}

uint64_t DispatchPolicy::CallSize(const WorkerRegistry& workers,
                                  const RegisteredWorker& worker, const JobDispatchState& job,
                                  uint64_t unsent, int64_t window_room) const {
  // Validated at registration: at least 1.
  const uint64_t worker_limit = static_cast<uint64_t>(worker.registration.max_chunks_per_call);
  if (worker_limit == 1) return 1;
  // A chunk of strings or bytes may take up to its bound of the message limit by itself.
  if (job.one_chunk_per_call) return 1;
  // Fair share: the chunks not yet sent, spread over the idle slots that may run the job
  // (this worker's included), so one worker does not take the whole job while another idles.
  // With no idle slot (a pipeline call), over all of the job's slots.
  int idle_slots = 0;
  int job_slots = 0;
  for (const auto& [id, other] : workers.workers()) {
    if (!MayRun(other, job)) continue;
    job_slots += other.registration.slots;
    idle_slots += std::max(0, other.registration.slots - other.calls_in_flight);
  }
  const uint64_t spread =
      static_cast<uint64_t>(std::max(1, idle_slots > 0 ? idle_slots : job_slots));
  const uint64_t fair_share = (unsent + spread - 1) / spread;
  // And no more than the result window has room for.
  const uint64_t room = static_cast<uint64_t>(std::max<int64_t>(1, window_room));
  // And about target_call_duration of work, by the median time per chunk so far.
  uint64_t by_time = static_cast<uint64_t>(std::max(1, options_.initial_chunks_per_call));
  if (!job.time_per_chunk.empty()) {
    absl::Duration remainder;
    by_time = static_cast<uint64_t>(std::max<int64_t>(
        1, absl::IDivDuration(options_.target_call_duration,
                              std::max(Median(job.time_per_chunk), absl::Microseconds(1)),
                              &remainder)));
  }
  return std::max<uint64_t>(1, std::min({worker_limit, fair_share, room, by_time}));
}

std::optional<absl::Duration> DispatchPolicy::StragglerThreshold(
    const JobDispatchState& job) const {
  if (job.chunk_durations.empty()) return std::nullopt;
  return std::max(Median(job.chunk_durations) * options_.speculation_multiplier,
                  options_.speculation_min);
}

int64_t DispatchPolicy::FreshElementRoom(const Job& job, const ResultBudget* budget) const {
  const int64_t unbounded = options_.max_elements_per_call;
  if (budget == nullptr || job.spec.mode != ResultMode::kValues) return unbounded;
  const ChunkTable& table = *job.chunks;
  if (!table.HasFresh()) return 0;
  const int64_t next_bytes =
      static_cast<int64_t>(table.plan().ElementCount(table.NextFresh())) * 8;
  if (!budget->AllowsChunk(job.reserved_bytes, options_.max_job_result_bytes, next_bytes)) {
    return 0;
  }
  // Enough for the next chunk (TakeFresh always takes the first), and whatever else the
  // budget has room for.
  const int64_t room = budget->Room(job.reserved_bytes, options_.max_job_result_bytes) / 8;
  return std::max<int64_t>(1, std::min(unbounded, room));
}

std::optional<DispatchPolicy::Call> DispatchPolicy::NextCall(WorkerRegistry& workers, Job& job,
                                                             const ResultBudget* budget) const {
  if (job.window.Full()) return std::nullopt;
  ChunkTable& table = *job.chunks;
  const std::optional<uint64_t> retry = table.NextRetry();
  // A retry is of a chunk already reserved and below the ahead bound: only fresh chunks
  // wait for them.
  const bool fresh = job.FreshDispatchable() && FreshElementRoom(job, budget) > 0;
  if (!retry.has_value() && !fresh) return std::nullopt;
  RegisteredWorker* worker = PickWorker(workers, job.dispatch);
  if (worker == nullptr) return std::nullopt;

  // Retries first: they are the oldest work of the job. A chunk that was lost with its
  // worker travels alone: if it is what kills workers, the chunks that would have shared its
  // call are not charged its losses again.
  if (retry.has_value()) {
    RegisteredWorker* target = PickForRetry(workers, job.dispatch,
                                            table.Active(*retry)->faulted_on,
                                            job.CopyExclusions(*retry));
    if (target != nullptr) {
      table.PopRetry();
      return Call{target, {*retry}};
    }
    // The retry waits for another worker; this one may take fresh chunks meanwhile.
    if (!fresh) return std::nullopt;
  }
  // Fresh chunks, several to a call while the call stays small: a chunk bigger than the
  // element budget goes alone.
  const uint64_t size =
      CallSize(workers, *worker, job.dispatch, table.UnsentCount(), job.window.ChunkRoom());
  return Call{worker, table.TakeFresh(size, FreshElementRoom(job, budget), job.AheadEnd())};
}

std::vector<uint64_t> DispatchPolicy::Stragglers(const Job& job, absl::Time now) const {
  std::vector<uint64_t> stragglers;
  // Backups only at the job's tail: while fresh or retried chunks wait, idle slots take those.
  // A job held back by max_chunks_ahead is at a tail of its own: the chunk it waits for may
  // be the straggler.
  if (!job.chunks.has_value() || job.chunks->HasRetries() || job.FreshDispatchable() ||
      job.window.Full()) {
    return stragglers;
  }
  const std::optional<absl::Duration> threshold = StragglerThreshold(job.dispatch);
  if (!threshold.has_value()) return stragglers;
  for (const auto& [chunk_index, active] : job.chunks->active()) {
    if (active.runs.size() == 1 && now - active.runs.front().started > *threshold) {
      stragglers.push_back(chunk_index);
    }
  }
  return stragglers;
}

std::optional<uint64_t> DispatchPolicy::BlockedVerification(const WorkerRegistry& workers,
                                                            Job& job) {
  if (!job.chunks.has_value()) return std::nullopt;
  const std::optional<uint64_t> next = job.chunks->NextRetry();
  if (!next.has_value() || !job.quorum.Holds(*next)) return std::nullopt;
  const std::vector<std::string> excluded = job.CopyExclusions(*next);
  for (const auto& [id, worker] : workers.workers()) {
    if (MayRun(worker, job.dispatch) && !Contains(excluded, id)) return std::nullopt;
  }
  return next;
}

bool DispatchPolicy::HasWorkerFor(const WorkerRegistry& workers, Job& job) {
  return workers.AnyAccepts(job.spec.function) && !BlockedVerification(workers, job).has_value();
}

absl::Status DispatchPolicy::WaitedTooLong(const WorkerRegistry& workers, Job& job,
                                           absl::Duration waited,
                                           const std::string& coordinator_address) {
  if (std::optional<uint64_t> blocked = BlockedVerification(workers, job); blocked.has_value()) {
    return job.NoVerifierError(waited, *blocked);
  }
  return job.NoWorkerError(waited, workers.AvailableFunctions(), coordinator_address);
}

DispatchPolicy::Slots DispatchPolicy::SlotsFor(const WorkerRegistry& workers,
                                               const JobDispatchState& job) {
  Slots slots;
  std::vector<int> eligible;
  for (const auto& [id, worker] : workers.workers()) {
    slots.cluster += worker.registration.slots;
    if (worker.Accepts(job.function)) eligible.push_back(worker.registration.slots);
  }
  // With a worker limit, Pool's default chunk size follows the slots of the largest workers
  // the job may use.
  std::sort(eligible.begin(), eligible.end(), std::greater<int>());
  if (job.max_workers > 0 && eligible.size() > static_cast<size_t>(job.max_workers)) {
    eligible.resize(job.max_workers);
  }
  for (int s : eligible) slots.job += s;
  return slots;
}

}  // namespace gpool
