#include "rpc/transport.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include <grpcpp/create_channel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/address.h"
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

// One file watcher per credentials directory and role, shared by every channel and server of
// the process (each watcher is a thread re-reading the files).
std::shared_ptr<grpc::experimental::CertificateProviderInterface> CertificateProvider(
    const TransportOptions& options) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* providers ABSL_GUARDED_BY(mu) =
      new std::map<std::pair<std::string, Role>,
                   std::shared_ptr<grpc::experimental::CertificateProviderInterface>>;
  absl::MutexLock lock(&mu);
  auto& provider = (*providers)[{options.credentials_directory, options.role}];
  if (provider == nullptr) {
    const CredentialFiles files = CredentialFilesFor(options.credentials_directory, options.role);
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        files.key, files.certificate, files.ca, kCredentialsRefreshSeconds);
  }
  return provider;
}

// "host" of "host:port", "[::1]:port", or a bare host.
std::string HostOf(absl::string_view target) {
  if (absl::ConsumePrefix(&target, "[")) return std::string(target.substr(0, target.find(']')));
  const size_t colon = target.rfind(':');
  if (colon != absl::string_view::npos && target.find(':') == colon) target = target.substr(0, colon);
  return std::string(target);
}

bool DnsNameMatches(absl::string_view pattern, absl::string_view host) {
  if (absl::EqualsIgnoreCase(pattern, host)) return true;
  // "*.example.org" covers one label: "a.example.org", not "example.org" or "a.b.example.org".
  if (!absl::ConsumePrefix(&pattern, "*.")) return false;
  const size_t dot = host.find('.');
  return dot != absl::string_view::npos && dot > 0 &&
         absl::EqualsIgnoreCase(host.substr(dot + 1), pattern);
}

// A client's check of the server it reached, after the chain was verified against the CA:
// the certificate states the role expected of that server (a worker's certificate cannot pass
// for the coordinator's), and, where asked, names the host dialed.
class ServerCertificateCheck final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ServerCertificateCheck(Role role, bool check_host) : role_(role), check_host_(check_host) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    *sync_status = Check(*request);
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  grpc::Status Check(const grpc::experimental::TlsCustomVerificationCheckRequest& request) {
    std::vector<std::string> uris;
    for (const grpc::string_ref& uri : request.uri_names()) uris.emplace_back(uri.data(), uri.size());
    absl::StatusOr<Role> role = RoleFromUris(uris);
    if (!role.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("server certificate: ", role.status().message()));
    }
    if (*role != role_) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("the server's certificate is a ", RoleName(*role),
                                       "'s, not a ", RoleName(role_), "'s"));
    }
    if (!check_host_) return grpc::Status::OK;
    const grpc::string_ref target = request.target_name();
    const std::string host = HostOf(absl::string_view(target.data(), target.size()));
    for (const grpc::string_ref& ip : request.ip_names()) {
      if (absl::string_view(ip.data(), ip.size()) == host) return grpc::Status::OK;
    }
    for (const grpc::string_ref& dns : request.dns_names()) {
      if (DnsNameMatches(absl::string_view(dns.data(), dns.size()), host)) return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("the server's certificate is not valid for host ", host,
                                     " (gpool init --host ", host, ")"));
  }

  const Role role_;
  const bool check_host_;
};

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TransportOptions& options) {
  if (!options.secure()) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(CertificateProvider(options));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_verify_server_certs(true);
  // The host is checked with the certificate (ServerCertificateCheck), once per connection.
  tls.set_check_call_host(false);
  if (options.server_role.has_value()) {
    tls.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<ServerCertificateCheck>(
            *options.server_role, options.check_server_host));
  } else {
    tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  }
  return grpc::experimental::TlsCredentials(tls);
}

// Whether `address` accepts a TCP connection within `timeout`.
bool AcceptsTcp(const std::string& address, absl::Duration timeout) {
  absl::StatusOr<HostPort> host_port = ParseHostPort(address);
  if (!host_port.ok()) return false;
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(HostOf(address).c_str(), std::to_string(host_port->port).c_str(), &hints,
                  &found) != 0) {
    return false;
  }
  bool accepted = false;
  for (addrinfo* candidate = found; candidate != nullptr && !accepted;
       candidate = candidate->ai_next) {
    const int fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_NONBLOCK |
                                                    SOCK_CLOEXEC, candidate->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, candidate->ai_addr, candidate->ai_addrlen) == 0) {
      accepted = true;
    } else if (errno == EINPROGRESS) {
      pollfd poll_fd = {fd, POLLOUT, 0};
      int error = 0;
      socklen_t length = sizeof(error);
      accepted = poll(&poll_fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 &&
                 getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return accepted;
}

}  // namespace

CredentialFiles CredentialFilesFor(const std::string& directory, Role role) {
  const std::string base = absl::StrCat(directory, "/", RoleName(role));
  return CredentialFiles{absl::StrCat(directory, "/ca.crt"), absl::StrCat(base, ".crt"),
                         absl::StrCat(base, ".key")};
}

TransportOptions TransportFor(Role role, std::string credentials_directory) {
  TransportOptions options;
  options.credentials_directory = std::move(credentials_directory);
  options.role = role;
  options.server_role = role == Role::kCoordinator ? Role::kWorker : Role::kCoordinator;
  // Workers are reached at whatever address they registered, which their certificate cannot
  // list in advance (containers, autoscaling); a worker's certificate is what matters.
  options.check_server_host = role != Role::kCoordinator;
  return options;
}

absl::Status CheckCredentialFiles(const TransportOptions& options) {
  if (!options.secure()) return absl::OkStatus();
  const CredentialFiles files = CredentialFilesFor(options.credentials_directory, options.role);
  for (const std::string* path : {&files.ca, &files.certificate, &files.key}) {
    if (access(path->c_str(), R_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--credentials ", options.credentials_directory, ": cannot read ", *path, " (",
          std::strerror(errno), "); create the directory with 'gpool init ",
          options.credentials_directory, "' (see docs/security.md)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckListenAllowed(const std::string& listen, const TransportOptions& options,
                                bool insecure) {
  absl::StatusOr<HostPort> host_port = ParseHostPort(listen);
  if (!host_port.ok()) return host_port.status();
  if (options.secure() || insecure || IsLoopbackHost(host_port->host)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--listen ", listen, " is reachable from other machines, and without --credentials "
      "anyone who reaches it could use the cluster: create credentials with 'gpool init DIR' "
      "and pass --credentials DIR, or pass --insecure to serve in plain text anyway"));
}

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
  return grpc::CreateCustomChannel(address, ChannelCredentials(options), args);
}

std::shared_ptr<grpc::ServerCredentials> CreateServerCredentials(
    const TransportOptions& options) {
  if (!options.secure()) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions tls(CertificateProvider(options));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  // No certificate, or one the CA did not sign (or expired): no connection at all.
  tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(tls);
  // Then each call: does the peer's role allow it?
  credentials->SetAuthMetadataProcessor(std::make_shared<RoleCheckProcessor>());
  return credentials;
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
                                          const std::vector<std::string>& health_services,
                                          const TransportOptions& transport) {
  grpc::ServerBuilder builder;
  StartedServer started;
  started.health = std::make_unique<HealthService>(serving);
  for (const std::string& name : health_services) started.health->AddService(name);
  builder.AddListeningPort(listen, CreateServerCredentials(transport), &started.port);
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
  if (AcceptsTcp(address, absl::Seconds(1))) {
    return absl::UnavailableError(absl::StrCat(
        "the ", what, " at ", address, " accepts connections but refused the session: the "
        "cluster uses TLS and this needs its credentials (--credentials DIR or "
        "GPOOL_CREDENTIALS, certificates from the cluster's CA, not expired), or the "
        "cluster is plain text and no --credentials must be given"));
  }
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
