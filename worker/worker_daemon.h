// The gpool worker daemon as a plain function of typed options: serving, registration with
// the coordinator, heartbeats and the SIGTERM drain. It reads no flags, so that a process
// with flags of its own can run it too: RunWorkerMain (worker_main.h) parses the worker's
// flags into these options, and the CLI's private cluster runs it in forked children
// (client/fork_launcher.h).
#ifndef GPOOL_WORKER_WORKER_DAEMON_H_
#define GPOOL_WORKER_WORKER_DAEMON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/functions.h"
#include "common/log.h"
#include "worker/executor_monitor.h"

namespace gpool {

struct WorkerDaemonOptions {
  // HOST:PORT of the coordinator to register with. Required, unless coordinator_port_file is
  // set.
  std::string coordinator;
  // Instead of `coordinator`, for a worker started at the same time as a coordinator on this
  // host that listens on 127.0.0.1 (the CLI's private cluster): the coordinator's port file.
  // Once its own server is up, the worker waits up to coordinator_port_wait for the file to
  // be written and registers with 127.0.0.1:PORT.
  std::string coordinator_port_file;
  absl::Duration coordinator_port_wait = absl::Seconds(20);
  // HOST:PORT to serve chunks on; port 0 picks a free port. Without credentials, a loopback
  // address unless `insecure`.
  std::string listen = "127.0.0.1:0";
  // The --credentials directory (rpc/transport.h); empty: plain text.
  std::string credentials;
  // Serve plain text on a non-loopback address anyway (logged as a warning).
  bool insecure = false;
  // Host the coordinator dials back; empty: the listen host, or this machine's host name
  // when listening on all interfaces.
  std::string advertise_host;
  // Chunks computed at once.
  int slots = 1;
  // Most chunks the coordinator may send in one RunChunks call, 1 to kMaxChunksPerCall; 1: one
  // chunk per call.
  int max_chunks_per_call = 1024;
  // Write values to a client's shared-memory buffer when the client offers one this process
  // can open (same host and user); false: always send them in responses.
  bool shared_values = true;
  // If not empty, the bound port is written here (one line) once serving.
  std::string port_file;
  LogLevel log_level = LogLevel::kInfo;
  // On SIGTERM, how long the chunks in hand may take before they are handed back.
  absl::Duration drain_timeout = absl::Seconds(8);
  // Fault injection for tests: wait this long before computing each chunk.
  absl::Duration chunk_delay = absl::ZeroDuration();
  // Fault injection for tests: also offer test_abort_on_13 (identity that aborts the worker
  // process on input 13).
  bool enable_test_functions = false;
  // Told each chunk's compute time, and reading the executor's slots and counts while it
  // runs: the metrics RunWorkerMain serves at --metrics_listen (worker/worker_metrics.h).
  // It must outlive RunWorker. nullptr: none.
  ExecutorMonitor* monitor = nullptr;
};

// The checks of the options RunWorker makes before it starts, for a main to report them as
// usage errors first: INVALID_ARGUMENT naming the flag and its value (no coordinator, slots
// or max_chunks_per_call below 1, a listen address that is not HOST:PORT or not loopback
// without credentials or insecure, a negative drain_timeout or chunk_delay); credential files
// that cannot be read are FAILED_PRECONDITION.
absl::Status ValidateWorkerOptions(const WorkerDaemonOptions& options);

// Serves `registry` until SIGTERM or SIGINT, then drains and returns the process exit code:
// 0 after a clean shutdown, 1 when the worker could not start or stay (cannot listen, no
// coordinator came, the coordinator refused it because another live worker answers at its
// address), 2 when the options are invalid (ValidateWorkerOptions); the reason is logged.
// The caller must have blocked SIGTERM and SIGINT (BlockTerminationSignals) before any
// thread of the process started, so that only this function receives them.
int RunWorker(const WorkerDaemonOptions& options, FunctionRegistry registry);

}  // namespace gpool

#endif  // GPOOL_WORKER_WORKER_DAEMON_H_
