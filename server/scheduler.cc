#include "server/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/value_stats.h"

namespace gpool {
namespace {

bool Offers(const WorkerRegistration& registration, const std::string& function) {
  const auto& functions = registration.functions;
  return std::find(functions.begin(), functions.end(), function) != functions.end();
}

// An error the function itself raises for the chunk's input: it would repeat wherever the
// chunk runs, so the job fails at once. Any other error is the worker's (or its link's): the
// chunk may succeed elsewhere.
bool IsDeterministicFailure(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kOutOfRange;
}

// The worker itself is unreachable or hung, not just this call: everything it holds is lost.
bool MeansWorkerIsGone(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
}

// The median of a job's recent samples (its upper median for an even count). `samples` must
// not be empty.
absl::Duration Median(const std::deque<absl::Duration>& samples) {
  std::vector<absl::Duration> sorted(samples.begin(), samples.end());
  auto middle = sorted.begin() + sorted.size() / 2;
  std::nth_element(sorted.begin(), middle, sorted.end());
  return *middle;
}

// How many recent chunk durations a job keeps for its straggler threshold.
constexpr size_t kDurationSamples = 64;

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, const Clock* clock, WorkerConnector* connector)
    : options_(std::move(options)),
      heartbeat_policy_(options_.heartbeat_interval, options_.lease_timeout,
                        options_.heartbeat_budget, options_.max_heartbeat_interval),
      clock_(clock),
      connector_(connector),
      granted_interval_(heartbeat_policy_.min_interval()) {}

Scheduler::~Scheduler() {
  std::vector<std::shared_ptr<WorkerConnection>> connections;
  std::vector<std::shared_ptr<JobStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, worker] : workers_) connections.push_back(worker.connection);
    for (auto& [sequence, job] : jobs_) {
      JobEvent event;
      event.kind = JobEvent::Kind::kFinished;
      event.status = absl::UnavailableError("the coordinator is shutting down");
      event.final = false;
      event.stats = job.stats;
      PushEventLocked(job, std::move(event));
    }
    jobs_.clear();
    for (auto& stream : streams_to_notify_) stream->Publish();
    streams = std::move(streams_to_notify_);
    streams_to_notify_.clear();
  }
  for (auto& stream : streams) stream->NotifyListener();
  for (auto& connection : connections) connection->CancelAll();
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_calls_ == 0; };
  mu_.Await(absl::Condition(&drained));
}

absl::StatusOr<RegistrationGrant> Scheduler::RegisterWorker(
    const WorkerRegistration& registration) {
  if (registration.address.empty()) {
    return absl::InvalidArgumentError("a worker must give the address it serves on");
  }
  if (registration.slots < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("slots must be at least 1, got ", registration.slots));
  }
  if (registration.functions.empty()) {
    return absl::InvalidArgumentError("a worker must offer at least one function");
  }
  if (registration.max_chunks_per_call < 1 ||
      registration.max_chunks_per_call > kMaxChunksPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_chunks_per_call must be 1 to ", kMaxChunksPerCall, ", got ",
                     registration.max_chunks_per_call));
  }
  // Connecting creates a channel object only; no I/O happens under the lock.
  std::shared_ptr<WorkerConnection> connection = connector_->Connect(registration.address);
  Actions actions;
  RegistrationGrant grant;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> replaced;
    for (const auto& [id, worker] : workers_) {
      if (worker.registration.address == registration.address) replaced.push_back(id);
    }
    for (const std::string& id : replaced) {
      DeclareDeadLocked(id, "it registered again (restarted or lost its lease)", &actions);
    }
    Worker worker;
    worker.sequence = next_worker_sequence_++;
    worker.worker_id = absl::StrCat("w", worker.sequence);
    worker.registration = registration;
    worker.connection = std::move(connection);
    worker.last_heartbeat = clock_->Now();
    LogInfo(absl::StrCat("worker ", worker.worker_id, " registered: ", registration.address,
                         " host=", registration.host, " pid=", registration.pid,
                         " slots=", registration.slots, " functions=",
                         absl::StrJoin(registration.functions, ",")));
    auto [it, inserted] = workers_.emplace(worker.worker_id, std::move(worker));
    // The newcomer counts in its own grant.
    RegrantLocked();
    it->second.heartbeat_interval = granted_interval_;
    it->second.lease_timeout = heartbeat_policy_.LeaseFor(granted_interval_);
    grant.worker_id = it->first;
    grant.heartbeat_interval = it->second.heartbeat_interval;
    grant.lease_timeout = it->second.lease_timeout;
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
  return grant;
}

Scheduler::Worker* Scheduler::FindWorkerLocked(const std::string& worker_id,
                                               uint64_t incarnation) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.registration.incarnation != incarnation) {
    return nullptr;
  }
  return &it->second;
}

absl::StatusOr<HeartbeatGrant> Scheduler::Heartbeat(const std::string& worker_id,
                                                    uint64_t incarnation,
                                                    absl::Duration reported_interval) {
  if (reported_interval < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a heartbeat must report the interval the worker beats at (heartbeat_interval_ms >= "
        "1, the last one granted), got ",
        absl::FormatDuration(reported_interval)));
  }
  absl::MutexLock lock(&mu_);
  Worker* worker = FindWorkerLocked(worker_id, incarnation);
  if (worker == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered here; register again"));
  }
  worker->last_heartbeat = clock_->Now();
  // The lease follows what the worker says it does, not what it was asked to do: a new,
  // shorter grant shortens the lease only once the worker reports beating faster, and a
  // longer one lengthens it from the beat that announces it, before the worker slows down.
  worker->heartbeat_interval = heartbeat_policy_.Clamp(reported_interval);
  worker->lease_timeout = heartbeat_policy_.LeaseFor(worker->heartbeat_interval);
  return HeartbeatGrant{granted_interval_, heartbeat_policy_.LeaseFor(granted_interval_)};
}

void Scheduler::RegrantLocked() {
  const absl::Duration next =
      heartbeat_policy_.NextInterval(granted_interval_, static_cast<int>(workers_.size()));
  if (next == granted_interval_) return;
  LogInfo(absl::StrCat("heartbeat interval now ", absl::FormatDuration(next), " (was ",
                       absl::FormatDuration(granted_interval_), ") for ", workers_.size(),
                       " worker(s) within ", heartbeat_policy_.budget(), " beats/s; lease ",
                       absl::FormatDuration(heartbeat_policy_.LeaseFor(next))));
  granted_interval_ = next;
}

absl::Status Scheduler::DrainWorker(const std::string& worker_id, uint64_t incarnation) {
  absl::MutexLock lock(&mu_);
  Worker* worker = FindWorkerLocked(worker_id, incarnation);
  if (worker == nullptr) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not registered here"));
  }
  worker->draining = true;
  LogInfo(absl::StrCat("worker ", WorkerLabelLocked(*worker), " is draining; it holds ",
                       worker->in_flight.size(), " chunk(s)"));
  return absl::OkStatus();
}

absl::Status Scheduler::DeregisterWorker(const std::string& worker_id, uint64_t incarnation) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (FindWorkerLocked(worker_id, incarnation) == nullptr) {
      return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not registered here"));
    }
    DeclareDeadLocked(worker_id, "it deregistered (graceful shutdown)", &actions,
                      /*lost=*/false);
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::shared_ptr<JobStream>>> Scheduler::SubmitJob(
    JobSpec spec) {
  if (spec.function.empty()) {
    return absl::InvalidArgumentError("no function given; name one, e.g. square");
  }
  if (spec.input == nullptr) {
    return absl::InvalidArgumentError("the request has no input: set a range or a list");
  }
  if (absl::Status status = ValidateInput(*spec.input); !status.ok()) return status;
  if (spec.chunk_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be at least 1 (or 0 for the default), got ",
                     spec.chunk_size));
  }
  if (spec.max_workers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max workers must be at least 1 (or 0 for no limit), got ",
                     spec.max_workers));
  }
  if (spec.shared_values.has_value()) {
    if (spec.mode != ResultMode::kValues) {
      return absl::InvalidArgumentError(
          "shared_values is for jobs that return values; a job that returns sums has none");
    }
    if (absl::Status status = ValidateSharedValuesRef(*spec.shared_values); !status.ok()) {
      return status;
    }
  }
  if (!spec.completed_chunks.empty() && spec.chunk_size == 0) {
    return absl::InvalidArgumentError(
        "resuming a job (completed chunks given) needs the original chunk size");
  }
  for (const auto& [first, last] : spec.completed_chunks) {
    if (first > last) {
      return absl::InvalidArgumentError(
          absl::StrCat("completed chunk range ", first, "..", last, " is reversed"));
    }
  }
  Actions actions;
  std::pair<std::string, std::shared_ptr<JobStream>> result;
  {
    absl::MutexLock lock(&mu_);
    // A job whose function no registered worker offers waits for one (PumpLocked), like a job
    // submitted to an empty cluster: workers come and go, and which ones are registered at
    // this instant says little about the next second.
    Job job;
    job.sequence = next_job_sequence_++;
    job.job_id = absl::StrCat("job-", job.sequence);
    job.spec = std::move(spec);
    job.stream = std::make_shared<JobStream>();
    job.submitted = clock_->Now();
    result = {job.job_id, job.stream};
    LogInfo(absl::StrCat(job.job_id, " submitted: ", job.spec.function, " over ",
                         job.spec.input->Describe()));
    jobs_.emplace(job.sequence, std::move(job));
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
  return result;
}

void Scheduler::CancelJob(const std::string& job_id, const absl::Status& reason) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJobLocked(job_id);
    if (job == nullptr) return;
    LogInfo(absl::StrCat(job_id, " cancelled: ", reason.message()));
    FinishJobLocked(*job, reason);
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::OnChunksDelivered(const std::string& job_id, int64_t chunks, int64_t values) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJobLocked(job_id);
    if (job == nullptr) return;
    job->undelivered = std::max<int64_t>(0, job->undelivered - chunks);
    job->undelivered_values = std::max<int64_t>(0, job->undelivered_values - values);
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::Tick() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    std::vector<std::string> expired;
    for (const auto& [id, worker] : workers_) {
      if (now - worker.last_heartbeat > worker.lease_timeout) expired.push_back(id);
    }
    for (const std::string& id : expired) {
      const Worker& worker = workers_.at(id);
      DeclareDeadLocked(
          id,
          absl::StrCat("no heartbeat for more than ", absl::FormatDuration(worker.lease_timeout),
                       " (lease expired; it beats every ",
                       absl::FormatDuration(worker.heartbeat_interval), ")"),
          &actions);
    }
    PumpLocked(&actions);
    std::vector<uint64_t> timed_out;
    for (auto& [sequence, job] : jobs_) {
      if (job.waiting_for_workers_since.has_value() &&
          now - *job.waiting_for_workers_since > options_.worker_wait) {
        timed_out.push_back(sequence);
      }
    }
    for (uint64_t sequence : timed_out) {
      Job& job = jobs_.at(sequence);
      const std::vector<std::string> offered = AvailableFunctionsLocked();
      FinishJobLocked(
          job, absl::UnavailableError(absl::StrCat(
                   "no worker offering '", job.spec.function, "' was available for ",
                   absl::FormatDuration(options_.worker_wait), "; ",
                   offered.empty() ? "no worker is registered"
                                   : absl::StrCat("the registered workers offer: ",
                                                  absl::StrJoin(offered, ", ")),
                   "; start workers with: gpool-worker --coordinator ",
                   coordinator_address_.empty()
                       ? "HOST:PORT (this coordinator's --listen address)"
                       : coordinator_address_)));
    }
    if (!timed_out.empty()) PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::SetCoordinatorAddress(std::string address) {
  absl::MutexLock lock(&mu_);
  coordinator_address_ = std::move(address);
}

ClusterSnapshot Scheduler::Snapshot() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  ClusterSnapshot snapshot;
  for (const auto& [id, worker] : workers_) {
    WorkerSnapshot w;
    w.worker_id = id;
    w.address = worker.registration.address;
    w.host = worker.registration.host;
    w.pid = worker.registration.pid;
    w.slots = worker.registration.slots;
    w.functions = worker.registration.functions;
    w.chunks_in_flight = static_cast<int>(worker.in_flight.size());
    w.chunks_done = worker.chunks_done;
    w.faults = worker.faults;
    w.heartbeat_age = now - worker.last_heartbeat;
    w.heartbeat_interval = worker.heartbeat_interval;
    w.lease_timeout = worker.lease_timeout;
    snapshot.total_slots += w.slots;
    snapshot.workers.push_back(std::move(w));
  }
  std::sort(snapshot.workers.begin(), snapshot.workers.end(),
            [this](const WorkerSnapshot& a, const WorkerSnapshot& b)
                ABSL_NO_THREAD_SAFETY_ANALYSIS {
                  return workers_.at(a.worker_id).sequence < workers_.at(b.worker_id).sequence;
                });
  for (const auto& [sequence, job] : jobs_) {
    JobSnapshot j;
    j.job_id = job.job_id;
    j.function = job.spec.function;
    j.total_elements = job.spec.input->size();
    j.num_chunks = job.plan.has_value() ? job.plan->num_chunks : 0;
    j.chunks_done = job.chunks_done;
    j.elapsed = now - job.submitted;
    j.stats = job.stats;
    snapshot.jobs.push_back(std::move(j));
  }
  return snapshot;
}

bool Scheduler::AwaitWorkers(int min_workers, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, min_workers]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(workers_.size()) >= min_workers;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void Scheduler::Execute(Actions actions) {
  for (auto& connection : actions.cancellations) connection->CancelAll();
  for (auto& [connection, call_id] : actions.call_cancellations) connection->Cancel(call_id);
  for (auto& dispatch : actions.dispatches) {
    std::vector<std::pair<uint64_t, int>> chunks;
    chunks.reserve(dispatch.tasks.size());
    for (const ChunkTask& task : dispatch.tasks) chunks.emplace_back(task.chunk_index, task.attempt);
    auto on_done = [this, worker_id = dispatch.worker_id, job_sequence = dispatch.job_sequence,
                    call_id = dispatch.tasks.front().call_id, started = dispatch.started,
                    chunks = std::move(chunks)](absl::StatusOr<std::vector<ChunkReply>> replies) {
      OnCallDone(worker_id, job_sequence, call_id, started, chunks, std::move(replies));
    };
    dispatch.connection->RunChunks(std::move(dispatch.tasks), std::move(on_done));
  }
  // Last: a stream's consumer may start writing to its client on this thread, and the
  // workers should have their calls first.
  for (auto& stream : actions.notifications) stream->NotifyListener();
}

void Scheduler::OnCallDone(const std::string& worker_id, uint64_t job_sequence,
                           uint64_t call_id, absl::Time started,
                           const std::vector<std::pair<uint64_t, int>>& chunks,
                           absl::StatusOr<std::vector<ChunkReply>> replies) {
  // Outside the lock: reading a reply's values is the only per-value work the coordinator
  // does, and the results of other calls need not wait for it.
  std::vector<std::string> contradictions;
  if (replies.ok()) {
    contradictions.reserve(replies->size());
    for (const ChunkReply& reply : *replies) {
      contradictions.push_back(
          reply.values.empty()
              ? std::string()
              : Disagreement(Summarize(reply.values), reply.count, reply.sum, reply.min,
                             reply.max));
    }
  }
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    --outstanding_calls_;
    auto worker_it = workers_.find(worker_id);
    Worker* worker = worker_it == workers_.end() ? nullptr : &worker_it->second;
    auto job_it = jobs_.find(job_sequence);
    Job* job = job_it == jobs_.end() ? nullptr : &job_it->second;
    if (job != nullptr) job->open_chunks_by_call.erase(call_id);

    // A worker that is gone loses every chunk it holds, these included: DeclareDeadLocked
    // re-queues them all, so this call's chunks must still be in its in-flight set.
    const bool worker_is_gone = !replies.ok() && worker != nullptr &&
                                MeansWorkerIsGone(replies.status().code());
    if (worker_is_gone) {
      DeclareDeadLocked(worker_id,
                        absl::StrCat("a chunk call failed: ", replies.status().ToString()),
                        &actions);
      worker = nullptr;
    } else if (worker != nullptr) {
      --worker->calls_in_flight;
      for (const auto& [chunk_index, attempt] : chunks) {
        worker->in_flight.erase({job_sequence, chunk_index, attempt});
      }
    }

    if (job == nullptr || worker_is_gone) {
      // Nothing to record: the job ended, or the chunks were re-queued with the worker.
    } else if (replies.ok() && replies->size() != chunks.size()) {
      // Which reply is for which chunk is unknown: none counts, and every chunk goes elsewhere.
      const absl::Status malformed = absl::DataLossError(
          absl::StrCat("it answered ", replies->size(), " of the ", chunks.size(),
                       " chunks of a call"));
      for (const auto& [chunk_index, attempt] : chunks) {
        if (jobs_.count(job_sequence) == 0) break;
        ChunkFailedLocked(*job, worker_id, worker, chunk_index, attempt, malformed);
      }
    } else {
      if (replies.ok()) {
        job->recent_time_per_chunk.push_back((clock_->Now() - started) /
                                             static_cast<int64_t>(chunks.size()));
        if (job->recent_time_per_chunk.size() > kDurationSamples) {
          job->recent_time_per_chunk.pop_front();
        }
      }
      for (size_t i = 0; i < chunks.size(); ++i) {
        // A chunk can end the job (its last result, or a failure); the rest are moot then.
        if (jobs_.count(job_sequence) == 0) break;
        const auto& [chunk_index, attempt] = chunks[i];
        if (replies.ok()) {
          AcceptResultLocked(*job, worker_id, worker, chunk_index, attempt,
                             std::move((*replies)[i]), contradictions[i], &actions);
        } else {
          ChunkFailedLocked(*job, worker_id, worker, chunk_index, attempt, replies.status());
        }
      }
    }
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::AcceptResultLocked(Job& job, const std::string& worker_id, Worker* worker,
                                   uint64_t chunk_index, int attempt, ChunkReply reply,
                                   const std::string& contradiction, Actions* actions) {
  const uint64_t expected = job.plan->ElementCount(chunk_index);
  // Values come in the reply, or, only where the client offered a buffer, in that buffer.
  const uint64_t expected_in_reply =
      job.spec.mode == ResultMode::kValues && !reply.values_shared ? expected : 0;
  std::string wrong;
  if (reply.count != expected ||
      static_cast<uint64_t>(reply.values.size()) != expected_in_reply) {
    wrong = absl::StrCat("it answered ", reply.count, " elements and ", reply.values.size(),
                         reply.values_shared ? " (+ shared)" : "", " values for a chunk of ",
                         expected, " elements");
  } else if (reply.values_shared && !job.spec.shared_values.has_value()) {
    wrong = "it answered values_shared for a job that offered no shared buffer";
  } else if (!contradiction.empty()) {
    wrong = absl::StrCat("its result contradicts itself: ", contradiction);
  }
  if (!wrong.empty()) {
    // Never a wrong answer with OK: the result is dropped and the chunk runs elsewhere.
    const absl::Status refused =
        absl::DataLossError(absl::StrCat("chunk ", chunk_index, ": ", wrong));
    if (job.active.count(chunk_index) > 0) {
      ChunkFailedLocked(job, worker_id, worker, chunk_index, attempt, refused);
      return;
    }
    // A late copy: nothing to redo, but the worker is at fault all the same.
    if (worker != nullptr) ++worker->faults;
    LogWarning(absl::StrCat(job.job_id, ": worker ", worker_id, " sent a late copy of chunk ",
                            chunk_index, " that was refused: ", refused.message()));
    return;
  }
  auto active_it = job.active.find(chunk_index);
  if (active_it == job.active.end()) {
    // First result wins; this is a late copy.
    ++job.stats.duplicates_dropped;
    return;
  }
  // The first result wins. The other copies of this chunk are cancelled, freeing their
  // slots, unless their call still carries chunks nobody has finished.
  for (const ChunkRun& run : active_it->second.runs) {
    if (run.worker_id == worker_id && run.attempt == attempt) {
      job.recent_durations.push_back(clock_->Now() - run.started);
      if (job.recent_durations.size() > kDurationSamples) job.recent_durations.pop_front();
      continue;
    }
    auto open = job.open_chunks_by_call.find(run.call_id);
    if (open != job.open_chunks_by_call.end() && --open->second > 0) continue;
    auto other = workers_.find(run.worker_id);
    if (other != workers_.end()) {
      actions->call_cancellations.emplace_back(other->second.connection, run.call_id);
    }
  }
  job.active.erase(active_it);
  ++job.chunks_done;
  ++job.undelivered;
  if (job.spec.mode == ResultMode::kValues) job.undelivered_values += static_cast<int64_t>(expected);
  JobEvent event;
  event.kind = JobEvent::Kind::kChunk;
  ChunkDelivery& chunk = event.chunk;
  chunk.chunk_index = chunk_index;
  chunk.first_element = job.plan->FirstElement(chunk_index);
  chunk.element_count = expected;
  chunk.values = std::move(reply.values);
  chunk.values_shared = reply.values_shared;
  chunk.sum = reply.sum;
  chunk.min = reply.min;
  chunk.max = reply.max;
  chunk.worker_id = worker_id;
  chunk.worker_pid = reply.pid;
  chunk.attempt = attempt;
  chunk.tail = job.retry_queue.empty() &&
               job.already_done.NextAbsent(job.next_fresh_chunk) >= job.plan->num_chunks;
  if (worker != nullptr) {
    ++worker->chunks_done;
    chunk.worker_host = worker->registration.host;
  }
  PushEventLocked(job, std::move(event));
  if (job.chunks_done == job.plan->num_chunks) FinishJobLocked(job, absl::OkStatus());
}

void Scheduler::ChunkFailedLocked(Job& job, const std::string& worker_id, Worker* worker,
                                  uint64_t chunk_index, int attempt,
                                  const absl::Status& status) {
  auto active_it = job.active.find(chunk_index);
  if (active_it == job.active.end()) return;  // already done: the failure does not matter
  auto& runs = active_it->second.runs;
  auto run_it = std::find_if(runs.begin(), runs.end(), [&](const ChunkRun& run) {
    return run.worker_id == worker_id && run.attempt == attempt;
  });
  // No run means the worker was already declared dead and the chunk re-queued.
  if (run_it == runs.end()) return;
  runs.erase(run_it);
  if (IsDeterministicFailure(status.code())) {
    FinishJobLocked(job, status);
    return;
  }
  // CANCELLED is the coordinator's own doing (or the worker's drain), not a fault.
  if (status.code() != absl::StatusCode::kCancelled) {
    active_it->second.faulted_on.push_back(worker_id);
    if (worker != nullptr) ++worker->faults;
    LogWarning(absl::StrCat(job.job_id, ": worker ",
                            worker != nullptr ? WorkerLabelLocked(*worker) : worker_id,
                            " failed chunk ", chunk_index, " (", status.ToString(),
                            "); the chunk runs again"));
  }
  // The chunk goes elsewhere; the reason goes into the job's error if the attempts run out.
  ChunkLostLocked(job, chunk_index,
                  absl::StrCat(worker != nullptr ? WorkerLabelLocked(*worker) : worker_id, " [",
                               absl::StatusCodeToString(status.code()), ": ", status.message(),
                               "]"));
}

void Scheduler::PumpLocked(Actions* actions) {
  // Planning can finish a job (and erase it), so iterate over the sequence numbers, not the
  // map itself.
  std::vector<uint64_t> sequences;
  sequences.reserve(jobs_.size());
  for (const auto& [sequence, job] : jobs_) sequences.push_back(sequence);
  auto for_each_job = [&](auto&& visit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bool any = false;
    for (uint64_t sequence : sequences) {
      auto it = jobs_.find(sequence);
      if (it != jobs_.end()) any |= visit(it->second);
    }
    return any;
  };
  // Round-robin over jobs in submission order, one chunk per job per round, so a long job
  // cannot starve a later one.
  while (for_each_job([&](Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return DispatchOneLocked(job, actions);
  })) {
  }
  for_each_job([&](Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    SpeculateLocked(job, actions);
    return false;
  });
  // Jobs with work left and no worker to run it start (or keep) waiting.
  const absl::Time now = clock_->Now();
  for_each_job([&](Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (HasEligibleWorkerLocked(job.spec.function)) {
      job.waiting_for_workers_since.reset();
    } else if (!job.waiting_for_workers_since.has_value()) {
      job.waiting_for_workers_since = now;
    }
    return false;
  });
  for (auto& cancellation : finished_job_calls_) {
    actions->call_cancellations.push_back(std::move(cancellation));
  }
  finished_job_calls_.clear();
  // This step's events are all pushed: the consumers may take them now, together.
  for (auto& stream : streams_to_notify_) {
    stream->Publish();
    actions->notifications.push_back(std::move(stream));
  }
  streams_to_notify_.clear();
}

void Scheduler::PushEventLocked(Job& job, JobEvent event) {
  job.stream->Push(std::move(event));
  // A job's events come a few at a time, in a row: one notification covers them.
  if (streams_to_notify_.empty() || streams_to_notify_.back() != job.stream) {
    streams_to_notify_.push_back(job.stream);
  }
}

bool Scheduler::TryPlanLocked(Job& job) {
  if (job.plan.has_value()) return true;
  if (!HasEligibleWorkerLocked(job.spec.function)) return false;
  int cluster_slots = 0;
  std::vector<int> eligible_slots;
  for (const auto& [id, worker] : workers_) {
    cluster_slots += worker.registration.slots;
    if (!worker.draining && Offers(worker.registration, job.spec.function)) {
      eligible_slots.push_back(worker.registration.slots);
    }
  }
  // With a worker limit, Pool's default chunk size follows the slots of the largest workers
  // the job may use.
  std::sort(eligible_slots.rbegin(), eligible_slots.rend());
  if (job.spec.max_workers > 0 &&
      eligible_slots.size() > static_cast<size_t>(job.spec.max_workers)) {
    eligible_slots.resize(job.spec.max_workers);
  }
  int job_slots = 0;
  for (int slots : eligible_slots) job_slots += slots;
  absl::StatusOr<ChunkPlan> plan =
      PlanChunks(job.spec.input->size(), job.spec.chunk_size, job_slots, job.spec.mode);
  if (!plan.ok()) {
    // The spec was validated at submission, so this cannot happen; fail loudly if it does.
    FinishJobLocked(job, plan.status());
    return false;
  }
  for (const auto& [first, last] : job.spec.completed_chunks) {
    if (last >= plan->num_chunks) {
      FinishJobLocked(job, absl::InvalidArgumentError(absl::StrCat(
                               "completed chunk range ", first, "..", last, " is beyond the ",
                               plan->num_chunks, " chunks of the job")));
      return false;
    }
    job.already_done.InsertRange(first, last);
  }
  job.chunks_done = job.already_done.size();
  job.plan = *plan;
  JobEvent event;
  event.kind = JobEvent::Kind::kStarted;
  event.plan.job_id = job.job_id;
  event.plan.total_elements = plan->total_elements;
  event.plan.chunk_size = plan->chunk_size;
  event.plan.num_chunks = plan->num_chunks;
  event.plan.cluster_slots = cluster_slots;
  event.plan.job_slots = job_slots;
  PushEventLocked(job, std::move(event));
  LogInfo(absl::StrCat(job.job_id, " planned: ", plan->num_chunks, " chunks of ",
                       plan->chunk_size, " elements over ", job_slots, " slots",
                       job.chunks_done > 0 ? absl::StrCat(" (", job.chunks_done,
                                                          " already held by the client)")
                                           : ""));
  if (job.chunks_done == plan->num_chunks) {
    FinishJobLocked(job, absl::OkStatus());
    return false;
  }
  return true;
}

bool Scheduler::WindowFullLocked(const Job& job) const {
  return job.undelivered >= options_.result_window ||
         job.undelivered_values >= options_.result_window_values;
}

uint64_t Scheduler::CallSizeLimitLocked(const Job& job, const Worker& worker) const {
  // Validated at registration: at least 1.
  const uint64_t worker_limit = static_cast<uint64_t>(worker.registration.max_chunks_per_call);
  if (worker_limit == 1) return 1;
  // Fair share: the chunks not yet sent, spread over the idle slots that may run the job
  // (this worker's included), so one worker does not take the whole job while another idles.
  // With no idle slot (a pipeline call), over all of the job's slots.
  int idle_slots = 0;
  int job_slots = 0;
  for (const auto& [id, other] : workers_) {
    if (!MayRunLocked(other, job)) continue;
    job_slots += other.registration.slots;
    idle_slots += std::max(0, other.registration.slots - other.calls_in_flight);
  }
  const uint64_t spread = static_cast<uint64_t>(std::max(1, idle_slots > 0 ? idle_slots : job_slots));
  const uint64_t unsent =
      job.retry_queue.size() + (job.plan->num_chunks - std::min(job.plan->num_chunks,
                                                                 job.next_fresh_chunk));
  const uint64_t fair_share = (unsent + spread - 1) / spread;
  // And no more than the result window has room for.
  const uint64_t window_room =
      static_cast<uint64_t>(std::max<int64_t>(1, options_.result_window - job.undelivered));
  // And about target_call_duration of work, by the median time per chunk so far.
  uint64_t by_time = static_cast<uint64_t>(std::max(1, options_.initial_chunks_per_call));
  if (!job.recent_time_per_chunk.empty()) {
    absl::Duration remainder;
    by_time = static_cast<uint64_t>(std::max<int64_t>(
        1, absl::IDivDuration(options_.target_call_duration,
                              std::max(Median(job.recent_time_per_chunk), absl::Microseconds(1)),
                              &remainder)));
  }
  return std::max<uint64_t>(1, std::min({worker_limit, fair_share, window_room, by_time}));
}

bool Scheduler::DispatchOneLocked(Job& job, Actions* actions) {
  if (!TryPlanLocked(job)) return false;
  if (WindowFullLocked(job)) return false;
  // Drop retry entries whose chunk completed meanwhile (a late result won).
  while (!job.retry_queue.empty() && job.active.count(job.retry_queue.front()) == 0) {
    job.retry_queue.pop_front();
  }
  job.next_fresh_chunk = job.already_done.NextAbsent(job.next_fresh_chunk);
  if (job.retry_queue.empty() && job.next_fresh_chunk >= job.plan->num_chunks) return false;
  Worker* worker = PickWorkerLocked(job);
  if (worker == nullptr) return false;

  // Retries first: they are the oldest work of the job. A chunk that was lost with its
  // worker travels alone: if it is what kills workers, the chunks that would have shared its
  // call are not charged its losses again.
  if (!job.retry_queue.empty()) {
    const uint64_t chunk_index = job.retry_queue.front();
    Worker* target = worker;
    const std::vector<std::string>& faulted = job.active[chunk_index].faulted_on;
    if (std::find(faulted.begin(), faulted.end(), worker->worker_id) != faulted.end()) {
      // This worker failed the chunk before: another one takes it, as soon as one has room.
      // Only when no other worker may run the job does it get the chunk again (bounded by
      // max_attempts).
      target = PickWorkerLocked(job, faulted);
      if (target == nullptr) {
        bool another_may_run = false;
        for (const auto& [id, other] : workers_) {
          another_may_run |= MayRunLocked(other, job) &&
                             std::find(faulted.begin(), faulted.end(), id) == faulted.end();
        }
        if (!another_may_run) target = worker;
      }
    }
    if (target != nullptr) {
      job.retry_queue.pop_front();
      DispatchLocked(job, {chunk_index}, *target, actions);
      return true;
    }
    // The retry waits for another worker; this one may take fresh chunks meanwhile.
    job.next_fresh_chunk = job.already_done.NextAbsent(job.next_fresh_chunk);
    if (job.next_fresh_chunk >= job.plan->num_chunks) return false;
  }
  // Fresh chunks, several to a call while the call stays small: a chunk bigger than the
  // element budget goes alone.
  const uint64_t max_chunks = CallSizeLimitLocked(job, *worker);
  std::vector<uint64_t> chunk_indices;
  int64_t elements = 0;
  while (chunk_indices.size() < max_chunks) {
    job.next_fresh_chunk = job.already_done.NextAbsent(job.next_fresh_chunk);
    if (job.next_fresh_chunk >= job.plan->num_chunks) break;
    const int64_t size = static_cast<int64_t>(job.plan->ElementCount(job.next_fresh_chunk));
    if (!chunk_indices.empty() && elements + size > options_.max_elements_per_call) break;
    elements += size;
    chunk_indices.push_back(job.next_fresh_chunk++);
  }
  DispatchLocked(job, chunk_indices, *worker, actions);
  return true;
}

void Scheduler::DispatchLocked(Job& job, const std::vector<uint64_t>& chunk_indices,
                               Worker& worker, Actions* actions) {
  const uint64_t call_id = next_call_id_++;
  const absl::Time now = clock_->Now();
  job.workers_used.insert(worker.worker_id);
  job.open_chunks_by_call[call_id] = static_cast<int>(chunk_indices.size());
  ++worker.calls_in_flight;
  ++outstanding_calls_;

  Actions::Dispatch dispatch;
  dispatch.connection = worker.connection;
  dispatch.worker_id = worker.worker_id;
  dispatch.job_sequence = job.sequence;
  dispatch.started = now;
  dispatch.tasks.reserve(chunk_indices.size());
  for (uint64_t chunk_index : chunk_indices) {
    ActiveChunk& active = job.active[chunk_index];
    const int attempt = ++active.dispatches;
    active.runs.push_back(ChunkRun{worker.worker_id, attempt, call_id, now});
    worker.in_flight.insert({job.sequence, chunk_index, attempt});
    ChunkTask& task = dispatch.tasks.emplace_back();
    task.call_id = call_id;
    task.job_id = job.job_id;
    task.chunk_index = chunk_index;
    task.attempt = attempt;
    task.function = job.spec.function;
    task.job_input = job.spec.input;
    task.first_element = job.plan->FirstElement(chunk_index);
    task.element_count = job.plan->ElementCount(chunk_index);
    task.mode = job.spec.mode;
    task.shared_values = job.spec.shared_values;
  }
  actions->dispatches.push_back(std::move(dispatch));
}

std::optional<absl::Duration> Scheduler::StragglerThresholdLocked(const Job& job) const {
  if (job.recent_durations.empty()) return std::nullopt;
  return std::max(Median(job.recent_durations) * options_.speculation_multiplier,
                  options_.speculation_min);
}

void Scheduler::SpeculateLocked(Job& job, Actions* actions) {
  // Backups only at the job's tail: while fresh or retried chunks wait, idle slots take those.
  if (!job.plan.has_value() || !job.retry_queue.empty() ||
      job.already_done.NextAbsent(job.next_fresh_chunk) < job.plan->num_chunks ||
      WindowFullLocked(job)) {
    return;
  }
  const std::optional<absl::Duration> threshold = StragglerThresholdLocked(job);
  if (!threshold.has_value()) return;
  const absl::Time now = clock_->Now();
  for (auto& [chunk_index, active] : job.active) {
    if (active.runs.size() != 1 || now - active.runs.front().started <= *threshold) continue;
    // An idle slot (not just pipeline room) on another worker that may run this job.
    Worker* backup = nullptr;
    for (auto& [id, worker] : workers_) {
      if (id != active.runs.front().worker_id && MayRunLocked(worker, job) &&
          worker.calls_in_flight < worker.registration.slots) {
        backup = &worker;
        break;
      }
    }
    if (backup == nullptr) return;
    LogInfo(absl::StrCat(job.job_id, ": chunk ", chunk_index, " has run for ",
                         absl::FormatDuration(absl::Trunc(now - active.runs.front().started,
                                                          absl::Milliseconds(1))),
                         " on ", active.runs.front().worker_id, "; starting a backup on ",
                         backup->worker_id));
    ++job.stats.backups;
    DispatchLocked(job, {chunk_index}, *backup, actions);
  }
}

bool Scheduler::MayRunLocked(const Worker& worker, const Job& job) const {
  if (worker.draining || !Offers(worker.registration, job.spec.function)) return false;
  const bool at_worker_limit =
      job.spec.max_workers > 0 &&
      job.workers_used.size() >= static_cast<size_t>(job.spec.max_workers);
  return !at_worker_limit || job.workers_used.count(worker.worker_id) > 0;
}

Scheduler::Worker* Scheduler::PickWorkerLocked(const Job& job,
                                               const std::vector<std::string>& exclude) {
  Worker* best = nullptr;
  double best_load = 0;
  for (auto& [id, worker] : workers_) {
    if (!MayRunLocked(worker, job)) continue;
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
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

bool Scheduler::HasEligibleWorkerLocked(const std::string& function) const {
  for (const auto& [id, worker] : workers_) {
    if (!worker.draining && Offers(worker.registration, function)) return true;
  }
  return false;
}

std::vector<std::string> Scheduler::AvailableFunctionsLocked() const {
  std::set<std::string> names;
  for (const auto& [id, worker] : workers_) {
    names.insert(worker.registration.functions.begin(), worker.registration.functions.end());
  }
  return std::vector<std::string>(names.begin(), names.end());
}

void Scheduler::DeclareDeadLocked(const std::string& worker_id, const std::string& reason,
                                  Actions* actions, bool lost) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& worker = it->second;
  const std::string label = WorkerLabelLocked(worker);
  (lost ? LogWarning : LogInfo)(absl::StrCat("worker ", label, lost ? " declared dead: " : " left: ",
                                             reason, "; re-queueing its ",
                                             worker.in_flight.size(), " chunk(s)"));
  for (const auto& [job_sequence, chunk_index, attempt] : worker.in_flight) {
    auto job_it = jobs_.find(job_sequence);
    if (job_it == jobs_.end()) continue;
    Job& job = job_it->second;
    job.workers_used.erase(worker_id);
    if (lost && job.workers_lost.insert(worker_id).second) ++job.stats.workers_lost;
    auto active_it = job.active.find(chunk_index);
    if (active_it == job.active.end()) continue;
    auto& runs = active_it->second.runs;
    runs.erase(std::remove_if(runs.begin(), runs.end(),
                              [&](const ChunkRun& run) {
                                return run.worker_id == worker_id && run.attempt == attempt;
                              }),
               runs.end());
    ChunkLostLocked(job, chunk_index, label);
  }
  actions->cancellations.push_back(worker.connection);
  workers_.erase(it);
  RegrantLocked();
}

void Scheduler::ChunkLostLocked(Job& job, uint64_t chunk_index, const std::string& worker_label) {
  if (!job.plan.has_value()) return;
  auto active_it = job.active.find(chunk_index);
  if (active_it == job.active.end()) return;
  ActiveChunk& active = active_it->second;
  active.lost_on.push_back(worker_label);
  // Another copy still running (a backup) keeps the chunk alive.
  if (!active.runs.empty()) return;
  if (static_cast<int>(active.lost_on.size()) >= options_.max_attempts) {
    const uint64_t first = job.plan->FirstElement(chunk_index);
    const uint64_t count = job.plan->ElementCount(chunk_index);
    FinishJobLocked(
        job, absl::AbortedError(absl::StrCat(
                 "chunk ", chunk_index, " (", job.spec.input->DescribeSlice(first, count),
                 ") was lost ", active.lost_on.size(),
                 " times, with workers ", absl::StrJoin(active.lost_on, ", "),
                 "; giving up after ", options_.max_attempts, " attempts")));
    return;
  }
  ++job.stats.retries;
  // Retries go first: they are the oldest work of the job.
  job.retry_queue.push_front(chunk_index);
}

void Scheduler::FinishJobLocked(Job& job, absl::Status status) {
  // Whatever still runs for this job is wasted work now: cancel it so the slots free up.
  std::set<uint64_t> cancelled_calls;
  for (const auto& [chunk_index, active] : job.active) {
    for (const ChunkRun& run : active.runs) {
      auto worker = workers_.find(run.worker_id);
      if (worker != workers_.end() && cancelled_calls.insert(run.call_id).second) {
        finished_job_calls_.emplace_back(worker->second.connection, run.call_id);
      }
    }
  }
  JobEvent event;
  event.kind = JobEvent::Kind::kFinished;
  event.status = status;
  // UNAVAILABLE (no worker for the job) may pass: a later resubmission can succeed. Every
  // other failure is the job's own.
  event.final = !absl::IsUnavailable(status);
  event.stats = job.stats;
  PushEventLocked(job, std::move(event));
  if (status.ok()) {
    LogInfo(absl::StrCat(job.job_id, " done: ", job.chunks_done, " chunks, ", job.stats.retries,
                         " retries, ", job.stats.workers_lost, " workers lost"));
  } else {
    LogWarning(absl::StrCat(job.job_id, " failed: ", status.ToString()));
  }
  jobs_.erase(job.sequence);
}

Scheduler::Job* Scheduler::FindJobLocked(const std::string& job_id) {
  for (auto& [sequence, job] : jobs_) {
    if (job.job_id == job_id) return &job;
  }
  return nullptr;
}

std::string Scheduler::WorkerLabelLocked(const Worker& worker) const {
  return absl::StrCat(worker.worker_id, " (", worker.registration.host, "/",
                      worker.registration.pid, ")");
}

}  // namespace gpool
