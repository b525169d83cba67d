// The coordinator's brain, with no transport in it: above the registry of workers and their
// leases (WorkerRegistry, which knows no jobs), the table of jobs and its limits (JobTable)
// and each job's chunk table (ChunkTable, which knows no workers), it asks the
// DispatchPolicy (a function of both) which chunks run where, records the answer in both,
// and applies what the parts decide (who may take an address: WorkerRegistry::ClaimAddress;
// the end of each run: Job::AcceptResult / RunFailed / WorkerGone) to the others. The gRPC
// service adapter (coordinator_service.h) turns RPCs into calls on it; unit tests drive it
// with a FakeClock and fake WorkerConnections.
//
// Chunk life cycle, per job (a chunk index is stable for the whole job):
//
//     fresh ──dispatch──► running ──result OK (first wins)──► done ──► delivered to client
//                          │  ▲ │
//      worker died / went  │  │ └─ runs far longer than its peers ──► + backup copy on an
//      silent / RPC lost / ▼  │ dispatch (attempt + 1)       idle worker (the loser is cancelled)
//      any other error   retry queue ── lost max_attempts times ──► job ABORTED
//
//     running ──the function's own error (OUT_OF_RANGE, INVALID_ARGUMENT)──► job fails at once
//
// A result that contradicts itself or the plan (values that do not add up to the count, sum,
// min and max reported; a wrong element count) is refused and goes the way of an error.
// Under --verify (JobSpec::verify_fraction) a sampled chunk's result is held until a second
// worker agrees with it (a third decides a disagreement); the outvoted worker is quarantined:
// no more chunks, its chunks in flight re-queued as if it were lost (server/quorum.h). Such
// failures of a worker that did not die are its faults (WorkerInfo::faults), and the
// chunk's retries avoid it while another worker may run the job.
//
// A resubmitted job (the client lost its coordinator) names the chunks it already holds;
// they start out done.
//
// Worker life cycle: registered ──heartbeats──► registered ... ──lease expired, RPC
// UNAVAILABLE, or a registration from the same address that the worker there does not
// contradict (same incarnation; or it does not confirm its own within confirm_timeout)──►
// dead (removed; its running chunks go to the retry queue). A dead worker that comes back
// registers anew with a new worker id. A registration for the address of a worker that still
// confirms its incarnation there is refused (ALREADY_EXISTS): nobody evicts a live worker.
// Each worker has its own lease, a multiple of the interval it beats at; the interval granted
// grows with the number of workers (HeartbeatPolicy).
//
// Thread-safety: all public methods are thread-safe. No callback into a WorkerConnection or a
// JobEventListener runs while the scheduler's lock is held.
#ifndef GPOOL_SERVER_SCHEDULER_H_
#define GPOOL_SERVER_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/chunking.h"
#include "common/cluster_info.h"
#include "common/clock.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/worker_registration.h"
#include "server/chunk_table.h"
#include "server/dispatch_policy.h"
#include "server/job.h"
#include "server/job_table.h"
#include "server/result_budget.h"
#include "server/result_window.h"
#include "server/job_stream.h"
#include "server/scheduler_observer.h"
#include "server/worker_connection.h"
#include "server/worker_registry.h"

namespace gpool {

struct SchedulerOptions {
  // How often workers are asked to heartbeat while the cluster is within the budget below:
  // the shortest interval granted.
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  // A worker silent for longer is declared dead and its chunks are re-dispatched. This is the
  // lease at heartbeat_interval; a worker beating at a longer interval gets a lease longer in
  // proportion (heartbeat_policy.h).
  absl::Duration lease_timeout = absl::Seconds(3);
  // Beats per second the coordinator accepts from all workers together: as the cluster grows
  // past heartbeat_budget × heartbeat_interval workers (200 by default), the interval granted
  // grows so that the total stays within it (heartbeat_policy.h). 0: every worker beats at
  // heartbeat_interval, whatever the cluster's size.
  double heartbeat_budget = 400;
  // The longest interval granted (and with it the longest lease: 60 s by default).
  absl::Duration max_heartbeat_interval = absl::Seconds(10);
  // How long a job waits for a worker that offers its function before failing UNAVAILABLE,
  // whether or not other workers are registered (at submission, or after losing its workers).
  absl::Duration worker_wait = absl::Seconds(10);
  // Chunks a worker may hold beyond its slots, to hide the round trip between two chunks.
  int pipeline_depth = 1;
  // Failed runs of one chunk (lost with its worker, a worker's error that is not the
  // function's own, a refused answer) before the job is aborted (Spark's 4 attempts).
  int max_attempts = 4;
  // Speculative execution: a chunk running longer than max(speculation_multiplier × the
  // job's median chunk time, speculation_min) gets a backup copy on an idle slot of another
  // worker; the first result wins and the other call is cancelled.
  double speculation_multiplier = 3.0;
  absl::Duration speculation_min = absl::Seconds(1);
  // Completed chunks of one job that may wait for its client before dispatch of that job
  // pauses, and the values they may hold together. Chunks already running still land, so
  // at most the window plus the chunks in flight are buffered: the bound on the
  // coordinator's memory per job.
  int result_window = 16 * 1024;
  int64_t result_window_values = int64_t{4} << 20;  // 32 MiB of int64
  // Result bytes all jobs together may hold (server/result_budget.h): a values chunk's
  // bytes count from its dispatch until its result is written to the client, so chunks in
  // flight stay inside it. One job may use all of it (a big cluster's slots need a few
  // chunks in flight each: raise it for clusters of more than ~100 slots). A job that holds
  // nothing may always take one chunk (at most 2 MiB), so nobody starves.
  int64_t result_buffer_bytes = int64_t{256} << 20;
  // Once jobs that held at least this many result bytes (each its peak) have ended since the
  // last time, the coordinator gives the memory malloc keeps free back to the system
  // (ReturnFreeMemory), about a second later (once their calls' buffers are gone too).
  int64_t trim_after_bytes = int64_t{32} << 20;
  // Small chunks travel several to a call (RunChunks) up to this many elements per call, so
  // a one-element chunk does not pay a whole RPC. A chunk larger than this goes alone.
  int64_t max_elements_per_call = 64 * 1024;
  // A call should hold about this much work, by the job's measured time per chunk, so that
  // batching never makes a lost call, the tail of a job or progress reports coarse.
  absl::Duration target_call_duration = absl::Milliseconds(20);
  // Chunks per call before any chunk of the job has been timed.
  int initial_chunks_per_call = 16;
  // A gap longer than this between two Ticks (the daemon ticks every 100 ms) means the
  // coordinator itself did not run: stopped (SIGSTOP), its VM paused, or starved. Its
  // workers' beats went unheard meanwhile, so their leases are extended by the gap instead of
  // expiring all at once: they are not to blame for the coordinator's silence.
  absl::Duration stall_threshold = absl::Seconds(1);
  // Bounds on what callers can make the coordinator hold: registered workers, jobs at once
  // (running or waiting for workers), and jobs at once from one client connection. Beyond
  // them RegisterWorker and Map answer RESOURCE_EXHAUSTED naming the limit: capacity that may
  // free up, so a caller retries later.
  int max_workers = 10'000;
  int max_jobs = 1'000;
  int max_jobs_per_client = 100;
  // How long the worker at an address a registration claims has to confirm that it is the
  // registered one (Worker.ConfirmIncarnation) before it is replaced.
  absl::Duration confirm_timeout = absl::Seconds(1);
  // Told of chunks, calls, jobs and workers as they end (the coordinator's metrics); must
  // outlive the scheduler. nullptr: nobody.
  SchedulerObserver* observer = nullptr;
};

// Rounds of asking a registration makes before it gives up with ABORTED: each extra round
// means another registration for the same address completed while this one was asking.
inline constexpr int kMaxRegistrationRounds = 3;

class Scheduler {
 public:
  // `clock` and `connector` must outlive the scheduler.
  Scheduler(SchedulerOptions options, const Clock* clock, WorkerConnector* connector);
  // Cancels the calls in flight and waits for their callbacks to finish.
  ~Scheduler();

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds a worker, never evicting a live one: when a worker of another incarnation holds the
  // address, the worker serving at that address is asked (WorkerConnection::
  // ConfirmIncarnation, options.confirm_timeout) whether it is still that one, with no lock
  // held; then TryRegisterWorker completes. `done` runs once: at once when nobody else holds
  // the address, else on the thread that got the answer. Errors: INVALID_ARGUMENT for a
  // registration outside RegisterWorkerRequest's limits (ValidateRegistration);
  // ALREADY_EXISTS when the worker at the address confirms the registered incarnation;
  // ABORTED when other registrations for the address completed while this one asked, round
  // after round (kMaxRegistrationRounds).
  using RegistrationDone = std::function<void(absl::StatusOr<RegistrationGrant>)>;
  void RegisterWorker(const WorkerRegistration& registration, RegistrationDone done);
  // RegisterWorker, waiting for its answer (at most about options.confirm_timeout per round).
  absl::StatusOr<RegistrationGrant> RegisterWorkerAndWait(const WorkerRegistration& registration);

  // worker_registry.h's, under the names this interface has always used.
  using AddressHolder = ::gpool::AddressHolder;
  using HolderAnswer = ::gpool::HolderAnswer;
  // One step of RegisterWorker, for callers that ask the holder themselves. Registers and
  // returns the grant when the address is free, held by the same incarnation (the worker
  // registering again: the old registration is replaced, as after a lost answer), or held
  // by the worker `answer` is about and that answer is not "still alive"; ALREADY_EXISTS when
  // it is. Otherwise returns the holder to ask first: the address's holder changed since the
  // answer (another registration completed meanwhile), or no answer was given.
  absl::StatusOr<std::variant<RegistrationGrant, AddressHolder>> TryRegisterWorker(
      const WorkerRegistration& registration,
      const std::optional<HolderAnswer>& answer = std::nullopt);

  // Renews the lease and returns the current grant: the interval every worker should beat
  // at now, and the lease that goes with it. `reported_interval` is the interval the worker
  // says it beats at from now on; its lease follows it (clamped to the intervals allowed), so
  // a shorter lease never applies before the worker has sped up, and a longer one applies
  // from the beat announcing the longer interval.
  // INVALID_ARGUMENT when `reported_interval` is under 1 ms (the beat does not count).
  // NOT_FOUND when the worker is unknown (declared dead, or the coordinator restarted) or the
  // incarnation differs: it must register again.
  absl::StatusOr<HeartbeatGrant> Heartbeat(const std::string& worker_id, uint64_t incarnation,
                                           absl::Duration reported_interval);

  // Graceful leave, step 1: no new chunks for this worker. NOT_FOUND like Heartbeat.
  absl::Status DrainWorker(const std::string& worker_id, uint64_t incarnation);
  // Graceful leave, step 2: forget the worker; chunks it still holds are handed back
  // (re-queued, not counted as a lost worker). NOT_FOUND like Heartbeat.
  absl::Status DeregisterWorker(const std::string& worker_id, uint64_t incarnation);

  // Queues a job and returns its id and event stream. The stream gets kStarted once the job
  // is planned, one kChunk per chunk, then kFinished.
  // Errors now: INVALID_ARGUMENT (bad spec, shared_values without kValues or malformed).
  // Errors later, as a kFinished event: UNAVAILABLE (no worker offering the function for
  // worker_wait, whoever else is registered; not final), OUT_OF_RANGE / INVALID_ARGUMENT
  // from a worker (the function's own), INVALID_ARGUMENT (completed chunks beyond the plan),
  // ABORTED (attempts exhausted), CANCELLED (CancelJob).
  absl::StatusOr<std::pair<std::string, std::shared_ptr<JobStream>>> SubmitJob(JobSpec spec);

  // Stops dispatching the job's chunks and ends its stream with `reason`. No-op for an
  // unknown or finished job.
  void CancelJob(const std::string& job_id, const absl::Status& reason);

  // The job's client has taken `chunks` chunk results holding `values` values from the
  // stream: frees their places in the job's result window.
  void OnChunksDelivered(const std::string& job_id, int64_t chunks, int64_t values);

  // Expires leases and fails jobs that waited too long for workers. Call periodically
  // (the coordinator does so every 100 ms).
  void Tick();

  ClusterInfo Snapshot() const;

  // Result bytes the jobs hold now in the coordinator's budget (result_buffer_bytes).
  int64_t ReservedResultBytes() const;

  // HOST:PORT at which workers reach this coordinator, once its server has bound its port:
  // the hint of a job that found no worker names it. Until set, the hint says where to find
  // it instead.
  void SetCoordinatorAddress(std::string address);

  // Waits until at least `min_workers` workers are registered; false on timeout.
  bool AwaitWorkers(int min_workers, absl::Duration timeout);

 private:
  // What to do once the lock is released.
  struct Actions {
    struct Dispatch {
      std::shared_ptr<WorkerConnection> connection;
      // The call's chunks (they share its call id): at most the worker's max_chunks_per_call.
      std::vector<ChunkTask> tasks;
      std::string worker_id;
      uint64_t job_sequence = 0;
      absl::Time started;
    };
    std::vector<Dispatch> dispatches;
    std::vector<std::shared_ptr<WorkerConnection>> cancellations;
    std::vector<std::pair<std::shared_ptr<WorkerConnection>, uint64_t>> call_cancellations;
    // Streams that got events: their listeners are told once the lock is released.
    std::vector<std::shared_ptr<JobStream>> notifications;
  };

  void Execute(Actions actions) ABSL_LOCKS_EXCLUDED(mu_);
  // RegisterWorker from round `round` (1-based), `answer` about the holder asked last.
  void RegisterRound(const WorkerRegistration& registration, int round,
                     std::optional<HolderAnswer> answer, RegistrationDone done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A call ended. `chunks` are its (chunk index, attempt) pairs; `replies` has one entry per
  // chunk when the call succeeded.
  void OnCallDone(const std::string& worker_id, uint64_t job_sequence, uint64_t call_id,
                  absl::Time started, const std::vector<std::pair<uint64_t, int>>& chunks,
                  absl::StatusOr<std::vector<ChunkReply>> replies) ABSL_LOCKS_EXCLUDED(mu_);

  // Carries out what `job` decided about a run of `worker` (nullptr: no longer registered):
  // its fault or its chunk done, the losing copies' calls cancelled, the chunk's event, the
  // job's end.
  void ApplyLocked(Job& job, RegisteredWorker* worker, RunOutcome outcome, Actions* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PumpLocked(Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends one call of `job` to the least loaded worker that may take it: one chunk, or
  // several small ones. False when there is nothing to send or nobody to send it to.
  bool DispatchOneLocked(Job& job, Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends one run of each of `chunk_indices` to `worker`, as one call.
  void DispatchLocked(Job& job, const std::vector<uint64_t>& chunk_indices,
                      RegisteredWorker& worker, Actions* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts backup copies of stragglers on idle slots.
  void SpeculateLocked(Job& job, Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TryPlanLocked(Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the worker and re-queues its chunks. `lost` counts it in the jobs' workers_lost
  // (false for a graceful leave).
  void DeclareDeadLocked(const std::string& worker_id, const std::string& reason,
                         Actions* actions, bool lost = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // --verify outvoted the worker: it gets no more chunks of any job (it stays registered,
  // shown quarantined with `reason`), its chunks in flight are re-queued as if it were lost,
  // and its results held for verification count no more.
  void QuarantineLocked(const std::string& worker_id, const std::string& reason,
                        Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-queues the chunks `worker` holds (`lost`: as lost, spending an attempt) and cancels
  // its calls.
  void ReleaseChunksLocked(RegisteredWorker& worker, bool lost, Actions* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the job's stream with `status` and marks it finished; a no-op when it is already.
  // The job is not erased here: PumpLocked does that at the end of the step.
  void FinishJobLocked(Job& job, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `event` on the job's stream. Its listener is told once the lock is released (by
  // Execute, through PumpLocked): it calls back into the scheduler.
  void PushEventLocked(Job& job, JobEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SchedulerOptions options_;
  const DispatchPolicy policy_;
  const Clock* const clock_;
  WorkerConnector* const connector_;
  NoSchedulerObserver no_observer_;
  SchedulerObserver* const observer_;

  mutable absl::Mutex mu_;
  WorkerRegistry registry_ ABSL_GUARDED_BY(mu_);
  // Finished jobs linger until the end of the step (Job::finished); only PumpLocked and the
  // destructor erase from it.
  JobTable jobs_ ABSL_GUARDED_BY(mu_);
  std::string coordinator_address_ ABSL_GUARDED_BY(mu_);
  // This machine's host name, as of SetCoordinatorAddress.
  std::string local_host_name_ ABSL_GUARDED_BY(mu_);
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Calls of jobs that finished, to cancel once the lock is released (PumpLocked hands them
  // to Actions).
  std::vector<std::pair<std::shared_ptr<WorkerConnection>, uint64_t>> finished_job_calls_
      ABSL_GUARDED_BY(mu_);
  // Streams that got events and whose listeners have not been told yet (PumpLocked hands
  // them to Actions).
  std::vector<std::shared_ptr<JobStream>> streams_to_notify_ ABSL_GUARDED_BY(mu_);
  // Chunk calls and incarnation checks whose callback has not run yet; the destructor waits
  // for 0.
  int64_t outstanding_calls_ ABSL_GUARDED_BY(mu_) = 0;
  // When Tick last ran: a long gap since then is a stall of the coordinator itself.
  absl::Time last_tick_ ABSL_GUARDED_BY(mu_);
  // Result bytes reserved by all jobs (SchedulerOptions::result_buffer_bytes).
  ResultBudget result_budget_ ABSL_GUARDED_BY(mu_);
  // Peak result bytes of the jobs ended since the last trim (trim_after_bytes).
  int64_t ended_result_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Jobs with large results ended: Tick gives free memory back once this time passes.
  std::optional<absl::Time> trim_due_ ABSL_GUARDED_BY(mu_);
  absl::Time trim_first_due_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_SCHEDULER_H_
