// gpool: the command-line client.
//
//   gpool [--coordinator HOST:PORT] map FUNCTION A..B [--processes N] [--chunksize N]
//         [--trace] [--print] [--reduce sum|min|max|count|mean] [--json] [--quiet]
//   gpool [--coordinator HOST:PORT] map FUNCTION --values 3,-7,12 | --input FILE|-
//   gpool [--coordinator HOST:PORT] info
//   gpool [--coordinator HOST:PORT] status [--json] [--watch] [--watch_count N]
//   gpool health HOST:PORT
//   gpool init DIR [--host NAME]...
//   gpool help [COMMAND]
//
// Without --coordinator (and without $GPOOL_COORDINATOR) the command runs on a private local
// cluster: a coordinator and N workers on loopback, N = --processes or the number of cores.
//
// `gpool --help`, `gpool help` list every flag with its default and meaning;
// `gpool COMMAND --help`, `gpool help COMMAND` the command's usage and flags.
//
// Exit codes: 0 success (and after --help); 1 the job failed on the cluster; 2 bad usage
// (unknown flag or command, bad flag value: one line on stderr), input or function;
// 3 coordinator unreachable, no workers, or deadline passed.

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpc/support/log.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/cli_output.h"
#include "client/client.h"
#include "client/fork_launcher.h"
#include "client/health.h"
#include "client/input_source.h"
#include "client/line_writer.h"
#include "client/ordered_values.h"
#include "client/local_cluster.h"
#include "client/pki.h"
#include "client/progress.h"
#include "client/reduction.h"
#include "common/address.h"
#include "common/command_line.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/process_tuning.h"
#include "rpc/transport.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT of a running coordinator (default: $GPOOL_COORDINATOR; if neither is "
          "set, a private local cluster runs the command).");
ABSL_FLAG(std::string, credentials, "",
          "Directory of TLS credentials (gpool init DIR) to reach a cluster that uses them: "
          "mutual TLS, presenting DIR/client.crt (default: $GPOOL_CREDENTIALS). Not used by a "
          "private local cluster.");
ABSL_FLAG(std::vector<std::string>, host, {},
          "init: a host name or IP address the coordinator's and workers' certificates are "
          "valid for; repeat for more (default: this machine's name, localhost, 127.0.0.1).");
ABSL_FLAG(std::string, values, "", "map: comma-separated inputs, e.g. 3,-7,12.");
ABSL_FLAG(std::string, type, "int64",
          "map: the type of --input's elements: int64 or double (a number per line), string "
          "(each line an element) or bytes (each line the path of a file whose contents are "
          "an element). --values: int64, or double when any value has a fraction or exponent.");
ABSL_FLAG(std::string, input, "",
          "map: file with one integer per line, of any length: streamed to the cluster, never "
          "held in memory (not with --trace); - reads stdin.");
ABSL_FLAG(int, processes, -1,
          "map: at most this many workers compute the job (Pool(processes=N)); for a local "
          "cluster, how many workers to start. Default: all workers / one per core.");
ABSL_FLAG(int64_t, chunksize, -1,
          "map: elements per chunk. Default: Pool's rule, ceil(len / (4 * slots)).");
ABSL_FLAG(double, verify, 0,
          "map: compute this fraction of the chunks (0 to 1, chosen at random) a second time "
          "on a different worker; a result is used only once two workers agree, a third "
          "decides a disagreement and the outvoted worker is quarantined. Needs 2 workers "
          "(3 to settle a disagreement).");
ABSL_FLAG(bool, trace, false,
          "map: print 'Worker <PID> calculating <function> of <x>' for every element.");
ABSL_FLAG(bool, print, false, "map: print the mapped values in input order, one per line.");
ABSL_FLAG(bool, stats, false, "map: always print the job's statistics on stderr.");
ABSL_FLAG(bool, shared_values, true,
          "map: workers on this host may write the values (--print, --trace) into shared "
          "memory instead of sending them over gRPC, for jobs of 65536 elements or more.");
ABSL_FLAG(absl::Duration, timeout, absl::Hours(24),
          "map: deadline of the whole job; passing it cancels the job.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "How long to wait for the coordinator (health: the daemon named) to answer.");
ABSL_FLAG(absl::Duration, reconnect_timeout, absl::Seconds(60),
          "map: if the coordinator goes away mid-job, how long to wait for it to come back "
          "before failing; then only the missing chunks are resubmitted. 0 disables it.");
ABSL_FLAG(std::string, reduce, "",
          "map: how to reduce the mapped values: sum, min, max, count or mean (exact; a mean "
          "that is not a terminating decimal prints as a fraction and a rounded decimal; "
          "doubles: the correctly rounded sum, as math.fsum). Default: sum for numbers, count "
          "for strings and bytes.");
ABSL_FLAG(bool, json, false,
          "map: print the result and the job's statistics as one JSON object on stdout, and "
          "nothing else there. status: print the cluster as one JSON object.");
ABSL_FLAG(std::string, progress, "auto",
          "map: the live progress bar on stderr: auto (when stderr is a terminal), always or "
          "never.");
ABSL_FLAG(bool, quiet, false, "map: no progress bar.");
ABSL_FLAG(bool, watch, false, "status: refresh every --watch_interval until interrupted.");
ABSL_FLAG(absl::Duration, watch_interval, absl::Seconds(1),
          "status --watch: time between refreshes.");
ABSL_FLAG(int, watch_count, 0,
          "status: stop after this many refreshes (implies --watch); 0 means until Ctrl-C.");

namespace gpool {
namespace {

constexpr char kUsage[] =
    "Usage: gpool [--coordinator HOST:PORT] <command> [arguments] [flags]\n"
    "\n"
    "Commands:\n"
    "  map FUNCTION A..B        map FUNCTION over the inclusive range A..B and print the sum\n"
    "  map FUNCTION --values 3,-7,12 | --input FILE|-\n"
    "                           map over explicit values\n"
    "  info                     print the cluster's total slots and its workers\n"
    "  status                   tables of the workers and the running jobs\n"
    "  health HOST:PORT         exit 0 if the daemon there reports SERVING (grpc.health.v1)\n"
    "  init DIR                 create TLS credentials for a cluster on a network\n"
    "  help [COMMAND]           this help, or the command's usage and flags\n"
    "\n"
    "Without --coordinator (and without $GPOOL_COORDINATOR) a command runs on a private\n"
    "local cluster: a coordinator and one worker per core (or --processes N) on loopback.\n"
    "\n"
    "Examples:\n"
    "  gpool map square 1..5000\n"
    "  gpool --coordinator 127.0.0.1:50051 map square 1..10 --processes 2 --chunksize 2 "
    "--trace\n"
    "  gpool map square --values 3,-7,12 --reduce mean\n"
    "  gpool --coordinator 127.0.0.1:50051 status --watch\n"
    "\n"
    "Exit codes: 0 ok, 1 job failed, 2 bad usage or input, 3 cluster unavailable.\n"
    "Run 'gpool COMMAND --help' for the flags of one command.";

int Fail(const absl::Status& status) {
  std::cerr << ErrorLine(status) << std::endl;
  return ExitCodeFor(status);
}

// One line that points to the help of `command` (empty: the general help); exit 2.
int UsageError(const std::string& message, absl::string_view command = "") {
  std::cerr << UsageErrorLine("gpool", message,
                              command.empty() ? "gpool --help"
                                              : absl::StrCat("gpool ", command, " --help"))
            << std::endl;
  return kExitUsage;
}

absl::StatusOr<Input> InputFromArguments(const std::vector<std::string>& positional) {
  const std::string values = absl::GetFlag(FLAGS_values);
  const std::string input_file = absl::GetFlag(FLAGS_input);
  const int sources = (positional.size() > 3 ? 1 : 0) + (values.empty() ? 0 : 1) +
                      (input_file.empty() ? 0 : 1);
  if (sources != 1) {
    return absl::InvalidArgumentError(
        "give the inputs exactly one way: a range A..B, --values 3,-7,12, or --input FILE");
  }
  if (positional.size() > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", positional[4], "'"));
  }
  if (positional.size() > 3) return ParseRange(positional[3]);
  if (!values.empty()) {
    absl::StatusOr<ElementType> type = ParseElementType(absl::GetFlag(FLAGS_type));
    if (!type.ok()) return type.status();
    // Numbers with a fraction or an exponent are doubles, as in Python.
    const bool doubles = *type == ElementType::kDouble ||
                         values.find_first_of(".eEni") != std::string::npos;
    if (doubles) {
      absl::StatusOr<std::vector<double>> list = ParseDoubleList(values);
      if (!list.ok()) return list.status();
      return Input::List(Elements::Doubles(*std::move(list)));
    }
    if (*type != ElementType::kInt64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--values holds numbers; give ", ElementTypeName(*type), " elements with --input FILE"));
    }
    absl::StatusOr<std::vector<int64_t>> list = ParseValueList(values);
    if (!list.ok()) return list.status();
    return Input::List(*std::move(list));
  }
  // --input streams (RunMap opens it as an InputSource): no Input holds its values.
  return absl::InternalError("--input is streamed, not read into an Input");
}

// Connects to the named coordinator, or starts a local cluster with `local_workers`.
struct Connection {
  Connection() = default;
  Connection(Connection&&) = default;
  Connection& operator=(Connection&&) = default;
  // The process exits once the command is done, through _Exit (see main), so nothing here is
  // torn down properly: the private cluster's daemons get SIGKILL and are not waited for
  // (the system reaps them once we are gone), and the client is left as it is, because
  // destroying the last gRPC object shuts gRPC down and joins its threads. Together ~8 ms of
  // the whole `gpool map square 1..5000`, for nothing the user could observe.
  ~Connection() {
    if (local_cluster != nullptr) local_cluster->KillWithoutWaiting();
    (void)client.release();
  }

  std::unique_ptr<LocalCluster> local_cluster;
  std::unique_ptr<Client> client;
};

void PrintNotice(const std::string& notice) { std::cerr << "gpool: " << notice << std::endl; }

// The reader of `map --print`'s output closed it (`| head`): the job was cancelled, and the
// process ends as Unix tools do then, killed by SIGPIPE without a word (see main).
bool output_closed = false;

// --credentials, or GPOOL_CREDENTIALS; empty: plain text.
std::string CredentialsDirectory() {
  std::string directory = absl::GetFlag(FLAGS_credentials);
  if (directory.empty()) {
    if (const char* env = std::getenv("GPOOL_CREDENTIALS"); env != nullptr) directory = env;
  }
  return directory;
}

// --coordinator, or GPOOL_COORDINATOR; empty: the command runs on a private local cluster.
std::string NamedCoordinator() {
  std::string address = absl::GetFlag(FLAGS_coordinator);
  if (address.empty()) {
    if (const char* env = std::getenv("GPOOL_COORDINATOR"); env != nullptr) address = env;
  }
  return address;
}

absl::StatusOr<Connection> ConnectToCluster(
    int local_workers,
    std::function<void(const std::string& notice)> on_notice = PrintNotice) {
  ClientOptions options;
  options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  options.map_timeout = absl::GetFlag(FLAGS_timeout);
  options.reconnect_timeout = absl::GetFlag(FLAGS_reconnect_timeout);
  options.shared_values = absl::GetFlag(FLAGS_shared_values);
  options.on_notice = std::move(on_notice);
  std::string address = NamedCoordinator();
  Connection connection;
  if (!address.empty()) {
    options.transport = TransportFor(Role::kClient, CredentialsDirectory());
    if (absl::Status readable = CheckCredentialFiles(options.transport); !readable.ok()) {
      return readable;
    }
  }
  if (address.empty()) {
    LocalClusterOptions local;
    local.kill_on_stop = true;
    // Fork the daemons from this process, like Pool's fork start method: each then starts in
    // well under a millisecond instead of loading an executable. This is why the cluster
    // starts before anything here touches gRPC.
    local.launcher = std::make_shared<ForkDaemonLauncher>();
    // One client, below, both waits for the workers and runs the command.
    local.await_workers = false;
    // Pool() starts one process per core.
    local.workers = local_workers > 0
                        ? local_workers
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(local);
    if (!cluster.ok()) return cluster.status();
    connection.local_cluster = *std::move(cluster);
    address = connection.local_cluster->address();
  }
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(address, options);
  if (!client.ok()) return client.status();
  connection.client = *std::move(client);
  if (connection.local_cluster != nullptr) {
    if (absl::Status status = connection.local_cluster->AwaitWorkers(*connection.client);
        !status.ok()) {
      return status;
    }
  }
  return connection;
}

// Columns of the terminal on `fd`; 80 when it is not a terminal or does not say.
int TerminalWidth(int fd) {
  winsize size = {};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// --progress auto shows the bar only on a terminal: a bar of carriage returns would litter a
// log file or a pipe.
absl::StatusOr<bool> ShowProgressBar() {
  if (absl::GetFlag(FLAGS_quiet)) return false;
  const std::string mode = absl::GetFlag(FLAGS_progress);
  if (mode == "always") return true;
  if (mode == "never") return false;
  if (mode == "auto") return isatty(STDERR_FILENO) == 1;
  return absl::InvalidArgumentError(
      absl::StrCat("--progress must be auto, always or never, got '", mode, "'"));
}

int RunMap(const std::vector<std::string>& positional) {
  if (positional.size() < 3) {
    return UsageError("map needs a function and inputs, e.g. gpool map square 1..5000", "map");
  }
  MapSpec spec;
  spec.function = positional[2];
  // --input streams its values (Client::MapStream): a file of any length passes with bounded
  // memory. Ranges and --values fit one request (Client::Map).
  std::unique_ptr<InputSource> streamed;
  if (const std::string input_file = absl::GetFlag(FLAGS_input);
      !input_file.empty() && absl::GetFlag(FLAGS_values).empty() && positional.size() == 3) {
    absl::StatusOr<ElementType> type = ParseElementType(absl::GetFlag(FLAGS_type));
    if (!type.ok()) return Fail(type.status());
    absl::StatusOr<std::unique_ptr<InputSource>> source = OpenElementFile(input_file, *type);
    if (!source.ok()) return Fail(source.status());
    streamed = *std::move(source);
  } else {
    absl::StatusOr<Input> input = InputFromArguments(positional);
    if (!input.ok()) return Fail(input.status());
    spec.input = *std::move(input);
  }

  const int processes = absl::GetFlag(FLAGS_processes);
  if (processes != -1 && processes < 1) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--processes must be at least 1, got ", processes)));
  }
  const int64_t chunksize = absl::GetFlag(FLAGS_chunksize);
  if (chunksize != -1 && chunksize < 1) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--chunksize must be at least 1, got ", chunksize)));
  }
  spec.max_workers = processes == -1 ? 0 : processes;
  spec.chunk_size = chunksize == -1 ? 0 : chunksize;
  spec.verify_fraction = absl::GetFlag(FLAGS_verify);
  if (absl::Status valid = ValidateMapSpec(spec); !valid.ok()) return Fail(valid);

  const std::string reduce_flag = absl::GetFlag(FLAGS_reduce);
  const bool reduce_given = !reduce_flag.empty();
  absl::StatusOr<Reduction> reduction = ParseReduction(reduce_given ? reduce_flag : "sum");
  if (!reduction.ok()) return Fail(reduction.status());
  // Strings and bytes have only a count: the default reduction (sum) becomes the count for
  // them, and one asked for by name that does not apply fails once the job says its type.
  auto reduction_for = [&](const MapSummary& done) -> absl::StatusOr<Reduction> {
    if (ReductionApplies(*reduction, done.job.output_type)) return *reduction;
    if (!reduce_given) return Reduction::kCount;
    return absl::InvalidArgumentError(absl::StrCat(
        "--reduce ", ReductionName(*reduction), " needs numbers, and ", spec.function,
        " returns ", ElementTypeName(done.job.output_type),
        " values: use --reduce count, or --print to see them"));
  };
  const bool trace = absl::GetFlag(FLAGS_trace);
  const bool print = absl::GetFlag(FLAGS_print);
  const bool json = absl::GetFlag(FLAGS_json);
  if (json && trace) {
    // --json promises one JSON object and nothing else on stdout.
    return Fail(absl::InvalidArgumentError("--trace cannot be combined with --json"));
  }
  if (streamed != nullptr && trace) {
    return Fail(absl::InvalidArgumentError(
        "--trace shows each input value, which --input streams without keeping; drop --trace, "
        "or give the inputs as a range A..B or --values"));
  }
  absl::StatusOr<bool> show_progress = ShowProgressBar();
  if (!show_progress.ok()) return Fail(show_progress.status());
  // A bar needs the job's length, which a stream tells only at its end.
  if (streamed != nullptr) *show_progress = false;
  if (NamedCoordinator().empty()) {
    // A private cluster's workers offer the built-in functions and nothing else, so another
    // name fails here, at once, instead of after the coordinator's --worker_wait (which is
    // for workers that may still come).
    const std::vector<std::string> builtins = FunctionRegistry::WithBuiltins().Names();
    if (std::find(builtins.begin(), builtins.end(), spec.function) == builtins.end()) {
      return Fail(absl::NotFoundError(
          absl::StrCat("unknown function '", spec.function, "'; available: ",
                       absl::StrJoin(builtins, ", "),
                       " (a local cluster's; workers of your own offer more, via --coordinator)")));
    }
  }
  std::optional<ProgressBar> progress;
  // Values streaming to the same terminal would cut through the bar line after line.
  if (*show_progress && !(print && !json && isatty(STDOUT_FILENO) == 1)) {
    progress.emplace(std::cerr, TerminalWidth(STDERR_FILENO));
  }
  // Anything else printed while the bar is up must start on a clean line.
  auto clear_progress = [&progress] {
    if (progress.has_value()) progress->Clear();
  };

  absl::StatusOr<Connection> connection =
      ConnectToCluster(spec.max_workers, [&](const std::string& notice) {
        clear_progress();
        PrintNotice(notice);
      });
  if (!connection.ok()) return Fail(connection.status());

  // --print streams the values in input order as they come (Client::MapOrdered), through a
  // writer that reports a closed output instead of dying of SIGPIPE in the middle of it, so
  // the job is cancelled first. --json --print holds them all: one JSON object, at the end.
  // A streamed input prints through std::cout (its values arrive in order by segments, and
  // SIGPIPE ends it like any Unix filter).
  const bool ordered = print && !json && streamed == nullptr;
  std::optional<LineWriter> out;
  if (ordered) {
    std::signal(SIGPIPE, SIG_IGN);
    std::cout.flush();
    out.emplace(STDOUT_FILENO);
  }
  // Everything for stdout, in order with the values.
  auto emit = [&](absl::string_view text) {
    if (out.has_value()) {
      (void)out->Write(text);  // a failure shows at the next values, which stop the job
    } else {
      std::cout << text;
    }
  };
  const std::string local_host = LocalHostName();
  auto on_start = [&](const JobStart& start) {
    if (!json) emit(absl::StrCat(CoresLine(start.cluster_slots), "\n"));
    if (progress.has_value()) progress->Start(start.total_elements, absl::Now());
  };
  auto on_chunk = [&](const ChunkResult& chunk) {
    if (trace) {
      clear_progress();
      const bool show_host = chunk.worker.host != local_host;
      for (uint64_t i = 0; i < chunk.element_count; ++i) {
        const std::string value =
            spec.input.is_range() ? absl::StrCat(spec.input.At(chunk.first_element + i))
                                  : spec.input.elements().Show(chunk.first_element + i);
        emit(absl::StrCat(TraceLine(chunk.worker, show_host, spec.function, value), "\n"));
      }
    }
    if (progress.has_value()) progress->AddChunk(chunk, absl::Now());
  };

  const absl::Time began = absl::Now();
  MapSummary summary;
  Elements values;
  if (streamed != nullptr) {
    MapStreamSpec stream_spec;
    stream_spec.function = spec.function;
    stream_spec.chunk_size = spec.chunk_size;
    stream_spec.max_workers = spec.max_workers;
    stream_spec.verify_fraction = spec.verify_fraction;
    // --json prints the values inside its object, so they are kept for it; otherwise each
    // run of them is printed as soon as it is in order.
    OrderedValues in_order([&](uint64_t, const Elements& run) {
      if (json) {
        if (values.empty()) values = Elements(run.type());
        values.Append(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) std::cout << FormatElement(run, i) << '\n';
      }
      return absl::OkStatus();
    });
    absl::StatusOr<MapSummary> result = connection->client->MapStream(
        stream_spec, *streamed, /*want_values=*/print, on_start, [&](const ChunkResult& chunk) {
          // The sink above cannot fail: std::cout reports nothing, and SIGPIPE ends us.
          if (print) (void)in_order.Add(chunk.chunk_index, chunk.first_element, chunk.values);
        });
    if (!result.ok()) return Fail(result.status());
    summary = *std::move(result);
    const absl::Duration elapsed = absl::Now() - began;
    absl::StatusOr<Reduction> reduce_as = reduction_for(summary);
    if (!reduce_as.ok()) return Fail(reduce_as.status());
    if (json) {
      std::cout << StreamedMapJson(spec.function, *reduce_as, summary, elapsed,
                                   print ? &values : nullptr)
                << std::endl;
      return kExitOk;
    }
    std::cout << StreamedReductionLine(*reduce_as, spec.function, summary) << std::endl;
    if (absl::GetFlag(FLAGS_stats) || summary.stats.retries > 0 ||
        summary.stats.workers_lost > 0 || summary.stats.backups > 0) {
      std::cerr << "gpool: " << StatsLine(summary) << std::endl;
    }
    return kExitOk;
  }
  if (ordered) {
    // Written as they come; flushed at most every few milliseconds (and whenever 64 KiB
    // gather), so the first lines show at once without a write(2) per small chunk.
    absl::Time last_flush = absl::InfinitePast();
    auto on_values = [&](uint64_t, const Elements& run) -> absl::Status {
      if (absl::Status status = out->WriteElements(run); !status.ok()) return status;
      const absl::Time now = absl::Now();
      if (now - last_flush < absl::Milliseconds(5)) return absl::OkStatus();
      last_flush = now;
      return out->Flush();
    };
    absl::StatusOr<MapSummary> result =
        connection->client->MapOrdered(spec, on_start, on_values, on_chunk);
    clear_progress();
    if (!result.ok() && out->broken_pipe()) {
      output_closed = true;
      return kExitJobFailed;
    }
    if (!result.ok()) return Fail(result.status());
    summary = *std::move(result);
  } else if (print) {
    absl::StatusOr<MapResult> result = connection->client->Map(spec, on_start, on_chunk);
    clear_progress();
    if (!result.ok()) return Fail(result.status());
    values = std::move(result->values);
    summary = std::move(result->summary);
  } else {
    absl::StatusOr<MapSummary> result =
        connection->client->MapStreaming(spec, /*want_values=*/false, on_start, on_chunk);
    clear_progress();
    if (!result.ok()) return Fail(result.status());
    summary = *std::move(result);
  }
  const absl::Duration elapsed = absl::Now() - began;
  absl::StatusOr<Reduction> reduce_as = reduction_for(summary);
  if (!reduce_as.ok()) return Fail(reduce_as.status());

  if (json) {
    std::cout << MapJson(spec, *reduce_as, summary, elapsed, print ? &values : nullptr)
              << std::endl;
    return kExitOk;
  }
  emit(absl::StrCat(ReductionLine(*reduce_as, spec.function, spec.input, summary), "\n"));
  if (out.has_value()) {
    if (absl::Status flushed = out->Flush(); !flushed.ok()) {
      if (out->broken_pipe()) {
        output_closed = true;
        return kExitJobFailed;
      }
      return Fail(flushed);
    }
  } else {
    std::cout.flush();
  }
  const JobStats& stats = summary.stats;
  if (absl::GetFlag(FLAGS_stats) || stats.retries > 0 || stats.workers_lost > 0 ||
      stats.backups > 0) {
    std::cerr << "gpool: " << StatsLine(summary) << std::endl;
  }
  return kExitOk;
}

int RunInfo(const std::vector<std::string>& positional) {
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("info takes no arguments, got '", positional[2], "'"),
                      "info");
  }
  const int processes = absl::GetFlag(FLAGS_processes);
  absl::StatusOr<Connection> connection = ConnectToCluster(processes == -1 ? 0 : processes);
  if (!connection.ok()) return Fail(connection.status());
  absl::StatusOr<ClusterInfo> view = connection->client->GetClusterInfo();
  if (!view.ok()) return Fail(view.status());
  std::cout << ClusterReport(*view) << std::flush;
  return kExitOk;
}

// Set by SIGINT while `status --watch` runs, so that Ctrl-C ends the watch cleanly (exit 0).
volatile std::sig_atomic_t interrupted = 0;

void OnInterrupt(int) { interrupted = 1; }

// Sleeps for `duration`, waking early on SIGINT. False if interrupted.
bool SleepUnlessInterrupted(absl::Duration duration) {
  const absl::Time deadline = absl::Now() + duration;
  while (interrupted == 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    absl::SleepFor(std::min(left, absl::Milliseconds(50)));
  }
  return false;
}

int RunStatus(const std::vector<std::string>& positional) {
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("status takes no arguments, got '", positional[2], "'"),
                      "status");
  }
  const int watch_count = absl::GetFlag(FLAGS_watch_count);
  if (watch_count < 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--watch_count must be at least 0, got ", watch_count)));
  }
  const absl::Duration interval = absl::GetFlag(FLAGS_watch_interval);
  if (interval <= absl::ZeroDuration()) {
    return Fail(absl::InvalidArgumentError("--watch_interval must be positive"));
  }
  const bool watch = absl::GetFlag(FLAGS_watch) || watch_count > 0;
  const bool json = absl::GetFlag(FLAGS_json);
  // Redraw in place only on a terminal; a file or a pipe gets the frames one after another.
  const bool clear_screen = watch && !json && isatty(STDOUT_FILENO) == 1;

  const int processes = absl::GetFlag(FLAGS_processes);
  absl::StatusOr<Connection> connection = ConnectToCluster(processes == -1 ? 0 : processes);
  if (!connection.ok()) return Fail(connection.status());
  const std::string& address = connection->client->address();
  if (watch) {
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
  }
  for (int frame = 1;; ++frame) {
    absl::StatusOr<ClusterInfo> view = connection->client->GetClusterInfo();
    if (!view.ok()) return Fail(view.status());
    if (json) {
      std::cout << StatusJson(address, *view) << '\n';
    } else {
      if (clear_screen) {
        std::cout << "\033[H\033[2J";  // cursor home, erase the screen
      } else if (frame > 1) {
        std::cout << '\n';
      }
      std::cout << StatusReport(address, *view);
    }
    std::cout << std::flush;
    if (!watch || (watch_count > 0 && frame >= watch_count)) return kExitOk;
    if (!SleepUnlessInterrupted(interval)) return kExitOk;
  }
}

// Exit 0 only for SERVING: compose and orchestrators use it as a readiness probe.
int RunHealth(const std::vector<std::string>& positional) {
  if (positional.size() != 3) {
    return UsageError("health needs exactly one address, e.g. gpool health 127.0.0.1:50051",
                      "health");
  }
  // A probe may ask any daemon of the cluster, whatever its role.
  TransportOptions transport = TransportFor(Role::kClient, CredentialsDirectory());
  transport.server_role.reset();
  transport.check_server_host = false;
  if (absl::Status readable = CheckCredentialFiles(transport); !readable.ok()) {
    return Fail(readable);
  }
  absl::StatusOr<std::string> status =
      CheckHealth(positional[2], absl::GetFlag(FLAGS_connect_timeout), transport);
  if (!status.ok()) return Fail(status.status());
  std::cout << *status << std::endl;
  return *status == "SERVING" ? kExitOk : kExitUnavailable;
}

int RunInit(const std::vector<std::string>& positional) {
  if (positional.size() != 3) {
    return UsageError("init needs exactly one directory, e.g. gpool init ./gpool-credentials",
                      "init");
  }
  const std::string& directory = positional[2];
  std::vector<std::string> hosts = absl::GetFlag(FLAGS_host);
  if (hosts.empty()) hosts = DefaultCredentialHosts();
  if (absl::Status created = InitCredentials(directory, hosts); !created.ok()) {
    return Fail(created);
  }
  const std::string host = hosts.front();
  std::cout << "Created a CA and credentials for the coordinator, workers and clients in "
            << directory << " (certificates valid for " << absl::StrJoin(hosts, ", ")
            << ").\n"
            << "Each machine needs ca.crt and its role's .crt and .key; keep ca.key, which "
               "signs certificates, off the cluster.\n\nNext:\n"
            << "  gpool-coordinator --credentials " << directory << " --listen 0.0.0.0:50051\n"
            << "  gpool-worker --credentials " << directory << " --coordinator " << host
            << ":50051 --listen 0.0.0.0:0\n"
            << "  gpool --credentials " << directory << " --coordinator " << host
            << ":50051 map square 1..5000\n";
  return kExitOk;
}

// A command: its usage and description, the flags it reads, and what runs it.
struct Command {
  const char* name;
  const char* usage;
  std::vector<const absl::CommandLineFlag*> flags;
  int (*run)(const std::vector<std::string>& positional);
};

const std::vector<Command>& Commands() {
  // The flags of a command are listed by their handles, so a renamed flag cannot drop out.
  static const auto* commands = new std::vector<Command>{
      {"map",
       "Usage: gpool [--coordinator HOST:PORT] map FUNCTION A..B [flags]\n"
       "       gpool [--coordinator HOST:PORT] map FUNCTION --values 3,-7,12 [flags]\n"
       "       gpool [--coordinator HOST:PORT] map FUNCTION --input FILE|- [--type TYPE] [flags]\n"
       "\n"
       "Maps FUNCTION over the inclusive range A..B (either bound may be negative), the\n"
       "--values or the lines of --input, and prints the reduction (--reduce: the sum by\n"
       "default for numbers, exact; the count for strings and bytes). Built-ins: square, cube,\n"
       "identity (int64 -> int64), sqrt (double -> double), length (string -> int64), upper\n"
       "(string -> string), sha256 (bytes -> bytes); workers of your own offer more.\n"
       "\n"
       "Examples:\n"
       "  gpool map square 1..5000\n"
       "  gpool map cube -5..5 --reduce max\n"
       "  gpool map square --values 3,-7,12 --print\n"
       "  gpool map sqrt 1..1000000\n"
       "  gpool map upper --input names.txt --type string --print",
       {&absl::GetFlagReflectionHandle(FLAGS_coordinator),
        &absl::GetFlagReflectionHandle(FLAGS_values),
        &absl::GetFlagReflectionHandle(FLAGS_input),
        &absl::GetFlagReflectionHandle(FLAGS_type),
        &absl::GetFlagReflectionHandle(FLAGS_processes),
        &absl::GetFlagReflectionHandle(FLAGS_chunksize),
        &absl::GetFlagReflectionHandle(FLAGS_verify),
        &absl::GetFlagReflectionHandle(FLAGS_reduce),
        &absl::GetFlagReflectionHandle(FLAGS_print),
        &absl::GetFlagReflectionHandle(FLAGS_trace),
        &absl::GetFlagReflectionHandle(FLAGS_json),
        &absl::GetFlagReflectionHandle(FLAGS_stats),
        &absl::GetFlagReflectionHandle(FLAGS_progress),
        &absl::GetFlagReflectionHandle(FLAGS_quiet),
        &absl::GetFlagReflectionHandle(FLAGS_shared_values),
        &absl::GetFlagReflectionHandle(FLAGS_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_connect_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_reconnect_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_credentials)},
       RunMap},
      {"info",
       "Usage: gpool [--coordinator HOST:PORT] info [flags]\n"
       "\n"
       "Prints the cluster's total slots (the cores line) and its workers.",
       {&absl::GetFlagReflectionHandle(FLAGS_coordinator),
        &absl::GetFlagReflectionHandle(FLAGS_processes),
        &absl::GetFlagReflectionHandle(FLAGS_connect_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_credentials)},
       RunInfo},
      {"status",
       "Usage: gpool [--coordinator HOST:PORT] status [--json] [--watch] [--watch_count N]\n"
       "\n"
       "Prints tables of the workers (PID, slots, functions, chunks, last heartbeat; a worker\n"
       "quarantined by --verify is named below with why) and the running jobs (progress,\n"
       "retries), or one JSON object with --json.",
       {&absl::GetFlagReflectionHandle(FLAGS_coordinator),
        &absl::GetFlagReflectionHandle(FLAGS_json),
        &absl::GetFlagReflectionHandle(FLAGS_watch),
        &absl::GetFlagReflectionHandle(FLAGS_watch_interval),
        &absl::GetFlagReflectionHandle(FLAGS_watch_count),
        &absl::GetFlagReflectionHandle(FLAGS_processes),
        &absl::GetFlagReflectionHandle(FLAGS_connect_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_credentials)},
       RunStatus},
      {"health",
       "Usage: gpool health HOST:PORT [flags]\n"
       "\n"
       "Asks the daemon at HOST:PORT for its grpc.health.v1 status and prints it. Exit 0 for\n"
       "SERVING, 3 otherwise (NOT_SERVING, or unreachable within --connect_timeout).",
       {&absl::GetFlagReflectionHandle(FLAGS_connect_timeout),
        &absl::GetFlagReflectionHandle(FLAGS_credentials)},
       RunHealth},
      {"init",
       "Usage: gpool init DIR [--host NAME]...\n"
       "\n"
       "Creates a private CA and, signed by it, a certificate and key for each role in DIR:\n"
       "ca.crt, ca.key, coordinator.crt/.key, worker.crt/.key, client.crt/.key (keys mode\n"
       "0600). The coordinator's and workers' certificates are valid for the --host names and\n"
       "addresses. Then give every gpool, gpool-coordinator and gpool-worker --credentials DIR.\n"
       "Never overwrites: fails if DIR already holds credentials. See docs/security.md.\n"
       "\n"
       "Example:\n"
       "  gpool init ./creds --host coordinator.example.org --host 10.0.0.5",
       {&absl::GetFlagReflectionHandle(FLAGS_host)},
       RunInit},
  };
  return *commands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string CommandNames() {
  std::vector<std::string> names;
  for (const Command& command : Commands()) names.push_back(command.name);
  return absl::StrJoin(names, ", ");
}

// The general help lists every flag; a command's help, the flags it reads.
int PrintHelp(const Command* command) {
  if (command == nullptr) {
    std::cout << kUsage << "\n\nFlags:\n" << FlagsHelp(ProgramFlags());
  } else {
    std::cout << command->usage << "\n\nFlags:\n" << FlagsHelp(command->flags);
  }
  return kExitOk;
}

int UnknownCommand(absl::string_view name) {
  return UsageError(absl::StrCat("unknown command '", name, "' (use ", CommandNames(), ")"));
}

int Main(int argc, char** argv) {
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(argc, argv);
  if (!command_line.ok()) return UsageError(std::string(command_line.status().message()));
  // As the commands expect them: argv[0], the command, its arguments.
  std::vector<std::string> positional = std::move(command_line->positional);
  positional.insert(positional.begin(), argc > 0 ? argv[0] : "gpool");

  if (positional.size() < 2) {
    if (command_line->help) return PrintHelp(nullptr);
    return UsageError(absl::StrCat("no command given (", CommandNames(), ")"));
  }
  const std::string& name = positional[1];
  if (name == "help") {
    if (positional.size() > 3) {
      return UsageError(absl::StrCat("help takes at most one command, got '", positional[3],
                                     "'"));
    }
    if (positional.size() == 2) return PrintHelp(nullptr);
    const Command* command = FindCommand(positional[2]);
    if (command == nullptr) return UnknownCommand(positional[2]);
    return PrintHelp(command);
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) return UnknownCommand(name);
  if (command_line->help) return PrintHelp(command);
  return command->run(positional);
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  // Before anything else, so the forked daemons of a private cluster inherit the settings.
  gpool::TuneProcess();
  // gRPC's own log lines (one per failed TLS handshake attempt, say) would bury the CLI's
  // one-line error, which already says what failed and what to check.
  gpr_set_log_function([](gpr_log_func_args*) {});
  const int code = gpool::Main(argc, argv);
  // Leave at once: no static destructors, and no gRPC shutdown, which would join gRPC's
  // threads (the command left its client running; see ~Connection). Flush what the command
  // printed first.
  std::fflush(nullptr);
  if (gpool::output_closed) {
    // As `seq 1 1000000 | head` ends: killed by SIGPIPE, which the shell shows as 141 and
    // does not report. The job was cancelled already.
    std::signal(SIGPIPE, SIG_DFL);
    std::raise(SIGPIPE);
  }
  std::_Exit(code);
}
