// gpool: the command-line client.
//
//   gpool [--coordinator HOST:PORT] map FUNCTION A..B [--processes N] [--chunksize N]
//         [--trace] [--print]
//   gpool [--coordinator HOST:PORT] map FUNCTION --values 3,-7,12 | --input FILE|-
//   gpool [--coordinator HOST:PORT] info
//   gpool health HOST:PORT
//
// Without --coordinator (and without $GPOOL_COORDINATOR) the command runs on a private local
// cluster: a coordinator and N workers on loopback, N = --processes or the number of cores.
//
// Exit codes: 0 success; 1 the job failed on the cluster; 2 bad usage, input or function;
// 3 coordinator unreachable, no workers, or deadline passed.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "client/cli_output.h"
#include "client/client.h"
#include "client/health.h"
#include "client/local_cluster.h"
#include "common/input.h"

ABSL_FLAG(std::string, coordinator, "",
          "HOST:PORT of a running coordinator (default: $GPOOL_COORDINATOR; if neither is "
          "set, a private local cluster runs the command).");
ABSL_FLAG(std::string, values, "", "map: comma-separated inputs, e.g. 3,-7,12.");
ABSL_FLAG(std::string, input, "", "map: file with one integer per line; - reads stdin.");
ABSL_FLAG(int, processes, -1,
          "map: at most this many workers compute the job (Pool(processes=N)); for a local "
          "cluster, how many workers to start. Default: all workers / one per core.");
ABSL_FLAG(int64_t, chunksize, -1,
          "map: elements per chunk. Default: Pool's rule, ceil(len / (4 * slots)).");
ABSL_FLAG(bool, trace, false,
          "map: print 'Worker <PID> calculating <function> of <x>' for every element.");
ABSL_FLAG(bool, print, false, "map: print the mapped values in input order, one per line.");
ABSL_FLAG(bool, stats, false, "map: always print the job's statistics on stderr.");
ABSL_FLAG(absl::Duration, timeout, absl::Hours(24),
          "map: deadline of the whole job; passing it cancels the job.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "How long to wait for the coordinator to answer.");
ABSL_FLAG(absl::Duration, reconnect_timeout, absl::Seconds(60),
          "map: if the coordinator goes away mid-job, how long to wait for it to come back "
          "before failing; then only the missing chunks are resubmitted. 0 disables it.");

namespace gpool {
namespace {

constexpr char kUsage[] =
    "gpool [--coordinator HOST:PORT] <command> [arguments]\n"
    "\n"
    "Commands:\n"
    "  map FUNCTION A..B        map FUNCTION over the inclusive range A..B and print the sum\n"
    "  map FUNCTION --values 3,-7,12 | --input FILE|-\n"
    "                           map over explicit values\n"
    "  info                     print the cluster's total slots and its workers\n"
    "  health HOST:PORT         exit 0 if the daemon there reports SERVING (grpc.health.v1)\n"
    "\n"
    "Examples:\n"
    "  gpool map square 1..5000\n"
    "  gpool --coordinator 127.0.0.1:50051 map square 1..10 --processes 2 --chunksize 2 "
    "--trace\n"
    "\n"
    "Exit codes: 0 ok, 1 job failed, 2 bad usage or input, 3 cluster unavailable.";

int Fail(const absl::Status& status) {
  std::cerr << ErrorLine(status) << std::endl;
  return ExitCodeFor(status);
}

int UsageError(const std::string& message) {
  std::cerr << "gpool: error: " << message << "\nRun 'gpool --help' for usage." << std::endl;
  return kExitBadInput;
}

// absl::ParseCommandLine exits with code 1 on an unknown flag or a bad value; check both
// first so every usage error exits with kExitBadInput and a clear message.
std::optional<std::string> CheckFlags(const std::vector<char*>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-") || arg == "-") continue;
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    const size_t equals = arg.find('=');
    const std::string name(arg.substr(0, equals));
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) return absl::StrCat("unknown flag --", name);
    if (flag->IsOfType<bool>() && equals == absl::string_view::npos) continue;
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::StrCat("flag --", name, " needs a value");
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::StrCat("bad value '", value, "' for --", name, ": ", error);
    }
  }
  return std::nullopt;
}

std::string LocalHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
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
    absl::StatusOr<std::vector<int64_t>> list = ParseValueList(values);
    if (!list.ok()) return list.status();
    return Input::List(*std::move(list));
  }
  absl::StatusOr<std::vector<int64_t>> list;
  if (input_file == "-") {
    list = ParseValueLines(std::cin, "stdin");
  } else {
    std::ifstream file(input_file);
    if (!file) {
      return absl::NotFoundError(absl::StrCat("cannot open input file '", input_file, "'"));
    }
    list = ParseValueLines(file, input_file);
  }
  if (!list.ok()) return list.status();
  return Input::List(*std::move(list));
}

// Connects to the named coordinator, or starts a local cluster with `local_workers`.
struct Connection {
  std::unique_ptr<LocalCluster> local_cluster;  // Outlives the client below.
  std::unique_ptr<Client> client;
};

absl::StatusOr<Connection> ConnectToCluster(int local_workers) {
  ClientOptions options;
  options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  options.map_timeout = absl::GetFlag(FLAGS_timeout);
  options.reconnect_timeout = absl::GetFlag(FLAGS_reconnect_timeout);
  options.on_notice = [](const std::string& notice) {
    std::cerr << "gpool: " << notice << std::endl;
  };
  std::string address = absl::GetFlag(FLAGS_coordinator);
  if (address.empty()) {
    if (const char* env = std::getenv("GPOOL_COORDINATOR"); env != nullptr) address = env;
  }
  Connection connection;
  if (address.empty()) {
    LocalClusterOptions local;
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
  return connection;
}

int RunMap(const std::vector<std::string>& positional) {
  if (positional.size() < 3) {
    return UsageError("map needs a function and inputs, e.g. gpool map square 1..5000");
  }
  MapSpec spec;
  spec.function = positional[2];
  absl::StatusOr<Input> input = InputFromArguments(positional);
  if (!input.ok()) return Fail(input.status());
  spec.input = *std::move(input);

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
  if (absl::Status valid = ValidateMapSpec(spec); !valid.ok()) return Fail(valid);

  absl::StatusOr<Connection> connection = ConnectToCluster(spec.max_workers);
  if (!connection.ok()) return Fail(connection.status());

  const bool trace = absl::GetFlag(FLAGS_trace);
  const bool print = absl::GetFlag(FLAGS_print);
  const std::string local_host = LocalHostName();
  auto on_start = [](const JobStart& start) {
    std::cout << CoresLine(start.cluster_slots) << '\n';
  };
  auto on_chunk = [&](const ChunkResult& chunk) {
    if (!trace) return;
    const bool show_host = chunk.worker.host != local_host;
    for (uint64_t i = 0; i < chunk.element_count; ++i) {
      std::cout << TraceLine(chunk.worker, show_host, spec.function,
                             spec.input.At(chunk.first_element + i))
                << '\n';
    }
  };

  MapSummary summary;
  if (print) {
    absl::StatusOr<MapResult> result = connection->client->Map(spec, on_start, on_chunk);
    if (!result.ok()) return Fail(result.status());
    for (int64_t value : result->values) std::cout << value << '\n';
    summary = std::move(result->summary);
  } else {
    absl::StatusOr<MapSummary> result =
        connection->client->MapStreaming(spec, /*want_values=*/false, on_start, on_chunk);
    if (!result.ok()) return Fail(result.status());
    summary = *std::move(result);
  }
  std::cout << SumLine(spec.function, spec.input, summary.sum) << std::endl;
  const JobStats& stats = summary.stats;
  if (absl::GetFlag(FLAGS_stats) || stats.retries > 0 || stats.workers_lost > 0 ||
      stats.backups > 0) {
    std::cerr << "gpool: " << StatsLine(summary) << std::endl;
  }
  return kExitOk;
}

int RunInfo(const std::vector<std::string>& positional) {
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("info takes no arguments, got '", positional[2], "'"));
  }
  const int processes = absl::GetFlag(FLAGS_processes);
  absl::StatusOr<Connection> connection = ConnectToCluster(processes == -1 ? 0 : processes);
  if (!connection.ok()) return Fail(connection.status());
  absl::StatusOr<ClusterView> view = connection->client->GetClusterInfo();
  if (!view.ok()) return Fail(view.status());
  std::cout << ClusterReport(*view) << std::flush;
  return kExitOk;
}

// Exit 0 only for SERVING: compose and orchestrators use it as a readiness probe.
int RunHealth(const std::vector<std::string>& positional) {
  if (positional.size() != 3) {
    return UsageError("health needs exactly one address, e.g. gpool health 127.0.0.1:50051");
  }
  absl::StatusOr<std::string> status =
      CheckHealth(positional[2], absl::GetFlag(FLAGS_connect_timeout));
  if (!status.ok()) return Fail(status.status());
  std::cout << *status << std::endl;
  return *status == "SERVING" ? kExitOk : kExitUnavailable;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // A negative range such as -5..5 looks like a flag to the flag parser: take ranges out
  // first and put them back as positional arguments.
  std::vector<char*> args;
  std::vector<std::string> ranges;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && argv[i][0] == '-' && LooksLikeRange(argv[i])) {
      ranges.push_back(argv[i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  if (std::optional<std::string> error = CheckFlags(args); error.has_value()) {
    return UsageError(*error);
  }
  int parsed_argc = static_cast<int>(args.size());
  std::vector<char*> parsed = absl::ParseCommandLine(parsed_argc, args.data());
  std::vector<std::string> positional(parsed.begin(), parsed.end());
  positional.insert(positional.end(), ranges.begin(), ranges.end());

  if (positional.size() < 2) return UsageError("no command given (map, info or health)");
  const std::string& command = positional[1];
  if (command == "map") return RunMap(positional);
  if (command == "info") return RunInfo(positional);
  if (command == "health") return RunHealth(positional);
  return UsageError(absl::StrCat("unknown command '", command, "' (use map, info or health)"));
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) { return gpool::Main(argc, argv); }
