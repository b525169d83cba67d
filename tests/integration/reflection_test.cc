// Integration test of gRPC server reflection on both daemons: a generic client (grpcurl,
// Postman, a stub generator) can list their services and fetch their schemas without a copy
// of the .proto files. The real gpool-coordinator and gpool-worker run as processes on
// loopback; this test speaks grpc.reflection.v1alpha to them through its generated stub.
//
// Deliberately not linked with gpool_transport (or anything else that pulls in
// libgrpc++_reflection): that library carries its own copy of the reflection messages, and
// protobuf aborts when one process registers the same message types twice. So channels are
// made here with gRPC's own insecure credentials, like any third-party client would.
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::TempDir;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::IsSupersetOf;

// Sends one request on a fresh ServerReflectionInfo stream and returns the one answer.
absl::StatusOr<ServerReflectionResponse> Ask(const std::string& address,
                                             const ServerReflectionRequest& request) {
  std::unique_ptr<ServerReflection::Stub> stub =
      ServerReflection::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->ServerReflectionInfo(&context);
  if (!stream->Write(request)) return absl::UnavailableError("cannot send to " + address);
  ServerReflectionResponse response;
  const bool answered = stream->Read(&response);
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(address, ": ", status.error_message()));
  }
  if (!answered) return absl::DataLossError(address + " closed the stream without an answer");
  return response;
}

absl::StatusOr<std::vector<std::string>> ListServices(const std::string& address) {
  ServerReflectionRequest request;
  request.set_list_services("");
  absl::StatusOr<ServerReflectionResponse> response = Ask(address, request);
  if (!response.ok()) return response.status();
  if (!response->has_list_services_response()) {
    return absl::InternalError(absl::StrCat("not a service list: ", response->DebugString()));
  }
  std::vector<std::string> names;
  for (const auto& service : response->list_services_response().service()) {
    names.push_back(service.name());
  }
  return names;
}

// A coordinator and one worker registered with it, each on a loopback ephemeral port.
class ReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string coordinator_port_file = dir_.path() + "/coordinator.port";
    ASSERT_OK_AND_ASSIGN(
        coordinator_pid_,
        SpawnProcess({BinaryPath("gpool-coordinator"), "--listen=127.0.0.1:0",
                      "--port_file=" + coordinator_port_file, "--log_level=warning"}));
    ASSERT_OK_AND_ASSIGN(
        std::string coordinator_port,
        WaitForFileLine(coordinator_port_file, absl::Seconds(20), coordinator_pid_));
    coordinator_address_ = "127.0.0.1:" + coordinator_port;

    const std::string worker_port_file = dir_.path() + "/worker.port";
    ASSERT_OK_AND_ASSIGN(
        worker_pid_, SpawnProcess({BinaryPath("gpool-worker"),
                                   "--coordinator=" + coordinator_address_, "--listen=127.0.0.1:0",
                                   "--port_file=" + worker_port_file, "--log_level=warning"}));
    ASSERT_OK_AND_ASSIGN(std::string worker_port,
                         WaitForFileLine(worker_port_file, absl::Seconds(20), worker_pid_));
    worker_address_ = "127.0.0.1:" + worker_port;
  }

  void TearDown() override {
    for (pid_t pid : {worker_pid_, coordinator_pid_}) {
      if (pid > 0) {
        EXPECT_OK(StopProcess(pid, absl::Seconds(10)));
      }
    }
  }

  TempDir dir_;
  pid_t coordinator_pid_ = 0;
  pid_t worker_pid_ = 0;
  std::string coordinator_address_;
  std::string worker_address_;
};

TEST_F(ReflectionTest, ListServices_CoordinatorListsCoordinatorHealthAndReflection) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> services, ListServices(coordinator_address_));
  EXPECT_THAT(services, IsSupersetOf({"gpool.v1.Coordinator", "grpc.health.v1.Health",
                                      "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST_F(ReflectionTest, ListServices_WorkerListsWorkerHealthAndReflection) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> services, ListServices(worker_address_));
  EXPECT_THAT(services, IsSupersetOf({"gpool.v1.Worker", "grpc.health.v1.Health",
                                      "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST_F(ReflectionTest, FileContainingSymbol_ReturnsTheGpoolSchema) {
  // What grpcurl does before calling a method: fetch the file that declares the service.
  ServerReflectionRequest request;
  request.set_file_containing_symbol("gpool.v1.Coordinator");
  ASSERT_OK_AND_ASSIGN(ServerReflectionResponse response, Ask(coordinator_address_, request));
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
  bool found = false;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.package() != "gpool.v1") continue;
    for (const auto& service : file.service()) {
      if (service.name() != "Coordinator") continue;
      found = true;
      std::vector<std::string> methods;
      for (const auto& method : service.method()) methods.push_back(method.name());
      EXPECT_THAT(methods, Contains("Map"));
      EXPECT_THAT(methods, Contains("RegisterWorker"));
    }
  }
  EXPECT_TRUE(found) << "no gpool.v1.Coordinator in the returned files";
}

}  // namespace
}  // namespace gpool
