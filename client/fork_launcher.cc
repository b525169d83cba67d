#include "client/fork_launcher.h"

#include <signal.h>

#include <utility>

#include "common/daemon.h"
#include "common/functions.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "server/coordinator_daemon.h"
#include "worker/worker_daemon.h"

namespace gpool {
namespace {

// A private cluster's daemon has no state worth a graceful shutdown once the CLI is gone.
SpawnOptions WithDeathSignal(SpawnOptions spawn) {
  spawn.die_with_parent = true;
  spawn.death_signal = SIGKILL;
  return spawn;
}

}  // namespace

absl::StatusOr<pid_t> ForkDaemonLauncher::StartCoordinator(const CoordinatorLaunch& launch) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(launch.log_level);
  if (!level.ok()) return level.status();
  CoordinatorDaemonOptions options;
  options.listen = launch.listen;
  options.port_file = launch.port_file;
  options.log_level = *level;
  return ForkProcess(
      [options = std::move(options)] {
        // The child is single-threaded here: block the signals before the daemon's threads
        // start, as the daemon's main() does.
        BlockTerminationSignals();
        return RunCoordinator(options);
      },
      WithDeathSignal(launch.spawn));
}

absl::StatusOr<pid_t> ForkDaemonLauncher::StartWorker(const WorkerLaunch& launch) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(launch.log_level);
  if (!level.ok()) return level.status();
  WorkerDaemonOptions options;
  options.coordinator = launch.coordinator;
  options.coordinator_port_file = launch.coordinator_port_file;
  options.coordinator_port_wait = launch.coordinator_wait;
  options.listen = launch.listen;
  options.slots = launch.slots;
  options.log_level = *level;
  return ForkProcess(
      [options = std::move(options)] {
        BlockTerminationSignals();
        return RunWorker(options, FunctionRegistry::WithBuiltins());
      },
      WithDeathSignal(launch.spawn));
}

}  // namespace gpool
