#include "server/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/address.h"
#include "common/log.h"

namespace gpool {
namespace {

// The worker itself is unreachable or hung, not just this call: everything it holds is lost.
bool MeansWorkerIsGone(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, const Clock* clock, WorkerConnector* connector)
    : options_(std::move(options)),
      policy_(DispatchOptions{options_.pipeline_depth, options_.speculation_multiplier,
                              options_.speculation_min, options_.target_call_duration,
                              options_.initial_chunks_per_call,
                              options_.max_elements_per_call}),
      clock_(clock),
      connector_(connector),
      observer_(options_.observer != nullptr ? options_.observer : &no_observer_),
      registry_(HeartbeatPolicy(options_.heartbeat_interval, options_.lease_timeout,
                                options_.heartbeat_budget, options_.max_heartbeat_interval)),
      jobs_(options_.max_jobs, options_.max_jobs_per_client),
      // Its start counts as a tick: a coordinator stopped before its first tick has stalled too.
      last_tick_(clock->Now()),
      result_budget_(options_.result_buffer_bytes) {}

Scheduler::~Scheduler() {
  std::vector<std::shared_ptr<WorkerConnection>> connections;
  std::vector<std::shared_ptr<JobStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, worker] : registry_.workers()) connections.push_back(worker.connection);
    for (auto& [sequence, job] : jobs_.jobs()) {
      if (job.finished) continue;  // its stream has ended already
      PushEventLocked(job, job.FinishedEvent(
                               absl::UnavailableError("the coordinator is shutting down")));
    }
    jobs_.Clear();
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

void Scheduler::RegisterWorker(const WorkerRegistration& registration,
                               RegistrationDone done) {
  RegisterRound(registration, 1, std::nullopt, std::move(done));
}

absl::StatusOr<RegistrationGrant> Scheduler::RegisterWorkerAndWait(
    const WorkerRegistration& registration) {
  absl::Notification answered;
  absl::StatusOr<RegistrationGrant> result;
  RegisterWorker(registration, [&](absl::StatusOr<RegistrationGrant> grant) {
    result = std::move(grant);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void Scheduler::RegisterRound(const WorkerRegistration& registration, int round,
                              std::optional<HolderAnswer> answer, RegistrationDone done) {
  absl::StatusOr<std::variant<RegistrationGrant, AddressHolder>> step =
      TryRegisterWorker(registration, answer);
  if (!step.ok()) return done(step.status());
  if (auto* grant = std::get_if<RegistrationGrant>(&*step)) return done(*grant);
  AddressHolder holder = std::get<AddressHolder>(*std::move(step));
  if (round > kMaxRegistrationRounds) {
    return done(absl::AbortedError(absl::StrCat(
        "registrations for ", registration.address, " kept completing while this one asked ",
        "the worker there whether it is alive (", kMaxRegistrationRounds,
        " rounds); retry with backoff")));
  }
  {
    absl::MutexLock lock(&mu_);
    ++outstanding_calls_;  // the destructor waits for the answer
  }
  // No lock is held while the holder is asked: the answer may take confirm_timeout.
  std::shared_ptr<WorkerConnection> connection = std::move(holder.connection);
  connection->ConfirmIncarnation(
      holder.incarnation, options_.confirm_timeout,
      [this, registration, round, worker_id = holder.worker_id,
       done = std::move(done)](absl::StatusOr<bool> confirmed) mutable {
        RegisterRound(registration, round + 1,
                      HolderAnswer{std::move(worker_id), std::move(confirmed)}, std::move(done));
        absl::MutexLock lock(&mu_);
        --outstanding_calls_;
      });
}

absl::StatusOr<std::variant<RegistrationGrant, AddressHolder>> Scheduler::TryRegisterWorker(
    const WorkerRegistration& registration, const std::optional<HolderAnswer>& answer) {
  if (absl::Status status = ValidateRegistration(registration); !status.ok()) return status;
  // Connecting creates a channel object only; no I/O happens under the lock.
  std::shared_ptr<WorkerConnection> connection = connector_->Connect(registration.address);
  Actions actions;
  RegistrationGrant grant;
  {
    absl::MutexLock lock(&mu_);
    // Races end in one registration per address, because the decision (ClaimAddress) and
    // the change are made together under mu_: the holders are read afresh here, and a
    // newcomer replaces only holders that are its own incarnation or that the worker at the
    // address has just disowned. If the holder asked about left meanwhile, the address is
    // free; if another registration replaced it meanwhile, that new holder must be asked
    // about in turn (the worker at the address confirms at most one of them), so two
    // newcomers at once end with the one that serves there registered and the other refused.
    // A registration that points at the coordinator itself would fail every call sent there.
    if (!coordinator_address_.empty() &&
        SameLocalEndpoint(registration.address, coordinator_address_, local_host_name_)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RegisterWorkerRequest.address ", registration.address, " is this coordinator's own "
          "address (", coordinator_address_, "); give the address the worker itself serves on"));
    }
    if (absl::Status status = registry_.CheckSignatures(registration); !status.ok()) {
      return status;
    }
    absl::StatusOr<std::variant<AddressReplacement, AddressHolder>> claim =
        registry_.ClaimAddress(registration, answer, options_.max_workers);
    if (!claim.ok()) return claim.status();
    if (auto* holder = std::get_if<AddressHolder>(&*claim)) return std::move(*holder);
    for (const auto& [id, why] : std::get<AddressReplacement>(*claim).replaced) {
      DeclareDeadLocked(id, why, &actions);
    }
    const RegisteredWorker& worker =
        registry_.Add(registration, std::move(connection), clock_->Now());
    grant.worker_id = worker.worker_id;
    grant.heartbeat_interval = worker.heartbeat_interval;
    grant.lease_timeout = worker.lease_timeout;
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
  return grant;
}

absl::StatusOr<HeartbeatGrant> Scheduler::Heartbeat(const std::string& worker_id,
                                                    uint64_t incarnation,
                                                    absl::Duration reported_interval) {
  absl::MutexLock lock(&mu_);
  return registry_.Heartbeat(worker_id, incarnation, reported_interval, clock_->Now());
}

absl::Status Scheduler::DrainWorker(const std::string& worker_id, uint64_t incarnation) {
  absl::MutexLock lock(&mu_);
  return registry_.Drain(worker_id, incarnation);
}

absl::Status Scheduler::DeregisterWorker(const std::string& worker_id, uint64_t incarnation) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (registry_.Find(worker_id, incarnation) == nullptr) {
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
  if (absl::Status status = ValidateJobSpec(spec); !status.ok()) return status;
  Actions actions;
  std::pair<std::string, std::shared_ptr<JobStream>> result;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status room = jobs_.RoomFor(spec.client); !room.ok()) return room;
    // A job whose function no registered worker offers waits for one (PumpLocked), like a job
    // submitted to an empty cluster: workers come and go, and which ones are registered at
    // this instant says little about the next second.
    Job& job = jobs_.Add(std::move(spec),
                         ResultWindow(options_.result_window, options_.result_window_values),
                         clock_->Now());
    result = {job.job_id, job.stream};
    LogInfo(absl::StrCat(job.job_id, " submitted: ", job.spec.function, " over ",
                         job.spec.input->Describe()));
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
  return result;
}

void Scheduler::CancelJob(const std::string& job_id, const absl::Status& reason) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    Job* job = jobs_.Find(job_id);
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
    Job* job = jobs_.Find(job_id);
    if (job == nullptr) return;
    job->window.Delivered(chunks, values);
    const int64_t released = std::min(job->reserved_bytes, values * 8);
    job->reserved_bytes -= released;
    result_budget_.Release(released);
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::Tick() {
  Actions actions;
  bool trim = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (now - last_tick_ > options_.stall_threshold) {
      const absl::Duration gap = now - last_tick_;
      registry_.ExcuseSilence(gap, now);
      LogWarning(absl::StrCat("the coordinator did not run for ", absl::FormatDuration(gap),
                              " (stopped, paused or starved); every worker's lease is extended "
                              "by that much, since their beats went unheard"));
    }
    last_tick_ = now;
    for (const std::string& id : registry_.Expired(now)) {
      const RegisteredWorker& worker = *registry_.Find(id);
      DeclareDeadLocked(
          id,
          absl::StrCat("no heartbeat for more than ", absl::FormatDuration(worker.lease_timeout),
                       " (lease expired; it beats every ",
                       absl::FormatDuration(worker.heartbeat_interval), ")"),
          &actions);
    }
    PumpLocked(&actions);
    // FinishJobLocked only marks a job finished (it is erased at the end of the step), so
    // the pointers stay valid while finishing those that waited too long.
    const std::vector<Job*> waited = jobs_.WaitedLongerThan(options_.worker_wait, now);
    for (Job* job : waited) {
      FinishJobLocked(*job, DispatchPolicy::WaitedTooLong(registry_, *job, options_.worker_wait,
                                                          coordinator_address_));
    }
    if (!waited.empty()) PumpLocked(&actions);
    trim = trim_due_.has_value() && now >= *trim_due_;
    if (trim) {
      trim_due_.reset();
      ended_result_bytes_ = 0;
    }
  }
  Execute(std::move(actions));
  // Outside the lock: trimming walks malloc's arenas, which takes a while when they are large.
  if (trim) {
    ReturnFreeMemory();
    LogInfo("gave the memory of ended jobs back to the system (malloc_trim)");
  }
}

int64_t Scheduler::ReservedResultBytes() const {
  absl::MutexLock lock(&mu_);
  return result_budget_.reserved();
}

void Scheduler::SetCoordinatorAddress(std::string address) {
  // Asked of the system once, outside the lock, rather than per registration under it.
  std::string host_name = LocalHostName();
  absl::MutexLock lock(&mu_);
  coordinator_address_ = std::move(address);
  local_host_name_ = std::move(host_name);
}

ClusterInfo Scheduler::Snapshot() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  ClusterInfo snapshot;
  snapshot.total_slots = registry_.TotalSlots();
  snapshot.workers = registry_.Snapshot(now, kMaxWorkerListBytes);
  snapshot.workers_omitted = static_cast<int>(registry_.size() - snapshot.workers.size());
  snapshot.jobs = jobs_.Snapshot(now);
  snapshot.ended_jobs = jobs_.EndedStats();
  return snapshot;
}

bool Scheduler::AwaitWorkers(int min_workers, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, min_workers]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(registry_.size()) >= min_workers;
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
  // Outside the lock: reading a reply's values is the coordinator's per-value work (beside
  // one memcmp of two copies of a chunk under --verify), and other calls need not wait.
  std::vector<std::string> contradictions;
  if (replies.ok()) {
    contradictions.reserve(replies->size());
    for (const ChunkReply& reply : *replies) contradictions.push_back(Contradiction(reply));
  }
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    --outstanding_calls_;
    RegisteredWorker* worker = registry_.Find(worker_id);
    Job* job = jobs_.Find(job_sequence);
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
      worker->CallEnded(job_sequence, chunks);
    }

    if (job == nullptr || worker_is_gone) {
      // Nothing to record: the job ended, or the chunks were re-queued with the worker.
    } else {
      const std::string label = worker != nullptr ? worker->Label() : worker_id;
      const absl::Time now = clock_->Now();
      const absl::Status failure = CallFailure(replies, chunks.size());
      if (failure.ok()) {
        job->dispatch.RecordCall(now - started, static_cast<int64_t>(chunks.size()));
        observer_->CallDone(now - started, static_cast<int64_t>(chunks.size()));
      }
      for (size_t i = 0; i < chunks.size(); ++i) {
        // A chunk can end the job (its last result, or a failure); the rest are moot then.
        if (job->finished) break;
        const auto& [chunk_index, attempt] = chunks[i];
        ApplyLocked(*job, worker,
                    failure.ok()
                        ? job->AcceptResult(chunk_index, worker_id, label, attempt,
                                            std::move((*replies)[i]), contradictions[i], now,
                                            options_.max_attempts)
                        : job->RunFailed(chunk_index, worker_id, label, attempt, failure,
                                         options_.max_attempts),
                    &actions);
      }
    }
    PumpLocked(&actions);
  }
  Execute(std::move(actions));
}

void Scheduler::ApplyLocked(Job& job, RegisteredWorker* worker, RunOutcome outcome,
                            Actions* actions) {
  if (outcome.worker_fault) {
    observer_->ChunkFailed();
    if (worker != nullptr) ++worker->faults;
  }
  for (const auto& [other_id, call_id] : outcome.calls_to_cancel) {
    if (const RegisteredWorker* other = registry_.Find(other_id); other != nullptr) {
      actions->call_cancellations.emplace_back(other->connection, call_id);
    }
  }
  if (outcome.chunk_event.has_value()) {
    observer_->ChunkDone(outcome.chunk_event->chunk.element_count);
    if (worker != nullptr) {
      ++worker->chunks_done;
      outcome.chunk_event->chunk.worker_host = worker->registration.host;
    }
    PushEventLocked(job, *std::move(outcome.chunk_event));
  }
  for (const auto& [worker_id, reason] : outcome.quarantine) {
    QuarantineLocked(worker_id, reason, actions);
  }
  if (outcome.finish.has_value()) FinishJobLocked(job, *std::move(outcome.finish));
}

void Scheduler::PumpLocked(Actions* actions) {
  // A job that finishes meanwhile stays in jobs_ until the end of this step: skip it.
  auto for_each_job = [&](auto&& visit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bool any = false;
    for (auto& [sequence, job] : jobs_.jobs()) {
      if (!job.finished) any |= visit(job);
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
    if (DispatchPolicy::HasWorkerFor(registry_, job)) {
      job.waiting_for_workers_since.reset();
    } else if (!job.waiting_for_workers_since.has_value()) {
      job.waiting_for_workers_since = now;
    }
    return false;
  });
  // The step is over: no caller holds a Job& any more.
  jobs_.EraseFinished();
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
  if (job.chunks.has_value()) return true;
  if (!registry_.AnyAccepts(job.spec.function)) return false;
  const auto [cluster_slots, job_slots] = DispatchPolicy::SlotsFor(registry_, job.dispatch);
  // Every worker offers the function with the same types (WorkerRegistry::CheckSignatures).
  absl::StatusOr<JobEvent> started =
      job.Plan(cluster_slots, job_slots, *registry_.SignatureOf(job.spec.function));
  if (!started.ok()) {
    FinishJobLocked(job, started.status());
    return false;
  }
  PushEventLocked(job, *std::move(started));
  const ChunkPlan& plan = job.chunks->plan();
  LogInfo(absl::StrCat(job.job_id, " planned: ", plan.num_chunks, " chunks of ",
                       plan.chunk_size, " elements over ", job_slots, " slots",
                       job.chunks->chunks_done() > 0
                           ? absl::StrCat(" (", job.chunks->chunks_done(),
                                          " already held by the client)")
                           : ""));
  if (job.chunks->AllDone()) {
    FinishJobLocked(job, absl::OkStatus());
    return false;
  }
  return true;
}

bool Scheduler::DispatchOneLocked(Job& job, Actions* actions) {
  if (!TryPlanLocked(job)) return false;
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job, &result_budget_);
  if (!call.has_value()) return false;
  DispatchLocked(job, call->chunk_indices, *call->worker, actions);
  return true;
}

void Scheduler::DispatchLocked(Job& job, const std::vector<uint64_t>& chunk_indices,
                               RegisteredWorker& worker, Actions* actions) {
  const uint64_t call_id = next_call_id_++;
  const absl::Time now = clock_->Now();
  ++outstanding_calls_;
  Actions::Dispatch& dispatch = actions->dispatches.emplace_back();
  dispatch.connection = worker.connection;
  dispatch.worker_id = worker.worker_id;
  dispatch.job_sequence = job.sequence;
  dispatch.started = now;
  const int64_t reserved_before = job.reserved_bytes;
  dispatch.tasks = job.StartCall(call_id, worker.worker_id, chunk_indices, now);
  result_budget_.Reserve(job.reserved_bytes - reserved_before);
  worker.CallStarted(job.sequence, dispatch.tasks);
}

void Scheduler::SpeculateLocked(Job& job, Actions* actions) {
  const absl::Time now = clock_->Now();
  for (uint64_t chunk_index : policy_.Stragglers(job, now)) {
    const ChunkRun& running = job.chunks->Active(chunk_index)->runs.front();
    // An idle slot (not just pipeline room) on another worker that may run this job.
    RegisteredWorker* backup =
        policy_.PickBackup(registry_, job.dispatch, job.CopyExclusions(chunk_index));
    if (backup == nullptr) return;
    LogInfo(absl::StrCat(job.job_id, ": chunk ", chunk_index, " has run for ",
                         absl::FormatDuration(absl::Trunc(now - running.started,
                                                          absl::Milliseconds(1))),
                         " on ", running.worker_id, "; starting a backup on ",
                         backup->worker_id));
    ++job.stats.backups;
    DispatchLocked(job, {chunk_index}, *backup, actions);
  }
}

void Scheduler::DeclareDeadLocked(const std::string& worker_id, const std::string& reason,
                                  Actions* actions, bool lost) {
  RegisteredWorker* worker = registry_.Find(worker_id);
  if (worker == nullptr) return;
  (lost ? LogWarning : LogInfo)(absl::StrCat("worker ", worker->Label(),
                                             lost ? " declared dead: " : " left: ", reason,
                                             "; re-queueing its ", worker->in_flight.size(),
                                             " chunk(s)"));
  if (lost) observer_->WorkerLost();
  ReleaseChunksLocked(*worker, lost, actions);
  registry_.Remove(worker_id);
}

void Scheduler::QuarantineLocked(const std::string& worker_id, const std::string& reason,
                                 Actions* actions) {
  // Its results held for other chunks count no more, even if it is gone already.
  for (auto& [sequence, job] : jobs_.jobs()) {
    if (!job.finished) job.WorkerQuarantined(worker_id);
  }
  RegisteredWorker* worker = registry_.Quarantine(worker_id, reason);
  if (worker == nullptr) return;
  // As if it were lost: its chunks in flight run elsewhere. It stays registered, so that
  // status shows it and why.
  ReleaseChunksLocked(*worker, /*lost=*/true, actions);
  worker->in_flight.clear();
}

void Scheduler::ReleaseChunksLocked(RegisteredWorker& worker, bool lost, Actions* actions) {
  const std::string label = worker.Label();
  if (lost) observer_->ChunksLost(static_cast<int64_t>(worker.in_flight.size()));
  for (const auto& [job_sequence, chunk_index, attempt] : worker.in_flight) {
    Job* job = jobs_.Find(job_sequence);
    if (job == nullptr) continue;
    std::optional<absl::Status> aborted = job->WorkerGone(worker.worker_id, label, chunk_index,
                                                          attempt, lost, options_.max_attempts);
    if (aborted.has_value()) FinishJobLocked(*job, *std::move(aborted));
  }
  actions->cancellations.push_back(worker.connection);
}

void Scheduler::FinishJobLocked(Job& job, absl::Status status) {
  if (job.finished) return;
  result_budget_.Release(job.reserved_bytes);
  job.reserved_bytes = 0;
  ended_result_bytes_ += job.peak_reserved_bytes;
  if (ended_result_bytes_ >= options_.trim_after_bytes) {
    // Its buffers go when its call does (or its workers' calls are cancelled): a moment
    // later. Jobs that end together are trimmed for once, a second after the last of them,
    // but no more than 5 s after the first.
    const absl::Time now = clock_->Now();
    if (!trim_due_.has_value()) trim_first_due_ = now + absl::Seconds(5);
    trim_due_ = std::min(now + absl::Seconds(1), trim_first_due_);
  }
  // Whatever still runs for this job is wasted work now: cancel it so the slots free up.
  for (const auto& [worker_id, call_id] : job.Finish()) {
    if (const RegisteredWorker* worker = registry_.Find(worker_id); worker != nullptr) {
      finished_job_calls_.emplace_back(worker->connection, call_id);
    }
  }
  PushEventLocked(job, job.FinishedEvent(status));
  observer_->JobFinished(status.code(), clock_->Now() - job.submitted);
  if (status.ok()) {
    LogInfo(absl::StrCat(job.job_id, " done: ",
                         job.chunks.has_value() ? job.chunks->chunks_done() : 0, " chunks, ",
                         job.stats.retries, " retries, ", job.stats.workers_lost,
                         " workers lost"));
  } else {
    LogWarning(absl::StrCat(job.job_id, " failed: ", status.ToString()));
  }
}

}  // namespace gpool
