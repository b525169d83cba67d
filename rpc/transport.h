// The one place where gpool creates gRPC channels and server credentials, plain text or
// mutual TLS (TransportOptions), and every binary picks them up. Who may call what over TLS
// is rpc/roles.h's.
#ifndef GPOOL_RPC_TRANSPORT_H_
#define GPOOL_RPC_TRANSPORT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/roles.h"

namespace gpool {

class CompletionQueueLoop;
class HealthService;

// The contract's message limit (proto/gpool.proto, "Transport"): no gpool message is larger,
// in either direction. 4 MiB is the default receive limit of every gRPC implementation, so a
// client in any language needs no setting to read what the coordinator sends. Every gpool
// channel and server uses it as both its send and its receive limit, so our own processes
// keep the contract rather than merely tolerate breaking it.
inline constexpr int kMaxMessageBytes = 4 * 1024 * 1024;

// How often a daemon (or client) re-reads its credential files: a rotated certificate, key
// or CA in the --credentials directory is used for new connections within this bound.
inline constexpr int kCredentialsRefreshSeconds = 10;

// The files of a --credentials directory (docs/security.md): the CA that every peer's
// certificate must chain to, and this process's certificate and key for `role`.
struct CredentialFiles {
  std::string ca;           // DIR/ca.crt
  std::string certificate;  // DIR/<role>.crt
  std::string key;          // DIR/<role>.key
};
CredentialFiles CredentialFilesFor(const std::string& directory, Role role);

struct TransportOptions {
  // Empty: plain text, no authentication (a daemon then listens on loopback only, unless
  // --insecure). Otherwise the --credentials directory: every channel and server is mutual
  // TLS against its CA, presenting the certificate of `role`.
  std::string credentials_directory;
  // This process's role: the certificate it presents.
  Role role = Role::kClient;
  // The role the servers this process dials must prove with their certificate; none: any
  // role of the cluster (a health probe). Set by TransportFor.
  std::optional<Role> server_role;
  // Whether a server's certificate must name the host dialed. Off where the peer's role is
  // all that matters and its host name is not known in advance (workers register whatever
  // address they are reached at; see TransportFor).
  bool check_server_host = true;

  bool secure() const { return !credentials_directory.empty(); }
};

// The options of a process of `role` with `credentials_directory` (empty: plain text): a
// client or worker dials coordinators, which must present a coordinator certificate valid for
// the host dialed; the coordinator dials workers, which must present a worker certificate.
TransportOptions TransportFor(Role role, std::string credentials_directory);

// FAILED_PRECONDITION naming the file and `gpool init` when a file of `options`' credentials
// is missing or unreadable, so that a process refuses to start rather than fail every
// handshake. OK without credentials.
absl::Status CheckCredentialFiles(const TransportOptions& options);

// The --listen rule (DESIGN 3a): without credentials a daemon serves loopback only, unless
// `insecure`. INVALID_ARGUMENT naming `gpool init` and --insecure otherwise.
absl::Status CheckListenAllowed(const std::string& listen, const TransportOptions& options,
                                bool insecure);

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

// Builds and starts a gpool daemon's server on `listen` ("HOST:PORT"), with `transport`'s
// credentials (mutual TLS and the role check of rpc/roles.h, or plain text), `services` and
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
                                          const std::vector<std::string>& health_services = {},
                                          const TransportOptions& transport = {});

// Waits until the channel is connected. UNAVAILABLE with a message naming `address` and what
// to check when it does not connect within `timeout`: when the address takes TCP connections
// but no gRPC session comes up, that is credentials that do not match (--credentials).
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
