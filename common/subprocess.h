// Starting and stopping child processes: the CLI's private local cluster and the integration
// tests both run the real daemons this way. POSIX only.
#ifndef GPOOL_COMMON_SUBPROCESS_H_
#define GPOOL_COMMON_SUBPROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gpool {

struct SpawnOptions {
  // File the child reads as stdin; empty means inherit ours.
  std::string stdin_path;
  // Files that receive the child's stdout / stderr; empty means inherit ours.
  std::string stdout_path;
  std::string stderr_path;
  // Deliver `death_signal` to the child when the spawning thread exits, so a crashed CLI or
  // test does not leak daemons. Spawn from a long-lived thread (e.g. main) when this is set.
  bool die_with_parent = true;
  int death_signal = SIGTERM;
};

// Starts argv[0] (a path) with arguments argv[1..]. INVALID_ARGUMENT for an empty argv,
// INTERNAL when fork fails. An exec failure shows up as exit code 127.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const SpawnOptions& options = {});

// Runs `child_main` in a forked copy of this process, without exec, and returns the copy's
// PID. The copy exits with child_main's return value through _exit, so the parent's atexit
// handlers and static destructors do not run in it. It shares the libraries already loaded
// and everything initialised so far, so it starts in a fraction of a millisecond instead of
// the ~20 ms a gpool executable needs to load and initialise. Like multiprocessing's fork
// start method, the copy runs in another process but with no new code loaded.
//
// Only a single-threaded process may fork this way: the copy would hold only the calling
// thread, and any lock another thread held at the fork (the allocator's, gRPC's) would stay
// locked in it forever. In particular no gRPC channel, server or completion queue may have
// been created yet, as they start threads. FAILED_PRECONDITION when this process has other
// threads; INTERNAL when fork fails. stdout and stderr are flushed first, so that output
// buffered in the parent is not written twice.
absl::StatusOr<pid_t> ForkProcess(std::function<int()> child_main,
                                  const SpawnOptions& options = {});

// The number of threads of this process (from /proc/self/status); 0 when it cannot tell.
int CountThreads();

// Waits for the child to exit and reaps it. Returns its exit code, or 128 + signal number if
// a signal ended it. DEADLINE_EXCEEDED when it is still running after `timeout`.
absl::StatusOr<int> WaitForExit(pid_t pid, absl::Duration timeout);

// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps. Returns what WaitForExit does.
absl::StatusOr<int> StopProcess(pid_t pid, absl::Duration grace);

// Waits until `path` exists with non-empty contents ending in a newline, and returns them
// without the newline. DEADLINE_EXCEEDED after `timeout`; FAILED_PRECONDITION as soon as the
// process `writer` (if > 0), which is expected to write the file, has exited (it is reaped).
absl::StatusOr<std::string> WaitForFileLine(const std::string& path, absl::Duration timeout,
                                            pid_t writer = 0);

// Writes `contents` to `path` atomically (temporary file, then rename), so readers never
// see a partial file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

// Directory of the running executable (from /proc/self/exe).
absl::StatusOr<std::string> ExecutableDirectory();

}  // namespace gpool

#endif  // GPOOL_COMMON_SUBPROCESS_H_
