// One job on the coordinator: what the client asked for (JobSpec), its event stream, its
// chunk table once planned, its result window, and the plain data the dispatch policy reads.
// It knows no workers beyond their ids and labels as strings: which worker runs what is the
// dispatch policy's choice, and the workers' own records (their faults, chunks done, calls to
// cancel) the Scheduler's. Its methods are the job's own arithmetic: planning, the tasks of a
// call, judging how a run ended (a result checked against the plan, first result wins; an
// error that fails the job or moves the chunk, within max_attempts; under --verify, a vote
// among workers, its Quorum) and the events it sends.
// Each returns what the Scheduler must do about workers (RunOutcome), never holding one.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_JOB_H_
#define GPOOL_SERVER_JOB_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/chunking.h"
#include "common/cluster_info.h"
#include "common/input.h"
#include "common/worker_registration.h"
#include "server/chunk_table.h"
#include "server/job_stream.h"
#include "server/quorum.h"
#include "server/result_window.h"
#include "server/worker_connection.h"

namespace gpool {

struct JobSpec {
  std::string function;
  // Who submitted it: the Map call's peer (one client connection), for the per-client limit.
  std::string client;
  std::shared_ptr<const Input> input;
  int64_t chunk_size = 0;   // 0: Pool's default
  int max_workers = 0;      // 0: no limit
  // --verify: the fraction of chunks (0 to 1) whose result is published only once two
  // workers agree on it (server/quorum.h).
  double verify_fraction = 0;
  ResultMode mode = ResultMode::kValues;
  // Resuming: chunk index ranges [first, last] the client already holds; they are not run.
  // Requires chunk_size > 0.
  std::vector<std::pair<uint64_t, uint64_t>> completed_chunks;
  // A segment of a MapStream: chunk_size is used as it is, not lowered for large strings or
  // bytes (the stream numbers chunks by it, and has checked their bytes itself).
  bool exact_chunk_size = false;
  // kValues only: the client's shared-memory buffer, which workers on its host write values
  // to instead of sending them (common/shared_values.h).
  std::optional<SharedValuesRef> shared_values;
  // MapRequest.max_chunks_ahead: chunk i is dispatched only while i < the lowest chunk index
  // without a result + max_chunks_ahead. 0: no bound.
  int64_t max_chunks_ahead = 0;
};

// How `reply`'s values disagree with the count, sum, min and max it reports (Disagreement);
// empty when they agree or it carries no values. It reads every value: the Scheduler calls
// it outside its lock.
std::string Contradiction(const ChunkReply& reply);

// Why every run of a call of `chunks` chunks failed, or OK: the call's own error, or
// DATA_LOSS when it answered another number of chunks (which reply is for which chunk is
// unknown then: none counts, and every chunk goes elsewhere).
absl::Status CallFailure(const absl::StatusOr<std::vector<ChunkReply>>& replies, size_t chunks);

// OK, or INVALID_ARGUMENT for no function, no or a bad input, a negative chunk size or
// worker limit or max_chunks_ahead, a verify fraction outside [0, 1], shared_values on a job that returns sums (or malformed), completed chunks
// without the chunk size they were planned with, or a reversed range of them.
absl::Status ValidateJobSpec(const JobSpec& spec);

// What the dispatch policy knows of one job: plain data.
struct JobDispatchState {
  std::string function;
  // Strings or bytes in or out: each call carries one chunk (see PlanChunks' byte bound).
  bool one_chunk_per_call = false;
  int max_workers = 0;  // 0: no limit
  // Workers given its chunks and not lost since: what its worker limit counts.
  std::set<std::string> workers_used;
  // Durations of recently completed chunks: the straggler threshold.
  std::deque<absl::Duration> chunk_durations;
  // Wall time per chunk of recent successful calls (call time / chunks in it): what sizes
  // the next calls.
  std::deque<absl::Duration> time_per_chunk;

  void RecordChunkDuration(absl::Duration duration);
  void RecordCall(absl::Duration duration, int64_t chunks);
};

// What the Scheduler does about workers once a job has judged how a run of one of its chunks
// ended; the job's own records (chunk table, stats, result window) are up to date already.
struct RunOutcome {
  // The worker failed the chunk without dying: one more of its faults.
  bool worker_fault = false;
  // A result won: the kChunk event to push (the Scheduler adds the worker's host).
  std::optional<JobEvent> chunk_event;
  // Calls of copies that lost the race and carry no chunk still needed, to cancel:
  // (worker id, call id).
  std::vector<std::pair<std::string, uint64_t>> calls_to_cancel;
  // The job is over: finish it with this status (OK: its last chunk is done).
  std::optional<absl::Status> finish;
  // --verify outvoted these workers on a chunk: (worker id, why). The Scheduler quarantines
  // them (no more chunks of any job; their chunks in flight run elsewhere).
  std::vector<std::pair<std::string, std::string>> quarantine;
};

struct Job {
  Job(uint64_t sequence, JobSpec spec, ResultWindow window, absl::Time submitted);

  // Plans the job's chunks for `job_slots` slots (Pool's default chunk size follows them) of
  // workers that offer `function` (the job's function, with its types). INVALID_ARGUMENT
  // when the function does not take the job's elements (naming both types), or the
  // completed chunks it was resubmitted with lie beyond the plan. Returns the kStarted event
  // to push.
  absl::StatusOr<JobEvent> Plan(int cluster_slots, int job_slots,
                                const FunctionSignature& function);

  // Why `reply` for `chunk_index` cannot be right (the wrong number of elements or values,
  // values in a buffer the job never offered, or `contradiction`, how its values disagree
  // with what it reports about them); empty when it may be.
  std::string CheckReply(uint64_t chunk_index, const ChunkReply& reply,
                         const std::string& contradiction) const;

  // The kChunk event of a chunk the table has just completed, with `reply`'s result.
  JobEvent ChunkEvent(uint64_t chunk_index, ChunkReply reply, const std::string& worker_id,
                      int attempt) const;
  // Why the job fails after waiting `waited` for a worker that offers its function, with
  // what the registered workers `offered` and where workers reach the coordinator (empty:
  // not known yet): UNAVAILABLE.
  absl::Status NoWorkerError(absl::Duration waited, const std::vector<std::string>& offered,
                             const std::string& coordinator_address) const;
  // The kFinished event: UNAVAILABLE (no worker for the job) may pass and is not final.
  JobEvent FinishedEvent(const absl::Status& status) const;

  JobInfo Snapshot(absl::Time now) const;

  // The tasks of call `call_id` to `worker_id`, one run of each of `chunk_indices` (planned
  // chunks, taken from the table), which the job records as running from `now`.
  std::vector<ChunkTask> StartCall(uint64_t call_id, const std::string& worker_id,
                                   const std::vector<uint64_t>& chunk_indices, absl::Time now);

  // Run `attempt` of `chunk_index` on `worker_id` (`worker_label` in messages) answered
  // `reply` at `now`; `contradiction` as for CheckReply. The first good result wins: it is
  // recorded, takes a place in the result window and yields the chunk's event; a later copy
  // is dropped. A reply that cannot be right is the worker's fault and, while the chunk is
  // still running, fails the run like an error (RunFailed with DATA_LOSS).
  // A chunk under verification (quorum.Sampled) is published only once two workers agree on
  // it; until then its results are held (each taking a place in the result window) and a
  // copy is queued for another worker; the result of a run that already ended (its worker
  // was lost or quarantined) does not count. Workers outvoted go into
  // RunOutcome::quarantine; ABORTED once max_attempts distinct results disagree.
  RunOutcome AcceptResult(uint64_t chunk_index, const std::string& worker_id,
                          const std::string& worker_label, int attempt, ChunkReply reply,
                          const std::string& contradiction, absl::Time now, int max_attempts);

  // Run `attempt` of `chunk_index` on `worker_id` failed with `status`. The function's own
  // error (INVALID_ARGUMENT, OUT_OF_RANGE) finishes the job with it; any other re-queues the
  // chunk (ABORTED once it was lost `max_attempts` times) and, unless CANCELLED (the
  // coordinator's own doing), is the worker's fault. Nothing when the run had already ended
  // (the chunk is done, or its worker was declared dead).
  RunOutcome RunFailed(uint64_t chunk_index, const std::string& worker_id,
                       const std::string& worker_label, int attempt, const absl::Status& status,
                       int max_attempts);

  // The worker `worker_id` holding run `attempt` of `chunk_index` is gone: `lost` (it died;
  // the job counts it once and the run counts against max_attempts) or it left gracefully
  // (the chunk is handed back without spending an attempt). Returns the status to finish
  // the job with when the chunk's attempts ran out.
  std::optional<absl::Status> WorkerGone(const std::string& worker_id,
                                         const std::string& worker_label,
                                         uint64_t chunk_index, int attempt, bool lost,
                                         int max_attempts);

  // The workers a copy of `chunk_index` must not go to: those running it and, while it is
  // being verified, those whose results of it are held. Empty for a chunk not active.
  std::vector<std::string> CopyExclusions(uint64_t chunk_index) const;

  // `worker_id` was quarantined: its results held for verification count no more (each such
  // chunk's next copy, already queued or running, starts its vote anew), and any result it
  // sends later is dropped.
  void WorkerQuarantined(const std::string& worker_id);

  // Why the job fails after `chunk_index` waited `waited` for a worker to verify it: no
  // worker that may run the job is free of it (UNAVAILABLE, naming the workers).
  absl::Status NoVerifierError(absl::Duration waited, uint64_t chunk_index) const;

  // Marks the job finished and returns the calls that still run for it, one entry per call:
  // (worker id, call id). Their work is wasted now.
  std::vector<std::pair<std::string, uint64_t>> Finish();

  // AcceptResult of a chunk under verification.
  RunOutcome AcceptVote(uint64_t chunk_index, const std::string& worker_id, int attempt,
                        ChunkReply reply, absl::Time now, int max_attempts);
  // The values a chunk's result holds in the result window.
  int64_t WindowValues(uint64_t chunk_index) const;
  // Where fresh dispatch stops under MapRequest.max_chunks_ahead: the first chunk index it
  // may not dispatch yet (UINT64_MAX without a bound). Requires a plan.
  uint64_t AheadEnd() const;
  // Whether a fresh chunk waits and max_chunks_ahead lets it go now.
  bool FreshDispatchable() const;

  const uint64_t sequence;  // submission order
  const std::string job_id;
  const JobSpec spec;
  const std::shared_ptr<JobStream> stream;
  const absl::Time submitted;
  // The plan and every chunk's state; set by Plan.
  std::optional<ChunkTable> chunks;
  // The function's types, once planned.
  FunctionSignature signature;
  JobDispatchState dispatch;
  // Results pushed to the stream and not yet taken by the client.
  ResultWindow window;
  // Bytes of values this job holds in the coordinator's ResultBudget: reserved when a chunk
  // is first dispatched (values mode), released as its result is written to the client or
  // when the job ends. The peak says whether its end is worth giving memory back for.
  int64_t reserved_bytes = 0;
  int64_t peak_reserved_bytes = 0;
  // Chunks of each call in flight that are not done yet. A copy that lost the race is
  // cancelled only when none of its call's chunks is still needed.
  absl::flat_hash_map<uint64_t, int> open_chunks_by_call;
  std::set<std::string> workers_lost;
  // --verify: which chunks are verified, and the results held for them.
  Quorum quorum;
  // Workers quarantined while the job ran: their results are dropped.
  std::set<std::string> workers_distrusted;
  std::optional<absl::Time> waiting_for_workers_since;
  JobStats stats;
  // Its kFinished event is pushed: it takes no more chunks, results or failures. The
  // Scheduler keeps it (so a Job& held by any caller stays valid) until the end of its step.
  bool finished = false;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_JOB_H_
