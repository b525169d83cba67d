// Chaos tests: the real binaries on loopback, with workers killed, frozen, churned, a
// coordinator killed and restarted, a client killed, and a chunk that kills every worker it
// touches. Each job's answer must stay exact, with every chunk index accepted exactly once.
//
// Workers run with --chunk_delay so a job lasts long enough to be hit mid-flight; the moment
// to strike is chosen from the job's own progress (chunks received), never from a sleep.
#include <signal.h>

#include <chrono>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/client.h"
#include "client/health.h"
#include "client/local_cluster.h"
#include "common/int128.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "rpc/transport.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
#include "tests/support/wire_signature.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::ReadFile;
using ::gpool::testing::TempDir;
using ::gpool::testing::WaitUntil;
using ::testing::AllOf;
using ::testing::HasSubstr;

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

// Fast leases so silent workers are noticed within about a second.
const std::vector<std::string> kFastLeases = {"--lease_timeout=1s", "--heartbeat_interval=200ms"};

std::unique_ptr<LocalCluster> StartCluster(int workers, std::vector<std::string> worker_flags,
                                           std::vector<std::string> coordinator_flags = kFastLeases) {
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(
      testing::TestClusterOptions(workers, std::move(worker_flags), std::move(coordinator_flags)));
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

// Runs `spec` through the streaming client, calling `on_progress(chunks received so far)`
// after each chunk, and checks that every chunk index arrived exactly once.
struct ChaosRun {
  absl::StatusOr<MapSummary> summary;
  std::map<uint64_t, int> deliveries;  // chunk index -> times delivered
  std::set<int64_t> worker_pids;
};

ChaosRun RunMap(const std::string& address, const MapSpec& spec,
                const std::function<void(size_t)>& on_progress) {
  ChaosRun run;
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(address);
  if (!client.ok()) {
    run.summary = client.status();
    return run;
  }
  run.summary = (*client)->MapStreaming(spec, /*want_values=*/false, nullptr,
                                        [&](const ChunkResult& chunk) {
                                          ++run.deliveries[chunk.chunk_index];
                                          run.worker_pids.insert(chunk.worker.pid);
                                          on_progress(run.deliveries.size());
                                        });
  return run;
}

void ExpectExactlyOnce(const ChaosRun& run, uint64_t num_chunks) {
  ASSERT_EQ(run.deliveries.size(), num_chunks);
  for (const auto& [index, count] : run.deliveries) {
    EXPECT_LT(index, num_chunks);
    EXPECT_EQ(count, 1) << "chunk " << index;
  }
}

MapSpec SquaresSpec(int64_t n, int64_t chunk_size) {
  MapSpec spec;
  spec.function = "square";
  spec.input = Input::Range(1, n);
  spec.chunk_size = chunk_size;
  return spec;
}

// 1. A worker SIGKILLed mid-job: its chunks go elsewhere; the answer is exact.
TEST(ChaosTest, WorkerKilledMidJob_ChunksRedispatchedSumExact) {
  auto cluster = StartCluster(3, {"--chunk_delay=20ms"});
  ASSERT_NE(cluster, nullptr);
  const pid_t victim = cluster->worker_pids()[1];
  const int64_t n = 10'000'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 100'000), [&](size_t received) {
    if (received == 10) {
      EXPECT_OK(cluster->SignalWorker(victim, SIGKILL));
    }
  });
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  EXPECT_EQ(FormatInt128(run.summary->sum), "333333383333335000000");
  ExpectExactlyOnce(run, 100);
  EXPECT_EQ(run.summary->stats.workers_lost, 1);
  EXPECT_GE(run.summary->stats.retries, 1);
}

// 1b. The same while the workers write values into the client's shared memory: the killed
// worker's chunks are written again by others, and every value is exact.
TEST(ChaosTest, WorkerKilledMidValuesJob_SharedValuesAllExact) {
  auto cluster = StartCluster(3, {"--chunk_delay=20ms"});
  ASSERT_NE(cluster, nullptr);
  const pid_t victim = cluster->worker_pids()[1];
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  const int64_t n = 2'000'000;
  size_t received = 0;
  absl::StatusOr<MapResult> result =
      client->Map(SquaresSpec(n, 20'000), nullptr, [&](const ChunkResult&) {
        if (++received == 10) {
          EXPECT_OK(cluster->SignalWorker(victim, SIGKILL));
        }
      });
  ASSERT_OK(result.status());
  ASSERT_EQ(result->values.size(), static_cast<size_t>(n));
  for (int64_t x = 1; x <= n; ++x) ASSERT_EQ(result->values.int64s()[x - 1], x * x) << "value of " << x;
  EXPECT_EQ(result->summary.sum, SumOfSquares(n));
  EXPECT_EQ(result->summary.values_shared, static_cast<uint64_t>(n));
  EXPECT_EQ(result->summary.stats.workers_lost, 1);
  EXPECT_GE(result->summary.stats.retries, 1);
}

// 2. Churn: of 4 workers, 2 are killed at different times and 3 new ones join mid-job.
TEST(ChaosTest, Churn_TwoKilledThreeJoin_SumExactAndNewcomersWork) {
  auto cluster = StartCluster(4, {"--chunk_delay=20ms"});
  ASSERT_NE(cluster, nullptr);
  const std::vector<pid_t> original = cluster->worker_pids();
  std::set<int64_t> newcomers;
  const int64_t n = 15'000'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 100'000), [&](size_t received) {
    if (received == 20) {
      EXPECT_OK(cluster->SignalWorker(original[0], SIGKILL));
    }
    if (received == 30) {
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<pid_t> pid = cluster->AddWorker();
        ASSERT_OK(pid);
        newcomers.insert(*pid);
      }
    }
    if (received == 60) {
      EXPECT_OK(cluster->SignalWorker(original[2], SIGKILL));
    }
  });
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  ExpectExactlyOnce(run, 150);
  EXPECT_EQ(run.summary->stats.workers_lost, 2);
  std::vector<int64_t> newcomers_that_worked;
  for (int64_t pid : newcomers) {
    if (run.worker_pids.count(pid) > 0) newcomers_that_worked.push_back(pid);
  }
  EXPECT_FALSE(newcomers_that_worked.empty()) << "no worker that joined mid-job got a chunk";
}

// 3. A frozen worker (SIGSTOP) holding chunks: the job finishes through re-dispatch or a
// backup copy; thawed, the worker registers again and is usable.
TEST(ChaosTest, FrozenWorker_JobCompletesAndWorkerRejoinsAfterThaw) {
  auto cluster = StartCluster(2, {"--chunk_delay=20ms"});
  ASSERT_NE(cluster, nullptr);
  const pid_t frozen = cluster->worker_pids()[0];
  const int64_t n = 6'000'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 100'000), [&](size_t received) {
    if (received == 5) {
      EXPECT_OK(cluster->SignalWorker(frozen, SIGSTOP));
    }
  });
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  ExpectExactlyOnce(run, 60);
  EXPECT_GE(run.summary->stats.retries + run.summary->stats.backups, 1);
  EXPECT_EQ(run.summary->stats.workers_lost, 1);

  ASSERT_OK(cluster->SignalWorker(frozen, SIGCONT));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = client->GetClusterInfo();
        if (!view.ok()) return false;
        for (const WorkerInfo& worker : view->workers) {
          if (worker.ref.pid == frozen) return true;
        }
        return false;
      },
      absl::Seconds(20)))
      << "the thawed worker did not register again";
  // And it takes work again.
  ChaosRun after = RunMap(cluster->address(), SquaresSpec(40, 1), [](size_t) {});
  ASSERT_OK(after.summary);
  EXPECT_EQ(after.summary->sum, SumOfSquares(40));
  EXPECT_EQ(after.worker_pids.count(frozen), 1u);
}

// 5. The coordinator SIGKILLed mid-job and restarted on the same port: the running CLI job
// reconnects, resubmits only its missing chunks, and prints the exact sum.
TEST(ChaosTest, CoordinatorRestartMidJob_CliJobFinishesExact) {
  auto cluster = StartCluster(2, {"--chunk_delay=20ms"});
  ASSERT_NE(cluster, nullptr);
  TempDir dir;
  SpawnOptions spawn;
  spawn.stdout_path = dir.path() + "/out";
  spawn.stderr_path = dir.path() + "/err";
  ASSERT_OK_AND_ASSIGN(
      pid_t cli, SpawnProcess({BinaryPath("gpool"), "--coordinator=" + cluster->address(), "map",
                               "square", "1..10000000", "--chunksize=100000"},
                              spawn));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        return view.ok() && !view->jobs.empty() && view->jobs[0].chunks_done >= 10;
      },
      absl::Seconds(30)));
  ASSERT_OK(cluster->StopCoordinator(/*abruptly=*/true));
  ASSERT_OK(cluster->RestartCoordinator());
  absl::StatusOr<int> exit_code = WaitForExit(cli, absl::Seconds(90));
  if (!exit_code.ok()) (void)StopProcess(cli, absl::Seconds(1));
  ASSERT_OK(exit_code);
  const std::string out = ReadFile(spawn.stdout_path);
  const std::string err = ReadFile(spawn.stderr_path);
  EXPECT_EQ(*exit_code, 0) << err;
  EXPECT_THAT(out, HasSubstr("The sum of the square of the first 10000000 integers is "
                             "333333383333335000000\n"));
  EXPECT_THAT(err, AllOf(HasSubstr("lost the coordinator"), HasSubstr("reconnected"),
                         HasSubstr("missing chunks")));
}

// 6. A client killed mid-job: the coordinator drops its job within a bound and the workers
// go idle.
TEST(ChaosTest, ClientKilledMidJob_JobDroppedAndWorkersIdle) {
  auto cluster = StartCluster(2, {"--chunk_delay=50ms"});
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(
      pid_t cli, SpawnProcess({BinaryPath("gpool"), "--coordinator=" + cluster->address(), "map",
                               "square", "1..100000000", "--chunksize=100000"},
                              SpawnOptions{"", "/dev/null", "/dev/null"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        return view.ok() && !view->jobs.empty() && view->jobs[0].chunks_done >= 3;
      },
      absl::Seconds(30)));
  kill(cli, SIGKILL);
  ASSERT_OK(WaitForExit(cli, absl::Seconds(10)));
  // The job had 1000 chunks; it must be gone, and nothing left running, well before that.
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        if (!view.ok() || !view->jobs.empty()) return false;
        for (const WorkerInfo& worker : view->workers) {
          if (worker.chunks_in_flight != 0) return false;
        }
        return true;
      },
      absl::Seconds(5)))
      << "the coordinator kept the dead client's job or its workers stayed busy";
  absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
  ASSERT_OK(view);
  int64_t chunks_done = 0;
  for (const WorkerInfo& worker : view->workers) chunks_done += worker.chunks_done;
  EXPECT_LT(chunks_done, 500);
}

// Graceful shutdown: SIGTERM makes a worker drain (NOT_SERVING, no new chunks, the ones in
// hand finish), deregister and exit 0. The job loses nothing and counts no lost worker.
TEST(ChaosTest, SigtermDrain_WorkerFinishesChunksInHandAndExitsCleanly) {
  auto cluster = StartCluster(2, {"--chunk_delay=300ms"});
  ASSERT_NE(cluster, nullptr);
  const pid_t leaving = cluster->worker_pids()[0];
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, observer->GetClusterInfo());
  std::string leaving_address;
  for (const WorkerInfo& worker : view.workers) {
    if (worker.ref.pid == leaving) leaving_address = worker.address;
  }
  ASSERT_FALSE(leaving_address.empty());
  ASSERT_OK_AND_ASSIGN(std::string before, CheckHealth(leaving_address, absl::Seconds(5)));
  EXPECT_EQ(before, "SERVING");

  std::string during;
  const int64_t n = 2'000'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 100'000), [&](size_t received) {
    if (received != 4) return;
    kill(leaving, SIGTERM);
    // While it finishes the chunks in hand it must not look ready.
    EXPECT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<std::string> health = CheckHealth(leaving_address, absl::Seconds(1));
          if (health.ok()) during = *health;
          return during == "NOT_SERVING";
        },
        absl::Seconds(5)));
  });
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  ExpectExactlyOnce(run, 20);
  EXPECT_EQ(run.summary->stats.workers_lost, 0);
  EXPECT_EQ(during, "NOT_SERVING");
  absl::StatusOr<int> exit_code = cluster->WaitForWorkerExit(leaving, absl::Seconds(15));
  ASSERT_OK(exit_code);
  EXPECT_EQ(*exit_code, 0);
  ASSERT_OK_AND_ASSIGN(ClusterInfo after, observer->GetClusterInfo());
  EXPECT_EQ(after.workers.size(), 1u);  // it deregistered instead of waiting out a lease
}

// 7. A chunk that kills every worker it runs on fails the job after 4 attempts, naming the
// chunk and the workers, instead of looping. One chunk per worker at a time
// (--pipeline_depth=0), so only the poisonous chunk is lost with each worker.
TEST(ChaosTest, PoisonChunk_JobAbortedAfterFourAttempts) {
  auto cluster = StartCluster(4, {"--enable_test_functions"},
                              {"--lease_timeout=1s", "--heartbeat_interval=200ms",
                               "--pipeline_depth=0", "--worker_wait=2s"});
  ASSERT_NE(cluster, nullptr);
  gpool::testing::CliRun run =
      gpool::testing::RunCli({"--coordinator=" + cluster->address(), "map", "test_abort_on_13",
                              "1..100", "--chunksize=10"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr("chunk 1 (elements 11..20) failed 4 times"),
                             HasSubstr("giving up after 4 attempts"), HasSubstr("(ABORTED)")));
  // Each attempt really killed a worker.
  const std::vector<pid_t> workers = cluster->worker_pids();
  int aborted = 0;
  for (pid_t pid : workers) {
    absl::StatusOr<int> exit_code = cluster->WaitForWorkerExit(pid, absl::Seconds(5));
    aborted += exit_code.ok() && *exit_code == 128 + SIGABRT;
  }
  EXPECT_EQ(aborted, 4);
}

// 8. Heartbeat intervals that grow with the cluster. A budget of 3 beats/s with a 100 ms
// minimum (1 s lease) makes three workers beat every second, with 10 s leases.
const std::vector<std::string> kTinyHeartbeatBudget = {
    "--heartbeat_interval=100ms", "--lease_timeout=1s", "--heartbeat_budget=3"};
constexpr absl::Duration kGrantedInterval = absl::Seconds(1);
constexpr absl::Duration kGrantedLease = absl::Seconds(10);

// Worker id by PID; a worker declared dead comes back under a new id.
std::map<int64_t, std::string> WorkerIds(const ClusterInfo& view) {
  std::map<int64_t, std::string> ids;
  for (const WorkerInfo& worker : view.workers) ids[worker.ref.pid] = worker.ref.worker_id;
  return ids;
}

// Waits until every registered worker (and `count` of them) reports beating at `interval`.
absl::StatusOr<ClusterInfo> AwaitIntervals(Client& client, size_t count,
                                           absl::Duration interval) {
  absl::StatusOr<ClusterInfo> view;
  WaitUntil(
      [&] {
        view = client.GetClusterInfo();
        if (!view.ok() || view->workers.size() != count) return false;
        for (const WorkerInfo& worker : view->workers) {
          if (worker.heartbeat_interval != interval) return false;
        }
        return true;
      },
      absl::Seconds(20));
  return view;
}

// The workers adopt the longer interval (those that registered at a shorter one too), get
// the longer lease, and a crash mid-job is still noticed at once through the failed calls,
// not after the 10 s lease. Nobody healthy is declared dead meanwhile.
TEST(ChaosTest, AdaptiveHeartbeat_OverBudget_WorkersAdoptLongerIntervalCrashSeenAtOnce) {
  auto cluster = StartCluster(3, {"--chunk_delay=20ms"}, kTinyHeartbeatBudget);
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, AwaitIntervals(*observer, 3, kGrantedInterval));
  for (const WorkerInfo& worker : before.workers) {
    EXPECT_EQ(worker.heartbeat_interval, kGrantedInterval) << worker.ref.worker_id;
    EXPECT_EQ(worker.lease_timeout, kGrantedLease) << worker.ref.worker_id;
  }

  const pid_t victim = cluster->worker_pids()[1];
  absl::Time killed;
  const int64_t n = 4'000'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 100'000), [&](size_t received) {
    if (received == 5) {
      EXPECT_OK(cluster->SignalWorker(victim, SIGKILL));
      killed = absl::Now();
    }
  });
  const absl::Duration kill_to_done = absl::Now() - killed;
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  ExpectExactlyOnce(run, 40);
  EXPECT_EQ(run.summary->stats.workers_lost, 1);
  // Waiting out the lease would have held the lost chunks for 10 s.
  EXPECT_LT(kill_to_done, kGrantedLease / 2);

  // The two left keep their registrations and interval (two workers need 667 ms: within a
  // step of the grant, so it stays).
  ASSERT_OK_AND_ASSIGN(ClusterInfo after, AwaitIntervals(*observer, 2, kGrantedInterval));
  std::map<int64_t, std::string> ids_before = WorkerIds(before);
  ids_before.erase(victim);
  EXPECT_EQ(WorkerIds(after), ids_before);
}

// An idle worker killed and another frozen: neither has a call in flight to fail, so both
// are declared dead by their leases, now 10 s: not before about 9 s (the last beat was at
// most a second before), and not much after 10 s. The one worker left then needs less than
// a step of the grant: it is granted a shorter interval (417 ms) and adopts it.
TEST(ChaosTest, AdaptiveHeartbeat_IdleWorkersKilledAndFrozen_DeclaredDeadWithinTheLongerLease) {
  auto cluster = StartCluster(3, {}, kTinyHeartbeatBudget);
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, AwaitIntervals(*observer, 3, kGrantedInterval));

  const pid_t killed = cluster->worker_pids()[0];
  const pid_t frozen = cluster->worker_pids()[1];
  ASSERT_OK(cluster->SignalWorker(killed, SIGKILL));
  ASSERT_OK(cluster->SignalWorker(frozen, SIGSTOP));
  const absl::Time silent_since = absl::Now();
  std::map<int64_t, absl::Duration> declared_dead_after;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        if (!view.ok()) return false;
        const std::map<int64_t, std::string> ids = WorkerIds(*view);
        for (pid_t pid : {killed, frozen}) {
          if (ids.count(pid) == 0 && declared_dead_after.count(pid) == 0) {
            declared_dead_after[pid] = absl::Now() - silent_since;
          }
        }
        return declared_dead_after.size() == 2;
      },
      kGrantedLease + absl::Seconds(10)))
      << "declared dead: " << declared_dead_after.size() << " of 2";
  for (const auto& [pid, after] : declared_dead_after) {
    EXPECT_GE(after, kGrantedLease - kGrantedInterval - absl::Milliseconds(500)) << pid;
    EXPECT_LE(after, kGrantedLease + absl::Seconds(3)) << pid;
  }

  // The survivor was never declared dead, and now beats faster.
  const int64_t survivor = cluster->worker_pids()[2];
  ASSERT_OK_AND_ASSIGN(ClusterInfo alone,
                       AwaitIntervals(*observer, 1, absl::Milliseconds(417)));
  EXPECT_EQ(WorkerIds(alone).at(survivor), WorkerIds(before).at(survivor));
  EXPECT_EQ(alone.workers[0].lease_timeout, absl::Milliseconds(4170));

  // Thawed, the frozen one learns it was forgotten and registers again.
  ASSERT_OK(cluster->SignalWorker(frozen, SIGCONT));
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        return view.ok() && WorkerIds(*view).count(frozen) == 1;
      },
      absl::Seconds(20)))
      << "the thawed worker did not register again";
}

// 9. The only worker killed mid-job and none back within --worker_wait: the coordinator fails
// the job UNAVAILABLE, not final. The attempt had brought results, so the client resubmits
// the missing chunks at once, and a worker that joins then finishes the job, exactly.
TEST(ChaosTest, AllWorkersLostPastWorkerWait_ClientResubmitsMissingChunksAndFinishes) {
  auto cluster = StartCluster(1, {"--chunk_delay=20ms"},
                              {"--lease_timeout=1s", "--heartbeat_interval=200ms",
                               "--worker_wait=3s"});
  ASSERT_NE(cluster, nullptr);
  const pid_t victim = cluster->worker_pids()[0];
  absl::Mutex mu;
  std::vector<std::string> notices;
  absl::Notification interrupted;
  ClientOptions options;
  options.on_notice = [&](const std::string& notice) {
    absl::MutexLock lock(&mu);
    notices.push_back(notice);
    if (absl::StrContains(notice, "interrupted") && !interrupted.HasBeenNotified()) {
      interrupted.Notify();
    }
  };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client,
                       Client::Connect(cluster->address(), options));
  const int64_t n = 2'000'000;
  std::map<uint64_t, int> deliveries;
  absl::StatusOr<MapSummary> summary;
  std::thread job([&] {
    summary = client->MapStreaming(SquaresSpec(n, 100'000), /*want_values=*/false, nullptr,
                                   [&](const ChunkResult& chunk) {
                                     if (++deliveries[chunk.chunk_index] == 1 &&
                                         deliveries.size() == 5) {
                                       EXPECT_OK(cluster->SignalWorker(victim, SIGKILL));
                                     }
                                   });
  });
  // The resubmitted job waits --worker_wait for a worker: this one.
  const bool notified = interrupted.WaitForNotificationWithTimeout(absl::Seconds(30));
  EXPECT_TRUE(notified) << "the client never resubmitted";
  if (notified) {
    EXPECT_OK(cluster->AddWorker().status());
  }
  job.join();
  ASSERT_OK(summary);
  EXPECT_EQ(summary->sum, SumOfSquares(n));
  ASSERT_EQ(deliveries.size(), 20u);
  for (const auto& [index, count] : deliveries) EXPECT_EQ(count, 1) << "chunk " << index;
  absl::MutexLock lock(&mu);
  const std::string all = absl::StrJoin(notices, "\n");
  EXPECT_THAT(all, AllOf(HasSubstr("no worker offering 'square'"), HasSubstr("UNAVAILABLE"),
                         HasSubstr("resubmitting to the coordinator"),
                         HasSubstr("missing chunks")));
}

// The coordinator itself stopped (SIGSTOP) for longer than the workers' leases, as a paused VM
// or a debugger would stop it. When it resumes it extends their leases by its own silence
// instead of declaring every worker dead: the same workers, under the same ids, compute the
// next job, exactly.
TEST(ChaosTest, CoordinatorFrozenPastTheLeases_WorkersKeptAndNextJobExact) {
  auto cluster = StartCluster(2, {});  // 1 s leases
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, observer->GetClusterInfo(2));
  ASSERT_EQ(WorkerIds(before).size(), 2u);

  ASSERT_EQ(kill(cluster->coordinator_pid(), SIGSTOP), 0);
  // The fault itself: the coordinator stays stopped for 2.5 leases. Nothing is awaited here.
  absl::SleepFor(absl::Milliseconds(2500));
  ASSERT_EQ(kill(cluster->coordinator_pid(), SIGCONT), 0);

  const int64_t n = 100'000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 1'000), [](size_t) {});
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  EXPECT_EQ(run.summary->stats.workers_lost, 0);
  ASSERT_OK_AND_ASSIGN(ClusterInfo after, observer->GetClusterInfo());
  EXPECT_EQ(WorkerIds(after), WorkerIds(before)) << "logs: " << cluster->log_dir();
}

// ---- A registration cannot evict a live worker --------------------------------------------

// A registration forged at the wire level (as any holder of the shared worker certificate, or
// anyone on loopback without credentials, could send) claiming `address`.
grpc::Status ForgeRegistration(const std::string& coordinator, const std::string& address,
                               int slots = 1) {
  auto stub = v1::Coordinator::NewStub(CreateChannel(coordinator));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::RegisterWorkerRequest request;
  request.set_address(address);
  request.set_pid(4242);
  request.set_host("impostor");
  request.set_slots(slots);
  ::gpool::testing::SetSignature(request.add_functions(), "square");
  request.set_max_chunks_per_call(1);
  request.set_incarnation(0x1badcafe);
  v1::RegisterWorkerResponse response;
  return stub->RegisterWorker(&context, request, &response);
}

// The workers registered at `address`.
std::vector<WorkerInfo> WorkersAt(Client& client, const std::string& address) {
  std::vector<WorkerInfo> found;
  absl::StatusOr<ClusterInfo> info = client.GetClusterInfo();
  EXPECT_OK(info);
  if (!info.ok()) return found;
  for (const WorkerInfo& worker : info->workers) {
    if (worker.address == address) found.push_back(worker);
  }
  return found;
}

// An impostor re-registering the live workers' addresses again and again during a job: every
// attempt is refused ALREADY_EXISTS naming the worker, nobody is declared dead, and the job
// is exact without a single retry.
TEST(ChaosTest, ForgedRegistrationsForLiveWorkersAddresses_AlreadyExistsJobExactNobodyLost) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(2, {"--chunk_delay=5ms"}, {});
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, client->GetClusterInfo());
  ASSERT_EQ(before.workers.size(), 2u);
  std::vector<grpc::Status> forged;
  std::vector<std::string> targets;
  const int64_t n = 4000;
  ChaosRun run = RunMap(cluster->address(), SquaresSpec(n, 20), [&](size_t received) {
    // One forged registration per chunk received, for the first 40, alternating workers.
    if (received > 40 || forged.size() >= received) return;
    const WorkerInfo& target = before.workers[received % 2];
    targets.push_back(target.ref.worker_id);
    forged.push_back(ForgeRegistration(cluster->address(), target.address));
  });
  ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->sum, SumOfSquares(n));
  ExpectExactlyOnce(run, 200);
  EXPECT_EQ(run.summary->stats.workers_lost, 0);
  EXPECT_EQ(run.summary->stats.retries, 0);
  ASSERT_EQ(forged.size(), 40u);
  for (size_t i = 0; i < forged.size(); ++i) {
    EXPECT_EQ(forged[i].error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << forged[i].error_message();
    EXPECT_THAT(forged[i].error_message(), HasSubstr(targets[i]));
  }
  ASSERT_OK_AND_ASSIGN(ClusterInfo after, client->GetClusterInfo());
  ASSERT_EQ(after.workers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after.workers[i].ref.worker_id, before.workers[i].ref.worker_id);
    EXPECT_NE(after.workers[i].ref.pid, 4242);
  }
}

// A flood of malformed registrations: each is refused, but the coordinator's log holds only
// the first 10 of them (a minute's worth), not one line per attempt.
TEST(ChaosTest, FloodOfMalformedRegistrations_EachRefusedLogKeepsTheFirstTen) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, {}, {});
  ASSERT_NE(cluster, nullptr);
  for (int i = 0; i < 50; ++i) {
    const grpc::Status status = ForgeRegistration(
        cluster->address(), absl::StrCat("127.0.0.1:", testing::UnusedLoopbackPort()), /*slots=*/0);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  // Logged before each answer was sent.
  const std::string log = ReadFile(cluster->log_dir() + "/coordinator.log");
  size_t refusals = 0;
  for (size_t at = log.find("refused: INVALID_ARGUMENT"); at != std::string::npos;
       at = log.find("refused: INVALID_ARGUMENT", at + 1)) {
    ++refusals;
  }
  EXPECT_EQ(refusals, 10u) << log;
}

// A worker SIGKILLed and started again on the same port registers at once: the process now
// at the address disowns the old incarnation, so the old entry is replaced long before its
// lease (60 s here) could expire.
TEST(ChaosTest, WorkerKilledAndRestartedOnItsPort_ReRegistersAtOnce) {
  std::unique_ptr<LocalCluster> cluster =
      StartCluster(0, {}, {"--lease_timeout=60s", "--heartbeat_interval=10s"});
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  const std::string address = absl::StrCat("127.0.0.1:", ::gpool::testing::UnusedLoopbackPort());
  TempDir logs;
  auto start_worker = [&](int n) {
    return SpawnProcess({BinaryPath("gpool-worker"), "--coordinator=" + cluster->address(),
                         "--listen=" + address},
                        SpawnOptions{"", "/dev/null", absl::StrCat(logs.path(), "/w", n, ".log")});
  };
  ASSERT_OK_AND_ASSIGN(pid_t first, start_worker(1));
  ASSERT_TRUE(WaitUntil([&] { return WorkersAt(*client, address).size() == 1; },
                        absl::Seconds(20)));
  const WorkerInfo old = WorkersAt(*client, address).front();
  EXPECT_EQ(old.ref.pid, first);
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_OK(WaitForExit(first, absl::Seconds(10)).status());

  const absl::Time restarted = absl::Now();
  ASSERT_OK_AND_ASSIGN(pid_t second, start_worker(2));
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::vector<WorkerInfo> at = WorkersAt(*client, address);
        return at.size() == 1 && at.front().ref.pid == second;
      },
      absl::Seconds(20)))
      << ReadFile(absl::StrCat(logs.path(), "/w2.log"));
  EXPECT_LT(absl::Now() - restarted, absl::Seconds(10));
  const std::vector<WorkerInfo> now = WorkersAt(*client, address);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now.front().ref.worker_id, old.ref.worker_id);
  kill(second, SIGTERM);
  EXPECT_OK(WaitForExit(second, absl::Seconds(20)).status());
}

// Nothing answers at a killed worker's address: a registration claiming it replaces the old
// entry at once, without waiting for its lease (60 s here).
TEST(ChaosTest, RegistrationForAKilledWorkersAddress_ReplacesItAtOnce) {
  std::unique_ptr<LocalCluster> cluster =
      StartCluster(1, {}, {"--lease_timeout=60s", "--heartbeat_interval=10s"});
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, client->GetClusterInfo());
  ASSERT_EQ(before.workers.size(), 1u);
  const WorkerInfo victim = before.workers.front();
  const pid_t victim_pid = cluster->worker_pids().front();
  ASSERT_OK(cluster->SignalWorker(victim_pid, SIGKILL));  // reaps it too
  const absl::Time asked = absl::Now();
  grpc::Status status = ForgeRegistration(cluster->address(), victim.address);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // Connection refused, or at worst the 1 s deadline.
  EXPECT_LT(absl::Now() - asked, absl::Seconds(5));
  const std::vector<WorkerInfo> now = WorkersAt(*client, victim.address);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now.front().ref.pid, 4242);
}

}  // namespace
}  // namespace gpool
