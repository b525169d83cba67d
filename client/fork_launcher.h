// Starts a LocalCluster's daemons by forking this process instead of exec'ing their
// executables: the CLI's private cluster, the analog of multiprocessing.Pool's fork start
// method. The children run RunCoordinator and RunWorker (builtin functions) from the code
// this process has already loaded, which saves the ~20 ms each gpool executable spends
// loading its 69 shared libraries and running their static initialisers.
//
// Each child is still a real daemon process with its own PID, logs and gRPC stack. It gets
// SIGKILL when the thread that forked it exits (a private cluster has nothing to save), and
// handles SIGTERM as the daemons do.
//
// A fork is only safe while this process has a single thread, so the cluster must be started
// before anything creates a gRPC channel, server or completion queue here; gRPC then
// initialises in each child on its own. Later starts (LocalCluster::AddWorker,
// RestartCoordinator, once the cluster's client exists) fail with FAILED_PRECONDITION.
#ifndef GPOOL_CLIENT_FORK_LAUNCHER_H_
#define GPOOL_CLIENT_FORK_LAUNCHER_H_

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "client/local_cluster.h"

namespace gpool {

// Thread-compatible; see above for when it may be used.
class ForkDaemonLauncher final : public DaemonLauncher {
 public:
  absl::StatusOr<pid_t> StartCoordinator(const CoordinatorLaunch& launch) override;
  absl::StatusOr<pid_t> StartWorker(const WorkerLaunch& launch) override;
  // A forked worker waits for the coordinator's port file itself, after its own server is up.
  bool StartsWorkersEarly() const override { return true; }
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_FORK_LAUNCHER_H_
