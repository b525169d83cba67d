// CoordinatorLink over gRPC.
#ifndef GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
#define GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_

#include <memory>
#include <string>

#include "common/transport.h"
#include "gpool.grpc.pb.h"
#include "worker/registration.h"

namespace gpool {

// Thread-safe.
class GrpcCoordinatorLink final : public CoordinatorLink {
 public:
  GrpcCoordinatorLink(const std::string& coordinator_address, const TransportOptions& transport)
      : stub_(v1::Coordinator::NewStub(CreateChannel(coordinator_address, transport))) {}

  absl::StatusOr<RegistrationGrant> Register(const WorkerRegistration& registration) override;
  absl::Status Heartbeat(const std::string& worker_id, uint64_t incarnation) override;
  absl::Status Drain(const std::string& worker_id, uint64_t incarnation) override;
  absl::Status Deregister(const std::string& worker_id, uint64_t incarnation) override;

 private:
  // DrainWorker and DeregisterWorker share their request and response types.
  using LeaveMethod = grpc::Status (v1::Coordinator::Stub::*)(grpc::ClientContext*,
                                                              const v1::WorkerLeaveRequest&,
                                                              v1::WorkerLeaveResponse*);
  absl::Status Leave(LeaveMethod method, const std::string& worker_id, uint64_t incarnation);

  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
