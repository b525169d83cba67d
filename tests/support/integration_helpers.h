// Helpers shared by the integration tests, which run the real gpool binaries as processes:
// run a program to completion and capture what it printed, scratch directories, parsing of
// the CLI's --trace lines, and bounded waits for a condition.
#ifndef GPOOL_TESTS_SUPPORT_INTEGRATION_HELPERS_H_
#define GPOOL_TESTS_SUPPORT_INTEGRATION_HELPERS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace gpool::testing {

// Whether the daemons' resident memory measures gpool. Under AddressSanitizer it measures
// ASan: its allocator keeps freed blocks in a quarantine (256 MiB by default), shadows every
// byte, and ignores malloc_trim. Tests bound RSS in the plain build only; the sanitizer run
// still runs their jobs and checks their results.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kResidentMemoryMeasuresGpool = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kResidentMemoryMeasuresGpool = false;
#else
inline constexpr bool kResidentMemoryMeasuresGpool = true;
#endif
#else
inline constexpr bool kResidentMemoryMeasuresGpool = true;
#endif

// Deadline for one CLI run: generous, so a slow CI machine fails on assertions, not here.
inline constexpr absl::Duration kCliTimeout = absl::Seconds(60);

// Absolute path of a gpool binary (gpool, gpool-coordinator, gpool-worker) in the build's
// binary directory.
std::string BinaryPath(const std::string& name);

// Whole contents of a file; empty if it cannot be read.
std::string ReadFile(const std::string& path);

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What a finished program printed. exit_code is -1 when it could not be started or did not
// finish in time; `err` then says why.
struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path) to completion, bounded by `timeout` (then it is stopped), and
// returns its exit code and output. `stdin_path` is its stdin; empty inherits ours.
CliRun RunProgram(const std::vector<std::string>& argv, const std::string& stdin_path = "",
                  absl::Duration timeout = kCliTimeout);

// Runs the gpool CLI with `args`, as RunProgram does.
CliRun RunCli(const std::vector<std::string>& args, const std::string& stdin_path = "");

// Parses "Worker <PID>[@host] calculating <function> of <x>" lines: x -> pids seen.
std::map<int64_t, std::vector<int64_t>> ParseTrace(const std::string& out);

// A loopback TCP port nothing listens on (bound, read, released).
int UnusedLoopbackPort();

bool IsAlive(pid_t pid);

// Calls `condition` every `interval` until it returns true (then true) or `timeout` passes
// (then false, after one last call). For conditions that have no event to wait on, such as
// the state of another process.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration interval = absl::Milliseconds(50));

}  // namespace gpool::testing

#endif  // GPOOL_TESTS_SUPPORT_INTEGRATION_HELPERS_H_
