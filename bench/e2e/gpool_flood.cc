// Issue 22's flood, against a running cluster: can load from many callers break it?
//   1. --clients concurrent clients, each on its own connection, each mapping square over
//      1..--elements (sum only) and checking the exact answer;
//   2. --info_calls GetClusterInfo calls from --info_threads threads;
//   3. --churn_workers fake workers (offering only the function "flood_churn", so no job
//      goes to them) registering and deregistering, --churn_threads at a time, while the
//      clients run.
// Every phase counts its failures (the goal is none) and its time; one JSON line per phase.
// bench/flood.sh starts a cluster, runs this, and adds the coordinator's peak RSS.
//
//   gpool_flood --coordinator=127.0.0.1:50051 --clients=1000 --info_calls=10000
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gpool.grpc.pb.h"
#include "rpc/transport.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:50051", "The cluster to flood.");
ABSL_FLAG(std::string, credentials, "", "TLS credentials directory (gpool init), if any.");
ABSL_FLAG(int, clients, 1000, "Concurrent clients, one connection and one job each.");
ABSL_FLAG(int64_t, elements, 1000, "Elements of each client's job (square, summed).");
ABSL_FLAG(int, info_calls, 10000, "GetClusterInfo calls in all.");
ABSL_FLAG(int, info_threads, 50, "Threads making the GetClusterInfo calls.");
ABSL_FLAG(int, churn_workers, 500, "Fake workers that register and then deregister.");
ABSL_FLAG(int, churn_threads, 20, "Fake workers registering at once.");

namespace gpool {
namespace {

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

struct Phase {
  explicit Phase(std::string phase_name) : name(std::move(phase_name)) {}
  std::string name;
  int64_t attempts = 0;
  std::atomic<int64_t> failures{0};
  std::string first_failure;
  absl::Duration took;
};

void Report(const Phase& phase) {
  std::printf("{\"phase\": \"%s\", \"attempts\": %lld, \"failures\": %lld, \"seconds\": %.3f%s}\n",
              phase.name.c_str(), static_cast<long long>(phase.attempts),
              static_cast<long long>(phase.failures.load()),
              absl::ToDoubleSeconds(phase.took),
              phase.first_failure.empty()
                  ? ""
                  : absl::StrCat(", \"first_failure\": \"", phase.first_failure, "\"").c_str());
  std::fflush(stdout);
}

// Runs `work(i)` for i in [0, count) on `threads` threads; work returns an error message or
// "" and the phase counts the failures.
template <typename Work>
void RunPhase(Phase& phase, int count, int threads, Work work) {
  phase.attempts = count;
  std::atomic<int> next{0};
  absl::Mutex mu;
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        const std::string error = work(i);
        if (error.empty()) continue;
        if (phase.failures++ == 0) {
          absl::MutexLock lock(&mu);
          phase.first_failure = error;
        }
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  phase.took = absl::Now() - start;
}

std::string ChurnOne(const std::string& coordinator, const TransportOptions& transport, int i) {
  auto stub = v1::Coordinator::NewStub(CreateChannel(coordinator, transport));
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(30); };
  v1::RegisterWorkerRequest request;
  // Distinct addresses nobody serves: the coordinator never dials them (no job needs
  // flood_churn), and none claims a live worker's address.
  request.set_address(absl::StrCat("127.0.0.1:", 20000 + i));
  request.set_pid(getpid());
  request.set_host("flood-churn");
  request.set_slots(1);
  v1::FunctionSignature* function = request.add_functions();
  function->set_name("flood_churn");
  function->set_input_type(v1::ELEMENT_TYPE_INT64);
  function->set_output_type(v1::ELEMENT_TYPE_INT64);
  request.set_incarnation(0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1));
  request.set_max_chunks_per_call(1);
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext register_context;
  register_context.set_deadline(deadline());
  grpc::Status status = stub->RegisterWorker(&register_context, request, &registered);
  if (!status.ok()) return absl::StrCat("RegisterWorker: ", status.error_message());
  v1::WorkerLeaveRequest leave;
  leave.set_worker_id(registered.worker_id());
  leave.set_incarnation(request.incarnation());
  v1::WorkerLeaveResponse left;
  grpc::ClientContext leave_context;
  leave_context.set_deadline(deadline());
  status = stub->DeregisterWorker(&leave_context, leave, &left);
  return status.ok() ? "" : absl::StrCat("DeregisterWorker: ", status.error_message());
}

int Main() {
  const std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  ClientOptions options;
  options.transport = TransportFor(Role::kClient, absl::GetFlag(FLAGS_credentials));
  // The churn registers workers: with credentials that takes a worker certificate.
  const TransportOptions worker_transport =
      TransportFor(Role::kWorker, absl::GetFlag(FLAGS_credentials));
  const int64_t n = absl::GetFlag(FLAGS_elements);

  Phase churn("worker_churn");
  std::thread churner([&] {
    RunPhase(churn, absl::GetFlag(FLAGS_churn_workers), absl::GetFlag(FLAGS_churn_threads),
             [&](int i) { return ChurnOne(coordinator, worker_transport, i); });
  });

  Phase clients("concurrent_clients");
  const int client_count = absl::GetFlag(FLAGS_clients);
  RunPhase(clients, client_count, client_count, [&](int) -> std::string {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(coordinator, options);
    if (!client.ok()) return std::string(client.status().message());
    MapSpec spec;
    spec.function = "square";
    spec.input = Input::Range(1, n);
    absl::StatusOr<MapSummary> summary = (*client)->MapStreaming(
        spec, /*want_values=*/false, [](const JobStart&) {}, [](const ChunkResult&) {});
    if (!summary.ok()) return summary.status().ToString();
    return summary->sum == SumOfSquares(n) ? "" : "wrong sum";
  });
  churner.join();

  Phase info("info_calls");
  absl::StatusOr<std::unique_ptr<Client>> observer = Client::Connect(coordinator, options);
  if (!observer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(observer.status().message()).c_str());
    return 1;
  }
  RunPhase(info, absl::GetFlag(FLAGS_info_calls), absl::GetFlag(FLAGS_info_threads),
           [&](int) -> std::string {
             absl::StatusOr<ClusterInfo> cluster = (*observer)->GetClusterInfo();
             return cluster.ok() ? "" : std::string(cluster.status().message());
           });

  Report(clients);
  Report(churn);
  Report(info);
  return clients.failures + churn.failures + info.failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return gpool::Main();
}
