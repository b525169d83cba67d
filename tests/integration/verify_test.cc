// Integration test of --verify with the real binaries: a coordinator, three honest
// gpool-workers and gpool-worker-liar (tests/support/lying_worker_main.cc), whose "square" is
// wrong on every element yet consistent with itself. Under --verify 1 the CLI's sum is exact,
// the liar is quarantined and `gpool status` says so, and the statistics count mismatches.
#include <sys/types.h>

#include <memory>
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
using ::testing::Not;

constexpr char kBinDir[] = GPOOL_BIN_DIR;
constexpr char kLyingWorker[] = GPOOL_LYING_WORKER;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.workers = 3;
    options.binary_dir = kBinDir;
    options.coordinator_flags = {"--worker_wait=5s"};
    ASSERT_OK_AND_ASSIGN(cluster_, LocalCluster::Start(options));
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(cluster_->address()));
    absl::StatusOr<ExtraWorker> liar =
        StartExtraWorker(kLyingWorker, cluster_->address(), *client_);
    ASSERT_TRUE(liar.ok()) << liar.status() << "; logs in " << cluster_->log_dir();
    liar_ = *liar;
  }

  void TearDown() override {
    if (liar_.pid == 0) return;
    const absl::Status stopped = StopExtraWorker(liar_);
    EXPECT_TRUE(stopped.ok()) << "the liar: " << stopped;
  }

  std::vector<std::string> WithCoordinator(std::vector<std::string> args) {
    args.insert(args.begin(), "--coordinator=" + cluster_->address());
    return args;
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Client> client_;
  ExtraWorker liar_;
};

TEST_F(VerifyTest, CliMapVerifyOne_LiarOutvoted_SumExactLiarQuarantinedMismatchesCounted) {
  // 400 chunks of 10: the liar takes some of the first ones, and every one is verified.
  CliRun run = RunCli(WithCoordinator(
      {"map", "square", "1..4000", "--chunksize", "10", "--verify", "1", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Sum of squares of 1..4000: 4000*4001*8001/6.
  EXPECT_THAT(run.out, AllOf(HasSubstr("\"result\":\"21341334000\""),
                             HasSubstr("\"chunks_verified\":400"),
                             Not(HasSubstr("\"verification_mismatches\":0"))));
  CliRun status = RunCli(WithCoordinator({"status"}));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr(absl::StrCat("Worker ", liar_.worker_id, " is QUARANTINED")));
  CliRun json = RunCli(WithCoordinator({"status", "--json"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"quarantined\":true"));
}

TEST_F(VerifyTest, CliMapVerifyOnePrint_ValuesComparedEveryValueRight) {
  // Values travel in the replies (never shared memory for a verified chunk) and are compared.
  CliRun run = RunCli(WithCoordinator(
      {"map", "square", "1..400", "--chunksize", "10", "--verify", "1", "--print"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(HasSubstr("1\n4\n9\n16\n"), HasSubstr("\n160000\n"),
                             Not(HasSubstr("2\n5\n10\n17\n")), Not(HasSubstr("160001")),
                             HasSubstr("is 21413400\n")));
}

TEST_F(VerifyTest, CliMapVerifyZero_LiarUnchecked_WrongSumShowsWhatVerifyIsFor) {
  // Without --verify a consistent liar goes unseen: this is the threat --verify answers.
  CliRun run = RunCli(WithCoordinator({"map", "square", "1..4000", "--chunksize", "10",
                                       "--json", "--stats"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(Not(HasSubstr("\"result\":\"21341334000\"")),
                             HasSubstr("\"chunks_verified\":0")));
}

}  // namespace
}  // namespace gpool
