// gpool-coordinator: accepts map jobs from clients, splits them into chunks and dispatches
// them to registered workers. The flags live here; what they do is RunCoordinator's
// (coordinator_daemon.h).
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), and after --help (which lists every flag
// with its default and meaning); 1 could not start (port in use, cannot write --port_file);
// 2 bad usage: an unknown flag or argument, a bad flag value, a non-loopback --listen without
// --credentials or --insecure, unreadable credentials (one line on stderr).

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/command_line.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "rpc/metrics_endpoint.h"
#include "server/coordinator_daemon.h"
#include "server/coordinator_metrics.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve on; port 0 picks a free port (see --port_file). Without "
          "--credentials only a loopback address, unless --insecure.");
ABSL_FLAG(std::string, credentials, "",
          "Directory of TLS credentials (gpool init DIR): every connection is then mutual TLS "
          "against its CA, and each caller's role is checked (default: $GPOOL_CREDENTIALS; "
          "none: plain text, loopback only).");
ABSL_FLAG(bool, insecure, false,
          "Without --credentials, serve plain text on a non-loopback --listen anyway: anyone "
          "who reaches the port can then use the cluster.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the port actually bound to this file (one line) once serving.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Milliseconds(500),
          "How often workers are asked to heartbeat while the cluster is within "
          "--heartbeat_budget: the shortest interval granted.");
ABSL_FLAG(absl::Duration, lease_timeout, absl::Seconds(3),
          "A worker silent for longer is declared dead and its chunks re-dispatched. This is "
          "the lease at --heartbeat_interval; a worker granted a longer interval gets a lease "
          "longer in proportion.");
ABSL_FLAG(double, heartbeat_budget, gpool::SchedulerOptions{}.heartbeat_budget,
          "Heartbeats per second accepted from all workers together: beyond budget x "
          "--heartbeat_interval workers, the interval granted grows with the cluster so the "
          "total stays within it (and leases with it). 0: a fixed --heartbeat_interval.");
ABSL_FLAG(absl::Duration, max_heartbeat_interval,
          gpool::SchedulerOptions{}.max_heartbeat_interval,
          "The longest heartbeat interval granted, whatever the cluster's size.");
ABSL_FLAG(absl::Duration, worker_wait, absl::Seconds(10),
          "How long a job waits for a worker offering its function before failing.");
ABSL_FLAG(absl::Duration, chunk_timeout, absl::Minutes(10),
          "Deadline of one chunk on a worker; a chunk that takes longer is re-dispatched.");
ABSL_FLAG(int, pipeline_depth, 1, "Chunks a worker may hold beyond its slots.");
ABSL_FLAG(int, max_attempts, 4,
          "Times one chunk may fail (its worker lost, or the worker's error or result "
          "refused) before its job is aborted.");
ABSL_FLAG(double, speculation_multiplier, 3.0,
          "A chunk running longer than this many times the job's median chunk time (and at "
          "least --speculation_min) gets a backup copy on an idle worker.");
ABSL_FLAG(absl::Duration, speculation_min, absl::Seconds(1),
          "Shortest run time after which a straggling chunk may get a backup copy.");
ABSL_FLAG(int, result_window, gpool::SchedulerOptions{}.result_window,
          "Completed chunks per job that may wait for a slow client before dispatch pauses.");
ABSL_FLAG(int64_t, result_window_values, gpool::SchedulerOptions{}.result_window_values,
          "Values (8 bytes each) those waiting chunks may hold before dispatch pauses.");
ABSL_FLAG(int64_t, result_buffer_bytes, gpool::SchedulerOptions{}.result_buffer_bytes,
          "Result bytes all jobs together may hold on the coordinator, counted from each "
          "values chunk's dispatch until its result is written to the client; while taken, "
          "dispatch of values chunks pauses (a job holding none still gets one chunk through).");
ABSL_FLAG(int64_t, max_elements_per_call, gpool::SchedulerOptions{}.max_elements_per_call,
          "Small chunks travel several to a call up to this many elements (to workers that "
          "accept batches).");
ABSL_FLAG(int, max_workers, gpool::SchedulerOptions{}.max_workers,
          "Most workers registered at once; more get RESOURCE_EXHAUSTED (retry later).");
ABSL_FLAG(int, max_jobs, gpool::SchedulerOptions{}.max_jobs,
          "Most jobs at once (running or waiting for workers); more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_jobs_per_client, gpool::SchedulerOptions{}.max_jobs_per_client,
          "Most jobs at once from one client connection; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(absl::Duration, client_stall_timeout, absl::Seconds(60),
          "A Map call whose results have waited this long for its client to read them is "
          "cancelled, and its job.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on (GET /metrics, plain HTTP, no "
          "authentication; names in docs/metrics.md); port 0 picks a free port. Default: no "
          "metrics. A non-loopback address exposes them to whoever reaches it.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "If set, write the --metrics_listen port actually bound to this file (one line).");

namespace gpool {
namespace {

// The flags as options; the checks of their values are RunCoordinator's.
absl::StatusOr<CoordinatorDaemonOptions> OptionsFromFlags() {
  CoordinatorDaemonOptions options;
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log_level: ", level.status().message()));
  }
  options.log_level = *level;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.port_file = absl::GetFlag(FLAGS_port_file);
  options.credentials = absl::GetFlag(FLAGS_credentials);
  if (options.credentials.empty()) {
    if (const char* env = std::getenv("GPOOL_CREDENTIALS"); env != nullptr) {
      options.credentials = env;
    }
  }
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.chunk_timeout = absl::GetFlag(FLAGS_chunk_timeout);
  options.client_stall_timeout = absl::GetFlag(FLAGS_client_stall_timeout);
  SchedulerOptions& scheduler = options.scheduler;
  scheduler.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  scheduler.lease_timeout = absl::GetFlag(FLAGS_lease_timeout);
  scheduler.heartbeat_budget = absl::GetFlag(FLAGS_heartbeat_budget);
  scheduler.max_heartbeat_interval = absl::GetFlag(FLAGS_max_heartbeat_interval);
  scheduler.worker_wait = absl::GetFlag(FLAGS_worker_wait);
  scheduler.pipeline_depth = absl::GetFlag(FLAGS_pipeline_depth);
  scheduler.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  scheduler.result_window = absl::GetFlag(FLAGS_result_window);
  scheduler.result_window_values = absl::GetFlag(FLAGS_result_window_values);
  scheduler.result_buffer_bytes = absl::GetFlag(FLAGS_result_buffer_bytes);
  scheduler.max_elements_per_call = absl::GetFlag(FLAGS_max_elements_per_call);
  scheduler.speculation_multiplier = absl::GetFlag(FLAGS_speculation_multiplier);
  scheduler.speculation_min = absl::GetFlag(FLAGS_speculation_min);
  scheduler.max_workers = absl::GetFlag(FLAGS_max_workers);
  scheduler.max_jobs = absl::GetFlag(FLAGS_max_jobs);
  scheduler.max_jobs_per_client = absl::GetFlag(FLAGS_max_jobs_per_client);
  return options;
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  gpool::BlockTerminationSignals();
  gpool::TuneProcess();
  constexpr char kProgram[] = "gpool-coordinator";
  if (std::optional<int> exit_code = gpool::ParseDaemonCommandLine(
          kProgram,
          "Usage: gpool-coordinator [--listen HOST:PORT] [--credentials DIR] [flags]\n\n"
          "Accepts map jobs and dispatches their chunks to registered gpool-worker daemons.\n"
          "Once listening, it logs the gpool-worker command that joins a worker to it.",
          argc, argv)) {
    return *exit_code;
  }
  absl::StatusOr<gpool::CoordinatorDaemonOptions> options = gpool::OptionsFromFlags();
  if (options.ok()) {
    if (absl::Status valid = gpool::ValidateCoordinatorOptions(*options); !valid.ok()) {
      options = valid;
    }
  }
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (options.ok() && !metrics_listen.empty()) {
    if (absl::Status valid = gpool::ValidateMetricsListen(metrics_listen); !valid.ok()) {
      options = valid;
    }
  }
  // Bound before the coordinator starts, so that a port in use is a usage error at once.
  auto metrics = std::make_shared<gpool::CoordinatorMetrics>();
  std::unique_ptr<gpool::MetricsEndpoint> endpoint;
  if (options.ok() && !metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<gpool::MetricsEndpoint>> started =
        gpool::MetricsEndpoint::Start(metrics_listen, metrics,
                                      absl::GetFlag(FLAGS_metrics_port_file));
    if (started.ok()) {
      endpoint = *std::move(started);
      options->monitor = metrics.get();
    } else {
      options = started.status();
    }
  }
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n",
                 gpool::UsageErrorLine(kProgram, options.status().message(),
                                       absl::StrCat(kProgram, " --help"))
                     .c_str());
    return gpool::kExitUsage;
  }
  if (endpoint != nullptr) {
    gpool::LogMetricsEndpoint(metrics_listen, endpoint->port());
  }
  return gpool::RunCoordinator(*options);
}
