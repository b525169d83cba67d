// Starting and stopping child processes: the CLI's private local cluster and the integration
// tests both run the real daemons this way. POSIX only.
#ifndef GPOOL_COMMON_SUBPROCESS_H_
#define GPOOL_COMMON_SUBPROCESS_H_

#include <sys/types.h>

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
  // Deliver SIGTERM to the child when the spawning thread exits, so a crashed CLI or test
  // does not leak daemons. Spawn from a long-lived thread (e.g. main) when this is set.
  bool die_with_parent = true;
};

// Starts argv[0] (a path) with arguments argv[1..]. INVALID_ARGUMENT for an empty argv,
// INTERNAL when fork fails. An exec failure shows up as exit code 127.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const SpawnOptions& options = {});

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
