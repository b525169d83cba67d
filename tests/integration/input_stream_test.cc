// Streamed inputs (Coordinator.MapStream) with the real binaries on loopback: a file of 10^7
// integers through the CLI with both sides' memory bounded, a generator through the library,
// a worker killed mid-stream, a coordinator lost mid-stream, and streams that break the
// protocol's shape.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/input_source.h"
#include "common/int128.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::RunCli;
using ::gpool::testing::StatusIs;
using ::gpool::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

// Writes 1..n, one per line, to `path`.
void WriteIntegers(const std::string& path, int64_t n) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  char line[32];
  for (int64_t x = 1; x <= n; ++x) {
    const int length = std::snprintf(line, sizeof(line), "%lld\n", static_cast<long long>(x));
    ASSERT_EQ(std::fwrite(line, 1, static_cast<size_t>(length), file),
              static_cast<size_t>(length));
  }
  ASSERT_EQ(std::fclose(file), 0);
}

// The peak resident memory of `pid` (VmHWM), in KiB; -1 if unreadable.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    long long kib = 0;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kib) == 1) return kib;
  }
  return -1;
}

// The peak resident memory of the largest child this process has waited for, in KiB.
int64_t ChildrenPeakRssKib() {
  rusage usage = {};
  getrusage(RUSAGE_CHILDREN, &usage);
  return usage.ru_maxrss;
}

class InputStreamTest : public testing::LocalClusterTest {};

TEST_F(InputStreamTest, CliInputFile_TenMillionIntegers_ExactSumWithBoundedMemory) {
  StartCluster(2);
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  const int64_t n = 10'000'000;  // 78 MB of text, 80 MB as int64
  WriteIntegers(path, n);
  const int64_t coordinator_before = PeakRssKib(cluster_->coordinator_pid());
  testing::CliRun run = RunCli(WithCoordinator({"map", "square", "--input", path}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("The sum of the square of the 10000000 given "
                                              "integers is ",
                                              FormatInt128(SumOfSquares(n)), "\n")));
  // The CLI never holds the input: its peak is that of any small job (the values alone would
  // be 80 MB).
  const int64_t client_peak = ChildrenPeakRssKib();
  if (testing::kResidentMemoryMeasuresGpool) {
    EXPECT_LT(client_peak, 60 * 1024) << "client peak RSS " << client_peak << " KiB";
  }
  // The coordinator holds at most 17 segments of 2^20 values (136 MiB) per stream; two slots
  // let 4 run at once, 40 MiB.
  const int64_t coordinator_peak = PeakRssKib(cluster_->coordinator_pid());
  if (testing::kResidentMemoryMeasuresGpool) {
    EXPECT_LT(coordinator_peak - coordinator_before, 100 * 1024)
        << "coordinator peak RSS " << coordinator_peak << " KiB, from " << coordinator_before;
  }
  std::fprintf(stderr, "client peak RSS %lld KiB, coordinator peak RSS %lld KiB (from %lld)\n",
               static_cast<long long>(client_peak), static_cast<long long>(coordinator_peak),
               static_cast<long long>(coordinator_before));
}

TEST_F(InputStreamTest, CliInputFilePrint_ValuesInInputOrder) {
  StartCluster(2);
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  {
    std::ofstream file(path);
    file << "3\n\n -7 \n+12\n";
  }
  testing::CliRun run =
      RunCli(WithCoordinator({"map", "square", "--input", path, "--print", "--chunksize=1"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("9\n49\n144\nThe sum of the square of the 3 given integers is 202\n"));
}

TEST_F(InputStreamTest, CliInputFileBadLine_ExitTwoNamingTheLine) {
  StartCluster(1);
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  {
    std::ofstream file(path);
    file << "1\n2\nthree\n";
  }
  testing::CliRun run = RunCli(WithCoordinator({"map", "square", "--input", path}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("line 3"), HasSubstr("'three' is not an integer")));
}

TEST_F(InputStreamTest, CliEmptyInputFile_ExitTwoNamingTheFile) {
  StartCluster(1);
  TempDir dir;
  const std::string path = dir.path() + "/empty.txt";
  { std::ofstream file(path); }
  testing::CliRun run = RunCli(WithCoordinator({"map", "square", "--input", path}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr(path + " holds no values"));
}

TEST_F(InputStreamTest, CliInputWithTrace_ExitTwoWithHint) {
  StartCluster(1);
  testing::CliRun run =
      RunCli(WithCoordinator({"map", "square", "--input", "/dev/null", "--trace"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("drop --trace"));
}

TEST_F(InputStreamTest, ClientGenerator_ValuesOutOfOrderArePlacedByPosition) {
  StartCluster(2);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  const int64_t n = 300'000;
  int64_t next = 1;
  std::unique_ptr<InputSource> source =
      GeneratorSource([&](size_t max, std::vector<int64_t>& batch) {
        for (size_t i = 0; i < max && next <= n; ++i) batch.push_back(next++);
        return absl::OkStatus();
      });
  std::vector<int64_t> values(n);
  MapStreamSpec spec;
  spec.function = "square";
  spec.chunk_size = 1000;
  absl::StatusOr<MapSummary> summary = client->MapStream(
      spec, *source, /*want_values=*/true, nullptr, [&](const ChunkResult& chunk) {
        for (size_t i = 0; i < chunk.values.size(); ++i) {
          values[chunk.first_element + i] = chunk.values.int64s()[i];
        }
      });
  ASSERT_OK(summary.status());
  EXPECT_EQ(summary->sum, SumOfSquares(n));
  EXPECT_EQ(summary->job.total_elements, static_cast<uint64_t>(n));
  EXPECT_EQ(summary->job.num_chunks, 300u);
  for (int64_t x = 1; x <= n; ++x) ASSERT_EQ(values[x - 1], x * x) << "value of " << x;
}

TEST_F(InputStreamTest, WorkerKilledMidStream_SumStillExact) {
  StartCluster(3, {"--chunk_delay=20ms"}, {"--lease_timeout=1s", "--heartbeat_interval=200ms"});
  const pid_t victim = cluster_->worker_pids()[1];
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  const int64_t n = 3'000'000;
  std::vector<int64_t> input(n);
  for (int64_t x = 1; x <= n; ++x) input[x - 1] = x;
  std::unique_ptr<InputSource> source = VectorSource(std::move(input));
  MapStreamSpec spec;
  spec.function = "square";
  spec.chunk_size = 20'000;
  int received = 0;
  absl::StatusOr<MapSummary> summary =
      client->MapStream(spec, *source, /*want_values=*/false, nullptr, [&](const ChunkResult&) {
        if (++received == 10) {
          EXPECT_OK(cluster_->SignalWorker(victim, SIGKILL));
        }
      });
  ASSERT_OK(summary.status());
  EXPECT_EQ(summary->sum, SumOfSquares(n));
  EXPECT_EQ(received, 150);  // each chunk once
  EXPECT_GE(summary->stats.workers_lost, 1);
}

TEST_F(InputStreamTest, CoordinatorLostMidStream_FileResubmittedExact) {
  StartCluster(2, {"--chunk_delay=20ms"});
  std::vector<std::string> notices;
  ClientOptions options;
  options.on_notice = [&](const std::string& notice) { notices.push_back(notice); };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client,
                       Client::Connect(cluster_->address(), options));
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  const int64_t n = 1'000'000;
  WriteIntegers(path, n);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InputSource> source, OpenValueFile(path));
  MapStreamSpec spec;
  spec.function = "square";
  spec.chunk_size = 10'000;
  int received = 0;
  absl::StatusOr<MapSummary> summary =
      client->MapStream(spec, *source, /*want_values=*/false, nullptr, [&](const ChunkResult&) {
        if (++received == 5) {
          EXPECT_OK(cluster_->StopCoordinator(/*abruptly=*/true));
          EXPECT_OK(cluster_->RestartCoordinator());
        }
      });
  ASSERT_OK(summary.status());
  EXPECT_EQ(summary->sum, SumOfSquares(n));
  EXPECT_EQ(received, 100);  // each chunk once, across both streams
  EXPECT_THAT(notices, ::testing::Contains(HasSubstr("streaming " + path + " again")));
}

TEST_F(InputStreamTest, CoordinatorLostMidStream_GeneratorFailsUnavailable) {
  StartCluster(2, {"--chunk_delay=20ms"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  int64_t next = 1;
  std::unique_ptr<InputSource> source =
      GeneratorSource([&](size_t max, std::vector<int64_t>& batch) {
        for (size_t i = 0; i < max && next <= 1'000'000; ++i) batch.push_back(next++);
        return absl::OkStatus();
      });
  MapStreamSpec spec;
  spec.function = "square";
  spec.chunk_size = 10'000;
  int received = 0;
  absl::StatusOr<MapSummary> summary =
      client->MapStream(spec, *source, /*want_values=*/false, nullptr, [&](const ChunkResult&) {
        if (++received == 5) {
          EXPECT_OK(cluster_->StopCoordinator(/*abruptly=*/true));
          EXPECT_OK(cluster_->RestartCoordinator());
        }
      });
  EXPECT_THAT(summary.status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("cannot be sent again"), HasSubstr("a generator"))));
}

TEST_F(InputStreamTest, ClientKilledMidStream_SegmentsCancelledAndWorkersIdle) {
  StartCluster(2, {"--chunk_delay=50ms"});
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  WriteIntegers(path, 2'000'000);  // 200 chunks of 10,000: 5 s of work on 2 slots
  ASSERT_OK_AND_ASSIGN(
      pid_t cli, SpawnProcess({testing::BinaryPath("gpool"),
                               "--coordinator=" + cluster_->address(), "map", "square",
                               "--input", path, "--chunksize=10000"},
                              SpawnOptions{"", "/dev/null", "/dev/null"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> observer, Client::Connect(cluster_->address()));
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        return view.ok() && !view->jobs.empty() && view->jobs[0].chunks_done >= 2;
      },
      absl::Seconds(30)));
  kill(cli, SIGKILL);
  ASSERT_OK(WaitForExit(cli, absl::Seconds(10)));
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = observer->GetClusterInfo();
        if (!view.ok() || !view->jobs.empty()) return false;
        for (const WorkerInfo& worker : view->workers) {
          if (worker.chunks_in_flight != 0) return false;
        }
        return true;
      },
      absl::Seconds(5)))
      << "the coordinator kept the dead client's segments or its workers stayed busy";
}

// The protocol's shape, through the generated stub: what gpool's client never sends.
class MapStreamShapeTest : public testing::LocalClusterTest {
 protected:
  // Sends `messages` then half-closes; returns the call's status.
  grpc::Status Send(const std::vector<v1::MapStreamRequest>& messages) {
    auto channel = grpc::CreateChannel(cluster_->address(), grpc::InsecureChannelCredentials());
    auto stub = v1::Coordinator::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = stub->MapStream(&context);
    for (const v1::MapStreamRequest& message : messages) {
      if (!stream->Write(message)) break;
    }
    stream->WritesDone();
    v1::MapResponse response;
    while (stream->Read(&response)) {
    }
    return stream->Finish();
  }

  static v1::MapStreamRequest Header() {
    v1::MapStreamRequest message;
    message.mutable_header()->set_function("square");
    return message;
  }
  static v1::MapStreamRequest Values() {
    v1::MapStreamRequest message;
    message.mutable_values()->mutable_int64s()->add_values(3);
    return message;
  }
};

TEST_F(MapStreamShapeTest, ValuesBeforeHeader_IsInvalidArgument) {
  StartCluster(1);
  grpc::Status status = Send({Values(), Header()});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("before its header"));
}

TEST_F(MapStreamShapeTest, SecondHeader_IsInvalidArgument) {
  StartCluster(1);
  grpc::Status status = Send({Header(), Values(), Header()});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("second header"));
}

TEST_F(MapStreamShapeTest, NoValuesBeforeHalfClose_IsInvalidArgument) {
  StartCluster(1);
  grpc::Status status = Send({Header()});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("without values"));
}

TEST_F(MapStreamShapeTest, HeaderAndValues_StreamsMapsResponses) {
  StartCluster(1);
  auto channel = grpc::CreateChannel(cluster_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Coordinator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->MapStream(&context);
  ASSERT_TRUE(stream->Write(Header()));
  ASSERT_TRUE(stream->Write(Values()));
  ASSERT_TRUE(stream->WritesDone());
  v1::MapResponse response;
  bool started = false;
  int64_t total = -1;
  absl::int128 sum = 0;
  while (stream->Read(&response)) {
    if (response.has_started()) {
      started = true;
      EXPECT_EQ(response.started().total_elements(), 0);  // not known at the start
    }
    for (const v1::ChunkResult& chunk : response.results()) {
      sum += absl::MakeInt128(static_cast<int64_t>(chunk.summary().int64_summary().sum().high()),
                              chunk.summary().int64_summary().sum().low());
    }
    if (response.has_finished()) total = response.finished().total_elements();
  }
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(started);
  EXPECT_EQ(total, 1);
  EXPECT_EQ(sum, 9);
}

}  // namespace
}  // namespace gpool
