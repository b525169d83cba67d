// Integration tests of custom functions of other types than int64: the example worker of
// examples/custom_function/ registers `celsius` (double -> double) and `crc32` (bytes ->
// int64) with the one-line typed API, joins a real coordinator, and the real CLI maps them
// and reads their advertised types back.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "common/subprocess.h"
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
using ::gpool::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kBinDir[] = GPOOL_BIN_DIR;
constexpr char kCustomWorker[] = GPOOL_CUSTOM_WORKER;

// A coordinator with no plain workers, plus one gpool-worker-custom started here and
// registered before the test body runs: every chunk goes to it.
class CustomTypedFunctionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.workers = 0;
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

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Client> client_;
  ExtraWorker custom_;
};

TEST_F(CustomTypedFunctionTest, CliMapCelsiusDoubles_PrintsEachValueAndTheirSum) {
  CliRun run =
      RunCli(WithCoordinator({"map", "celsius", "--values", "32,212.5,-40", "--type", "double",
                              "--print"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("0.0\n100.27777777777777\n-40.0\n"
                                 "The sum of the celsius of the 3 given numbers is "
                                 "60.27777777777777\n"));
}

TEST_F(CustomTypedFunctionTest, CliMapCelsiusRange_SumIsCorrectlyRounded) {
  // Python's sum() of the 101 doubles says 1009.9999999999999; math.fsum, the exact sum
  // rounded once, says 1010.0.
  CliRun run = RunCli(WithCoordinator({"map", "celsius", "0..100", "--chunksize", "7"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("The sum of the celsius of the integers from 0 to 100 is "
                                 "1010.0\n"));
}

TEST_F(CustomTypedFunctionTest, CliMapCrc32Bytes_ReadsEachFileAndPrintsItsChecksum) {
  TempDir dir;
  // "123456789" is the CRC-32 check string: 0xCBF43926. An empty file's CRC-32 is 0.
  ASSERT_OK(WriteFileAtomically(dir.path() + "/check.bin", "123456789"));
  ASSERT_OK(WriteFileAtomically(dir.path() + "/empty.bin", ""));
  const std::string paths = dir.path() + "/paths.txt";
  ASSERT_OK(WriteFileAtomically(
      paths, dir.path() + "/check.bin\n" + dir.path() + "/empty.bin\n"));
  CliRun run =
      RunCli(WithCoordinator({"map", "crc32", "--input", paths, "--type", "bytes", "--print"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("3421780262\n0\n"
                                 "The sum of the crc32 of the 2 given bytes values is "
                                 "3421780262\n"));
}

TEST_F(CustomTypedFunctionTest, CliMapCrc32Strings_TakesTheirUtf8Bytes) {
  TempDir dir;
  const std::string lines = dir.path() + "/lines.txt";
  // "é" reaches crc32 as its two UTF-8 bytes C3 A9: Python's zlib.crc32("é".encode()).
  ASSERT_OK(WriteFileAtomically(lines, "123456789\n\xc3\xa9\n"));
  CliRun run =
      RunCli(WithCoordinator({"map", "crc32", "--input", lines, "--type", "string", "--print"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("3421780262\n235179326\nThe sum of the crc32 of the 2 given "));
  EXPECT_THAT(run.out, HasSubstr(" is 3656959588\n"));
}

TEST_F(CustomTypedFunctionTest, CliStatusJson_AdvertisesTheFunctionTypes) {
  CliRun run = RunCli(WithCoordinator({"status", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, AllOf(HasSubstr("\"celsius(double) -> double\""),
                             HasSubstr("\"crc32(bytes) -> int64\""),
                             HasSubstr("\"triple(int64) -> int64\""),
                             HasSubstr("\"sha256(bytes) -> bytes\"")));
}

}  // namespace
}  // namespace gpool
