#include "client/health.h"

#include <chrono>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace gpool {

absl::StatusOr<std::string> CheckHealth(const std::string& address, absl::Duration timeout,
                                        const TransportOptions& transport,
                                        const std::string& service) {
  std::shared_ptr<grpc::Channel> channel = CreateChannel(address, transport);
  if (absl::Status connected = WaitForConnection(*channel, address, timeout, "server");
      !connected.ok()) {
    return connected;
  }
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    absl::Status failure = FromGrpcStatus(status);
    return absl::Status(failure.code(),
                        absl::StrCat("health check of ", address, " failed: ", failure.message()));
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

}  // namespace gpool
