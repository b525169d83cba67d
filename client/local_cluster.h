// A private cluster on loopback: one coordinator and N worker processes, started as children
// of this process and stopped on destruction. The CLI uses it when no coordinator is named
// (the multiprocessing.Pool() analog), with its daemons forked from itself
// (client/fork_launcher.h); the integration tests use it to run the real daemons' binaries.
#ifndef GPOOL_CLIENT_LOCAL_CLUSTER_H_
#define GPOOL_CLIENT_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace gpool {

class Client;

// What a LocalCluster asks of the coordinator it starts.
struct CoordinatorLaunch {
  std::string listen;     // "127.0.0.1:0" the first time; after a stop, the same port again
  std::string port_file;  // the coordinator writes its bound port here (one line) once serving
  std::string log_level;  // debug, info, warning or error
  SpawnOptions spawn;     // where its stdout and stderr go
};

// What a LocalCluster asks of each worker it starts.
struct WorkerLaunch {
  // HOST:PORT of the coordinator. Empty for a worker started while the coordinator is still
  // starting (DaemonLauncher::StartsWorkersEarly): the worker then waits up to
  // `coordinator_wait` for the coordinator's port file and dials 127.0.0.1:PORT.
  std::string coordinator;
  std::string coordinator_port_file;
  absl::Duration coordinator_wait;
  std::string listen;  // "127.0.0.1:0"
  int slots = 1;
  std::string log_level;
  SpawnOptions spawn;
};

// Starts the daemons of a LocalCluster as child processes of this one and returns their
// PIDs; the cluster waits for them, signals and reaps them. Without a launcher, a cluster
// runs the gpool-coordinator and gpool-worker executables; the CLI forks itself instead
// (ForkDaemonLauncher in client/fork_launcher.h).
class DaemonLauncher {
 public:
  virtual ~DaemonLauncher() = default;
  virtual absl::StatusOr<pid_t> StartCoordinator(const CoordinatorLaunch& launch) = 0;
  virtual absl::StatusOr<pid_t> StartWorker(const WorkerLaunch& launch) = 0;
  // Whether StartWorker takes workers without the coordinator's address (see WorkerLaunch),
  // so that a cluster starts its workers at the same time as its coordinator rather than
  // once the coordinator listens.
  virtual bool StartsWorkersEarly() const { return false; }
};

struct LocalClusterOptions {
  // Worker processes to start (0 is allowed: a coordinator alone).
  int workers = 1;
  int slots_per_worker = 1;
  // How the daemons start; null: the executables below. A launcher of its own takes none of
  // the three options below (INVALID_ARGUMENT).
  std::shared_ptr<DaemonLauncher> launcher;
  // Where gpool-coordinator and gpool-worker are; empty: next to the running executable.
  std::string binary_dir;
  // Extra flags for the daemons (e.g. "--lease_timeout=1s").
  std::vector<std::string> coordinator_flags;
  std::vector<std::string> worker_flags;
  std::string log_level = "warning";
  // How long to wait for the coordinator to listen and every worker to register.
  absl::Duration start_timeout = absl::Seconds(20);
  // Start waits until every worker has registered, through a client of its own. False: Start
  // returns once the coordinator listens, and the caller waits with AwaitWorkers through its
  // own client, which saves a second gRPC channel (and gRPC's start-up, when the first
  // client was the only gRPC user and shut gRPC down again).
  bool await_workers = true;
  // Keep the directory with the daemons' logs after Stop (it is named in errors).
  bool keep_logs = false;
  // Stop with SIGKILL instead of a graceful SIGTERM drain. For a private cluster whose job is
  // over there is nothing left to drain, and the CLI should not wait for it.
  bool kill_on_stop = false;
};

// Not thread-safe. Children get a signal if the thread that started them exits (SIGTERM, or
// SIGKILL for forked daemons), so a crash does not leak daemons; create it from a long-lived
// thread.
class LocalCluster {
 public:
  // Starts the coordinator and the workers (at the same time if the launcher
  // StartsWorkersEarly, otherwise once the coordinator listens), and waits until all workers
  // are registered (unless options.await_workers is false). Errors name the log file to read.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(LocalClusterOptions options);

  // Waits through `client` (connected to address()) until every worker started by Start has
  // registered. When start_timeout passes first, the error names the logs, which are kept.
  absl::Status AwaitWorkers(Client& client);
  ~LocalCluster();

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  int coordinator_port() const { return coordinator_port_; }
  pid_t coordinator_pid() const { return coordinator_pid_; }
  // Workers started and not yet reaped by StopWorker, in start order.
  const std::vector<pid_t>& worker_pids() const { return worker_pids_; }
  const std::string& log_dir() const { return log_dir_; }

  // Starts one more worker with the same options; does not wait for it to register.
  absl::StatusOr<pid_t> AddWorker();
  // Sends `signal` to a worker this cluster started and, for SIGKILL/SIGTERM, reaps it.
  absl::Status SignalWorker(pid_t pid, int signal);
  // Waits for a worker of this cluster to exit by itself, reaps it and forgets it. Returns
  // its exit code; DEADLINE_EXCEEDED if it is still running.
  absl::StatusOr<int> WaitForWorkerExit(pid_t pid, absl::Duration timeout);
  // Stops the coordinator (SIGKILL when `abruptly`) and reaps it.
  absl::Status StopCoordinator(bool abruptly);
  // Starts the coordinator again on the same port (after StopCoordinator).
  absl::Status RestartCoordinator();

  // Stops workers, then the coordinator, and reaps them. Idempotent.
  void Stop();
  // For a process about to exit: sends SIGKILL to every daemon and forgets them without
  // waiting for them to die (once this process is gone, the system reaps them), then removes
  // the logs unless they are kept. A long-lived process should Stop instead, or it keeps
  // the daemons as zombies. Idempotent; Stop does nothing afterwards.
  void KillWithoutWaiting();

 private:
  explicit LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {}
  // Starts a coordinator process on `listen`, then AwaitCoordinator.
  absl::Status StartCoordinator(const std::string& listen);
  // Starts a coordinator process on `listen` and returns at once.
  absl::Status SpawnCoordinator(const std::string& listen);
  // Waits until the coordinator started last listens, and learns its port.
  absl::Status AwaitCoordinator();
  // Starts a worker; `early`: before the coordinator's port is known.
  absl::StatusOr<pid_t> StartWorker(bool early);
  std::string LogTail(const std::string& path) const;
  void RemoveLogs();

  LocalClusterOptions options_;
  std::shared_ptr<DaemonLauncher> launcher_;
  std::string log_dir_;
  std::string address_;
  int coordinator_port_ = 0;
  pid_t coordinator_pid_ = 0;
  std::string coordinator_port_file_;
  std::string coordinator_log_;
  int coordinator_starts_ = 0;
  std::vector<pid_t> worker_pids_;
  int workers_started_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_LOCAL_CLUSTER_H_
