#include "server/coordinator_daemon.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/address.h"
#include "common/chunking.h"
#include "common/clock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "gpool.grpc.pb.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/health_service.h"
#include "rpc/transport.h"
#include "server/coordinator_service.h"
#include "server/grpc_worker_connection.h"

namespace gpool {

namespace {

// What main reports as a usage error (exit 2) comes back here as invalid options.
constexpr int kExitInvalidOptions = 2;

}  // namespace

absl::Status ValidateCoordinatorOptions(const CoordinatorDaemonOptions& daemon_options) {
  if (absl::StatusOr<HostPort> listen = ParseHostPort(daemon_options.listen); !listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", listen.status().message()));
  }
  const TransportOptions transport = TransportFor(Role::kCoordinator, daemon_options.credentials);
  if (absl::Status allowed =
          CheckListenAllowed(daemon_options.listen, transport, daemon_options.insecure);
      !allowed.ok()) {
    return allowed;
  }
  if (absl::Status readable = CheckCredentialFiles(transport); !readable.ok()) return readable;
  if (daemon_options.chunk_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--chunk_timeout must be positive, got ",
                     absl::FormatDuration(daemon_options.chunk_timeout)));
  }
  if (daemon_options.client_stall_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--client_stall_timeout must be positive, got ",
                     absl::FormatDuration(daemon_options.client_stall_timeout)));
  }
  const SchedulerOptions& options = daemon_options.scheduler;
  if (options.heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--heartbeat_interval must be positive, got ",
                     absl::FormatDuration(options.heartbeat_interval)));
  }
  if (options.lease_timeout <= options.heartbeat_interval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--lease_timeout (", absl::FormatDuration(options.lease_timeout),
        ") must be longer than --heartbeat_interval (",
        absl::FormatDuration(options.heartbeat_interval), ")"));
  }
  if (options.max_heartbeat_interval < options.heartbeat_interval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_heartbeat_interval (", absl::FormatDuration(options.max_heartbeat_interval),
        ") must be at least --heartbeat_interval (",
        absl::FormatDuration(options.heartbeat_interval), ")"));
  }
  // Written so that NaN fails too.
  if (!(options.heartbeat_budget >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--heartbeat_budget must be at least 0, got ", options.heartbeat_budget));
  }
  if (options.worker_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--worker_wait must not be negative, got ",
                     absl::FormatDuration(options.worker_wait)));
  }
  const struct {
    const char* flag;
    int64_t value;
    int64_t minimum;
  } counts[] = {
      {"--pipeline_depth", options.pipeline_depth, 0},
      {"--max_attempts", options.max_attempts, 1},
      {"--result_window", options.result_window, 1},
      {"--result_window_values", options.result_window_values, 1},
      {"--result_buffer_bytes", options.result_buffer_bytes, 1},
      {"--max_elements_per_call", options.max_elements_per_call, 1},
      {"--max_workers", options.max_workers, 1},
      {"--max_jobs", options.max_jobs, 1},
      {"--max_jobs_per_client", options.max_jobs_per_client, 1},
  };
  for (const auto& count : counts) {
    if (count.value < count.minimum) {
      return absl::InvalidArgumentError(absl::StrCat(count.flag, " must be at least ",
                                                     count.minimum, ", got ", count.value));
    }
  }
  // A worker answers a call in one message of at most 4 MiB: the call's values (8 bytes
  // each) plus up to kMaxChunksPerCall outcomes of about 80 bytes (1.3 MiB) must fit it.
  // 2^18 elements (2 MiB) do; a chunk alone is never more in RESULT_MODE_VALUES either.
  if (options.max_elements_per_call > static_cast<int64_t>(kMaxValuesChunkSize)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_elements_per_call must be at most ", kMaxValuesChunkSize,
        " (a call's values must fit a worker's 4 MiB answer), got ",
        options.max_elements_per_call));
  }
  return absl::OkStatus();
}

int RunCoordinator(const CoordinatorDaemonOptions& daemon_options) {
  SetLogLevel(daemon_options.log_level);
  SetLogComponent("coordinator");

  if (absl::Status valid = ValidateCoordinatorOptions(daemon_options); !valid.ok()) {
    LogError(std::string(valid.message()));
    return kExitInvalidOptions;
  }
  SchedulerOptions options = daemon_options.scheduler;
  if (daemon_options.monitor != nullptr) options.observer = daemon_options.monitor;
  const std::string& listen = daemon_options.listen;
  const HostPort host_port = *ParseHostPort(listen);

  RealClock clock;
  // Runs Map, the heartbeats and the calls to workers (see CoordinatorService).
  CompletionQueueLoop loop;
  const TransportOptions transport = TransportFor(Role::kCoordinator, daemon_options.credentials);
  if (!transport.secure() && !IsLoopbackHost(host_port.host)) {
    LogWarning(absl::StrCat("--insecure: serving plain text on ", listen,
                            " without authentication; anyone who reaches it can submit jobs, "
                            "register as a worker and forge results (see docs/security.md)"));
  }
  GrpcWorkerConnector connector(daemon_options.chunk_timeout, transport, &loop);
  auto scheduler = std::make_unique<Scheduler>(options, &clock, &connector);
  if (daemon_options.monitor != nullptr) {
    daemon_options.monitor->Attach(
        [scheduler = scheduler.get()] { return scheduler->Snapshot(); });
  }
  // However this function returns: no scrape may read a scheduler that is gone.
  absl::Cleanup detach_monitor = [&daemon_options] {
    if (daemon_options.monitor != nullptr) daemon_options.monitor->Detach();
  };
  CoordinatorService service(scheduler.get(), &loop, daemon_options.client_stall_timeout,
                             &clock);

  absl::StatusOr<StartedServer> started =
      StartServer(listen, {&service}, /*serving=*/true, daemon_options.port_file, &loop,
                  {v1::Coordinator::service_full_name()}, transport);
  if (!started.ok()) {
    LogError(std::string(started.status().message()));
    return 1;
  }
  // For the hints the coordinator gives (start workers with: gpool-worker --coordinator ...).
  const std::string dialable = DialableAddress(host_port.host, started->port, LocalHostName());
  scheduler->SetCoordinatorAddress(dialable);
  service.AcceptCalls();
  grpc::Server& server = *started->server;
  HealthService& health = *started->health;
  LogInfo(absl::StrCat(
      "listening on ", host_port.host, ":", started->port, " as incarnation ",
      absl::Hex(service.incarnation(), absl::kZeroPad16),
      transport.secure() ? absl::StrCat(" with mutual TLS (", transport.credentials_directory, ")")
                         : std::string(" in plain text"),
      " (lease ",
      absl::FormatDuration(options.lease_timeout), ", heartbeat ",
      absl::FormatDuration(options.heartbeat_interval),
      options.heartbeat_budget > 0
          ? absl::StrCat(", growing with the cluster beyond ",
                         static_cast<int64_t>(options.heartbeat_budget *
                                              absl::ToDoubleSeconds(options.heartbeat_interval)),
                         " workers up to ",
                         absl::FormatDuration(options.max_heartbeat_interval))
          : std::string(", fixed"),
      "); start workers with: gpool-worker --coordinator ", dialable,
      transport.secure() ? absl::StrCat(" --credentials ", transport.credentials_directory)
                         : std::string()));

  absl::Notification stopping;
  std::thread ticker([&] {
    while (!stopping.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      scheduler->Tick();
      service.ReleaseHeldEvents();
      service.CancelStalledMapCalls(clock.Now());
    }
  });

  const int signal_number = WaitForTerminationSignal();
  LogInfo(absl::StrCat("signal ", signal_number, " received; shutting down"));
  health.SetServing(false);
  stopping.Notify();
  ticker.join();
  // Refuse worker calls before the scheduler goes away, so that a late beat or registration
  // cannot reach a destroyed scheduler.
  service.StopWorkerCalls();
  // Open Map calls end with UNAVAILABLE once what is queued for them is written (their
  // clients may resubmit elsewhere or later), and stop using the scheduler, so the shutdown
  // neither waits for them nor lets them reach a destroyed scheduler.
  service.StopMapCalls();
  health.Shutdown();
  std::move(detach_monitor).Invoke();
  // Ending the scheduler cancels the chunk calls in flight.
  std::thread stop_scheduler([&] { scheduler.reset(); });
  server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  stop_scheduler.join();
  // What is left on the loop is the calls' last completions.
  loop.ShutdownWhenIdle();
  LogInfo("stopped");
  return 0;
}

}  // namespace gpool
