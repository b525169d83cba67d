// Integration tests of values delivered through the client's shared-memory buffer (proto
// SharedValues): the real coordinator and workers on loopback, on the client's host, and the
// real client library. Every test checks each value, not only the sum: a value read from the
// wrong place of the buffer (or a stale one) must not go unnoticed.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/int128.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::testing::HasSubstr;
using ::testing::Not;

using SharedValuesTest = gpool::testing::LocalClusterTest;

// Above ClientOptions::shared_values_min_elements, so the client offers a buffer.
constexpr int64_t kElements = 200'000;

absl::int128 SumOfSquares(int64_t first, int64_t last) {
  absl::int128 sum = 0;
  for (int64_t x = first; x <= last; ++x) sum += absl::int128(x) * x;
  return sum;
}

// Every value of `result` is the square of its input, first .. last in order.
void ExpectSquares(const MapResult& result, int64_t first, int64_t last) {
  ASSERT_EQ(result.values.size(), static_cast<size_t>(last - first + 1));
  for (int64_t x = first; x <= last; ++x) {
    ASSERT_EQ(result.values.int64s()[x - first], x * x) << "value of " << x;
  }
  EXPECT_EQ(result.summary.sum, SumOfSquares(first, last));
}

std::unique_ptr<Client> ConnectOrDie(const std::string& address, ClientOptions options = {}) {
  options.map_timeout = absl::Seconds(60);  // a stalled job fails the test instead of hanging
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(address, options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST_F(SharedValuesTest, SameHost_EveryValueComesThroughSharedMemory) {
  StartCluster(2);
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(MapResult result,
                       client->Map(MapSpec{"square", Input::Range(1, kElements)}));
  ExpectSquares(result, 1, kElements);
  EXPECT_EQ(result.summary.values_shared, static_cast<uint64_t>(kElements));
  EXPECT_EQ(result.summary.chunks_by_worker.size(), 2u);
}

TEST_F(SharedValuesTest, ClientOptionOff_ValuesComeOverGrpc) {
  StartCluster(2);
  ClientOptions options;
  options.shared_values = false;
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address(), options);
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(MapResult result,
                       client->Map(MapSpec{"square", Input::Range(1, kElements)}));
  ExpectSquares(result, 1, kElements);
  EXPECT_EQ(result.summary.values_shared, 0u);
}

TEST_F(SharedValuesTest, SmallJob_ValuesComeOverGrpc) {
  StartCluster(2);
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(MapResult result, client->Map(MapSpec{"square", Input::Range(1, 5000)}));
  ExpectSquares(result, 1, 5000);
  EXPECT_EQ(result.summary.values_shared, 0u);
}

TEST_F(SharedValuesTest, WorkersWithSharedValuesOff_SendValuesOverGrpc) {
  StartCluster(2, {"--shared_values=false"});
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(MapResult result,
                       client->Map(MapSpec{"square", Input::Range(1, kElements)}));
  ExpectSquares(result, 1, kElements);
  EXPECT_EQ(result.summary.values_shared, 0u);
}

TEST_F(SharedValuesTest, OneWorkerEachWay_ChunksMixBothPathsExactly) {
  StartCluster(1);
  ASSERT_OK_AND_ASSIGN(
      const pid_t wire_worker,
      SpawnProcess({BinaryPath("gpool-worker"), "--coordinator=" + cluster_->address(),
                    "--listen=127.0.0.1:0", "--shared_values=false", "--log_level=warning"}));
  absl::Cleanup stop_worker = [wire_worker] {
    StopProcess(wire_worker, absl::Seconds(10)).IgnoreError();
  };
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->GetClusterInfo(/*min_workers=*/2, absl::Seconds(30)).status());
  MapSpec spec{"square", Input::Range(-kElements, kElements)};
  spec.chunk_size = 1000;  // many chunks, so both workers take some
  absl::StatusOr<MapResult> result = client->Map(spec);
  ASSERT_OK(result.status());
  ExpectSquares(*result, -kElements, kElements);
  ASSERT_EQ(result->summary.chunks_by_worker.size(), 2u);
  // The chunks of the worker that writes to shared memory came that way, the others did not.
  EXPECT_GT(result->summary.values_shared, 0u);
  EXPECT_LT(result->summary.values_shared, static_cast<uint64_t>(2 * kElements + 1));
}

TEST_F(SharedValuesTest, ReusedBuffer_LaterJobsOfOtherSizesAreExact) {
  StartCluster(2);
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  // Bigger, smaller (over values the first job left in the buffer), then bigger than both.
  const std::vector<std::pair<int64_t, int64_t>> jobs = {
      {1, kElements}, {-70'000, 69'999}, {5, 3 * kElements}};
  for (const auto& [first, last] : jobs) {
    ASSERT_OK_AND_ASSIGN(MapResult result,
                         client->Map(MapSpec{"square", Input::Range(first, last)}));
    ExpectSquares(result, first, last);
    EXPECT_EQ(result.summary.values_shared, static_cast<uint64_t>(last - first + 1));
  }
}

TEST_F(SharedValuesTest, BufferTooBigToKeep_StreamingCallbackGetsEveryValue) {
  StartCluster(2);
  ClientOptions options;
  options.shared_values_keep_bytes = 0;  // every chunk's memory is released as it is taken
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address(), options);
  ASSERT_NE(client, nullptr);
  MapSpec spec{"square", Input::Range(1, kElements)};
  spec.chunk_size = 3000;  // chunk edges inside pages: releasing one must not touch the next
  std::set<uint64_t> chunks;
  uint64_t shared_chunks = 0;
  ASSERT_OK_AND_ASSIGN(
      MapSummary summary,
      client->MapStreaming(spec, /*want_values=*/true, nullptr, [&](const ChunkResult& chunk) {
        EXPECT_TRUE(chunks.insert(chunk.chunk_index).second);
        shared_chunks += chunk.values_shared ? 1 : 0;
        ASSERT_EQ(chunk.values.size(), chunk.element_count);
        for (uint64_t i = 0; i < chunk.element_count; ++i) {
          const int64_t x = static_cast<int64_t>(chunk.first_element + i) + 1;
          ASSERT_EQ(chunk.values.int64s()[i], x * x) << "value of " << x;
        }
      }));
  EXPECT_EQ(chunks.size(), summary.job.num_chunks);
  EXPECT_EQ(shared_chunks, summary.job.num_chunks);
  EXPECT_EQ(summary.values_shared, static_cast<uint64_t>(kElements));
  EXPECT_EQ(summary.sum, SumOfSquares(1, kElements));
}

// Values in the client's buffer count in the coordinator's result window like values it
// relays; if they were never released from it, a job bigger than the window would stall.
TEST_F(SharedValuesTest, JobBiggerThanResultWindow_Completes) {
  StartCluster(2, {}, {"--result_window_values=4096"});
  std::unique_ptr<Client> client = ConnectOrDie(cluster_->address());
  ASSERT_NE(client, nullptr);
  MapSpec spec{"square", Input::Range(1, kElements)};
  spec.chunk_size = 1024;
  ASSERT_OK_AND_ASSIGN(MapResult result, client->Map(spec));
  ExpectSquares(result, 1, kElements);
  EXPECT_EQ(result.summary.values_shared, static_cast<uint64_t>(kElements));
}

// The CLI, as a user runs it: --print through shared memory, --stats saying so, and the flag
// that turns it off.
TEST_F(SharedValuesTest, Cli_PrintStatsAndFlagOff) {
  StartCluster(2);
  constexpr int64_t kCliElements = 70'000;
  const std::string range = absl::StrCat("1..", kCliElements);
  for (const bool shared : {true, false}) {
    SCOPED_TRACE(shared ? "shared values on" : "shared values off");
    gpool::testing::CliRun run = gpool::testing::RunCli(
        WithCoordinator({"map", "square", range, "--print", "--stats", "--quiet",
                         absl::StrCat("--shared_values=", shared ? "true" : "false")}));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const std::vector<std::string> lines = absl::StrSplit(run.out, '\n', absl::SkipEmpty());
    // The cores line, one value per element in input order, then the sum.
    ASSERT_EQ(lines.size(), static_cast<size_t>(kCliElements + 2));
    for (int64_t x = 1; x <= kCliElements; ++x) {
      ASSERT_EQ(lines[x], absl::StrCat(x * x)) << "line of " << x;
    }
    EXPECT_EQ(lines.back(), absl::StrCat("The sum of the square of the first ", kCliElements,
                                         " integers is ",
                                         FormatInt128(SumOfSquares(1, kCliElements))));
    if (shared) {
      EXPECT_THAT(run.err, HasSubstr(absl::StrCat(kCliElements, " values through shared memory")));
    } else {
      EXPECT_THAT(run.err, Not(HasSubstr("shared memory")));
    }
  }
}

}  // namespace
}  // namespace gpool
