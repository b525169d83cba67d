#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace gpool {
namespace {

int ExitCodeFrom(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Only async-signal-safe calls between fork and exec.
void RedirectOrDie(const char* path, int target_fd) {
  if (path == nullptr) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || dup2(fd, target_fd) < 0) _exit(126);
  // A forked child that does not exec keeps its descriptors: do not leak this one.
  if (fd != target_fd) close(fd);
}

// What a child needs before it runs its program, prepared before fork: after fork only
// async-signal-safe calls are allowed in a multi-threaded parent.
struct ChildSetup {
  explicit ChildSetup(const SpawnOptions& options)
      : in(options.stdin_path.empty() ? nullptr : options.stdin_path.c_str()),
        out(options.stdout_path.empty() ? nullptr : options.stdout_path.c_str()),
        err(options.stderr_path.empty() ? nullptr : options.stderr_path.c_str()),
        die_with_parent(options.die_with_parent),
        death_signal(options.death_signal),
        parent(getpid()) {}

  const char* in;
  const char* out;
  const char* err;
  bool die_with_parent;
  int death_signal;
  pid_t parent;
};

// Runs in the child right after fork. Async-signal-safe calls only.
void SetUpChild(const ChildSetup& setup) {
  if (setup.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, setup.death_signal);
    // The parent may have died before prctl took effect.
    if (getppid() != setup.parent) _exit(125);
  }
  // Signals the parent blocked (daemons block SIGTERM for sigwait) must not stay blocked.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (setup.in != nullptr) {
    int fd = open(setup.in, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) _exit(126);
    if (fd != STDIN_FILENO) close(fd);
  }
  RedirectOrDie(setup.out, STDOUT_FILENO);
  RedirectOrDie(setup.err, STDERR_FILENO);
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("cannot spawn an empty command");
  // Everything the child touches is prepared before fork.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const ChildSetup setup(options);

  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    SetUpChild(setup);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

absl::StatusOr<pid_t> ForkProcess(std::function<int()> child_main,
                                  const SpawnOptions& options) {
  if (const int threads = CountThreads(); threads != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot fork without exec: this process has ", threads,
        " threads (0: unknown), and the forked copy would keep only the calling one"));
  }
  const ChildSetup setup(options);
  std::fflush(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    SetUpChild(setup);
    const int exit_code = child_main();
    std::fflush(nullptr);
    _exit(exit_code);
  }
  return pid;
}

int CountThreads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int threads = 0;
    if (std::sscanf(line.c_str(), "Threads: %d", &threads) == 1) return threads;
  }
  return 0;
}

absl::StatusOr<int> WaitForExit(pid_t pid, absl::Duration timeout) {
  // A pidfd becomes readable when the process exits: a real wait, not a poll loop.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    struct pollfd entry = {pidfd, POLLIN, 0};
    const int64_t ms = absl::ToInt64Milliseconds(timeout);
    int ready;
    do {
      ready = poll(&entry, 1, static_cast<int>(std::min<int64_t>(ms, INT32_MAX)));
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid, " still running after ", absl::FormatDuration(timeout)));
    }
  }
  // Either the pidfd fired, or pidfd_open is unsupported / the child is already a zombie:
  // fall back to polling waitpid until the deadline.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int wait_status = 0;
    const pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) return ExitCodeFrom(wait_status);
    if (done < 0 && errno != EINTR) {
      return absl::NotFoundError(
          absl::StrCat("waitpid(", pid, ") failed: ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

absl::StatusOr<int> StopProcess(pid_t pid, absl::Duration grace) {
  kill(pid, SIGTERM);
  absl::StatusOr<int> exit_code = WaitForExit(pid, grace);
  if (exit_code.ok() || !absl::IsDeadlineExceeded(exit_code.status())) return exit_code;
  kill(pid, SIGKILL);
  return WaitForExit(pid, absl::Seconds(10));
}

absl::StatusOr<std::string> WaitForFileLine(const std::string& path, absl::Duration timeout,
                                            pid_t writer) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::ifstream file(path);
    if (file) {
      std::stringstream buffer;
      buffer << file.rdbuf();
      std::string contents = buffer.str();
      if (!contents.empty() && contents.back() == '\n') {
        contents.pop_back();
        return contents;
      }
    }
    if (writer > 0) {
      int wait_status = 0;
      if (waitpid(writer, &wait_status, WNOHANG) == writer) {
        return absl::FailedPreconditionError(
            absl::StrCat("process ", writer, " exited with code ", ExitCodeFrom(wait_status),
                         " before writing '", path, "'"));
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "'", path, "' was not written within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    errno = 0;
    std::ofstream file(temporary, std::ios::trunc);
    file << contents;
    file.flush();
    if (!file) {
      // Names the file the caller asked for (the temporary's name means nothing to a user who
      // passed --port_file), and why, so the hint points at something to fix.
      const int error = errno;
      return absl::UnavailableError(absl::StrCat(
          "cannot write '", path, "'", error != 0 ? absl::StrCat(": ", std::strerror(error)) : "",
          " (through the temporary '", temporary, "')"));
    }
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename '", temporary, "' to '", path, "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExecutableDirectory() {
  char buffer[4096];
  const ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) {
    return absl::InternalError(
        absl::StrCat("cannot read /proc/self/exe: ", std::strerror(errno)));
  }
  std::string path(buffer, static_cast<size_t>(length));
  return path.substr(0, path.rfind('/'));
}

}  // namespace gpool
