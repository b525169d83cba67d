// gpool-coordinator: accepts map jobs from clients, splits them into chunks and dispatches
// them to registered workers.
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 could not start (bad flag value, port in
// use, cannot write --port_file).

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/transport.h"
#include "server/coordinator_service.h"
#include "server/grpc_worker_connection.h"
#include "server/scheduler.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "HOST:PORT to serve on; port 0 picks a free port (see --port_file).");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the port actually bound to this file (one line) once serving.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Milliseconds(500),
          "How often workers are asked to heartbeat.");
ABSL_FLAG(absl::Duration, lease_timeout, absl::Seconds(3),
          "A worker silent for longer is declared dead and its chunks re-dispatched.");
ABSL_FLAG(absl::Duration, worker_wait, absl::Seconds(10),
          "How long a job waits for a worker offering its function before failing.");
ABSL_FLAG(absl::Duration, chunk_timeout, absl::Minutes(10),
          "Deadline of one chunk on a worker; a chunk that takes longer is re-dispatched.");
ABSL_FLAG(int, pipeline_depth, 1, "Chunks a worker may hold beyond its slots.");
ABSL_FLAG(int, max_attempts, 4, "Times one chunk may be lost with its worker before its job is aborted.");
ABSL_FLAG(double, speculation_multiplier, 3.0,
          "A chunk running longer than this many times the job's median chunk time (and at "
          "least --speculation_min) gets a backup copy on an idle worker.");
ABSL_FLAG(absl::Duration, speculation_min, absl::Seconds(1),
          "Shortest run time after which a straggling chunk may get a backup copy.");
ABSL_FLAG(int, result_window, 32,
          "Completed chunks per job that may wait for a slow client before dispatch pauses.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");

namespace gpool {
namespace {

int Run() {
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "gpool-coordinator: %s\n", std::string(level.status().message()).c_str());
    return 1;
  }
  SetLogLevel(*level);
  SetLogComponent("coordinator");

  SchedulerOptions options;
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.lease_timeout = absl::GetFlag(FLAGS_lease_timeout);
  options.worker_wait = absl::GetFlag(FLAGS_worker_wait);
  options.pipeline_depth = absl::GetFlag(FLAGS_pipeline_depth);
  options.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  options.result_window = absl::GetFlag(FLAGS_result_window);
  options.speculation_multiplier = absl::GetFlag(FLAGS_speculation_multiplier);
  options.speculation_min = absl::GetFlag(FLAGS_speculation_min);
  if (options.heartbeat_interval <= absl::ZeroDuration() ||
      options.lease_timeout <= options.heartbeat_interval || options.pipeline_depth < 0 ||
      options.max_attempts < 1 || options.result_window < 1) {
    LogError(
        "invalid flags: need heartbeat_interval > 0, lease_timeout > heartbeat_interval, "
        "pipeline_depth >= 0, max_attempts >= 1, result_window >= 1");
    return 1;
  }

  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<HostPort> host_port = ParseHostPort(listen);
  if (!host_port.ok()) {
    LogError(absl::StrCat("--listen: ", host_port.status().message()));
    return 1;
  }

  RealClock clock;
  GrpcWorkerConnector connector(absl::GetFlag(FLAGS_chunk_timeout), TransportOptions{});
  auto scheduler = std::make_unique<Scheduler>(options, &clock, &connector);
  CoordinatorService service(scheduler.get());

  absl::StatusOr<StartedServer> started =
      StartServer(listen, {&service}, /*serving=*/true, absl::GetFlag(FLAGS_port_file));
  if (!started.ok()) {
    LogError(std::string(started.status().message()));
    return 1;
  }
  std::unique_ptr<grpc::Server> server = std::move(started->server);
  LogInfo(absl::StrCat("listening on ", host_port->host, ":", started->port, " (lease ",
                       absl::FormatDuration(options.lease_timeout), ", heartbeat ",
                       absl::FormatDuration(options.heartbeat_interval), ")"));

  absl::Notification stopping;
  std::thread ticker([&] {
    while (!stopping.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      scheduler->Tick();
    }
  });

  const int signal_number = WaitForTerminationSignal();
  LogInfo(absl::StrCat("signal ", signal_number, " received; shutting down"));
  SetServing(*server, false);
  stopping.Notify();
  ticker.join();
  // Workers' heartbeat streams never end on their own: end them (and refuse worker calls)
  // before the scheduler goes away, so the shutdown neither waits for them nor lets a late
  // beat reach a destroyed scheduler.
  service.StopWorkerCalls();
  // Ending the scheduler first fails the running jobs, so their Map streams return and the
  // server's shutdown does not wait for them.
  std::thread stop_scheduler([&] { scheduler.reset(); });
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  stop_scheduler.join();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  gpool::BlockTerminationSignals();
  // Debian builds Abseil without NDEBUG, which turns on lock-order cycle detection: a graph
  // update on every lock of the hot path. The unit tests keep it; the daemon does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "gpool-coordinator [--listen HOST:PORT] [flags]\n"
      "Accepts map jobs and dispatches their chunks to registered gpool-worker daemons.");
  absl::ParseCommandLine(argc, argv);
  return gpool::Run();
}
