// The whole gpool worker daemon as a function, so that a worker with its own functions (see
// examples/custom_function/) is a three-line main around the same flags and behaviour as
// gpool-worker. The flags live here; what they do is RunWorker's (worker_daemon.h).
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), and after --help (which lists every flag
// with its default and meaning); 1 could not start (cannot listen, cannot write
// --port_file); 2 bad usage: an unknown flag, a bad flag value, no --coordinator, a
// non-loopback --listen without --credentials or --insecure, unreadable credentials (one line
// on stderr).

#include "worker/worker_main.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/command_line.h"
#include "common/daemon.h"
#include "common/functions.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "rpc/metrics_endpoint.h"
#include "worker/worker_daemon.h"
#include "worker/worker_metrics.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT of the coordinator (default: $GPOOL_COORDINATOR).");
ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HOST:PORT to serve chunks on; port 0 picks a free port. Without --credentials only a "
          "loopback address, unless --insecure.");
ABSL_FLAG(std::string, credentials, "",
          "Directory of TLS credentials (gpool init DIR): every connection is then mutual TLS "
          "against its CA, this worker presenting DIR/worker.crt (default: "
          "$GPOOL_CREDENTIALS; none: plain text, loopback only).");
ABSL_FLAG(bool, insecure, false,
          "Without --credentials, serve plain text on a non-loopback --listen anyway: anyone "
          "who reaches the port can then make this worker compute.");
ABSL_FLAG(std::string, advertise_host, "",
          "Host name or IP the coordinator should dial; default: the --listen host, or this "
          "machine's host name when listening on all interfaces.");
ABSL_FLAG(int, slots, 1, "Chunks computed at once (like Pool processes on this worker).");
ABSL_FLAG(int, max_chunks_per_call, gpool::WorkerDaemonOptions{}.max_chunks_per_call,
          "Most chunks the coordinator may send in one call (small chunks travel together), "
          "1 to 16384; 1: one chunk per call.");
ABSL_FLAG(bool, shared_values, gpool::WorkerDaemonOptions{}.shared_values,
          "Write values to a client's shared-memory buffer when it offers one this process can "
          "open (same host, same user); false: always send them over gRPC.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the port actually bound to this file (one line) once serving.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(8),
          "On SIGTERM, how long the chunks in hand may take to finish before they are handed "
          "back to the coordinator.");
ABSL_FLAG(absl::Duration, chunk_delay, absl::ZeroDuration(),
          "Fault injection for tests: wait this long before computing each chunk.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on (GET /metrics, plain HTTP, no "
          "authentication; names in docs/metrics.md); port 0 picks a free port. Default: no "
          "metrics. A non-loopback address exposes them to whoever reaches it.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "If set, write the --metrics_listen port actually bound to this file (one line).");
ABSL_FLAG(bool, enable_test_functions, false,
          "Fault injection for tests: also offer test_abort_on_13 (identity that aborts the "
          "worker process on input 13).");

namespace gpool {
namespace {

// The flags as options; the checks of their values are RunWorker's.
absl::StatusOr<WorkerDaemonOptions> OptionsFromFlags() {
  WorkerDaemonOptions options;
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log_level: ", level.status().message()));
  }
  options.log_level = *level;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  if (options.coordinator.empty()) {
    if (const char* env = std::getenv("GPOOL_COORDINATOR"); env != nullptr) {
      options.coordinator = env;
    }
  }
  options.listen = absl::GetFlag(FLAGS_listen);
  options.credentials = absl::GetFlag(FLAGS_credentials);
  if (options.credentials.empty()) {
    if (const char* env = std::getenv("GPOOL_CREDENTIALS"); env != nullptr) {
      options.credentials = env;
    }
  }
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  options.slots = absl::GetFlag(FLAGS_slots);
  options.max_chunks_per_call = absl::GetFlag(FLAGS_max_chunks_per_call);
  options.shared_values = absl::GetFlag(FLAGS_shared_values);
  options.port_file = absl::GetFlag(FLAGS_port_file);
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  options.chunk_delay = absl::GetFlag(FLAGS_chunk_delay);
  options.enable_test_functions = absl::GetFlag(FLAGS_enable_test_functions);
  return options;
}

}  // namespace

int RunWorkerMain(int argc, char** argv, FunctionRegistry registry) {
  // Before any thread exists, so that every thread inherits the mask and the signals are
  // only ever taken by WaitForTerminationSignal.
  BlockTerminationSignals();
  TuneProcess();
  // A custom worker's help and errors carry its own name.
  const std::string program = ProgramName(argc, argv, "gpool-worker");
  const std::string usage = absl::StrCat(
      "Usage: ", program, " --coordinator HOST:PORT [--credentials DIR] [--slots N] [flags]\n\n"
      "Registers with a gpool coordinator and computes the chunks it sends, offering the\n"
      "functions ", absl::StrJoin(registry.Names(), ", "), ".");
  if (std::optional<int> exit_code = ParseDaemonCommandLine(program, usage, argc, argv)) {
    return *exit_code;
  }
  absl::StatusOr<WorkerDaemonOptions> options = OptionsFromFlags();
  if (options.ok()) {
    if (absl::Status valid = ValidateWorkerOptions(*options); !valid.ok()) options = valid;
  }
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (options.ok() && !metrics_listen.empty()) {
    if (absl::Status valid = ValidateMetricsListen(metrics_listen); !valid.ok()) {
      options = valid;
    }
  }
  // Bound before the worker starts, so that a port in use is a usage error at once.
  auto metrics = std::make_shared<WorkerMetrics>();
  std::unique_ptr<MetricsEndpoint> endpoint;
  if (options.ok() && !metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> started = MetricsEndpoint::Start(
        metrics_listen, metrics, absl::GetFlag(FLAGS_metrics_port_file));
    if (started.ok()) {
      endpoint = *std::move(started);
      options->monitor = metrics.get();
    } else {
      options = started.status();
    }
  }
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n",
                 UsageErrorLine(program, options.status().message(),
                                absl::StrCat(program, " --help"))
                     .c_str());
    return kExitUsage;
  }
  if (endpoint != nullptr) LogMetricsEndpoint(metrics_listen, endpoint->port());
  return RunWorker(*options, std::move(registry));
}

}  // namespace gpool
