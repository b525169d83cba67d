// WorkerConnection over gRPC: RunChunk calls through the callback API, so no coordinator
// thread blocks while a worker computes.
#ifndef GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_
#define GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/transport.h"
#include "server/worker_connection.h"

namespace gpool {

// Creates GrpcWorkerConnections. Thread-safe.
class GrpcWorkerConnector final : public WorkerConnector {
 public:
  // `chunk_timeout` is the deadline of every RunChunk call: a chunk that takes longer is
  // treated as lost with its worker.
  GrpcWorkerConnector(absl::Duration chunk_timeout, TransportOptions transport)
      : chunk_timeout_(chunk_timeout), transport_(std::move(transport)) {}

  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override;

 private:
  const absl::Duration chunk_timeout_;
  const TransportOptions transport_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_GRPC_WORKER_CONNECTION_H_
