// The one place where gpool creates gRPC channels and server credentials. Authentication and
// TLS will be added here (TransportOptions), and every binary picks them up.
#ifndef GPOOL_RPC_TRANSPORT_H_
#define GPOOL_RPC_TRANSPORT_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gpool {

class CompletionQueueLoop;
class HealthService;

// The contract's message limit (proto/gpool.proto, "Transport"): no gpool message is larger,
// in either direction. 4 MiB is the default receive limit of every gRPC implementation, so a
// client in any language needs no setting to read what the coordinator sends. Every gpool
// channel and server uses it as both its send and its receive limit, so our own processes
// keep the contract rather than merely tolerate breaking it.
inline constexpr int kMaxMessageBytes = 4 * 1024 * 1024;

struct TransportOptions {
  // Placeholder for TLS / auth settings; today every channel is insecure (plaintext).
};

// A channel to `address` ("host:port") with gpool's keepalive, reconnect-backoff and message
// size settings.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address,
                                             const TransportOptions& options = {});

// Credentials for a listening port.
std::shared_ptr<grpc::ServerCredentials> CreateServerCredentials(
    const TransportOptions& options = {});

// Applies gpool's keepalive and message-size settings to a server being built, and turns on
// server reflection. (grpc.health.v1 comes with StartServer.)
void ConfigureServerBuilder(grpc::ServerBuilder& builder);

// A server built and started by StartServer. Destroy it only after the server's Shutdown.
struct StartedServer {
  StartedServer();
  ~StartedServer();
  StartedServer(StartedServer&&);
  StartedServer& operator=(StartedServer&&);

  // Declared before the server, which must go first.
  std::unique_ptr<HealthService> health;
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the port actually bound (useful with port 0)
};

// Builds and starts a gpool daemon's server on `listen` ("HOST:PORT") with `services` and
// grpc.health.v1 (HealthService, reporting on "" and each of `health_services`), sets its
// health status to `serving`, and only then writes
// the bound port (one line) to `port_file` if it is not empty, so whoever waits for the file
// never sees a stale status. With a `loop`, attaches a completion queue to it for the
// services' completion-queue methods and starts it; the caller then has those services accept
// their calls. UNAVAILABLE when the address cannot be bound or the file cannot be written.
absl::StatusOr<StartedServer> StartServer(const std::string& listen,
                                          const std::vector<grpc::Service*>& services,
                                          bool serving, const std::string& port_file,
                                          CompletionQueueLoop* loop = nullptr,
                                          const std::vector<std::string>& health_services = {});

// Waits until the channel is connected. UNAVAILABLE with a message naming `address` and what
// to check when it does not connect within `timeout`.
absl::Status WaitForConnection(grpc::Channel& channel, const std::string& address,
                               absl::Duration timeout, const std::string& what);

// Splits "host:port"; INVALID_ARGUMENT when the port is missing or not a number in 0..65535.
struct HostPort {
  std::string host;
  int port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(const std::string& address);

}  // namespace gpool

#endif  // GPOOL_RPC_TRANSPORT_H_
