#include "worker/worker_daemon.h"

#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <grpcpp/server.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/address.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "common/worker_registration.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/health_service.h"
#include "rpc/transport.h"
#include "worker/chunk_executor.h"
#include "worker/grpc_coordinator_link.h"
#include "worker/registration.h"
#include "worker/worker_service.h"

namespace gpool {
namespace {

// What main reports as a usage error (exit 2) comes back here as invalid options.
constexpr int kExitInvalidOptions = 2;

// 64 bits from the kernel's cryptographic generator.
absl::StatusOr<uint64_t> RandomSecret() {
  uint64_t secret = 0;
  ssize_t got = -1;
  do {
    got = getrandom(&secret, sizeof(secret), 0);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof(secret))) {
    return absl::InternalError("cannot draw the worker's incarnation from getrandom()");
  }
  return secret;
}

}  // namespace

absl::Status ValidateWorkerOptions(const WorkerDaemonOptions& options) {
  if (options.coordinator.empty() && options.coordinator_port_file.empty()) {
    return absl::InvalidArgumentError(
        "no coordinator: pass --coordinator HOST:PORT or set GPOOL_COORDINATOR");
  }
  if (options.slots < 1 || options.slots > kMaxSlots) {
    return absl::InvalidArgumentError(
        absl::StrCat("--slots must be 1 to ", kMaxSlots, ", got ", options.slots));
  }
  if (options.max_chunks_per_call < 1 || options.max_chunks_per_call > kMaxChunksPerCall) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_chunks_per_call must be 1 to ", kMaxChunksPerCall, ", got ",
        options.max_chunks_per_call));
  }
  if (absl::StatusOr<HostPort> listen = ParseHostPort(options.listen); !listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", listen.status().message()));
  }
  const TransportOptions transport = TransportFor(Role::kWorker, options.credentials);
  if (absl::Status allowed = CheckListenAllowed(options.listen, transport, options.insecure);
      !allowed.ok()) {
    return allowed;
  }
  if (absl::Status readable = CheckCredentialFiles(transport); !readable.ok()) return readable;
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--drain_timeout must not be negative, got ", absl::FormatDuration(options.drain_timeout)));
  }
  if (options.chunk_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--chunk_delay must not be negative, got ", absl::FormatDuration(options.chunk_delay)));
  }
  return absl::OkStatus();
}

int RunWorker(const WorkerDaemonOptions& options, FunctionRegistry registry) {
  SetLogLevel(options.log_level);
  SetLogComponent(absl::StrCat("worker ", getpid()));

  if (absl::Status valid = ValidateWorkerOptions(options); !valid.ok()) {
    LogError(std::string(valid.message()));
    return kExitInvalidOptions;
  }
  const HostPort host_port = *ParseHostPort(options.listen);
  const TransportOptions transport = TransportFor(Role::kWorker, options.credentials);
  if (!transport.secure() && !IsLoopbackHost(host_port.host)) {
    LogWarning(absl::StrCat("--insecure: serving plain text on ", options.listen,
                            " without authentication; anyone who reaches it can make this "
                            "worker compute (see docs/security.md)"));
  }

  if (options.enable_test_functions) {
    (void)registry.Register("test_abort_on_13", [](int64_t x) -> absl::StatusOr<int64_t> {
      if (x == 13) std::abort();
      return x;
    });
  }
  // The secret that binds this worker's later calls (heartbeats, drain, deregistration) to
  // its registration: another worker cannot guess it, so it cannot act in this one's name.
  // The service confirms it (never reveals it) to a coordinator asking whether this process
  // still serves here.
  absl::StatusOr<uint64_t> incarnation = RandomSecret();
  if (!incarnation.ok()) {
    LogError(std::string(incarnation.status().message()));
    return 1;
  }
  ChunkExecutor executor(std::move(registry), options.slots, options.chunk_delay,
                         options.monitor);
  if (options.monitor != nullptr) options.monitor->Attach(&executor);
  // However this function returns: no scrape may read an executor that is gone.
  absl::Cleanup detach_monitor = [&options] {
    if (options.monitor != nullptr) options.monitor->Detach();
  };
  // Runs the RunChunks and ConfirmIncarnation calls (see WorkerService).
  CompletionQueueLoop loop;
  WorkerService service(&executor, getpid(), &loop, options.max_chunks_per_call, *incarnation,
                        options.shared_values);
  // Not ready to take chunks (health NOT_SERVING) until the coordinator knows us.
  absl::StatusOr<StartedServer> started =
      StartServer(options.listen, {&service}, /*serving=*/false, options.port_file, &loop,
                  {v1::Worker::service_full_name()}, transport);
  if (!started.ok()) {
    LogError(std::string(started.status().message()));
    return 1;
  }
  service.AcceptCalls();
  grpc::Server& server = *started->server;
  HealthService& health = *started->health;
  const int bound_port = started->port;
  // However this function returns from here: the server first (which cancels the calls
  // still waiting for a slot), then the compute threads, then the loop, before any of them
  // is destroyed.
  absl::Cleanup stop_serving = [&] {
    health.Shutdown();
    server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    service.StopComputeThreads();
    loop.ShutdownWhenIdle();
  };

  // Started together with its coordinator: the server above came up meanwhile; now the
  // coordinator's address is needed.
  std::string coordinator = options.coordinator;
  if (coordinator.empty()) {
    absl::StatusOr<std::string> port =
        WaitForFileLine(options.coordinator_port_file, options.coordinator_port_wait);
    if (!port.ok()) {
      LogError(absl::StrCat("no coordinator: ", port.status().message()));
      return 1;
    }
    coordinator = absl::StrCat("127.0.0.1:", *port);
  }

  const std::string host_name = LocalHostName();
  WorkerRegistration registration;
  registration.address =
      options.advertise_host.empty()
          ? DialableAddress(host_port.host, bound_port, host_name)
          : absl::StrCat(options.advertise_host, ":", bound_port);
  registration.pid = getpid();
  registration.host = host_name;
  registration.slots = options.slots;
  registration.max_chunks_per_call = options.max_chunks_per_call;
  registration.functions = executor.registry().Signatures();
  registration.incarnation = *incarnation;
  LogInfo(absl::StrCat("serving on ", registration.address, " with ", options.slots,
                       " slot(s), functions ", absl::StrJoin(executor.registry().Names(), ","),
                       "; coordinator ", coordinator,
                       transport.secure() ? " over mutual TLS" : " in plain text"));
  GrpcCoordinatorLink link(coordinator, transport);
  absl::Notification refused;
  RegistrationLoop registration_loop(
      &link, registration, BackoffPolicy{},
      [&health](bool registered) { health.SetServing(registered); },
      [&refused](const absl::Status&) {
        refused.Notify();
        // Wakes the wait below (every thread blocks SIGTERM; only that wait takes it).
        kill(getpid(), SIGTERM);
      });
  registration_loop.Start();

  const int signal_number = WaitForTerminationSignal();
  if (refused.HasBeenNotified()) {
    // Logged by the loop with the coordinator's reason.
    LogError(absl::StrCat("exiting: another live worker serves at ", registration.address));
    registration_loop.Stop();
    return 1;
  }
  LogInfo(absl::StrCat("signal ", signal_number, " received; draining"));
  // Drain: not ready for new work, no new chunks from the coordinator, the chunks in hand
  // finish (or are handed back after the drain timeout), then deregister and exit 0.
  health.SetServing(false);
  absl::Status left = registration_loop.Leave(
      options.drain_timeout,
      [&service](absl::Duration timeout) { return service.AwaitIdle(timeout); });
  if (!left.ok()) LogWarning(absl::StrCat("leaving the coordinator: ", left.ToString()));
  std::move(stop_serving).Invoke();
  LogInfo(absl::StrCat("stopped after ", executor.chunks_completed(), " chunks"));
  return 0;
}

}  // namespace gpool
