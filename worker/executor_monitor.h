// What a worker's metrics (worker/worker_metrics.h) are told and may read: each chunk's
// compute time as it is computed, and the executor's slots and counts while it lives.
//
// Thread-safety: ChunksComputed runs on the compute threads, several at once; it must be
// cheap and must not block.
#ifndef GPOOL_WORKER_EXECUTOR_MONITOR_H_
#define GPOOL_WORKER_EXECUTOR_MONITOR_H_

#include <vector>

#include "absl/time/time.h"

namespace gpool {

class ChunkExecutor;

class ExecutorMonitor {
 public:
  virtual ~ExecutorMonitor() = default;
  // Chunks of one call were computed, successfully, each in the time given (its slot's
  // time for it: the compute and the encoding of its result; --chunk_delay excluded). Once
  // per call, not per chunk: a call may carry a thousand one-element chunks.
  virtual void ChunksComputed(const std::vector<absl::Duration>& elapsed) = 0;
  // From now on read slots and counts from `executor` (until Detach).
  virtual void Attach(const ChunkExecutor* executor) = 0;
  // Stop reading it; returns once no read is under way.
  virtual void Detach() = 0;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_EXECUTOR_MONITOR_H_
