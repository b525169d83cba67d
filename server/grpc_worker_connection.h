// WorkerConnection over gRPC: RunChunks calls on the coordinator's CompletionQueueLoop, so
// no coordinator thread blocks while a worker computes, and a worker's answer is handled by
// the thread that read it.
#ifndef GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_
#define GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/transport.h"
#include "server/worker_connection.h"

namespace gpool {

// Creates GrpcWorkerConnections. Thread-safe.
class GrpcWorkerConnector final : public WorkerConnector {
 public:
  // `chunk_timeout` is the deadline of every RunChunks call: a call that takes longer is
  // treated as lost with its worker. Calls complete on `loop` (its queue must be attached
  // before the first Connect), which must outlive the connections' calls.
  GrpcWorkerConnector(absl::Duration chunk_timeout, TransportOptions transport,
                      CompletionQueueLoop* loop)
      : chunk_timeout_(chunk_timeout), transport_(std::move(transport)), loop_(loop) {}

  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override;

 private:
  const absl::Duration chunk_timeout_;
  const TransportOptions transport_;
  CompletionQueueLoop* const loop_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_
