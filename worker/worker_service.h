// The Worker gRPC service: a thin adapter from RunChunks to ChunkExecutor.
#ifndef GPOOL_WORKER_WORKER_SERVICE_H_
#define GPOOL_WORKER_WORKER_SERVICE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/shared_values.h"
#include "gpool.grpc.pb.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/raw_messages.h"
#include "worker/chunk_work.h"
#include "worker/chunk_executor.h"
#include "worker/inline_policy.h"

namespace gpool {

// Thread-safe. ConfirmIncarnation calls are answered on the loop's thread at once. RunChunks
// calls arrive on a CompletionQueueLoop (see
// rpc/completion_queue_loop.h for why a daemon's hot calls run there). A call that the
// InlinePolicy predicts to be short, and that finds a free slot, is computed and answered on
// the loop's thread: for the seed job's small calls that saves a hand-off between threads
// worth more than the work. Any other call goes to one of the compute threads (one per slot),
// which waits for a slot, computes and answers, so long chunks never hold up the loop.
//
// Responses are written as RawMessage: the values of a chunk go from the function's output
// to the socket without being copied into a protobuf message and serialised from it. When
// the job's client offers a shared-memory buffer on this host (proto SharedValues), the values
// are written there instead, and only the chunk's partial results are sent.
class WorkerService final : public v1::Worker::Service {
 public:
  // `executor` and `loop` must outlive the service; `loop` is the one the server was
  // started with (StartServer). `max_chunks_per_call`: what the worker registered with; a
  // call with more chunks (or none) is INVALID_ARGUMENT. `use_shared_values` false: always
  // send values in responses, even to a client that offers a buffer this worker could reach.
  // `incarnation`: the secret this worker registers with; ConfirmIncarnation says whether a
  // value is it, and never reveals it.
  WorkerService(ChunkExecutor* executor, int64_t pid, CompletionQueueLoop* loop,
                int max_chunks_per_call, uint64_t incarnation, bool use_shared_values = true);
  ~WorkerService() override { StopComputeThreads(); }

  // Starts accepting calls. Call once, after the server started.
  void AcceptCalls();

  // Waits until no RunChunks call is in progress; false on timeout. Used to drain.
  bool AwaitIdle(absl::Duration timeout);

  // Answers the calls handed to compute threads, then stops the threads. After the server's
  // Shutdown (which cancels the calls still waiting for a slot), before the loop's
  // ShutdownWhenIdle. Idempotent.
  void StopComputeThreads();

 private:
  class RunCall;
  class ConfirmCall;

  // Computes and answers `call`: on this thread when that is worth it, else on a compute
  // thread.
  void Serve(RunCall* call, std::shared_ptr<ChunkWork> work);
  // Computes and answers `call` in a slot this thread holds.
  void RunInSlot(RunCall* call, const ChunkWork& work);
  void CallArrived();
  void CallDone();
  void ComputeThread();

  // Writes the values of `outputs[i]` at `first_elements[i]` into the client's buffer that
  // `shared_values` names (in kValues, when the request names one and this worker can open
  // it). True when they are there, and need not travel in the responses.
  bool WriteShared(ResultMode mode, const v1::SharedValues* shared_values,
                   const std::vector<ChunkOutput>& outputs,
                   const std::vector<uint64_t>& first_elements) const;
  // The outcome of one chunk: its values, unless they went to the client's buffer.
  RawChunkOutcome ToOutcome(ChunkOutput output, ElementType output_type,
                            bool values_shared) const;

  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_in_progress_ == 0; }

  ChunkExecutor* const executor_;
  const int64_t pid_;
  CompletionQueueLoop* const loop_;
  const int max_chunks_per_call_;
  const bool use_shared_values_;
  const int run_chunks_method_;
  const int confirm_method_;
  const uint64_t incarnation_;
  InlinePolicy inline_policy_;

  absl::Mutex mu_;
  int calls_in_progress_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex compute_mu_;
  std::deque<std::function<void()>> compute_queue_ ABSL_GUARDED_BY(compute_mu_);
  bool stopping_ ABSL_GUARDED_BY(compute_mu_) = false;
  // Declared last: they use everything above.
  std::vector<std::thread> compute_threads_;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_WORKER_SERVICE_H_
