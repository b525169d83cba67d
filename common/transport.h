// The one place where gpool creates gRPC channels and server credentials. Authentication and
// TLS will be added here (TransportOptions), and every binary picks them up.
#ifndef GPOOL_COMMON_TRANSPORT_H_
#define GPOOL_COMMON_TRANSPORT_H_

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

// Largest message accepted or sent: big enough for explicit lists of millions of values and
// for chunk results of a few million values.
inline constexpr int kMaxMessageBytes = 64 * 1024 * 1024;

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
// the standard services every gpool daemon serves: grpc.health.v1 and server reflection.
void ConfigureServerBuilder(grpc::ServerBuilder& builder);

// A server built and started by StartServer.
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the port actually bound (useful with port 0)
};

// Builds and starts a gpool daemon's server on `listen` ("HOST:PORT") with `services`, sets
// its health status to `serving`, and only then writes the bound port (one line) to
// `port_file` if it is not empty, so whoever waits for the file never sees a stale status.
// UNAVAILABLE when the address cannot be bound or the file cannot be written.
absl::StatusOr<StartedServer> StartServer(const std::string& listen,
                                          const std::vector<grpc::Service*>& services,
                                          bool serving, const std::string& port_file);

// Sets the grpc.health.v1 status of the server as a whole (service "") and of the named
// services. Requires a server built with ConfigureServerBuilder.
void SetServing(grpc::Server& server, bool serving);

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

#endif  // GPOOL_COMMON_TRANSPORT_H_
