// Integration tests of custom functions: the example worker of examples/custom_function/
// (gpool-worker-custom, the worker library plus `triple` and `is_odd`) joins a real
// coordinator, alone or beside a plain gpool-worker, and the real CLI and client library map
// its functions. The coordinator must send a chunk only to a worker that has its function.
#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/extra_worker.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::CliRun;
using ::gpool::testing::ExtraWorker;
using ::gpool::testing::RunCli;
using ::gpool::testing::StartExtraWorker;
using ::gpool::testing::StopExtraWorker;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kBinDir[] = GPOOL_BIN_DIR;
constexpr char kCustomWorker[] = GPOOL_CUSTOM_WORKER;

// A coordinator with `plain_workers` gpool-workers (LocalCluster), plus one
// gpool-worker-custom started here and registered before the test body runs.
class CustomFunctionTest : public ::testing::Test {
 protected:
  void StartCluster(int plain_workers) {
    LocalClusterOptions options;
    options.workers = plain_workers;
    options.binary_dir = kBinDir;
    options.coordinator_flags = {"--worker_wait=1s"};
    ASSERT_OK_AND_ASSIGN(cluster_, LocalCluster::Start(options));
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(cluster_->address()));
    absl::StatusOr<ExtraWorker> custom =
        StartExtraWorker(kCustomWorker, cluster_->address(), *client_);
    ASSERT_TRUE(custom.ok()) << custom.status() << "; logs in " << cluster_->log_dir();
    custom_ = *custom;
  }

  void TearDown() override {
    if (custom_.pid == 0) return;
    const absl::Status stopped = StopExtraWorker(custom_);
    EXPECT_TRUE(stopped.ok()) << "custom worker: " << stopped;
  }

  std::vector<std::string> WithCoordinator(std::vector<std::string> args) {
    args.insert(args.begin(), "--coordinator=" + cluster_->address());
    return args;
  }

  // Pids of the workers that computed the job's chunks.
  static std::set<int64_t> ChunkPids(const MapSummary& summary) {
    std::set<int64_t> pids;
    for (const auto& [worker, chunks] : summary.chunks_by_worker) pids.insert(worker.pid);
    return pids;
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Client> client_;
  ExtraWorker custom_;
};

TEST_F(CustomFunctionTest, CliMapTriple_SumsExactly165) {
  StartCluster(0);
  CliRun run = RunCli(WithCoordinator({"map", "triple", "1..10"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("The sum of the triple of the first 10 integers is 165\n"));
}

TEST_F(CustomFunctionTest, CliInfo_ListsTheCustomFunctions) {
  StartCluster(0);
  CliRun run = RunCli(WithCoordinator({"info"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(HasSubstr(absl::StrCat("  ", custom_.pid, "  ")),
                             HasSubstr("celsius,crc32,cube,identity,is_odd,length,sha256,sqrt,square,"
                                       "triple,upper")));
}

TEST_F(CustomFunctionTest, ChunkwiseIsOddOverTrillionElements_IsExact) {
  StartCluster(0);
  // 10^12 elements: only a closed form per chunk makes this instant. From -5: -5, -3, -1.
  CliRun run = RunCli(WithCoordinator({"map", "is_odd", "-5..1000000000000"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(" is 500000000003\n"));
  CliRun values = RunCli(WithCoordinator({"map", "is_odd", "--values", "3,4,-5", "--print"}));
  EXPECT_EQ(values.exit_code, 0) << values.err;
  EXPECT_THAT(values.out,
              HasSubstr("\n1\n0\n1\nThe sum of the is_odd of the 3 given integers is 2\n"));
}

TEST_F(CustomFunctionTest, MixedCluster_TripleOnlyOnCustomWorker_SquareOnBoth) {
  StartCluster(1);
  ASSERT_EQ(cluster_->worker_pids().size(), 1u);
  const int64_t plain_pid = cluster_->worker_pids()[0];

  MapSpec triple;
  triple.function = "triple";
  triple.input = Input::Range(1, 200);
  triple.chunk_size = 1;
  ASSERT_OK_AND_ASSIGN(MapResult tripled, client_->Map(triple));
  EXPECT_EQ(tripled.summary.sum, 3 * 200 * 201 / 2);
  EXPECT_EQ(ChunkPids(tripled.summary), std::set<int64_t>({custom_.pid}));

  // Both workers have square: the job spreads over both, and never anywhere else.
  MapSpec square = triple;
  square.function = "square";
  ASSERT_OK_AND_ASSIGN(MapResult squared, client_->Map(square));
  EXPECT_EQ(squared.summary.sum, 200 * 201 * 401 / 6);
  EXPECT_EQ(ChunkPids(squared.summary), std::set<int64_t>({custom_.pid, plain_pid}));
}

TEST_F(CustomFunctionTest, FunctionNobodyHasOrOverflow_FailsWithClearError) {
  StartCluster(1);
  // Nobody offers it: UNAVAILABLE once --worker_wait (1 s here) passed, listing what is.
  CliRun unknown = RunCli(WithCoordinator({"map", "quadruple", "1..10"}));
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  EXPECT_THAT(unknown.err,
              AllOf(HasSubstr("'quadruple'"),
                    HasSubstr("the registered workers offer: celsius, crc32, cube, identity, "
                              "is_odd, length, sha256, sqrt, square, triple, upper"),
                    HasSubstr("(UNAVAILABLE)")));
  // Only the last element overflows, so whichever chunk fails first, the error names it.
  CliRun overflow =
      RunCli(WithCoordinator({"map", "triple", "3074457345618258600..3074457345618258603"}));
  EXPECT_EQ(overflow.exit_code, 2) << overflow.err;
  EXPECT_THAT(overflow.err,
              AllOf(HasSubstr("triple(3074457345618258603)"), HasSubstr("(OUT_OF_RANGE)")));
}

}  // namespace
}  // namespace gpool
