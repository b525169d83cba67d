#include "server/coordinator_daemon.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/completion_queue_loop.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/health_service.h"
#include "common/transport.h"
#include "gpool.grpc.pb.h"
#include "server/coordinator_service.h"
#include "server/grpc_worker_connection.h"

namespace gpool {

int RunCoordinator(const CoordinatorDaemonOptions& daemon_options) {
  SetLogLevel(daemon_options.log_level);
  SetLogComponent("coordinator");

  const SchedulerOptions& options = daemon_options.scheduler;
  if (options.heartbeat_interval <= absl::ZeroDuration() ||
      options.lease_timeout <= options.heartbeat_interval ||
      !(options.heartbeat_budget >= 0) ||
      options.max_heartbeat_interval < options.heartbeat_interval ||
      options.pipeline_depth < 0 || options.max_attempts < 1 || options.result_window < 1 ||
      options.result_window_values < 1 || options.max_elements_per_call < 1) {
    LogError(
        "invalid flags: need heartbeat_interval > 0, lease_timeout > heartbeat_interval, "
        "heartbeat_budget >= 0, max_heartbeat_interval >= heartbeat_interval, "
        "pipeline_depth >= 0, max_attempts >= 1, result_window >= 1, "
        "result_window_values >= 1, max_elements_per_call >= 1");
    return 1;
  }

  const std::string& listen = daemon_options.listen;
  absl::StatusOr<HostPort> host_port = ParseHostPort(listen);
  if (!host_port.ok()) {
    LogError(absl::StrCat("--listen: ", host_port.status().message()));
    return 1;
  }

  RealClock clock;
  // Runs Map, the heartbeats and the calls to workers (see CoordinatorService).
  CompletionQueueLoop loop;
  GrpcWorkerConnector connector(daemon_options.chunk_timeout, TransportOptions{}, &loop);
  auto scheduler = std::make_unique<Scheduler>(options, &clock, &connector);
  CoordinatorService service(scheduler.get(), &loop);

  absl::StatusOr<StartedServer> started =
      StartServer(listen, {&service}, /*serving=*/true, daemon_options.port_file, &loop,
                  {v1::Coordinator::service_full_name()});
  if (!started.ok()) {
    LogError(std::string(started.status().message()));
    return 1;
  }
  service.AcceptCalls();
  grpc::Server& server = *started->server;
  HealthService& health = *started->health;
  LogInfo(absl::StrCat(
      "listening on ", host_port->host, ":", started->port, " (lease ",
      absl::FormatDuration(options.lease_timeout), ", heartbeat ",
      absl::FormatDuration(options.heartbeat_interval),
      options.heartbeat_budget > 0
          ? absl::StrCat(", growing with the cluster beyond ",
                         static_cast<int64_t>(options.heartbeat_budget *
                                              absl::ToDoubleSeconds(options.heartbeat_interval)),
                         " workers up to ",
                         absl::FormatDuration(options.max_heartbeat_interval))
          : std::string(", fixed"),
      ")"));

  absl::Notification stopping;
  std::thread ticker([&] {
    while (!stopping.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      scheduler->Tick();
      service.ReleaseHeldEvents();
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
