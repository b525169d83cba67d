// The CLI's private cluster with its daemons forked from the calling process
// (ForkDaemonLauncher), driven here from the test process itself. Each TEST runs in a process
// of its own (gtest_discover_tests), which is single-threaded when the test starts, as the
// CLI is when it starts its cluster.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/numeric/int128.h"
#include "client/client.h"
#include "client/fork_launcher.h"
#include "client/local_cluster.h"
#include "common/input.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/subprocess.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::ReadFile;
using ::gpool::testing::StatusIs;
using ::gpool::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// The parent PID of `pid`, from /proc/PID/stat ("PID (COMM) STATE PPID ..."); -1 if gone.
pid_t ParentOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  char state = 0;
  int parent = -1;
  if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &parent) != 2) return -1;
  return parent;
}

LocalClusterOptions ForkedCluster(int workers) {
  LocalClusterOptions options;
  options.workers = workers;
  options.launcher = std::make_shared<ForkDaemonLauncher>();
  return options;
}

TEST(ForkedLocalClusterTest, Start_DaemonsAreChildProcessesOfTheCallerWithTheirOwnPids) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       LocalCluster::Start(ForkedCluster(2)));
  const std::vector<pid_t>& workers = cluster->worker_pids();
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_NE(workers[0], workers[1]);
  for (pid_t pid : {workers[0], workers[1], cluster->coordinator_pid()}) {
    EXPECT_NE(pid, getpid());
    EXPECT_EQ(ParentOf(pid), getpid()) << "process " << pid;
  }
  // The coordinator knows the workers by the PIDs they really have.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client->GetClusterInfo());
  std::vector<int64_t> registered;
  for (const WorkerInfo& worker : view.workers) registered.push_back(worker.ref.pid);
  EXPECT_THAT(registered, UnorderedElementsAreArray(workers.begin(), workers.end()));
}

TEST(ForkedLocalClusterTest, SeedJob_ExactSumComputedByTheForkedWorkers) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       LocalCluster::Start(ForkedCluster(2)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  MapSpec spec;
  spec.function = "square";
  spec.input = Input::Range(1, 5000);
  spec.chunk_size = 100;
  ASSERT_OK_AND_ASSIGN(MapResult result, client->Map(spec));
  EXPECT_EQ(result.summary.sum, absl::int128(41679167500));
  ASSERT_EQ(result.values.size(), 5000u);
  for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(result.values.int64s()[i], (i + 1) * (i + 1));
  const std::set<pid_t> workers(cluster->worker_pids().begin(), cluster->worker_pids().end());
  for (const auto& [worker, chunks] : result.summary.chunks_by_worker) {
    EXPECT_EQ(workers.count(static_cast<pid_t>(worker.pid)), 1u) << worker.pid;
  }
}

TEST(ForkedLocalClusterTest, Sigterm_ForkedWorkerDrainsAndExitsZero) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       LocalCluster::Start(ForkedCluster(1)));
  const pid_t worker = cluster->worker_pids().at(0);
  ASSERT_EQ(kill(worker, SIGTERM), 0);
  // The daemon's own SIGTERM handling (sigwait) works in a forked child too.
  ASSERT_OK_AND_ASSIGN(int exit_code, cluster->WaitForWorkerExit(worker, absl::Seconds(20)));
  EXPECT_EQ(exit_code, 0);
}

TEST(ForkedLocalClusterTest, Stop_KillOnStop_ReapsEveryDaemon) {
  LocalClusterOptions options = ForkedCluster(2);
  options.kill_on_stop = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster, LocalCluster::Start(options));
  std::vector<pid_t> daemons = cluster->worker_pids();
  daemons.push_back(cluster->coordinator_pid());
  cluster->Stop();
  for (pid_t pid : daemons) {
    // Reaped already: no child of ours by that PID is left, not even a zombie.
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1) << "process " << pid;
    EXPECT_EQ(errno, ECHILD);
  }
}

TEST(ForkedLocalClusterTest, KillWithoutWaiting_EveryDaemonDiesBySigkillAndLogsAreRemoved) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       LocalCluster::Start(ForkedCluster(2)));
  std::vector<pid_t> daemons = cluster->worker_pids();
  daemons.push_back(cluster->coordinator_pid());
  const std::string log_dir = cluster->log_dir();
  cluster->KillWithoutWaiting();
  EXPECT_TRUE(cluster->worker_pids().empty());
  EXPECT_EQ(cluster->coordinator_pid(), 0);
  EXPECT_FALSE(std::filesystem::exists(log_dir)) << log_dir;
  // Not reaped yet: still children of this process, which reaps them here.
  for (pid_t pid : daemons) {
    ASSERT_OK_AND_ASSIGN(int exit_code, WaitForExit(pid, absl::Seconds(30)));
    EXPECT_EQ(exit_code, 128 + SIGKILL) << "process " << pid;
  }
}

TEST(ForkedLocalClusterTest, AddWorker_OnceTheClientHasStartedGrpc_FailsPrecondition) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       LocalCluster::Start(ForkedCluster(1)));
  // gRPC's threads now run here, and a forked copy of this process would hold only one.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(cluster->address()));
  EXPECT_THAT(cluster->AddWorker().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("threads")));
  EXPECT_EQ(cluster->worker_pids().size(), 1u);
}

TEST(ForkedLocalClusterTest, ExecutableOptions_WithALauncher_InvalidArgument) {
  LocalClusterOptions options = ForkedCluster(1);
  options.worker_flags = {"--slots=2"};
  EXPECT_THAT(LocalCluster::Start(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker_flags")));
}

// ---- The launcher alone: a worker started before its coordinator -------------------------

TEST(ForkDaemonLauncherTest, WorkerStartedFirst_RegistersOnceTheCoordinatorPortFileAppears) {
  TempDir dir;
  const std::string port_file = dir.path() + "/coordinator.port";
  ForkDaemonLauncher launcher;
  WorkerLaunch worker;
  worker.coordinator_port_file = port_file;
  worker.coordinator_wait = absl::Seconds(30);
  worker.listen = "127.0.0.1:0";
  worker.log_level = "warning";
  worker.spawn.stderr_path = dir.path() + "/worker.log";
  ASSERT_OK_AND_ASSIGN(pid_t worker_pid, launcher.StartWorker(worker));
  CoordinatorLaunch coordinator;
  coordinator.listen = "127.0.0.1:0";
  coordinator.port_file = port_file;
  coordinator.log_level = "warning";
  coordinator.spawn.stderr_path = dir.path() + "/coordinator.log";
  ASSERT_OK_AND_ASSIGN(pid_t coordinator_pid, launcher.StartCoordinator(coordinator));

  ASSERT_OK_AND_ASSIGN(std::string port, WaitForFileLine(port_file, absl::Seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect("127.0.0.1:" + port));
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client->GetClusterInfo(1, absl::Seconds(30)));
  ASSERT_EQ(view.workers.size(), 1u) << ReadFile(worker.spawn.stderr_path);
  EXPECT_EQ(view.workers[0].ref.pid, worker_pid);
  for (pid_t pid : {worker_pid, coordinator_pid}) {
    kill(pid, SIGKILL);
    ASSERT_OK(WaitForExit(pid, absl::Seconds(30)).status());
  }
}

TEST(ForkDaemonLauncherTest, WorkerStartedFirst_NoCoordinatorComes_ExitsOneNamingTheFile) {
  TempDir dir;
  WorkerLaunch worker;
  worker.coordinator_port_file = dir.path() + "/never.port";
  worker.coordinator_wait = absl::Milliseconds(200);
  worker.listen = "127.0.0.1:0";
  worker.log_level = "warning";
  worker.spawn.stderr_path = dir.path() + "/worker.log";
  ForkDaemonLauncher launcher;
  ASSERT_OK_AND_ASSIGN(pid_t worker_pid, launcher.StartWorker(worker));
  ASSERT_OK_AND_ASSIGN(int exit_code, WaitForExit(worker_pid, absl::Seconds(30)));
  EXPECT_EQ(exit_code, 1);
  EXPECT_THAT(ReadFile(worker.spawn.stderr_path), HasSubstr("never.port"));
}

}  // namespace
}  // namespace gpool
