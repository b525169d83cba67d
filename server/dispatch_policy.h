// Which worker gets which chunks: a function of the worker registry and of one job's
// dispatch state, with no state of its own beyond its options. The Scheduler asks it, then
// records the decision in the job's chunk table and the worker's in-flight set.
//
//   * a call goes to the least loaded worker relative to its slots that may run the job and
//     has room (slots + pipeline_depth calls), so idle slots fill before pipelines do;
//   * a retry avoids the workers that failed the chunk, unless no other worker may run it;
//   * a copy of a chunk never goes to a worker that runs it, nor, while it is being
//     verified (--verify), to one whose result of it is held (Job::CopyExclusions);
//   * fresh chunks go in index order, below the job's max_chunks_ahead bound and within the
//     coordinator's ResultBudget (a job holding nothing always gets one through);
//   * a call carries the job's fair share of its unsent chunks, no more than its result
//     window has room for, about target_call_duration of work and max_elements_per_call
//     elements (a retry travels alone);
//   * a straggler (a chunk running far longer than the job's median) gets a backup on an
//     idle slot of another worker.
//
// Thread-compatible: immutable after construction; the registry it is given is guarded by
// its caller.
#ifndef GPOOL_SERVER_DISPATCH_POLICY_H_
#define GPOOL_SERVER_DISPATCH_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/job.h"
#include "server/result_budget.h"
#include "server/worker_registry.h"

namespace gpool {

struct DispatchOptions {
  // Calls a worker may hold beyond its slots.
  int pipeline_depth = 1;
  // A chunk running longer than max(multiplier × the median chunk time, speculation_min) is
  // a straggler.
  double speculation_multiplier = 3.0;
  absl::Duration speculation_min = absl::Seconds(1);
  // A call should hold about this much work, by the job's time per chunk.
  absl::Duration target_call_duration = absl::Milliseconds(20);
  // Chunks per call before any chunk of the job has been timed.
  int initial_chunks_per_call = 16;
  // Elements a call of several chunks may hold; a chunk larger than this goes alone.
  int64_t max_elements_per_call = 64 * 1024;
  // The result bytes one job may hold in the ResultBudget; the coordinator sets no limit
  // (server/result_budget.h says why).
  int64_t max_job_result_bytes = INT64_MAX;
};

class DispatchPolicy {
 public:
  explicit DispatchPolicy(DispatchOptions options) : options_(options) {}

  // Whether `worker` may take chunks of `job`: it offers the function, is not draining, and
  // the job's worker limit (--processes) leaves room for it.
  static bool MayRun(const RegisteredWorker& worker, const JobDispatchState& job);

  // The least loaded worker with room that may run the job, other than those in `exclude`;
  // nullptr when none.
  RegisteredWorker* PickWorker(WorkerRegistry& workers, const JobDispatchState& job,
                               const std::vector<std::string>& exclude = {}) const;

  // Where a retry of a chunk that the workers in `faulted` failed goes: the least loaded
  // worker with room that did not fail it; else, only when no worker that did not fail it
  // may run the job at all, the least loaded one with room. Never one of `excluded`.
  // nullptr: the retry waits.
  RegisteredWorker* PickForRetry(WorkerRegistry& workers, const JobDispatchState& job,
                                 const std::vector<std::string>& faulted,
                                 const std::vector<std::string>& excluded = {}) const;

  // An idle slot (not just pipeline room) on a worker not in `excluded` (those that run the
  // chunk or computed it already) that may run the job; nullptr when none.
  RegisteredWorker* PickBackup(WorkerRegistry& workers, const JobDispatchState& job,
                               const std::vector<std::string>& excluded) const;

  // The chunk of a planned `job` whose copy waits first in line to be verified (--verify)
  // while no registered worker that may run the job is free of it (every one runs it or
  // computed it): only another worker joining lets it go on. nullopt otherwise.
  static std::optional<uint64_t> BlockedVerification(const WorkerRegistry& workers, Job& job);
  // Whether a registered worker may take what `job` waits for: one offers its function, and
  // no chunk of it is BlockedVerification. While not, the job's worker wait runs.
  static bool HasWorkerFor(const WorkerRegistry& workers, Job& job);
  // Why `job` fails once it waited `waited` without HasWorkerFor: UNAVAILABLE, from
  // Job::NoVerifierError for a blocked chunk, else Job::NoWorkerError.
  static absl::Status WaitedTooLong(const WorkerRegistry& workers, Job& job,
                                    absl::Duration waited,
                                    const std::string& coordinator_address);

  // How many chunks the next call of `job` to `worker` may carry, with `unsent` chunks not
  // yet sent and room for `window_room` more results in its result window. At least 1.
  uint64_t CallSize(const WorkerRegistry& workers, const RegisteredWorker& worker,
                    const JobDispatchState& job, uint64_t unsent, int64_t window_room) const;

  // How long a chunk of `job` may run before it is a straggler; nullopt before any chunk of
  // it has completed.
  std::optional<absl::Duration> StragglerThreshold(const JobDispatchState& job) const;

  // The next call of a planned `job`: its worker and chunks, which are taken off the job's
  // chunk table (Job::StartCall records them as running). A retry comes first and travels
  // alone, to a worker that did not fail it when possible (PickForRetry); else as many fresh
  // chunks as CallSize allows, max_elements_per_call holds, the job's max_chunks_ahead lets
  // go (Job::AheadEnd) and, for a job that returns values, `budget` (null: none) has room for
  // (FreshElementRoom). nullopt when the result window is full, nothing may go, or no worker
  // may take it.
  struct Call {
    RegisteredWorker* worker = nullptr;
    std::vector<uint64_t> chunk_indices;
  };
  std::optional<Call> NextCall(WorkerRegistry& workers, Job& job,
                               const ResultBudget* budget = nullptr) const;

  // The elements of fresh chunks `job` may reserve in `budget` now (see ResultBudget): 0
  // when its next fresh chunk must wait, else at least 1 (the next chunk goes whatever its
  // size) and at most max_elements_per_call.
  int64_t FreshElementRoom(const Job& job, const ResultBudget* budget) const;

  // The chunks of a planned `job` that deserve a backup copy at `now`: only at the job's tail
  // (nothing retried waits, no fresh chunk may go (max_chunks_ahead) and its result window
  // has room), those running alone for
  // longer than StragglerThreshold, by chunk index. Where the copies go is PickBackup's.
  std::vector<uint64_t> Stragglers(const Job& job, absl::Time now) const;

  // The slots of the cluster, and those the job may use (the largest workers that accept it,
  // as many as its worker limit allows): what Pool's default chunk size follows.
  struct Slots {
    int cluster = 0;
    int job = 0;
  };
  static Slots SlotsFor(const WorkerRegistry& workers, const JobDispatchState& job);

 private:
  const DispatchOptions options_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_DISPATCH_POLICY_H_
