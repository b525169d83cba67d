// scale_workers: one process that registers N simulated workers with a gpool coordinator and
// keeps them alive at the heartbeat rate the coordinator grants (issue 6, scale target).
//
// Every simulated worker is a real worker as far as the coordinator can tell:
//   * its own listening port 127.0.0.1:PORT serving gpool.v1.Worker/RunChunks (one gRPC server
//     with N listening ports; RunChunks computes the exact answer with gpool's
//     FunctionRegistry);
//   * its own registration (address, incarnation, host "scale-<i>", pid = this process, 1 slot,
//     functions ["square"], one chunk per call) and, unless --shared_connection, its own TCP
//     connection to the coordinator (a local subchannel pool per channel, like N separate
//     processes would have);
//   * heartbeats at the interval granted to it, adopting every new grant as gpool-worker's
//     RegistrationLoop does (the coordinator lengthens the interval as the cluster grows), and
//     re-registering on NOT_FOUND.
// The coordinator-facing calls go through gpool-worker's own GrpcCoordinatorLink (one per
// simulated worker), so heartbeats travel as a real worker sends them: one unary Heartbeat
// call per beat. A few heartbeat threads serve all N workers.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <climits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/functions.h"
#include "common/worker_registration.h"
#include "gpool.grpc.pb.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "worker/grpc_coordinator_link.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:50051", "Coordinator address HOST:PORT.");
ABSL_FLAG(int, workers, 1000, "Number of simulated workers.");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(5),
          "Run this long after all workers are registered, then deregister and exit 0.");
ABSL_FLAG(int, heartbeat_threads, 4, "Threads sending heartbeats (workers are split among them).");
ABSL_FLAG(std::string, ready_file, "",
          "If set, write the number of registered workers here once all are registered.");
ABSL_FLAG(bool, shared_connection, false,
          "Share one TCP connection to the coordinator among all workers (default: one each, "
          "as separate worker processes would have).");

namespace {

namespace v1 = gpool::v1;
using Clock = std::chrono::steady_clock;

std::chrono::system_clock::time_point DeadlineIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

class ScaleWorkerService final : public v1::Worker::CallbackService {
 public:
  explicit ScaleWorkerService(int64_t pid)
      : pid_(pid), registry_(gpool::FunctionRegistry::WithBuiltins()) {}

  grpc::ServerUnaryReactor* RunChunks(grpc::CallbackServerContext* context,
                                      const v1::RunChunksRequest* request,
                                      v1::RunChunksResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Compute(context, *request, response));
    calls_.fetch_add(1, std::memory_order_relaxed);
    return reactor;
  }

  uint64_t calls() const { return calls_.load(); }

 private:
  grpc::Status Compute(grpc::CallbackServerContext* context, const v1::RunChunksRequest& request,
                       v1::RunChunksResponse* response) {
    if (!registry_.Has(request.function())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("function '", request.function(), "' is not available"));
    }
    if (request.chunks_size() != 1) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("a call must carry 1 chunk (max_chunks_per_call), got ",
                                       request.chunks_size()));
    }
    for (const v1::ChunkTask& chunk : request.chunks()) {
      absl::StatusOr<gpool::Input> input = gpool::FromProto(chunk.input());
      if (!input.ok()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            std::string(input.status().message()));
      }
      absl::StatusOr<gpool::ChunkOutput> output =
          registry_.Run(request.function(), *input, gpool::FromProto(request.result_mode()),
                        [context] { return context->IsCancelled(); });
      if (!output.ok()) {
        return grpc::Status(static_cast<grpc::StatusCode>(output.status().code()),
                            std::string(output.status().message()));
      }
      v1::ChunkOutcome* outcome = response->add_results();
      const std::vector<int64_t>& values = output->values.int64s();
      outcome->mutable_values()->mutable_int64s()->mutable_values()->Add(values.begin(),
                                                                          values.end());
      v1::Int64Summary* summary = outcome->mutable_summary()->mutable_int64_summary();
      gpool::ToProto(output->sum, summary->mutable_sum());
      outcome->set_element_count(static_cast<int64_t>(output->count));
      summary->set_min(output->min);
      summary->set_max(output->max);
      outcome->set_pid(pid_);
    }
    return grpc::Status::OK;
  }

  const int64_t pid_;
  const gpool::FunctionRegistry registry_;
  std::atomic<uint64_t> calls_{0};
};

struct SimWorker {
  int index = 0;
  std::string address;
  uint64_t incarnation = 0;
  std::unique_ptr<gpool::GrpcCoordinatorLink> link;
  std::string worker_id;  // Empty while unregistered.
  // The interval granted to this worker; read by the reporting thread.
  std::atomic<int64_t> interval_ms{500};
  Clock::time_point next_due;
};

std::shared_ptr<grpc::Channel> CoordinatorChannel(const std::string& address, bool shared) {
  if (shared) return gpool::CreateChannel(address);
  // gpool::CreateChannel's arguments, plus a private subchannel pool so that each simulated
  // worker gets its own TCP connection (gRPC would otherwise share one among equal channels).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(gpool::kMaxMessageBytes);
  args.SetMaxSendMessageSize(gpool::kMaxMessageBytes);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::atomic<uint64_t> g_heartbeats{0};
std::atomic<uint64_t> g_grants{0};  // New intervals adopted after registration.
std::atomic<uint64_t> g_heartbeat_errors{0};
std::atomic<uint64_t> g_registrations{0};

bool Register(SimWorker& w, int64_t pid) {
  gpool::WorkerRegistration registration;
  registration.address = w.address;
  registration.pid = pid;
  registration.host = absl::StrCat("scale-", w.index);
  registration.slots = 1;
  registration.functions = {"square"};
  registration.incarnation = w.incarnation;
  // One chunk per call: the coordinator's cost per call is what this measures.
  registration.max_chunks_per_call = 1;
  absl::StatusOr<gpool::RegistrationGrant> grant = w.link->Register(registration);
  if (!grant.ok()) {
    w.worker_id.clear();
    return false;
  }
  w.worker_id = grant->worker_id;
  w.interval_ms.store(absl::ToInt64Milliseconds(grant->heartbeat_interval));
  g_registrations.fetch_add(1);
  return true;
}

// One beat; returns the time until the next one.
std::chrono::milliseconds Heartbeat(SimWorker& w, int64_t pid) {
  const int64_t interval_ms = w.interval_ms.load();
  absl::StatusOr<gpool::HeartbeatGrant> grant =
      w.link->Heartbeat(w.worker_id, w.incarnation, absl::Milliseconds(interval_ms));
  g_heartbeats.fetch_add(1, std::memory_order_relaxed);
  if (absl::IsNotFound(grant.status())) {
    Register(w, pid);
  } else if (!grant.ok()) {
    g_heartbeat_errors.fetch_add(1, std::memory_order_relaxed);
  } else if (const int64_t granted_ms = absl::ToInt64Milliseconds(grant->interval);
             granted_ms != interval_ms) {
    // As RegistrationLoop: the beat reporting the new interval comes no later than either.
    w.interval_ms.store(granted_ms);
    g_grants.fetch_add(1, std::memory_order_relaxed);
    return std::chrono::milliseconds(std::min(interval_ms, granted_ms));
  }
  return std::chrono::milliseconds(w.interval_ms.load());
}

// "500 ms" when every worker has the same interval, else "min..max ms".
std::string Intervals(const std::vector<SimWorker>& workers) {
  int64_t lo = INT64_MAX, hi = 0;
  for (const SimWorker& w : workers) {
    lo = std::min(lo, w.interval_ms.load());
    hi = std::max(hi, w.interval_ms.load());
  }
  return lo == hi ? absl::StrCat(lo, " ms") : absl::StrCat(lo, "..", hi, " ms");
}

void Leave(SimWorker& w) {
  if (!w.worker_id.empty()) (void)w.link->Deregister(w.worker_id, w.incarnation);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  const int n = absl::GetFlag(FLAGS_workers);
  const int threads = std::max(1, std::min(absl::GetFlag(FLAGS_heartbeat_threads), n));
  const bool shared = absl::GetFlag(FLAGS_shared_connection);
  const int64_t pid = getpid();
  if (n < 1) {
    std::fprintf(stderr, "scale_workers: --workers must be >= 1\n");
    return 2;
  }

  // One server, N listening ports: each port is one simulated worker's address.
  ScaleWorkerService service(pid);
  grpc::ServerBuilder builder;
  gpool::ConfigureServerBuilder(builder);
  auto credentials = gpool::CreateServerCredentials();
  std::vector<int> ports(n, 0);
  for (int i = 0; i < n; ++i) builder.AddListeningPort("127.0.0.1:0", credentials, &ports[i]);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "scale_workers: cannot start the server (file descriptors? ulimit -n)\n");
    return 1;
  }
  for (int i = 0; i < n; ++i) {
    if (ports[i] == 0) {
      std::fprintf(stderr, "scale_workers: port %d was not bound\n", i);
      return 1;
    }
  }

  std::mt19937_64 random(std::random_device{}() ^ static_cast<uint64_t>(pid));
  std::vector<SimWorker> workers(n);
  std::shared_ptr<grpc::Channel> shared_channel;
  for (int i = 0; i < n; ++i) {
    SimWorker& w = workers[i];
    w.index = i;
    w.address = absl::StrCat("127.0.0.1:", ports[i]);
    w.incarnation = random();
    std::shared_ptr<grpc::Channel> channel;
    if (shared) {
      if (shared_channel == nullptr) shared_channel = CoordinatorChannel(coordinator, true);
      channel = shared_channel;
    } else {
      channel = CoordinatorChannel(coordinator, false);
    }
    w.link = std::make_unique<gpool::GrpcCoordinatorLink>(std::move(channel));
  }

  // Register everyone (in parallel across the heartbeat threads), then heartbeat.
  const absl::Time start = absl::Now();
  std::atomic<int> registered{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> all_registered{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) {
        SimWorker& w = workers[i];
        const absl::Time give_up = absl::Now() + absl::Seconds(60);
        while (!Register(w, pid) && absl::Now() < give_up && !stop.load()) {
          absl::SleepFor(absl::Milliseconds(200));
        }
        if (!w.worker_id.empty()) registered.fetch_add(1);
        // Spread the first heartbeats over one interval.
        w.next_due = Clock::now() + std::chrono::milliseconds(w.interval_ms.load() * i / n);
      }
      while (!stop.load()) {
        Clock::time_point earliest = Clock::now() + std::chrono::milliseconds(100);
        for (int i = t; i < n && !stop.load(); i += threads) {
          SimWorker& w = workers[i];
          if (Clock::now() >= w.next_due) {
            std::chrono::milliseconds delay(w.interval_ms.load());
            if (w.worker_id.empty()) {
              Register(w, pid);
              delay = std::chrono::milliseconds(w.interval_ms.load());
            } else {
              delay = Heartbeat(w, pid);
            }
            // Keep the cadence; if we fell behind by a whole interval, restart from now.
            w.next_due += delay;
            if (w.next_due < Clock::now()) w.next_due = Clock::now() + delay;
          }
          earliest = std::min(earliest, w.next_due);
        }
        std::this_thread::sleep_until(earliest);
      }
    });
  }

  const absl::Time registration_deadline = absl::Now() + absl::Seconds(120);
  while (registered.load() < n && absl::Now() < registration_deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (registered.load() < n) {
    std::fprintf(stderr, "scale_workers: only %d of %d workers registered\n", registered.load(), n);
  } else {
    all_registered = true;
  }
  std::printf(
      "ready %d workers registered in %.0f ms (heartbeat every %s, %d threads, %s)\n",
      registered.load(), absl::ToDoubleMilliseconds(absl::Now() - start),
      Intervals(workers).c_str(), threads,
      shared ? "one shared connection" : "one connection per worker");
  std::fflush(stdout);
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  if (!ready_file.empty()) {
    std::ofstream(ready_file) << registered.load() << "\n";
  }

  // Report once per ~10 s until the duration is over.
  const absl::Time end = absl::Now() + absl::GetFlag(FLAGS_duration);
  uint64_t last_heartbeats = g_heartbeats.load();
  absl::Time last = absl::Now();
  while (absl::Now() < end) {
    absl::SleepFor(std::min(absl::Seconds(10), end - absl::Now()));
    const absl::Time now = absl::Now();
    const uint64_t hb = g_heartbeats.load();
    std::printf(
        "heartbeats %.0f/s, every %s, grants adopted %llu, errors %llu, registrations %llu, "
        "RunChunks calls %llu\n",
        static_cast<double>(hb - last_heartbeats) / absl::ToDoubleSeconds(now - last),
        Intervals(workers).c_str(), static_cast<unsigned long long>(g_grants.load()),
        static_cast<unsigned long long>(g_heartbeat_errors.load()),
        static_cast<unsigned long long>(g_registrations.load()),
        static_cast<unsigned long long>(service.calls()));
    std::fflush(stdout);
    last_heartbeats = hb;
    last = now;
  }

  stop = true;
  for (std::thread& thread : pool) thread.join();
  pool.clear();
  // Deregister (best effort, in parallel) so the coordinator does not wait out the leases.
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) {
        Leave(workers[i]);
        workers[i].link.reset();
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  server->Shutdown(DeadlineIn(std::chrono::seconds(2)));
  return all_registered ? 0 : 1;
}
