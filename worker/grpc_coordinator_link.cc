#include "worker/grpc_coordinator_link.h"

#include <chrono>

#include <grpcpp/client_context.h>

#include "common/grpc_status.h"

namespace gpool {
namespace {

constexpr auto kRegisterDeadline = std::chrono::seconds(5);
constexpr auto kHeartbeatDeadline = std::chrono::seconds(2);

}  // namespace

absl::StatusOr<RegistrationGrant> GrpcCoordinatorLink::Register(
    const WorkerRegistration& registration) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRegisterDeadline);
  v1::RegisterWorkerRequest request;
  request.set_address(registration.address);
  request.set_pid(registration.pid);
  request.set_host(registration.host);
  request.set_slots(registration.slots);
  for (const std::string& function : registration.functions) request.add_functions(function);
  request.set_incarnation(registration.incarnation);
  request.set_max_chunks_per_call(registration.max_chunks_per_call);
  v1::RegisterWorkerResponse response;
  grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  RegistrationGrant grant;
  grant.worker_id = response.worker_id();
  grant.heartbeat_interval = absl::Milliseconds(response.heartbeat_interval_ms());
  grant.lease_timeout = absl::Milliseconds(response.lease_timeout_ms());
  return grant;
}

absl::Status GrpcCoordinatorLink::Heartbeat(const std::string& worker_id, uint64_t incarnation) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHeartbeatDeadline);
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id);
  request.set_incarnation(incarnation);
  v1::HeartbeatResponse response;
  return FromGrpcStatus(stub_->Heartbeat(&context, request, &response));
}

absl::Status GrpcCoordinatorLink::Drain(const std::string& worker_id, uint64_t incarnation) {
  return Leave(&v1::Coordinator::Stub::DrainWorker, worker_id, incarnation);
}

absl::Status GrpcCoordinatorLink::Deregister(const std::string& worker_id,
                                             uint64_t incarnation) {
  return Leave(&v1::Coordinator::Stub::DeregisterWorker, worker_id, incarnation);
}

absl::Status GrpcCoordinatorLink::Leave(LeaveMethod method, const std::string& worker_id,
                                        uint64_t incarnation) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHeartbeatDeadline);
  v1::WorkerLeaveRequest request;
  request.set_worker_id(worker_id);
  request.set_incarnation(incarnation);
  v1::WorkerLeaveResponse response;
  return FromGrpcStatus((stub_.get()->*method)(&context, request, &response));
}

}  // namespace gpool
