// What the scheduler tells an observer as it happens (the coordinator's metrics,
// server/coordinator_metrics.h): the events that no snapshot of the cluster can show
// afterwards. Everything that is state (workers, slots, jobs, per-job statistics) is read
// from Scheduler::Snapshot() when asked for instead, so that the hot path pays only for
// these few calls.
//
// Thread-safety: the scheduler calls these with its lock held, from any thread; an
// implementation must be cheap (atomic counters), must not block, and must not call back
// into the scheduler.
#ifndef GPOOL_SERVER_SCHEDULER_OBSERVER_H_
#define GPOOL_SERVER_SCHEDULER_OBSERVER_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/cluster_info.h"

namespace gpool {

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;

  // A chunk's result was accepted (the first copy to finish): `elements` more mapped.
  virtual void ChunkDone(uint64_t elements) = 0;
  // A run of a chunk failed without its worker dying: an error that was not the function's
  // own, or a result refused. The chunk runs again unless its job ends.
  virtual void ChunkFailed() = 0;
  // `runs` runs of chunks were lost with their worker (declared dead, or outvoted under
  // --verify); their chunks run again unless their jobs end.
  virtual void ChunksLost(int64_t runs) = 0;
  // A call of `chunks` chunks came back with all their results `elapsed` after its dispatch.
  virtual void CallDone(absl::Duration elapsed, int64_t chunks) = 0;
  // A job ended with `code` (OK: all its chunks done), `elapsed` after its submission.
  virtual void JobFinished(absl::StatusCode code, absl::Duration elapsed) = 0;
  // A worker was declared dead: its lease expired, or a call found it unreachable. Not
  // counted: a worker that left gracefully.
  virtual void WorkerLost() = 0;
};

// An observer that also reads the cluster's state while the scheduler lives (the
// coordinator's metrics): the daemon attaches Scheduler::Snapshot once the scheduler runs,
// and detaches it before the scheduler goes.
class ClusterMonitor : public SchedulerObserver {
 public:
  // From now on, read the cluster through `snapshot` (until Detach).
  virtual void Attach(std::function<ClusterInfo()> snapshot) = 0;
  // Stop reading it; returns once no read is under way.
  virtual void Detach() = 0;
};

// Observes nothing: the scheduler's observer when it is given none.
class NoSchedulerObserver final : public SchedulerObserver {
 public:
  void ChunkDone(uint64_t) override {}
  void ChunkFailed() override {}
  void ChunksLost(int64_t) override {}
  void CallDone(absl::Duration, int64_t) override {}
  void JobFinished(absl::StatusCode, absl::Duration) override {}
  void WorkerLost() override {}
};

}  // namespace gpool

#endif  // GPOOL_SERVER_SCHEDULER_OBSERVER_H_
