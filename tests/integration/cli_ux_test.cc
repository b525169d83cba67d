// Integration tests of the CLI's operator and script features against real binaries on
// loopback: `gpool status` (table, --json, --watch_count) on a cluster in a known state,
// `--reduce`, `map --json`, and the progress bar (absent when stderr is a file, present on a
// pseudo-terminal or with --progress=always). JSON is parsed with nlohmann/json.
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::CliRun;
using ::gpool::testing::ReadFile;
using ::gpool::testing::RunCli;
using ::gpool::testing::RunProgram;
using ::gpool::testing::TempDir;
using ::gpool::testing::WaitUntil;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Json = nlohmann::json;

Json Parse(const std::string& text) {
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::vector<std::string> Words(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

// Stops a process this test started when the test ends, however it ends.
class ProcessGuard {
 public:
  explicit ProcessGuard(pid_t pid) : pid_(pid) {}
  ~ProcessGuard() { Stop(); }
  void Stop() {
    if (pid_ > 0) StopProcess(pid_, absl::Seconds(10)).IgnoreError();
    pid_ = 0;
  }
  // The process was reaped elsewhere; its PID may be reused.
  void Release() { pid_ = 0; }

 private:
  pid_t pid_;
};

class CliUxTest : public gpool::testing::LocalClusterTest {
 protected:
  std::set<int64_t> WorkerPids() const {
    return std::set<int64_t>(cluster_->worker_pids().begin(), cluster_->worker_pids().end());
  }
};

// ---- gpool status -----------------------------------------------------------------------

TEST_F(CliUxTest, Status_TwoWorkersAndRunningJob_TableAndJsonShowPidsAndProgress) {
  StartCluster(2, {"--chunk_delay=100ms"});
  // 400 chunks of 100 ms on two one-slot workers: about 20 s of work, far longer than the
  // checks take; the job's client is stopped as soon as they are done.
  TempDir dir;
  SpawnOptions spawn;
  spawn.stdout_path = dir.path() + "/map.out";
  spawn.stderr_path = dir.path() + "/map.err";
  ASSERT_OK_AND_ASSIGN(pid_t map_pid,
                       SpawnProcess({BinaryPath("gpool"), "--coordinator=" + cluster_->address(),
                                     "map", "square", "1..1000000", "--chunksize=2500"},
                                    spawn));
  ProcessGuard map_guard(map_pid);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster_->address()));
  JobInfo job;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = client->GetClusterInfo();
        if (!view.ok() || view->jobs.size() != 1 || view->jobs[0].chunks_done == 0) return false;
        job = view->jobs[0];
        return true;
      },
      absl::Seconds(30)))
      << "the job never showed progress; its stderr: " << ReadFile(spawn.stderr_path);

  const CliRun table = RunCli(WithCoordinator({"status"}));
  const CliRun json_run = RunCli(WithCoordinator({"status", "--json"}));
  map_guard.Stop();

  // The table: a summary line, one row per worker with its PID, one row for the job.
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, StartsWith(absl::StrCat("Coordinator ", cluster_->address(),
                                                 ": 2 workers, 2 slots, 1 running job\n")));
  std::set<int64_t> pids_in_table;
  bool job_row_found = false;
  for (const std::string& line : Lines(table.out)) {
    const std::vector<std::string> words = Words(line);
    // id host pid slots functions in-flight done faults age ago
    if (words.size() == 10 && words[9] == "ago") {
      int64_t pid = 0;
      ASSERT_TRUE(absl::SimpleAtoi(words[2], &pid)) << line;
      pids_in_table.insert(pid);
      EXPECT_EQ(words[3], "1") << line;
      EXPECT_THAT(words[4], HasSubstr("square")) << line;
      EXPECT_EQ(words[7], "0") << line;  // honest workers: no faults
    }
    if (!words.empty() && words[0] == job.job_id) {
      job_row_found = true;
      ASSERT_EQ(words.size(), 8u) << line;  // id function elements done/total chunks % age retries
      EXPECT_EQ(words[1], "square");
      EXPECT_EQ(words[2], "1000000");
      EXPECT_THAT(words[3], EndsWith("/400")) << line;
      EXPECT_THAT(words[3], Not(StartsWith("0/"))) << line;
      EXPECT_EQ(words[4], "chunks");
      EXPECT_THAT(words[5], EndsWith("%"));
      EXPECT_EQ(words[7], "0");  // no retries
    }
  }
  EXPECT_EQ(pids_in_table, WorkerPids()) << table.out;
  EXPECT_TRUE(job_row_found) << "no row for " << job.job_id << " in:\n" << table.out;

  // The same state as JSON.
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  ASSERT_EQ(Lines(json_run.out).size(), 1u) << json_run.out;
  const Json json = Parse(json_run.out);
  ASSERT_FALSE(json.is_discarded()) << json_run.out;
  EXPECT_EQ(json.at("coordinator"), cluster_->address());
  EXPECT_EQ(json.at("total_slots"), 2);
  std::set<int64_t> pids_in_json;
  int64_t in_flight = 0;
  for (const Json& worker : json.at("workers")) {
    pids_in_json.insert(worker.at("pid").get<int64_t>());
    EXPECT_EQ(worker.at("slots"), 1);
    EXPECT_THAT(worker.at("functions").get<std::vector<std::string>>(), Contains("square"));
    EXPECT_GE(worker.at("heartbeat_age_ms").get<int64_t>(), 0);
    EXPECT_EQ(worker.at("faults"), 0);
    // Two workers are far below the heartbeat budget: the default interval and lease.
    EXPECT_EQ(worker.at("heartbeat_interval_ms"), 500);
    EXPECT_EQ(worker.at("lease_timeout_ms"), 3000);
    in_flight += worker.at("chunks_in_flight").get<int64_t>();
  }
  EXPECT_EQ(pids_in_json, WorkerPids());
  EXPECT_GE(in_flight, 1);  // the job was running on them
  ASSERT_EQ(json.at("jobs").size(), 1u) << json_run.out;
  const Json& job_json = json.at("jobs")[0];
  EXPECT_EQ(job_json.at("id"), job.job_id);
  EXPECT_EQ(job_json.at("function"), "square");
  EXPECT_EQ(job_json.at("total_elements"), 1000000);
  EXPECT_EQ(job_json.at("num_chunks"), 400);
  EXPECT_GE(job_json.at("chunks_done").get<int64_t>(), static_cast<int64_t>(job.chunks_done));
  EXPECT_LT(job_json.at("chunks_done").get<int64_t>(), 400);
  EXPECT_EQ(job_json.at("stats").at("retries"), 0);
}

TEST_F(CliUxTest, Status_WatchCount_PrintsThatManyFramesWithoutScreenCodesToAFile) {
  StartCluster(1);
  const CliRun table =
      RunCli(WithCoordinator({"status", "--watch_count=3", "--watch_interval=10ms"}));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  size_t frames = 0;
  for (const std::string& line : Lines(table.out)) {
    if (absl::StartsWith(line, "Coordinator ")) ++frames;
  }
  EXPECT_EQ(frames, 3u) << table.out;
  EXPECT_THAT(table.out, Not(HasSubstr("\033[")));  // stdout is a file: no clearing

  const CliRun json_run =
      RunCli(WithCoordinator({"status", "--json", "--watch", "--watch_count=2",
                              "--watch_interval=10ms"}));
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const std::vector<std::string> lines = Lines(json_run.out);
  ASSERT_EQ(lines.size(), 2u) << json_run.out;
  for (const std::string& line : lines) {
    const Json json = Parse(line);
    ASSERT_FALSE(json.is_discarded()) << line;
    EXPECT_EQ(json.at("workers").size(), 1u);
    EXPECT_EQ(json.at("jobs"), Json::array());
  }
}

TEST_F(CliUxTest, Status_WatchOnPseudoTerminal_ClearsTheScreenForEachFrame) {
  const std::string script = "/usr/bin/script";
  if (access(script.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << script << "; install it with: apt-get install bsdutils";
  StartCluster(1);
  const std::string command =
      absl::StrCat(BinaryPath("gpool"), " --coordinator=", cluster_->address(),
                   " status --watch_count=2 --watch_interval=10ms");
  const CliRun tty = RunProgram({script, "-qec", command, "/dev/null"}, "/dev/null");
  if (tty.exit_code != 0 && absl::StrContains(tty.out + tty.err, "pseudo-terminal")) {
    GTEST_SKIP() << "no pseudo-terminal available: " << tty.out << tty.err;
  }
  ASSERT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  size_t clears = 0;
  for (size_t at = tty.out.find("\033[H\033[2J"); at != std::string::npos;
       at = tty.out.find("\033[H\033[2J", at + 1)) {
    ++clears;
  }
  EXPECT_EQ(clears, 2u) << tty.out;
  EXPECT_THAT(tty.out, HasSubstr("1 worker, 1 slot, 0 running jobs"));
}

TEST_F(CliUxTest, Status_WatchInterrupted_ExitsCleanly) {
  StartCluster(1);
  TempDir dir;
  SpawnOptions spawn;
  spawn.stdout_path = dir.path() + "/status.out";
  spawn.stderr_path = dir.path() + "/status.err";
  ASSERT_OK_AND_ASSIGN(pid_t watcher,
                       SpawnProcess({BinaryPath("gpool"), "--coordinator=" + cluster_->address(),
                                     "status", "--watch", "--watch_interval=50ms"},
                                    spawn));
  ProcessGuard guard(watcher);
  // Two frames: the SIGINT handler is installed before the first.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string out = ReadFile(spawn.stdout_path);
        return out.find("Coordinator ") != out.rfind("Coordinator ");
      },
      absl::Seconds(20)));
  ASSERT_EQ(kill(watcher, SIGINT), 0);
  absl::StatusOr<int> exit_code = WaitForExit(watcher, absl::Seconds(10));
  ASSERT_OK(exit_code);
  guard.Release();
  EXPECT_EQ(*exit_code, 0) << ReadFile(spawn.stderr_path);
}

TEST_F(CliUxTest, Status_ExtraArgument_IsUsageError) {
  StartCluster(1);
  const CliRun run = RunCli(WithCoordinator({"status", "now"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("status takes no arguments"));
}

// ---- Message limit ---------------------------------------------------------------------

// A list too big for one 4 MiB request is streamed (--input always is): it maps, exactly.
TEST_F(CliUxTest, Map_InputFileOverTheMessageLimit_StreamsExactly) {
  StartCluster(1);
  TempDir dir;
  const std::string path = dir.path() + "/big.txt";
  {
    // 10^12 is 6 bytes as a zigzag varint: 6 MB of list, over one request's 4 MiB.
    std::ofstream file(path);
    for (int i = 0; i < 1'000'000; ++i) file << "1000000000000\n";
  }
  const CliRun run = RunCli(WithCoordinator({"map", "identity", "--input=" + path}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("The sum of the identity of the 1000000 given integers is "
                                 "1000000000000000000\n"));
}

// ---- --reduce ---------------------------------------------------------------------------

struct ReductionCase {
  std::vector<std::string> args;
  std::string line;
};

TEST_F(CliUxTest, Reduce_EachReduction_ExactThroughTheCli) {
  StartCluster(2);
  // Chunks of two elements, so every reduction combines partial results of several chunks
  // computed by both workers.
  const std::vector<ReductionCase> cases = {
      {{"map", "square", "1..10", "--chunksize=2"},
       "The sum of the square of the first 10 integers is 385"},
      {{"map", "square", "1..10", "--chunksize=2", "--reduce=sum"},
       "The sum of the square of the first 10 integers is 385"},
      {{"map", "square", "1..10", "--chunksize=2", "--reduce=min"},
       "The minimum of the square of the first 10 integers is 1"},
      {{"map", "square", "1..10", "--chunksize=2", "--reduce=max"},
       "The maximum of the square of the first 10 integers is 100"},
      {{"map", "square", "1..10", "--chunksize=2", "--reduce=count"},
       "The count of the square of the first 10 integers is 10"},
      {{"map", "square", "1..10", "--chunksize=2", "--reduce=mean"},
       "The mean of the square of the first 10 integers is 38.5"},
      {{"map", "identity", "--values=3,-7,12,-1", "--chunksize=2", "--reduce=sum"},
       "The sum of the identity of the 4 given integers is 7"},
      {{"map", "identity", "--values=3,-7,12,-1", "--chunksize=2", "--reduce=min"},
       "The minimum of the identity of the 4 given integers is -7"},
      {{"map", "identity", "--values=3,-7,12,-1", "--chunksize=2", "--reduce=max"},
       "The maximum of the identity of the 4 given integers is 12"},
      {{"map", "identity", "--values=3,-7,12,-1", "--chunksize=2", "--reduce=count"},
       "The count of the identity of the 4 given integers is 4"},
      {{"map", "identity", "--values=3,-7,12,-1", "--chunksize=2", "--reduce=mean"},
       "The mean of the identity of the 4 given integers is 1.75"},
      {{"map", "identity", "--values=3,-7,12", "--chunksize=1", "--reduce=mean"},
       "The mean of the identity of the 3 given integers is 8/3 (about 2.666667)"},
      {{"map", "cube", "--values=-3,2", "--chunksize=1", "--reduce=mean"},
       "The mean of the cube of the 2 given integers is -9.5"},
      {{"map", "cube", "--values=-3,2", "--chunksize=1", "--reduce=min"},
       "The minimum of the cube of the 2 given integers is -27"},
      {{"map", "square", "-5..5", "--reduce=min"},
       "The minimum of the square of the integers from -5 to 5 is 0"},
  };
  for (const ReductionCase& c : cases) {
    const CliRun run = RunCli(WithCoordinator(c.args));
    const std::string label = absl::StrJoin(c.args, " ");
    EXPECT_EQ(run.exit_code, 0) << label << "\n" << run.err;
    EXPECT_EQ(run.out, absl::StrCat("Number of cores available equals 2\n", c.line, "\n"))
        << label;
  }
}

TEST_F(CliUxTest, Reduce_WithPrint_PrintsValuesThenTheReduction) {
  StartCluster(2);
  const CliRun run = RunCli(
      WithCoordinator({"map", "identity", "--values=3,-7,12", "--print", "--reduce=max"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "Number of cores available equals 2\n3\n-7\n12\n"
            "The maximum of the identity of the 3 given integers is 12\n");
}

TEST_F(CliUxTest, Reduce_Unknown_IsUsageErrorListingChoices) {
  StartCluster(1);
  const CliRun run = RunCli(WithCoordinator({"map", "square", "1..10", "--reduce=median"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("unknown reduction 'median'"),
                             HasSubstr("sum, min, max, count or mean"),
                             HasSubstr("(INVALID_ARGUMENT)")));
  EXPECT_EQ(run.out, "");
}

// ---- map --json -------------------------------------------------------------------------

TEST_F(CliUxTest, MapJson_SeedJob_OneObjectAndNothingElseOnStdout) {
  StartCluster(2);
  const CliRun run = RunCli(WithCoordinator({"map", "square", "1..5000", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Lines(run.out).size(), 1u) << run.out;  // no cores line
  const Json json = Parse(run.out);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  EXPECT_EQ(json.at("function"), "square");
  EXPECT_EQ(json.at("input"), Json({{"range", {"1", "5000"}}}));
  EXPECT_EQ(json.at("reduce"), "sum");
  EXPECT_EQ(json.at("result"), "41679167500");
  EXPECT_EQ(json.at("count"), 5000);
  EXPECT_THAT(json.at("job_id").get<std::string>(), StartsWith("job-"));
  EXPECT_EQ(json.at("cluster_slots"), 2);
  int64_t chunks = 0;
  std::set<int64_t> pids;
  for (const Json& worker : json.at("workers")) {
    chunks += worker.at("chunks").get<int64_t>();
    pids.insert(worker.at("pid").get<int64_t>());
  }
  EXPECT_EQ(chunks, json.at("chunks").get<int64_t>());
  for (int64_t pid : pids) EXPECT_THAT(WorkerPids(), Contains(pid));
  EXPECT_EQ(json.at("stats").at("retries"), 0);
  EXPECT_EQ(json.at("stats").at("workers_lost"), 0);
  EXPECT_FALSE(json.contains("values"));
}

TEST_F(CliUxTest, MapJson_MeanWithPrint_ExactFractionAndValuesAsStrings) {
  StartCluster(2);
  const CliRun run = RunCli(WithCoordinator(
      {"map", "identity", "--values=3,-7,12", "--reduce=mean", "--print", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Json json = Parse(run.out);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  EXPECT_EQ(json.at("input"), Json({{"count", 3}}));
  EXPECT_EQ(json.at("result"), "8/3");
  EXPECT_EQ(json.at("decimal"), "2.666667");
  EXPECT_EQ(json.at("decimal_is_exact"), false);
  EXPECT_EQ(json.at("values"), Json::array({"3", "-7", "12"}));
}

TEST_F(CliUxTest, MapJson_SumBeyondSixtyFourBits_ExactString) {
  StartCluster(2);
  const CliRun run =
      RunCli(WithCoordinator({"map", "square", "3037000498..3037000499", "--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Parse(run.out).at("result"), "18446744055778497005");
}

TEST_F(CliUxTest, MapJson_WithTrace_IsUsageError) {
  StartCluster(1);
  const CliRun run = RunCli(WithCoordinator({"map", "square", "1..10", "--json", "--trace"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--trace cannot be combined with --json"));
  EXPECT_EQ(run.out, "");
}

TEST_F(CliUxTest, MapJson_JobFails_ErrorOnStderrNothingOnStdout) {
  StartCluster(1);
  const CliRun run =
      RunCli(WithCoordinator({"map", "square", "3037000490..3037000500", "--json"}));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("(OUT_OF_RANGE)"));
  EXPECT_EQ(run.out, "");
}

// ---- The progress bar -------------------------------------------------------------------

// 20 chunks of 20 ms on two workers: long enough for a few redraws.
const std::vector<std::string> kSlowChunks = {"--chunk_delay=20ms"};
constexpr char kSeedSum2000[] = "The sum of the square of the first 2000 integers is 2668667000";

TEST_F(CliUxTest, Progress_StderrIsAFile_NoBar) {
  StartCluster(2, kSlowChunks);
  const CliRun run = RunCli(WithCoordinator({"map", "square", "1..2000", "--chunksize=100"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");  // no "\r", no bar, nothing
  EXPECT_EQ(run.out, absl::StrCat("Number of cores available equals 2\n", kSeedSum2000, "\n"));
}

TEST_F(CliUxTest, Progress_Always_DrawsOnStderrAndClearsAtTheEnd) {
  StartCluster(2, kSlowChunks);
  const CliRun run = RunCli(
      WithCoordinator({"map", "square", "1..2000", "--chunksize=100", "--progress=always"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, StartsWith("\r["));
  EXPECT_THAT(run.err, HasSubstr("0/2000 elements"));
  EXPECT_THAT(run.err, HasSubstr("ETA"));
  EXPECT_THAT(run.err, EndsWith("\r\033[K"));  // the line is erased before the result
  EXPECT_THAT(run.err, Not(HasSubstr("\n")));   // redrawn in place, never scrolled
  // stdout is untouched by the bar.
  EXPECT_EQ(run.out, absl::StrCat("Number of cores available equals 2\n", kSeedSum2000, "\n"));
}

TEST_F(CliUxTest, Progress_QuietOrNever_NoBarEvenWhenForced) {
  StartCluster(1);
  for (const std::string flag : {"--quiet", "--progress=never"}) {
    const CliRun run =
        RunCli(WithCoordinator({"map", "square", "1..100", "--progress=always", flag}));
    ASSERT_EQ(run.exit_code, 0) << flag << ": " << run.err;
    // --progress=never given after --progress=always wins, as the last flag does.
    EXPECT_EQ(run.err, "") << flag;
  }
  const CliRun bad = RunCli(WithCoordinator({"map", "square", "1..10", "--progress=sometimes"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--progress must be auto, always or never"));
}

// Under a real pseudo-terminal (util-linux `script`), the default (auto) shows the bar and
// --quiet removes it: this is the isatty decision itself.
TEST_F(CliUxTest, Progress_PseudoTerminal_BarByDefaultNoneWithQuiet) {
  const std::string script = "/usr/bin/script";
  if (access(script.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << script << "; install it with: apt-get install bsdutils";
  StartCluster(2, kSlowChunks);
  const std::string command =
      absl::StrCat(BinaryPath("gpool"), " --coordinator=", cluster_->address(),
                   " map square 1..2000 --chunksize=100");
  const CliRun tty = RunProgram({script, "-qec", command, "/dev/null"}, "/dev/null");
  if (tty.exit_code != 0 && absl::StrContains(tty.out + tty.err, "pseudo-terminal")) {
    GTEST_SKIP() << "no pseudo-terminal available: " << tty.out << tty.err;
  }
  ASSERT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_THAT(tty.out, HasSubstr("/2000 elements"));
  EXPECT_THAT(tty.out, HasSubstr("\r\033[K"));
  EXPECT_THAT(tty.out, HasSubstr(kSeedSum2000));

  const CliRun quiet = RunProgram({script, "-qec", command + " --quiet", "/dev/null"}, "/dev/null");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;
  EXPECT_THAT(quiet.out, Not(HasSubstr("elements")));
  EXPECT_THAT(quiet.out, HasSubstr(kSeedSum2000));
}

}  // namespace
}  // namespace gpool
