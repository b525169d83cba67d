// The whole gpool worker daemon as a function, so that a worker with its own functions (see
// examples/custom_function/) is a three-line main around the same flags and behaviour as
// gpool-worker.
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 could not start (missing --coordinator,
// bad flag value, cannot listen).

#include "worker/worker_main.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include <grpcpp/server.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/daemon.h"
#include "common/functions.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "common/transport.h"
#include "worker/chunk_executor.h"
#include "worker/grpc_coordinator_link.h"
#include "worker/registration.h"
#include "worker/worker_service.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT of the coordinator (default: $GPOOL_COORDINATOR).");
ABSL_FLAG(std::string, listen, "0.0.0.0:0",
          "HOST:PORT to serve chunks on; port 0 picks a free port.");
ABSL_FLAG(std::string, advertise_host, "",
          "Host name or IP the coordinator should dial; default: the --listen host, or this "
          "machine's host name when listening on all interfaces.");
ABSL_FLAG(int, slots, 1, "Chunks computed at once (like Pool processes on this worker).");
ABSL_FLAG(int, max_chunks_per_call, 1024,
          "Most chunks the coordinator may send in one call (small chunks travel together); "
          "1 turns batching off.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the port actually bound to this file (one line) once serving.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(8),
          "On SIGTERM, how long the chunks in hand may take to finish before they are handed "
          "back to the coordinator.");
ABSL_FLAG(absl::Duration, chunk_delay, absl::ZeroDuration(),
          "Fault injection for tests: wait this long before computing each chunk.");
ABSL_FLAG(bool, enable_test_functions, false,
          "Fault injection for tests: also offer test_abort_on_13 (identity that aborts the "
          "worker process on input 13).");

namespace gpool {
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

int Run(FunctionRegistry registry) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "gpool-worker: %s\n", std::string(level.status().message()).c_str());
    return 1;
  }
  SetLogLevel(*level);
  SetLogComponent(absl::StrCat("worker ", getpid()));

  std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  if (coordinator.empty()) {
    if (const char* env = std::getenv("GPOOL_COORDINATOR"); env != nullptr) coordinator = env;
  }
  if (coordinator.empty()) {
    LogError("no coordinator: pass --coordinator HOST:PORT or set GPOOL_COORDINATOR");
    return 1;
  }
  const int slots = absl::GetFlag(FLAGS_slots);
  const int max_chunks_per_call = absl::GetFlag(FLAGS_max_chunks_per_call);
  if (max_chunks_per_call < 1) {
    LogError(absl::StrCat("--max_chunks_per_call must be at least 1, got ", max_chunks_per_call));
    return 2;
  }
  if (slots < 1) {
    LogError(absl::StrCat("--slots must be at least 1, got ", slots));
    return 1;
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<HostPort> host_port = ParseHostPort(listen);
  if (!host_port.ok()) {
    LogError(absl::StrCat("--listen: ", host_port.status().message()));
    return 1;
  }

  if (absl::GetFlag(FLAGS_enable_test_functions)) {
    (void)registry.Register("test_abort_on_13", [](int64_t x) -> absl::StatusOr<int64_t> {
      if (x == 13) std::abort();
      return x;
    });
  }
  ChunkExecutor executor(std::move(registry), slots, absl::GetFlag(FLAGS_chunk_delay));
  WorkerService service(&executor, getpid());
  // Not ready to take chunks (health NOT_SERVING) until the coordinator knows us.
  absl::StatusOr<StartedServer> started =
      StartServer(listen, {&service}, /*serving=*/false, absl::GetFlag(FLAGS_port_file));
  if (!started.ok()) {
    LogError(std::string(started.status().message()));
    return 1;
  }
  std::unique_ptr<grpc::Server> server = std::move(started->server);
  const int bound_port = started->port;

  const std::string host_name = HostName();
  std::string advertise_host = absl::GetFlag(FLAGS_advertise_host);
  if (advertise_host.empty()) {
    const bool wildcard = host_port->host == "0.0.0.0" || host_port->host == "[::]" ||
                          host_port->host == "::";
    advertise_host = wildcard ? host_name : host_port->host;
  }
  WorkerRegistration registration;
  registration.address = absl::StrCat(advertise_host, ":", bound_port);
  registration.pid = getpid();
  registration.host = host_name;
  registration.slots = slots;
  registration.max_chunks_per_call = max_chunks_per_call;
  registration.functions = executor.registry().Names();
  registration.incarnation = std::random_device{}() ^
                             (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                             static_cast<uint64_t>(getpid());
  LogInfo(absl::StrCat("serving on ", registration.address, " with ", slots,
                       " slot(s), functions ", absl::StrJoin(registration.functions, ","),
                       "; coordinator ", coordinator));
  GrpcCoordinatorLink link(coordinator, TransportOptions{});
  RegistrationLoop registration_loop(&link, registration, BackoffPolicy{},
                                     [&server](bool registered) { SetServing(*server, registered); });
  registration_loop.Start();

  const int signal_number = WaitForTerminationSignal();
  LogInfo(absl::StrCat("signal ", signal_number, " received; draining"));
  // Drain: not ready for new work, no new chunks from the coordinator, the chunks in hand
  // finish (or are handed back after --drain_timeout), then deregister and exit 0.
  SetServing(*server, false);
  absl::Status left = registration_loop.Leave(
      absl::GetFlag(FLAGS_drain_timeout),
      [&service](absl::Duration timeout) { return service.AwaitIdle(timeout); });
  if (!left.ok()) LogWarning(absl::StrCat("leaving the coordinator: ", left.ToString()));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  LogInfo(absl::StrCat("stopped after ", executor.chunks_completed(), " chunks"));
  return 0;
}

}  // namespace

int RunWorkerMain(int argc, char** argv, FunctionRegistry registry) {
  // Before any thread exists, so that every thread inherits the mask and the signals are
  // only ever taken by WaitForTerminationSignal.
  BlockTerminationSignals();
  gpool::TuneProcess();
  const absl::string_view path = argc > 0 ? argv[0] : "gpool-worker";
  const size_t slash = path.rfind('/');
  const absl::string_view program =
      slash == absl::string_view::npos ? path : path.substr(slash + 1);
  // --help lists the worker's flags, which live here and not in the program's main file
  // (absl's default), whatever the program is called.
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "worker/worker_main.cc");
  };
  absl::SetFlagsUsageConfig(std::move(usage_config));
  absl::SetProgramUsageMessage(absl::StrCat(
      program, " --coordinator HOST:PORT [--listen HOST:PORT] [--slots N]\n"
      "Registers with a gpool coordinator and computes the chunks it sends."));
  absl::ParseCommandLine(argc, argv);
  return Run(std::move(registry));
}

}  // namespace gpool
