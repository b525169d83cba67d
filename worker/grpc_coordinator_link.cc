#include "worker/grpc_coordinator_link.h"

#include <chrono>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "rpc/grpc_status.h"
#include "rpc/proto_convert.h"

namespace gpool {
namespace {

constexpr auto kRegisterDeadline = std::chrono::seconds(5);
// Also for drain and deregistration. A beat slower than this is as good as lost: the worker
// beats again at its next interval.
constexpr auto kHeartbeatDeadline = std::chrono::seconds(2);

// INTERNAL unless the coordinator granted a positive interval and lease, as it always does.
absl::StatusOr<HeartbeatGrant> GrantOf(int64_t interval_ms, int64_t lease_timeout_ms,
                                       const char* call) {
  if (interval_ms <= 0 || lease_timeout_ms <= 0) {
    return absl::InternalError(absl::StrCat("the coordinator answered ", call,
                                            " without a grant (heartbeat_interval_ms ",
                                            interval_ms, ", lease_timeout_ms ",
                                            lease_timeout_ms, ")"));
  }
  return HeartbeatGrant{absl::Milliseconds(interval_ms), absl::Milliseconds(lease_timeout_ms)};
}

}  // namespace

GrpcCoordinatorLink::GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::Coordinator::NewStub(channel_)) {}

absl::Status GrpcCoordinatorLink::Failed(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // The registration loop decides when to try again (within about a heartbeat interval),
    // not gRPC's reconnect backoff, which would let calls fail without dialling for up to
    // 2 s and so find a restarted coordinator that much later. Dialling a refused port on
    // the next beat costs next to nothing.
    grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  }
  return FromGrpcStatus(status);
}

absl::StatusOr<RegistrationGrant> GrpcCoordinatorLink::Register(
    const WorkerRegistration& registration) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRegisterDeadline);
  v1::RegisterWorkerRequest request;
  request.set_address(registration.address);
  request.set_pid(registration.pid);
  request.set_host(registration.host);
  request.set_slots(registration.slots);
  for (const FunctionSignature& function : registration.functions) {
    ToProto(function, request.add_functions());
  }
  request.set_incarnation(registration.incarnation);
  request.set_max_chunks_per_call(registration.max_chunks_per_call);
  v1::RegisterWorkerResponse response;
  grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) return Failed(status);
  absl::StatusOr<HeartbeatGrant> heartbeats =
      GrantOf(response.heartbeat_interval_ms(), response.lease_timeout_ms(), "RegisterWorker");
  if (!heartbeats.ok()) return heartbeats.status();
  RegistrationGrant grant;
  grant.worker_id = response.worker_id();
  grant.heartbeat_interval = heartbeats->interval;
  grant.lease_timeout = heartbeats->lease_timeout;
  grant.coordinator_incarnation = response.coordinator_incarnation();
  return grant;
}

absl::StatusOr<HeartbeatGrant> GrpcCoordinatorLink::Heartbeat(const std::string& worker_id,
                                                              uint64_t incarnation,
                                                              absl::Duration interval) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHeartbeatDeadline);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker_id);
  beat.set_incarnation(incarnation);
  beat.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(interval));
  v1::HeartbeatResponse response;
  grpc::Status status = stub_->Heartbeat(&context, beat, &response);
  if (!status.ok()) return Failed(status);
  absl::StatusOr<HeartbeatGrant> grant =
      GrantOf(response.heartbeat_interval_ms(), response.lease_timeout_ms(), "Heartbeat");
  if (grant.ok()) grant->coordinator_incarnation = response.coordinator_incarnation();
  return grant;
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
