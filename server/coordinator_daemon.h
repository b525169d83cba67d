// The gpool coordinator daemon as a plain function of typed options: it serves until SIGTERM
// or SIGINT, then shuts down. It reads no flags, so that a process with flags of its own can
// run it too: gpool-coordinator (main.cc) parses its flags into these options, and the CLI's
// private cluster runs it in a forked child (client/fork_launcher.h).
#ifndef GPOOL_SERVER_COORDINATOR_DAEMON_H_
#define GPOOL_SERVER_COORDINATOR_DAEMON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "server/scheduler.h"
#include "server/scheduler_observer.h"

namespace gpool {

struct CoordinatorDaemonOptions {
  // HOST:PORT to serve on; port 0 picks a free port. Without credentials, a loopback address
  // unless `insecure`.
  std::string listen = "127.0.0.1:50051";
  // The --credentials directory (rpc/transport.h); empty: plain text.
  std::string credentials;
  // Serve plain text on a non-loopback address anyway (logged as a warning).
  bool insecure = false;
  // If not empty, the bound port is written here (one line) once serving.
  std::string port_file;
  SchedulerOptions scheduler;
  // Deadline of one chunk on a worker; a chunk that takes longer is re-dispatched.
  absl::Duration chunk_timeout = absl::Minutes(10);
  // A Map call whose write waited this long for its client to read is cancelled, and its job.
  absl::Duration client_stall_timeout = absl::Seconds(60);
  LogLevel log_level = LogLevel::kInfo;
  // Told of the scheduler's events, and reading its snapshot while it runs: the metrics
  // gpool-coordinator serves at --metrics_listen (server/coordinator_metrics.h). It must
  // outlive RunCoordinator. nullptr: none (scheduler.observer is then left as it is).
  ClusterMonitor* monitor = nullptr;
};

// The checks of the options RunCoordinator makes before it starts, for a main to report them
// as usage errors first: INVALID_ARGUMENT naming the flag and its value (a listen address
// that is not HOST:PORT, or not loopback without credentials or insecure, heartbeat and lease
// durations out of order, counts below their minimum); FAILED_PRECONDITION naming the file
// for credentials that cannot be read.
absl::Status ValidateCoordinatorOptions(const CoordinatorDaemonOptions& options);

// Serves until SIGTERM or SIGINT and returns the process exit code: 0 after a clean
// shutdown, 1 when the coordinator could not start (address in use, port file not
// writable), 2 when the options are invalid (ValidateCoordinatorOptions); the reason is
// logged. The caller must have blocked SIGTERM and SIGINT
// (BlockTerminationSignals) before any thread of the process started.
int RunCoordinator(const CoordinatorDaemonOptions& options);

}  // namespace gpool

#endif  // GPOOL_SERVER_COORDINATOR_DAEMON_H_
