// CoordinatorLink over gRPC.
#ifndef GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
#define GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "gpool.grpc.pb.h"
#include "rpc/transport.h"
#include "worker/registration.h"

namespace gpool {

// Thread-safe. Every call is unary and carries its own deadline: a heartbeat is one Heartbeat
// call, answered with the coordinator's current grant.
class GrpcCoordinatorLink final : public CoordinatorLink {
 public:
  GrpcCoordinatorLink(const std::string& coordinator_address, const TransportOptions& transport)
      : GrpcCoordinatorLink(CreateChannel(coordinator_address, transport)) {}
  // Over `channel`, e.g. one with a connection of its own (bench/scale/scale_workers).
  explicit GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel);

  // Errors: those of RegisterWorker (proto/gpool.proto), and INTERNAL for an answer without a
  // positive interval and lease.
  absl::StatusOr<RegistrationGrant> Register(const WorkerRegistration& registration) override;
  // Errors: those of Heartbeat (proto/gpool.proto): NOT_FOUND means "register again";
  // UNAVAILABLE or DEADLINE_EXCEEDED, the beat did not arrive. INTERNAL for an answer
  // without a positive interval and lease.
  absl::StatusOr<HeartbeatGrant> Heartbeat(const std::string& worker_id, uint64_t incarnation,
                                           absl::Duration interval) override;
  absl::Status Drain(const std::string& worker_id, uint64_t incarnation) override;
  absl::Status Deregister(const std::string& worker_id, uint64_t incarnation) override;

 private:
  // DrainWorker and DeregisterWorker share their request and response types.
  using LeaveMethod = grpc::Status (v1::Coordinator::Stub::*)(grpc::ClientContext*,
                                                              const v1::WorkerLeaveRequest&,
                                                              v1::WorkerLeaveResponse*);
  absl::Status Leave(LeaveMethod method, const std::string& worker_id, uint64_t incarnation);
  // `status` as an absl::Status; on UNAVAILABLE also resets the channel's reconnect backoff,
  // so that the next call dials the coordinator at once.
  absl::Status Failed(const grpc::Status& status);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
