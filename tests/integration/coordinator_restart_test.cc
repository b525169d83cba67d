// A coordinator restart is noticed at once (issue 21): the real binaries on loopback, the
// coordinator SIGKILLed and started again on the same port. The workers register with the new
// coordinator within about a heartbeat interval of its start, and a client mid-job resubmits
// its missing chunks as soon as the coordinator answers, then finishes exact; ClusterInfo and
// JobStarted show the coordinator's new incarnation.
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::WaitUntil;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr absl::Duration kHeartbeatInterval = absl::Milliseconds(200);
// How long the coordinator stays down. Long enough that gRPC's own reconnect backoff has
// grown to its cap (2 s): a worker or client that waited for it would find the new
// coordinator up to 2 s late, which the bounds below would catch. This is the scenario's
// outage, not a wait for anything: every check waits on its condition.
constexpr absl::Duration kOutage = absl::Seconds(3);
// A worker finds the new coordinator with its next beat (within an interval), then registers
// at once; the rest is room for a loaded machine.
const absl::Duration kReRegistrationBound = 2 * kHeartbeatInterval + absl::Milliseconds(600);
// A client looks at least every 250 ms whether the coordinator is back.
constexpr absl::Duration kResubmissionBound = absl::Seconds(1);

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

std::unique_ptr<LocalCluster> StartCluster(int workers, std::vector<std::string> worker_flags) {
  LocalClusterOptions options;
  options.workers = workers;
  const std::string gpool = BinaryPath("gpool");
  options.binary_dir = gpool.substr(0, gpool.rfind('/'));
  options.worker_flags = std::move(worker_flags);
  options.coordinator_flags = {
      absl::StrCat("--heartbeat_interval=", absl::FormatDuration(kHeartbeatInterval)),
      "--lease_timeout=2s"};
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

std::set<int64_t> WorkerPids(const ClusterInfo& info) {
  std::set<int64_t> pids;
  for (const WorkerInfo& worker : info.workers) pids.insert(worker.ref.pid);
  return pids;
}

TEST(CoordinatorRestartTest, KilledAndRestarted_WorkersRegisterAgainWithinTwoHeartbeats) {
  auto cluster = StartCluster(2, {});
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, observer->GetClusterInfo(2, absl::Seconds(10)));
  ASSERT_NE(before.coordinator_incarnation, 0u);
  const std::set<int64_t> workers = WorkerPids(before);
  ASSERT_EQ(workers.size(), 2u);

  ASSERT_OK(cluster->StopCoordinator(/*abruptly=*/true));
  absl::SleepFor(kOutage);
  ASSERT_OK(cluster->RestartCoordinator());  // returns once the coordinator listens
  const absl::Time restarted = absl::Now();

  absl::StatusOr<ClusterInfo> after;
  ASSERT_TRUE(WaitUntil(
      [&] {
        after = observer->GetClusterInfo();
        return after.ok() && WorkerPids(*after) == workers;
      },
      absl::Seconds(15), absl::Milliseconds(20)))
      << "the workers did not register with the new coordinator";
  const absl::Duration took = absl::Now() - restarted;
  EXPECT_LE(took, kReRegistrationBound) << "the workers registered again after " << took;
  EXPECT_NE(after->coordinator_incarnation, 0u);
  EXPECT_NE(after->coordinator_incarnation, before.coordinator_incarnation);
}

TEST(CoordinatorRestartTest, KilledMidJob_ClientResubmitsAtOnceAndFinishesExact) {
  // 200 chunks of 50 ms on 2 workers of 2 slots: about 2.5 s of work.
  auto cluster = StartCluster(2, {"--slots=2", "--chunk_delay=50ms"});
  ASSERT_NE(cluster, nullptr);
  ClientOptions options;
  absl::Mutex mu;
  std::vector<std::string> notices;
  absl::Time reconnected = absl::InfiniteFuture();
  options.on_notice = [&](const std::string& notice) {
    absl::MutexLock lock(&mu);
    notices.push_back(notice);
    if (absl::StartsWith(notice, "reconnected")) reconnected = absl::Now();
  };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client,
                       Client::Connect(cluster->address(), options));
  constexpr int64_t kElements = 2'000'000;
  MapSpec spec{"square", Input::Range(1, kElements)};
  spec.chunk_size = 10'000;
  uint64_t first_incarnation = 0;
  absl::Notification ten_chunks;
  int chunks = 0;
  absl::StatusOr<MapSummary> summary;
  std::thread job([&] {
    summary = client->MapStreaming(
        spec, /*want_values=*/false,
        [&](const JobStart& start) { first_incarnation = start.coordinator_incarnation; },
        [&](const ChunkResult&) {
          if (++chunks == 10) ten_chunks.Notify();
        });
  });
  const bool hit_mid_job = ten_chunks.WaitForNotificationWithTimeout(absl::Seconds(30));
  if (hit_mid_job) {
    EXPECT_OK(cluster->StopCoordinator(/*abruptly=*/true));
    absl::SleepFor(kOutage);
    EXPECT_OK(cluster->RestartCoordinator());
  }
  const absl::Time restarted = absl::Now();
  job.join();
  ASSERT_TRUE(hit_mid_job) << "the job made no progress";
  ASSERT_OK(summary);
  EXPECT_EQ(summary->sum, SumOfSquares(kElements));
  EXPECT_EQ(summary->count, static_cast<uint64_t>(kElements));
  EXPECT_NE(first_incarnation, 0u);
  EXPECT_NE(summary->job.coordinator_incarnation, 0u);
  EXPECT_NE(summary->job.coordinator_incarnation, first_incarnation);
  absl::MutexLock lock(&mu);
  EXPECT_LE(reconnected - restarted, kResubmissionBound);
  EXPECT_THAT(notices, Contains(HasSubstr("restarted (incarnation")));
}

}  // namespace
}  // namespace gpool
