// Integration tests: the real gpool-coordinator and gpool-worker binaries run as processes on
// loopback ephemeral ports, and the real gpool CLI (or the generated stub, for wire-level
// checks) talks to them.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/client.h"
#include "client/health.h"
#include "client/local_cluster.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/transport.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
#include "tests/support/wire_signature.h"

namespace gpool {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::gpool::testing::BinaryPath;
using ::gpool::testing::CliRun;
using ::gpool::testing::IsAlive;
using ::gpool::testing::ParseTrace;
using ::gpool::testing::ReadFile;
using ::gpool::testing::RunCli;
using ::gpool::testing::TempDir;
using ::gpool::testing::UnusedLoopbackPort;

constexpr char kBinDir[] = GPOOL_BIN_DIR;

using ClusterTest = gpool::testing::LocalClusterTest;

// ---- The seed job and its variants ------------------------------------------------------

TEST_F(ClusterTest, SeedJob_TwoWorkers_Sums41679167500) {
  StartCluster(2);
  CliRun run = RunCli(WithCoordinator({"map", "square", "1..5000"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "Number of cores available equals 2\n"
            "The sum of the square of the first 5000 integers is 41679167500\n");
}

TEST_F(ClusterTest, Trace_TwoWorkersChunkSizeTwo_EachElementOnceByTheTwoWorkerPids) {
  StartCluster(2);
  CliRun run = RunCli(WithCoordinator(
      {"map", "square", "1..10", "--processes", "2", "--chunksize", "2", "--trace"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto pids_by_value = ParseTrace(run.out);
  ASSERT_EQ(pids_by_value.size(), 10u) << run.out;
  std::set<int64_t> pids;
  for (int64_t x = 1; x <= 10; ++x) {
    ASSERT_EQ(pids_by_value.count(x), 1u) << "element " << x << " missing\n" << run.out;
    ASSERT_EQ(pids_by_value.at(x).size(), 1u) << "element " << x << " traced twice";
    pids.insert(pids_by_value.at(x)[0]);
  }
  const std::vector<pid_t>& workers = cluster_->worker_pids();
  EXPECT_EQ(pids, std::set<int64_t>(workers.begin(), workers.end()));
  EXPECT_THAT(run.out, AllOf(StartsWith("Number of cores available equals 2\n"),
                             HasSubstr("\nThe sum of the square of the first 10 integers is 385\n")));
}

// One-element chunks travel many to a call (RunChunks); every element must still be computed
// exactly once, by both workers. With --max_chunks_per_call=1 the workers take one chunk per
// call, and with 3 at most three, and the answer is the same. A worker refuses a call with
// more chunks than its max (FAILED_PRECONDITION, counted as that worker's fault), so these
// also check, through the workers' fault counts, that the coordinator never sends more.
class OneElementChunksTest : public ClusterTest,
                             public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(OneElementChunksTest, EachElementOnceAcrossBothWorkers) {
  StartCluster(2, GetParam());
  CliRun run = RunCli(WithCoordinator({"map", "square", "1..3000", "--chunksize", "1", "--trace"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto pids_by_value = ParseTrace(run.out);
  ASSERT_EQ(pids_by_value.size(), 3000u);
  std::set<int64_t> pids;
  for (int64_t x = 1; x <= 3000; ++x) {
    ASSERT_EQ(pids_by_value.count(x), 1u) << "element " << x << " missing";
    ASSERT_EQ(pids_by_value.at(x).size(), 1u) << "element " << x << " traced twice";
    pids.insert(pids_by_value.at(x)[0]);
  }
  const std::vector<pid_t>& workers = cluster_->worker_pids();
  EXPECT_EQ(pids, std::set<int64_t>(workers.begin(), workers.end()));
  EXPECT_THAT(run.out, HasSubstr("The sum of the square of the first 3000 integers is 9004500500\n"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 2u);
  for (const WorkerInfo& worker : view.workers) {
    EXPECT_EQ(worker.faults, 0) << "worker " << worker.ref.pid << " refused a call";
  }
}

INSTANTIATE_TEST_SUITE_P(BatchedAndSingle, OneElementChunksTest,
                         ::testing::Values(std::vector<std::string>{},
                                           std::vector<std::string>{"--max_chunks_per_call=1"},
                                           std::vector<std::string>{"--max_chunks_per_call=3"}));

TEST_F(ClusterTest, ProcessesOne_UsesOneWorkerOnly) {
  StartCluster(2);
  CliRun run = RunCli(
      WithCoordinator({"map", "square", "1..40", "--processes", "1", "--chunksize", "1", "--trace"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::set<int64_t> pids;
  for (const auto& [value, value_pids] : ParseTrace(run.out)) {
    pids.insert(value_pids.begin(), value_pids.end());
  }
  EXPECT_EQ(pids.size(), 1u) << run.out;
  EXPECT_THAT(run.out, HasSubstr("The sum of the square of the first 40 integers is 22140\n"));
}

TEST_F(ClusterTest, ExplicitValues_SumsGivenIntegers) {
  StartCluster(2);
  CliRun run = RunCli(WithCoordinator({"map", "square", "--values", "3,-7,12"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("The sum of the square of the 3 given integers is 202\n"));
}

TEST_F(ClusterTest, InputFileAndStdin_PrintValuesInInputOrder) {
  StartCluster(2);
  TempDir dir;
  const std::string path = dir.path() + "/values.txt";
  std::ofstream(path) << "5\n-2\n\n9\n1\n";
  CliRun from_file =
      RunCli(WithCoordinator({"map", "square", "--input", path, "--chunksize", "1", "--print"}));
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out,
            "Number of cores available equals 2\n25\n4\n81\n1\n"
            "The sum of the square of the 4 given integers is 111\n");
  CliRun from_stdin = RunCli(WithCoordinator({"map", "square", "--input", "-"}), path);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_THAT(from_stdin.out, HasSubstr("The sum of the square of the 4 given integers is 111\n"));
}

TEST_F(ClusterTest, NegativeRange_IsParsedAsRangeNotFlag) {
  StartCluster(1);
  CliRun run = RunCli(WithCoordinator({"map", "square", "-5..5"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("The sum of the square of the integers from -5 to 5 is 110\n"));
}

TEST_F(ClusterTest, SumBeyondSixtyFourBits_IsPrintedExactly) {
  StartCluster(2);
  // Two squares near 2^63 each: the sum needs 65 bits.
  CliRun run = RunCli(WithCoordinator({"map", "square", "3037000498..3037000499"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("is 18446744055778497005\n"));
}

TEST_F(ClusterTest, Info_ListsCoresAndEachWorkerPid) {
  StartCluster(2);
  CliRun run = RunCli(WithCoordinator({"info"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("Number of cores available equals 2\n"));
  for (pid_t pid : cluster_->worker_pids()) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("  ", pid, "  ")));
  }
  EXPECT_THAT(run.out, HasSubstr("cube,identity,length,sha256,sqrt,square,upper"));
}

TEST(LocalDefaultClusterTest, NoCoordinatorNamed_RunsOnPrivateClusterWithOneWorkerPerCore) {
  unsetenv("GPOOL_COORDINATOR");
  CliRun run = RunCli({"map", "square", "1..5000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(run.out, absl::StrCat("Number of cores available equals ", cores,
                                  "\nThe sum of the square of the first 5000 integers is "
                                  "41679167500\n"));
}

TEST(LocalDefaultClusterTest, ProcessesFlag_SetsLocalWorkerCount) {
  unsetenv("GPOOL_COORDINATOR");
  CliRun run = RunCli({"map", "square", "1..10", "--processes", "3", "--chunksize", "1", "--trace"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("Number of cores available equals 3\n"));
  std::set<int64_t> pids;
  for (const auto& [value, value_pids] : ParseTrace(run.out)) {
    pids.insert(value_pids.begin(), value_pids.end());
  }
  EXPECT_GE(pids.size(), 2u);  // three workers, ten one-element chunks
  EXPECT_LE(pids.size(), 3u);
}

TEST(LocalDefaultClusterTest, Trace_PrivateClusterOfTwo_EachElementOnceByTwoWorkerPids) {
  unsetenv("GPOOL_COORDINATOR");
  CliRun run = RunCli({"map", "square", "1..10", "--processes", "2", "--chunksize", "2", "--trace"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto pids_by_value = ParseTrace(run.out);
  ASSERT_EQ(pids_by_value.size(), 10u) << run.out;
  std::set<int64_t> pids;
  for (int64_t x = 1; x <= 10; ++x) {
    ASSERT_EQ(pids_by_value.count(x), 1u) << "element " << x << " missing\n" << run.out;
    ASSERT_EQ(pids_by_value.at(x).size(), 1u) << "element " << x << " traced twice";
    pids.insert(pids_by_value.at(x)[0]);
  }
  // Two worker processes, forked from the CLI but not the CLI itself (the test cannot know
  // the CLI's PID here; ForkedLocalClusterTest checks the parentage).
  EXPECT_EQ(pids.size(), 2u) << run.out;
  EXPECT_THAT(run.out, HasSubstr("\nThe sum of the square of the first 10 integers is 385\n"));
}

// The direct children of process `pid`, from /proc/PID/task/*/children (each thread lists
// the children it forked, or that were re-parented to it).
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::ifstream file(task.path() / "children");
    for (pid_t child; file >> child;) children.push_back(child);
  }
  return children;
}

// The private cluster's daemons are processes of their own, forked from the CLI, and die with
// it: a CLI killed outright (no destructor, no cleanup) leaves no daemon behind.
TEST(LocalDefaultClusterTest, CliKilled_ItsDaemonsDieWithIt) {
  unsetenv("GPOOL_COORDINATOR");
  // The CLI's orphans are re-parented to this process, so it can reap them and see how they
  // ended.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TempDir dir;
  const std::string out = dir.path() + "/status.out";
  SpawnOptions spawn;
  spawn.stdout_path = out;
  spawn.stderr_path = dir.path() + "/status.err";
  // status --watch runs on its private cluster until it is stopped.
  ASSERT_OK_AND_ASSIGN(pid_t cli, SpawnProcess({BinaryPath("gpool"), "status", "--watch",
                                                "--processes=2", "--watch_interval=100ms"},
                                               spawn));
  ASSERT_TRUE(gpool::testing::WaitUntil(
      [&] { return ReadFile(out).find(": 2 workers") != std::string::npos; },
      absl::Seconds(30)))
      << ReadFile(out) << ReadFile(spawn.stderr_path);
  const std::vector<pid_t> daemons = ChildrenOf(cli);
  EXPECT_EQ(daemons.size(), 3u) << "a coordinator and two workers";

  ASSERT_EQ(kill(cli, SIGKILL), 0);
  ASSERT_OK_AND_ASSIGN(int cli_exit, WaitForExit(cli, absl::Seconds(30)));
  EXPECT_EQ(cli_exit, 128 + SIGKILL);
  for (pid_t daemon : daemons) {
    absl::StatusOr<int> exit_code = WaitForExit(daemon, absl::Seconds(30));
    ASSERT_TRUE(exit_code.ok()) << "process " << daemon << " outlived the CLI: "
                                << exit_code.status();
    EXPECT_EQ(*exit_code, 128 + SIGKILL) << "process " << daemon;
  }
}

// The CLI ends its private cluster with SIGKILL and exits without waiting for the daemons to
// die: they must be gone all the same, not left running.
TEST(LocalDefaultClusterTest, JobDone_CliExitsAndItsDaemonsDieWithSigkill) {
  unsetenv("GPOOL_COORDINATOR");
  // The CLI's children outlive it, if only for a moment: they are re-parented to this
  // process, which can then reap them and see how they ended.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ASSERT_TRUE(ChildrenOf(getpid()).empty());
  TempDir dir;
  SpawnOptions spawn;
  spawn.stdout_path = dir.path() + "/map.out";
  spawn.stderr_path = dir.path() + "/map.err";
  ASSERT_OK_AND_ASSIGN(pid_t cli, SpawnProcess({BinaryPath("gpool"), "map", "square", "1..5000",
                                                "--processes=2"},
                                               spawn));
  ASSERT_OK_AND_ASSIGN(int cli_exit, WaitForExit(cli, absl::Seconds(60)));
  EXPECT_EQ(cli_exit, 0) << ReadFile(spawn.stderr_path);
  EXPECT_THAT(ReadFile(spawn.stdout_path),
              HasSubstr("The sum of the square of the first 5000 integers is 41679167500\n"));
  // Whatever the CLI did not reap itself (today: all three daemons) is ours now.
  const std::vector<pid_t> orphans = ChildrenOf(getpid());
  EXPECT_LE(orphans.size(), 3u) << "a coordinator and two workers";
  for (pid_t daemon : orphans) {
    absl::StatusOr<int> exit_code = WaitForExit(daemon, absl::Seconds(30));
    ASSERT_TRUE(exit_code.ok()) << "process " << daemon << " outlived the CLI: "
                                << exit_code.status();
    EXPECT_EQ(*exit_code, 128 + SIGKILL) << "process " << daemon;
  }
}

// ---- Bad input: clear errors, specific exit codes, daemons keep serving -----------------

struct BadInputCase {
  std::vector<std::string> args;
  int exit_code;
  std::string code_name;
  std::string message_part;
};

TEST_F(ClusterTest, BadInputs_ClearErrorsAndDaemonsKeepServing) {
  StartCluster(2);
  const std::vector<BadInputCase> cases = {
      {{"map", "square", "5..1"}, 2, "INVALID_ARGUMENT", "5..1"},
      {{"map", "square", "a..b"}, 2, "INVALID_ARGUMENT", "'a' is not an integer"},
      {{"map", "square", ".."}, 2, "INVALID_ARGUMENT", "empty"},
      {{"map", "square", "1..10", "--chunksize", "0"}, 2, "INVALID_ARGUMENT", "--chunksize"},
      {{"map", "square", "1..10", "--processes", "0"}, 2, "INVALID_ARGUMENT", "--processes"},
      {{"map", "square", "3037000490..3037000500"}, 2, "OUT_OF_RANGE", "square(3037000500)"},
      {{"map", "square", "--values", "1,x"}, 2, "INVALID_ARGUMENT", "'x' is not an integer"},
      // The value given, not what it would wrap to.
      {{"map", "square", "--values", "9223372036854775807"}, 2, "OUT_OF_RANGE",
       "square(9223372036854775807)"},
      {{"map", "square", "--values", "9223372036854775808"}, 2, "OUT_OF_RANGE",
       "'9223372036854775808' does not fit"},
      {{"map", "square", "1..10", "--chunksize", "-5"}, 2, "INVALID_ARGUMENT", "got -5"},
      {{"map", "square"}, 2, "INVALID_ARGUMENT", "exactly one way"},
  };
  for (const BadInputCase& bad : cases) {
    CliRun run = RunCli(WithCoordinator(bad.args));
    const std::string label = absl::StrJoin(bad.args, " ");
    EXPECT_EQ(run.exit_code, bad.exit_code) << label << "\n" << run.err;
    EXPECT_THAT(run.err, AllOf(StartsWith("gpool: error: "), HasSubstr(bad.message_part),
                               HasSubstr("(" + bad.code_name + ")")))
        << label;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << label << ": " << run.err;
  }
  EXPECT_TRUE(IsAlive(cluster_->coordinator_pid()));
  for (pid_t pid : cluster_->worker_pids()) EXPECT_TRUE(IsAlive(pid));
  CliRun seed = RunCli(WithCoordinator({"map", "square", "1..5000"}));
  EXPECT_EQ(seed.exit_code, 0) << seed.err;
  EXPECT_THAT(seed.out, HasSubstr("41679167500"));
}

// A function no worker offers: the job waits --worker_wait for one, then fails UNAVAILABLE
// (exit 3), naming the function and what the workers do offer.
TEST_F(ClusterTest, MapFunctionNobodyOffers_UnavailableAfterWorkerWaitListingOffered) {
  StartCluster(1, {}, {"--worker_wait=1s"});
  CliRun run = RunCli(WithCoordinator({"map", "sqare", "1..10"}));
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr("no worker offering 'sqare' was available for 1s"),
                             HasSubstr("the registered workers offer: cube, identity, length, "
                                       "sha256, sqrt, square, upper"),
                             HasSubstr("(UNAVAILABLE)")));
}

// A private local cluster offers the built-in functions only: another name fails at once.
TEST(LocalCliTest, MapUnknownFunction_NotFoundAtOnceListingBuiltins) {
  CliRun run = RunCli({"map", "sqare", "1..10", "--processes=1"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr("unknown function 'sqare'"),
                             HasSubstr("available: cube, identity, length, sha256, sqrt, "
                                       "square, upper"),
                             HasSubstr("(NOT_FOUND)")));
}

TEST(UnreachableCoordinatorTest, FailsFastNamingAddressWithExitCodeThree) {
  const std::string address = absl::StrCat("127.0.0.1:", UnusedLoopbackPort());
  CliRun run =
      RunCli({"--coordinator", address, "--connect_timeout=1s", "map", "square", "1..10"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr(address), HasSubstr("check that it is running"),
                             HasSubstr("(UNAVAILABLE)")));
}

TEST(NoWorkersTest, JobWaitsWorkerWaitThenFailsUnavailable) {
  LocalClusterOptions options;
  options.workers = 0;
  options.binary_dir = kBinDir;
  options.coordinator_flags = {"--worker_wait=1s"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster, LocalCluster::Start(options));
  CliRun run = RunCli({"--coordinator", cluster->address(), "map", "square", "1..10"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, AllOf(HasSubstr("no worker offering 'square' was available for 1s"),
                             HasSubstr("gpool-worker --coordinator"), HasSubstr("(UNAVAILABLE)")));
  EXPECT_TRUE(IsAlive(cluster->coordinator_pid()));
}

// The wire contract, for clients in other languages: bad requests sent straight through the
// generated stub get the most specific status.
TEST_F(ClusterTest, WireLevelBadRequests_GetSpecificStatusCodes) {
  StartCluster(1, {}, {"--worker_wait=1s"});
  auto stub = v1::Coordinator::NewStub(CreateChannel(cluster_->address()));
  bool final = false;  // of the last call
  auto call = [&](const v1::MapRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->Map(&context, request);
    v1::MapResponse response;
    while (reader->Read(&response)) {
    }
    grpc::Status status = reader->Finish();
    final = context.GetServerTrailingMetadata().count("gpool-final") > 0;
    return status;
  };
  v1::MapRequest request;
  request.set_function("square");
  EXPECT_EQ(call(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // no input

  request.mutable_input()->mutable_range()->set_start(5);
  request.mutable_input()->mutable_range()->set_end(1);
  grpc::Status reversed = call(request);
  EXPECT_EQ(reversed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(reversed.error_message(), HasSubstr("5..1"));

  request.mutable_input()->mutable_range()->set_start(1);
  request.mutable_input()->mutable_range()->set_end(10);
  request.set_chunk_size(-3);
  EXPECT_EQ(call(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_chunk_size(0);
  request.set_max_workers(-1);
  EXPECT_EQ(call(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_max_workers(0);

  request.mutable_input()->mutable_list()->mutable_int64s();  // an empty list
  EXPECT_EQ(call(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  request.mutable_input()->mutable_list()->mutable_int64s()->add_values(3037000500);
  grpc::Status overflow = call(request);
  EXPECT_EQ(overflow.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(overflow.error_message(), HasSubstr("square(3037000500)"));

  EXPECT_TRUE(final);

  request.set_result_mode(static_cast<v1::ResultMode>(7));
  grpc::Status bad_mode = call(request);
  EXPECT_EQ(bad_mode.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad_mode.error_message(), HasSubstr("result_mode is 7"));
  EXPECT_TRUE(final);
  request.set_result_mode(v1::RESULT_MODE_UNSPECIFIED);

  // No worker offers it: retryable, so not final.
  request.set_function("nope");
  grpc::Status unknown = call(request);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(unknown.error_message(),
              HasSubstr("the registered workers offer: cube, identity, length, sha256, sqrt, "
                        "square, upper"));
  EXPECT_FALSE(final);
}

// The worker-facing wire contract, for workers in other languages: a registration must name
// how many chunks a call may carry (1 to 16384), and a worker takes calls of 1 to that many.
TEST_F(ClusterTest, WireLevelWorkerCalls_ChunkCountOutsideTheRange_InvalidArgument) {
  StartCluster(1, {"--max_chunks_per_call=2"});
  auto coordinator = v1::Coordinator::NewStub(CreateChannel(cluster_->address()));
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(30); };
  auto register_with = [&](int max_chunks_per_call) {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    v1::RegisterWorkerRequest request;
    request.set_address("127.0.0.1:1");
    request.set_pid(42);
    request.set_host("test-host");
    request.set_slots(1);
    ::gpool::testing::SetSignature(request.add_functions(), "square");
    request.set_max_chunks_per_call(max_chunks_per_call);
    v1::RegisterWorkerResponse response;
    return coordinator->RegisterWorker(&context, request, &response);
  };
  grpc::Status unset = register_with(0);
  EXPECT_EQ(unset.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unset.error_message(), HasSubstr("max_chunks_per_call"));
  EXPECT_EQ(register_with(16385).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ClusterInfo info;
  {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    ASSERT_TRUE(coordinator->GetClusterInfo(&context, v1::GetClusterInfoRequest(), &info).ok());
  }
  ASSERT_EQ(info.workers_size(), 1);  // the refused registrations added nobody
  auto worker = v1::Worker::NewStub(CreateChannel(info.workers(0).address()));
  auto run_chunks = [&](int chunks, v1::RunChunksResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    v1::RunChunksRequest request;
    request.set_job_id("job-test");
    request.set_function("square");
    request.set_result_mode(v1::RESULT_MODE_SUM);
    for (int i = 0; i < chunks; ++i) {
      v1::ChunkTask* chunk = request.add_chunks();
      chunk->set_chunk_index(i);
      chunk->set_attempt(1);
      chunk->mutable_input()->mutable_range()->set_start(i + 1);
      chunk->mutable_input()->mutable_range()->set_end(i + 1);
    }
    return worker->RunChunks(&context, request, response);
  };
  v1::RunChunksResponse response;
  grpc::Status none = run_chunks(0, &response);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  grpc::Status too_many = run_chunks(3, &response);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(too_many.error_message(), HasSubstr("1 to 2 chunks"));
  ASSERT_TRUE(run_chunks(2, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).summary().int64_summary().sum().low(), 1u);
  EXPECT_EQ(response.results(1).summary().int64_summary().sum().low(), 4u);
}

// A worker answers in one message of at most 4 MiB, so it refuses a values call whose values
// could not fit, before computing anything. gpool's coordinator never asks for more (a call
// holds at most 2^18 values), but any caller that does gets INVALID_ARGUMENT naming the limit.
TEST_F(ClusterTest, WireLevelRunChunks_ValuesCallOverTheLimit_InvalidArgumentNamingIt) {
  StartCluster(1);
  auto coordinator = v1::Coordinator::NewStub(CreateChannel(cluster_->address()));
  v1::ClusterInfo info;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ASSERT_TRUE(coordinator->GetClusterInfo(&context, v1::GetClusterInfoRequest(), &info).ok());
  }
  ASSERT_EQ(info.workers_size(), 1);
  auto worker = v1::Worker::NewStub(CreateChannel(info.workers(0).address()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::RunChunksRequest request;
  request.set_job_id("job-test");
  request.set_function("square");
  request.set_result_mode(v1::RESULT_MODE_VALUES);
  v1::ChunkTask* chunk = request.add_chunks();
  chunk->set_chunk_index(0);
  chunk->set_attempt(1);
  // 600,000 values are 4.8 MB of sfixed64.
  chunk->mutable_input()->mutable_range()->set_start(1);
  chunk->mutable_input()->mutable_range()->set_end(600'000);
  v1::RunChunksResponse response;
  const grpc::Status status = worker->RunChunks(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("at most 262144 elements"));
}

// SIGTERM while a client streams a job: the client gets what was queued for it, then
// UNAVAILABLE (not final: it may resubmit elsewhere), and the coordinator exits without
// waiting for the open call.
TEST_F(ClusterTest, CoordinatorSigterm_OpenMapCallEndsUnavailableAndCoordinatorExits) {
  // A one-chunk result window: the job pauses as soon as the client stops reading.
  StartCluster(1, {}, {"--result_window_values=262144"});
  auto stub = v1::Coordinator::NewStub(CreateChannel(cluster_->address()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::MapRequest request;
  request.set_function("square");
  request.mutable_input()->mutable_range()->set_start(1);
  request.mutable_input()->mutable_range()->set_end(2000000000);  // 16 GB of values
  request.set_result_mode(v1::RESULT_MODE_VALUES);
  auto reader = stub->Map(&context, request);
  v1::MapResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(response.has_started());

  // The job cannot end by itself meanwhile: it is far too large, and paused.
  ASSERT_EQ(kill(cluster_->coordinator_pid(), SIGTERM), 0);
  bool finished = false;
  while (reader->Read(&response)) finished |= response.has_finished();
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_EQ(context.GetServerTrailingMetadata().count("gpool-final"), 0u);
  EXPECT_FALSE(finished);
  EXPECT_OK(cluster_->StopCoordinator(/*abruptly=*/false));
}

// ---- Health -----------------------------------------------------------------------------

TEST_F(ClusterTest, Health_CoordinatorAndRegisteredWorkerServe_UnregisteredWorkerDoesNot) {
  StartCluster(1);
  CliRun coordinator = RunCli({"health", cluster_->address()});
  EXPECT_EQ(coordinator.exit_code, 0) << coordinator.err;
  EXPECT_EQ(coordinator.out, "SERVING\n");

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  CliRun worker = RunCli({"health", view.workers[0].address});
  EXPECT_EQ(worker.exit_code, 0) << worker.err;
  EXPECT_EQ(worker.out, "SERVING\n");

  // A worker whose coordinator does not answer is alive but not ready.
  TempDir dir;
  const std::string port_file = dir.path() + "/port";
  ASSERT_OK_AND_ASSIGN(
      pid_t lonely,
      SpawnProcess({absl::StrCat(kBinDir, "/gpool-worker"),
                    absl::StrCat("--coordinator=127.0.0.1:", UnusedLoopbackPort()),
                    "--listen=127.0.0.1:0", "--port_file=" + port_file, "--log_level=error"}));
  absl::StatusOr<std::string> port = WaitForFileLine(port_file, absl::Seconds(20), lonely);
  ASSERT_TRUE(port.ok()) << port.status();
  CliRun unregistered = RunCli({"health", "127.0.0.1:" + *port});
  EXPECT_EQ(unregistered.exit_code, 3);
  EXPECT_EQ(unregistered.out, "NOT_SERVING\n");
  absl::StatusOr<int> exit_code = StopProcess(lonely, absl::Seconds(10));
  ASSERT_OK(exit_code);
  EXPECT_EQ(*exit_code, 0);  // SIGTERM is a clean shutdown
}

TEST_F(ClusterTest, Health_ServiceNamesReportAsTheServer_UnknownNameIsNotFound) {
  StartCluster(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  const std::string& worker = view.workers[0].address;

  for (const std::string service : {"", "gpool.v1.Coordinator"}) {
    absl::StatusOr<std::string> status = CheckHealth(cluster_->address(), absl::Seconds(5), {},
                                                     service);
    ASSERT_OK(status) << "service '" << service << "'";
    EXPECT_EQ(*status, "SERVING") << "service '" << service << "'";
  }
  for (const std::string service : {"", "gpool.v1.Worker"}) {
    absl::StatusOr<std::string> status = CheckHealth(worker, absl::Seconds(5), {}, service);
    ASSERT_OK(status) << "service '" << service << "'";
    EXPECT_EQ(*status, "SERVING") << "service '" << service << "'";
  }
  // Each daemon names only the service it serves.
  EXPECT_EQ(CheckHealth(cluster_->address(), absl::Seconds(5), {}, "gpool.v1.Worker")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CheckHealth(worker, absl::Seconds(5), {}, "gpool.v1.Coordinator").status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::string> unknown =
      CheckHealth(cluster_->address(), absl::Seconds(5), {}, "no.such.Service");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("no.such.Service"));
}

TEST_F(ClusterTest, SecondDaemonOnTakenPort_ExitsOneNamingTheAddress) {
  StartCluster(1);
  // Without SO_REUSEPORT off, both would listen and split the clients between them.
  for (const char* binary : {"gpool-coordinator", "gpool-worker"}) {
    std::vector<std::string> argv = {absl::StrCat(kBinDir, "/", binary),
                                     "--listen=" + cluster_->address(), "--log_level=error"};
    if (std::string(binary) == "gpool-worker") {
      argv.push_back("--coordinator=" + cluster_->address());
    }
    CliRun second = testing::RunProgram(argv, "", absl::Seconds(20));
    EXPECT_EQ(second.exit_code, 1) << binary << ": " << second.err;
    EXPECT_THAT(second.err, HasSubstr("cannot listen on " + cluster_->address())) << binary;
  }
}

// ---- The client library -----------------------------------------------------------------

TEST_F(ClusterTest, ClientLibrary_BlockingMapReturnsValuesInOrder) {
  StartCluster(2);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  MapSpec spec;
  spec.function = "square";
  spec.input = Input::Range(1, 1000);
  spec.chunk_size = 7;
  ASSERT_OK_AND_ASSIGN(MapResult result, client->Map(spec));
  ASSERT_EQ(result.values.size(), 1000u);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(result.values.int64s()[i], (i + 1) * (i + 1));
  EXPECT_EQ(result.summary.sum, absl::int128(1000) * 1001 * 2001 / 6);
  EXPECT_EQ(result.summary.job.num_chunks, 143u);
  EXPECT_EQ(result.summary.chunks_by_worker.size(), 2u);
}

TEST_F(ClusterTest, ClientLibrary_StreamingDeliversEveryChunkOnce) {
  StartCluster(2);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  MapSpec spec;
  spec.function = "square";
  spec.input = Input::Range(1, 1'000'000);
  spec.chunk_size = 10'000;
  std::set<uint64_t> indices;
  ASSERT_OK_AND_ASSIGN(MapSummary summary,
                       client->MapStreaming(spec, /*want_values=*/false, nullptr,
                                            [&](const ChunkResult& chunk) {
                                              EXPECT_TRUE(indices.insert(chunk.chunk_index).second);
                                              EXPECT_TRUE(chunk.values.empty());
                                            }));
  EXPECT_EQ(indices.size(), 100u);
  EXPECT_EQ(summary.sum, absl::int128(1'000'000) * 1'000'001 * 2'000'001 / 6);
}

}  // namespace
}  // namespace gpool
