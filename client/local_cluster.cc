#include "client/local_cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "common/subprocess.h"

namespace gpool {
namespace {

constexpr absl::Duration kStopGrace = absl::Seconds(5);

// The default launcher: the daemons' executables, with the cluster's extra flags.
class ExecDaemonLauncher final : public DaemonLauncher {
 public:
  ExecDaemonLauncher(std::string binary_dir, std::vector<std::string> coordinator_flags,
                     std::vector<std::string> worker_flags)
      : binary_dir_(std::move(binary_dir)),
        coordinator_flags_(std::move(coordinator_flags)),
        worker_flags_(std::move(worker_flags)) {}

  absl::StatusOr<pid_t> StartCoordinator(const CoordinatorLaunch& launch) override {
    std::vector<std::string> argv = {absl::StrCat(binary_dir_, "/gpool-coordinator"),
                                     absl::StrCat("--listen=", launch.listen),
                                     absl::StrCat("--port_file=", launch.port_file),
                                     absl::StrCat("--log_level=", launch.log_level)};
    argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
    return SpawnProcess(argv, launch.spawn);
  }

  absl::StatusOr<pid_t> StartWorker(const WorkerLaunch& launch) override {
    std::vector<std::string> argv = {absl::StrCat(binary_dir_, "/gpool-worker"),
                                     absl::StrCat("--coordinator=", launch.coordinator),
                                     absl::StrCat("--listen=", launch.listen),
                                     absl::StrCat("--slots=", launch.slots),
                                     absl::StrCat("--log_level=", launch.log_level)};
    argv.insert(argv.end(), worker_flags_.begin(), worker_flags_.end());
    return SpawnProcess(argv, launch.spawn);
  }

 private:
  const std::string binary_dir_;
  const std::vector<std::string> coordinator_flags_;
  const std::vector<std::string> worker_flags_;
};

// Finds the daemons' executables and makes the launcher that runs them.
absl::StatusOr<std::shared_ptr<DaemonLauncher>> ExecLauncherFor(
    const LocalClusterOptions& options) {
  std::string binary_dir = options.binary_dir;
  if (binary_dir.empty()) {
    absl::StatusOr<std::string> dir = ExecutableDirectory();
    if (!dir.ok()) return dir.status();
    binary_dir = *dir;
  }
  for (const char* binary : {"gpool-coordinator", "gpool-worker"}) {
    const std::string path = absl::StrCat(binary_dir, "/", binary);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot start a local cluster: ", path,
                       " is missing; build it, or name a running coordinator with "
                       "--coordinator HOST:PORT"));
    }
  }
  return std::make_shared<ExecDaemonLauncher>(std::move(binary_dir), options.coordinator_flags,
                                              options.worker_flags);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(LocalClusterOptions options) {
  if (options.workers < 0 || options.slots_per_worker < 1) {
    return absl::InvalidArgumentError("a local cluster needs workers >= 1 and slots >= 1");
  }
  std::shared_ptr<DaemonLauncher> launcher = options.launcher;
  if (launcher == nullptr) {
    absl::StatusOr<std::shared_ptr<DaemonLauncher>> exec = ExecLauncherFor(options);
    if (!exec.ok()) return exec.status();
    launcher = *std::move(exec);
  } else if (!options.binary_dir.empty() || !options.coordinator_flags.empty() ||
             !options.worker_flags.empty()) {
    return absl::InvalidArgumentError(
        "binary_dir, coordinator_flags and worker_flags are for the executables; a "
        "cluster with a launcher of its own takes none of them");
  }
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(std::move(options)));
  cluster->launcher_ = std::move(launcher);
  char dir_template[] = "/tmp/gpool-local-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::UnavailableError("cannot create a temporary directory under /tmp");
  }
  cluster->log_dir_ = dir_template;

  if (absl::Status status = cluster->SpawnCoordinator("127.0.0.1:0"); !status.ok()) {
    return status;
  }
  // Workers that can wait for the coordinator's port themselves start while the coordinator
  // starts: both spend most of their start-up initialising gRPC, which overlaps.
  const bool early = cluster->launcher_->StartsWorkersEarly();
  for (int i = 0; early && i < cluster->options_.workers; ++i) {
    if (absl::StatusOr<pid_t> pid = cluster->StartWorker(true); !pid.ok()) return pid.status();
  }
  if (absl::Status status = cluster->AwaitCoordinator(); !status.ok()) return status;
  for (int i = 0; !early && i < cluster->options_.workers; ++i) {
    if (absl::StatusOr<pid_t> pid = cluster->StartWorker(false); !pid.ok()) return pid.status();
  }
  if (!cluster->options_.await_workers) return cluster;
  ClientOptions client_options;
  client_options.connect_timeout = cluster->options_.start_timeout;
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(cluster->address_, client_options);
  if (!client.ok()) return client.status();
  if (absl::Status status = cluster->AwaitWorkers(**client); !status.ok()) return status;
  return cluster;
}

absl::Status LocalCluster::AwaitWorkers(Client& client) {
  absl::StatusOr<ClusterInfo> view =
      client.GetClusterInfo(options_.workers, options_.start_timeout);
  if (!view.ok()) {
    options_.keep_logs = true;
    return absl::Status(view.status().code(),
                        absl::StrCat("the local workers did not all register: ",
                                     view.status().message(), "; logs in ", log_dir_));
  }
  return absl::OkStatus();
}

LocalCluster::~LocalCluster() { Stop(); }

absl::Status LocalCluster::StartCoordinator(const std::string& listen) {
  if (absl::Status status = SpawnCoordinator(listen); !status.ok()) return status;
  return AwaitCoordinator();
}

absl::Status LocalCluster::SpawnCoordinator(const std::string& listen) {
  coordinator_port_file_ = absl::StrCat(log_dir_, "/coordinator.port");
  std::remove(coordinator_port_file_.c_str());
  const std::string restart =
      coordinator_starts_ == 0 ? "" : absl::StrCat(".", coordinator_starts_);
  coordinator_log_ = absl::StrCat(log_dir_, "/coordinator", restart, ".log");
  ++coordinator_starts_;
  CoordinatorLaunch launch;
  launch.listen = listen;
  launch.port_file = coordinator_port_file_;
  launch.log_level = options_.log_level;
  launch.spawn.stderr_path = coordinator_log_;
  launch.spawn.stdout_path = coordinator_log_ + ".out";
  absl::StatusOr<pid_t> pid = launcher_->StartCoordinator(launch);
  if (!pid.ok()) return pid.status();
  coordinator_pid_ = *pid;
  return absl::OkStatus();
}

absl::Status LocalCluster::AwaitCoordinator() {
  absl::StatusOr<std::string> port =
      WaitForFileLine(coordinator_port_file_, options_.start_timeout, coordinator_pid_);
  if (!port.ok()) {
    if (absl::IsFailedPrecondition(port.status())) coordinator_pid_ = 0;  // reaped
    options_.keep_logs = true;
    return absl::UnavailableError(absl::StrCat(
        "the local coordinator did not start: ", port.status().message(), "; its log ",
        coordinator_log_, " ends with: ", LogTail(coordinator_log_)));
  }
  coordinator_port_ = std::stoi(*port);
  address_ = absl::StrCat("127.0.0.1:", coordinator_port_);
  return absl::OkStatus();
}

absl::StatusOr<pid_t> LocalCluster::AddWorker() { return StartWorker(/*early=*/false); }

absl::StatusOr<pid_t> LocalCluster::StartWorker(bool early) {
  const int index = workers_started_++;
  const std::string log = absl::StrCat(log_dir_, "/worker-", index, ".log");
  WorkerLaunch launch;
  if (early) {
    launch.coordinator_port_file = coordinator_port_file_;
    launch.coordinator_wait = options_.start_timeout;
  } else {
    launch.coordinator = address_;
  }
  launch.listen = "127.0.0.1:0";
  launch.slots = options_.slots_per_worker;
  launch.log_level = options_.log_level;
  launch.spawn.stderr_path = log;
  launch.spawn.stdout_path = log + ".out";
  absl::StatusOr<pid_t> pid = launcher_->StartWorker(launch);
  if (!pid.ok()) return pid.status();
  worker_pids_.push_back(*pid);
  return *pid;
}

absl::Status LocalCluster::SignalWorker(pid_t pid, int signal) {
  auto it = std::find(worker_pids_.begin(), worker_pids_.end(), pid);
  if (it == worker_pids_.end()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is not a worker of this cluster"));
  }
  if (kill(pid, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill(", pid, ", ", signal, ") failed"));
  }
  if (signal == SIGKILL || signal == SIGTERM) {
    absl::StatusOr<int> exit_code = WaitForExit(pid, kStopGrace);
    if (!exit_code.ok()) return exit_code.status();
    worker_pids_.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> LocalCluster::WaitForWorkerExit(pid_t pid, absl::Duration timeout) {
  auto it = std::find(worker_pids_.begin(), worker_pids_.end(), pid);
  if (it == worker_pids_.end()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is not a worker of this cluster"));
  }
  absl::StatusOr<int> exit_code = WaitForExit(pid, timeout);
  // Once reaped, the PID may be reused: never signal it again.
  if (exit_code.ok()) worker_pids_.erase(it);
  return exit_code;
}

absl::Status LocalCluster::StopCoordinator(bool abruptly) {
  if (coordinator_pid_ == 0) return absl::OkStatus();
  const pid_t pid = coordinator_pid_;
  coordinator_pid_ = 0;
  if (abruptly) {
    kill(pid, SIGKILL);
    return WaitForExit(pid, kStopGrace).status();
  }
  return StopProcess(pid, kStopGrace).status();
}

absl::Status LocalCluster::RestartCoordinator() {
  if (coordinator_pid_ != 0) {
    return absl::FailedPreconditionError("the coordinator is still running");
  }
  return StartCoordinator(absl::StrCat("127.0.0.1:", coordinator_port_));
}

void LocalCluster::Stop() {
  if (options_.kill_on_stop) {
    // Nothing to drain: kill every daemon at once, the coordinator too, then reap them.
    for (pid_t pid : worker_pids_) kill(pid, SIGKILL);
    if (coordinator_pid_ != 0) kill(coordinator_pid_, SIGKILL);
    for (pid_t pid : worker_pids_) (void)WaitForExit(pid, kStopGrace);
    worker_pids_.clear();
    (void)StopCoordinator(/*abruptly=*/true);
  } else {
    // Signal every worker first, so they drain in parallel.
    for (pid_t pid : worker_pids_) kill(pid, SIGTERM);
    for (pid_t pid : worker_pids_) (void)StopProcess(pid, kStopGrace);
    worker_pids_.clear();
    (void)StopCoordinator(/*abruptly=*/false);
  }
  RemoveLogs();
}

void LocalCluster::KillWithoutWaiting() {
  for (pid_t pid : worker_pids_) kill(pid, SIGKILL);
  if (coordinator_pid_ != 0) kill(coordinator_pid_, SIGKILL);
  worker_pids_.clear();
  coordinator_pid_ = 0;
  RemoveLogs();
}

void LocalCluster::RemoveLogs() {
  if (!log_dir_.empty() && !options_.keep_logs) {
    std::error_code ignored;
    std::filesystem::remove_all(log_dir_, ignored);
    log_dir_.clear();
  }
}

std::string LocalCluster::LogTail(const std::string& path) const {
  std::ifstream file(path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string text = buffer.str();
  if (text.size() > 400) text = text.substr(text.size() - 400);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.empty() ? "(empty)" : text;
}

}  // namespace gpool
