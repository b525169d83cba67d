// Runs chunks on a worker, at most `slots` at once. Transport-free.
#ifndef GPOOL_WORKER_CHUNK_EXECUTOR_H_
#define GPOOL_WORKER_CHUNK_EXECUTOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/functions.h"
#include "common/input.h"
#include "worker/executor_monitor.h"

namespace gpool {

// Thread-safe: many RPC threads call Execute; `slots` of them compute at a time, the rest
// wait for a slot (the coordinator's pipeline keeps one or two queued so no slot idles).
class ChunkExecutor {
 public:
  // `delay` is fault injection for tests: each chunk waits that long (in its slot, watching
  // for cancellation) before it is computed.
  // `monitor`, when not nullptr, is told each call's chunk times; it must outlive the
  // executor.
  ChunkExecutor(FunctionRegistry registry, int slots, absl::Duration delay = absl::ZeroDuration(),
                ExecutorMonitor* monitor = nullptr)
      : registry_(std::move(registry)),
        slots_(slots),
        delay_(delay),
        monitor_(monitor),
        free_slots_(slots) {}

  // Errors: NOT_FOUND (unknown function), INVALID_ARGUMENT (bad input), OUT_OF_RANGE (a
  // result does not fit), CANCELLED (`cancelled` returned true while waiting or computing).
  absl::StatusOr<ChunkOutput> Execute(const std::string& function, const Input& input,
                                      ResultMode mode, const std::function<bool()>& cancelled);

  // Runs several chunks of one function one after another in a single slot, calling
  // `on_output(i, output)` for inputs[i] as each completes. Stops at the first error and
  // returns it (errors as Execute).
  absl::Status ExecuteBatch(const std::string& function, const std::vector<Input>& inputs,
                            ResultMode mode, const std::function<bool()>& cancelled,
                            const std::function<void(size_t, ChunkOutput)>& on_output);

  // Takes a free slot without waiting; false when every slot is busy. The caller then runs
  // ExecuteBatchInSlot, which gives it back.
  bool TryAcquireSlot();
  // Waits for a free slot and takes it; CANCELLED if `cancelled` turns true first. The
  // caller then runs ExecuteBatchInSlot, which gives it back.
  absl::Status AcquireSlot(const std::function<bool()>& cancelled);
  // ExecuteBatch in a slot taken with TryAcquireSlot; releases it.
  absl::Status ExecuteBatchInSlot(const std::string& function, const std::vector<Input>& inputs,
                                  ResultMode mode, const std::function<bool()>& cancelled,
                                  const std::function<void(size_t, ChunkOutput)>& on_output);

  // Chunks wait before they are computed (fault injection): never worth computing inline.
  bool delays_chunks() const { return delay_ > absl::ZeroDuration(); }
  const FunctionRegistry& registry() const { return registry_; }
  int slots() const { return slots_; }
  int64_t chunks_completed() const;
  // Slots taken now (computing, or about to).
  int busy_slots() const;

 private:
  absl::StatusOr<ChunkOutput> WaitDelay(const std::function<bool()>& cancelled);
  void ReleaseSlot(int64_t chunks_completed);
  bool HasFreeSlotLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return free_slots_ > 0; }

  const FunctionRegistry registry_;
  const int slots_;
  const absl::Duration delay_;
  ExecutorMonitor* const monitor_;
  mutable absl::Mutex mu_;
  int free_slots_ ABSL_GUARDED_BY(mu_);
  int64_t chunks_completed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_CHUNK_EXECUTOR_H_
