#include "rpc/transport.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/health_service.h"

namespace gpool {
namespace {

// Dead TCP connections (a host that vanished without a FIN) are noticed within
// kKeepaliveTime + kKeepaliveTimeout even when no call is active.
constexpr int kKeepaliveTimeMs = 10'000;
constexpr int kKeepaliveTimeoutMs = 5'000;
// A coordinator that restarts should be reached again within a couple of seconds.
constexpr int kMaxReconnectBackoffMs = 2'000;
// The HTTP/2 flow-control window of every stream a daemon receives on: what BDP probing
// would start from.
constexpr int kServerStreamWindowBytes = 4 * 1024 * 1024;

}  // namespace

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address,
                                             const TransportOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is deliberately left at gRPC's default (20 s): gRPC
  // also uses it as the minimum time a connection attempt is given. At 100 ms, a coordinator
  // opening many worker channels at once saw connects time out and declared healthy,
  // heartbeating workers dead (found by bench/scale with 1,000 workers).
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::ServerCredentials> CreateServerCredentials(
    const TransportOptions& options) {
  return grpc::InsecureServerCredentials();
}

void ConfigureServerBuilder(grpc::ServerBuilder& builder) {
  // A process-wide switch that must be set before the server is built; setting it again is
  // harmless.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // gRPC sets SO_REUSEPORT by default: a second daemon on a taken port would then start and
  // split the clients with the first. A taken port must be an error (exit 1).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Accept the clients' keepalive pings (the default policy would answer them with GOAWAY).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveTimeMs / 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  // No BDP probing on what the daemons receive, a fixed window instead. The probe answers
  // received data with PINGs: with 1,000 workers heartbeating, that was one more ping round
  // trip per two heartbeats and about 40% of the coordinator's idle CPU. What daemons receive
  // is small (heartbeats, registrations, chunk requests) or an upload that a 4 MiB window
  // carries at full speed. Clients keep BDP probing (CreateChannel): they receive the bulk.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kServerStreamWindowBytes);
}

StartedServer::StartedServer() = default;
StartedServer::~StartedServer() = default;
StartedServer::StartedServer(StartedServer&&) = default;
StartedServer& StartedServer::operator=(StartedServer&&) = default;

absl::StatusOr<StartedServer> StartServer(const std::string& listen,
                                          const std::vector<grpc::Service*>& services,
                                          bool serving, const std::string& port_file,
                                          CompletionQueueLoop* loop,
                                          const std::vector<std::string>& health_services) {
  grpc::ServerBuilder builder;
  StartedServer started;
  started.health = std::make_unique<HealthService>(serving);
  for (const std::string& name : health_services) started.health->AddService(name);
  builder.AddListeningPort(listen, CreateServerCredentials(), &started.port);
  ConfigureServerBuilder(builder);
  builder.RegisterService(started.health.get());
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (loop != nullptr) loop->Attach(builder.AddCompletionQueue());
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    // The queue must be shut down and drained before it is destroyed; nothing is pending.
    if (loop != nullptr) loop->Start();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen, ": is the port in use or the address not local?"));
  }
  if (loop != nullptr) loop->Start();
  if (!port_file.empty()) {
    absl::Status written = WriteFileAtomically(port_file, absl::StrCat(started.port, "\n"));
    if (!written.ok()) {
      started.server->Shutdown();
      return written;
    }
  }
  return started;
}

absl::Status WaitForConnection(grpc::Channel& channel, const std::string& address,
                               absl::Duration timeout, const std::string& what) {
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
  if (channel.WaitForConnected(deadline)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "cannot reach the ", what, " at ", address, " within ", absl::FormatDuration(timeout),
      ": check that it is running and that the address and port are right"));
}

absl::StatusOr<HostPort> ParseHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' is not HOST:PORT (e.g. 127.0.0.1:50051)"));
  }
  HostPort host_port;
  host_port.host = address.substr(0, colon);
  if (!absl::SimpleAtoi(address.substr(colon + 1), &host_port.port) || host_port.port < 0 ||
      host_port.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' has no valid port (0..65535)"));
  }
  return host_port;
}

}  // namespace gpool
