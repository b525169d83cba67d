// The Worker gRPC service: a thin adapter from RunChunk to ChunkExecutor.
#ifndef GPOOL_WORKER_WORKER_SERVICE_H_
#define GPOOL_WORKER_WORKER_SERVICE_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/raw_messages.h"
#include "common/shared_values.h"
#include "gpool.grpc.pb.h"
#include "worker/chunk_executor.h"

namespace gpool {

// Thread-safe; each call runs on a server thread and waits for a slot in the executor.
//
// Responses are written as RawMessage: the values of a chunk go from the function's output
// to the socket without being copied into a protobuf message and serialised from it. When
// the job's client offers a shared-memory buffer on this host (proto SharedValues), the values
// are written there instead, and only the chunk's partial results are sent.
class WorkerService final : public v1::Worker::Service {
 public:
  // `executor` must outlive the service. `use_shared_values` false: always send values in
  // responses, even to a client that offers a buffer this worker could reach.
  WorkerService(ChunkExecutor* executor, int64_t pid, bool use_shared_values = true);

  // The RunChunk and RunChunks RPCs: one request read from `stream`, one response written.
  grpc::Status ServeRunChunk(grpc::ServerContext* context,
                             grpc::ServerUnaryStreamer<v1::RunChunkRequest, RawMessage>* stream);
  grpc::Status ServeRunChunks(grpc::ServerContext* context,
                              grpc::ServerUnaryStreamer<v1::RunChunksRequest, RawMessage>* stream);

  // Waits until no RunChunk(s) call is in progress; false on timeout. Used to drain.
  bool AwaitIdle(absl::Duration timeout);

 private:
  // Counts a call in progress for as long as it lives.
  class CallInProgress;
  // Writes the values of `outputs[i]` at `first_elements[i]` into the client's buffer that
  // `shared_values` names (in kValues, when the request names one and this worker can open
  // it). True when they are there, and need not travel in the responses.
  bool WriteShared(ResultMode mode, const v1::SharedValues* shared_values,
                   const std::vector<ChunkOutput>& outputs,
                   const std::vector<uint64_t>& first_elements) const;
  // The response for one chunk: its values, unless they went to the client's buffer.
  RawChunkResponse ToResponse(ChunkOutput output, bool values_shared) const;

  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_in_progress_ == 0; }

  ChunkExecutor* const executor_;
  const int64_t pid_;
  const bool use_shared_values_;
  absl::Mutex mu_;
  int calls_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_WORKER_SERVICE_H_
