// What a worker's metrics (worker/worker_metrics.h) are told and may read: each chunk's
// compute time as it is computed, and the executor's slots and counts while it lives.
//
// Thread-safety: ChunkComputed runs on the compute threads, several at once; it must be
// cheap and must not block.
#ifndef GPOOL_WORKER_EXECUTOR_MONITOR_H_
#define GPOOL_WORKER_EXECUTOR_MONITOR_H_

#include "absl/time/time.h"

namespace gpool {

class ChunkExecutor;

class ExecutorMonitor {
 public:
  virtual ~ExecutorMonitor() = default;
  // A chunk was computed, successfully, in `elapsed` (in its slot; --chunk_delay excluded).
  virtual void ChunkComputed(absl::Duration elapsed) = 0;
  // From now on read slots and counts from `executor` (until Detach).
  virtual void Attach(const ChunkExecutor* executor) = 0;
  // Stop reading it; returns once no read is under way.
  virtual void Detach() = 0;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_EXECUTOR_MONITOR_H_
