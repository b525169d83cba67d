#include "tests/support/integration_helpers.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>  // mkdtemp
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/subprocess.h"

namespace gpool::testing {

std::string BinaryPath(const std::string& name) { return absl::StrCat(GPOOL_BIN_DIR, "/", name); }

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

TempDir::TempDir() {
  char name[] = "/tmp/gpool-test-XXXXXX";
  const char* made = mkdtemp(name);
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  std::error_code ignored;  // best effort: a leftover scratch directory fails no test
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

CliRun RunProgram(const std::vector<std::string>& argv, const std::string& stdin_path,
                  absl::Duration timeout) {
  TempDir dir;
  SpawnOptions options;
  options.stdout_path = dir.path() + "/out";
  options.stderr_path = dir.path() + "/err";
  options.stdin_path = stdin_path;
  CliRun run;
  absl::StatusOr<pid_t> pid = SpawnProcess(argv, options);
  if (!pid.ok()) {
    run.err = std::string(pid.status().message());
    return run;
  }
  absl::StatusOr<int> exit_code = WaitForExit(*pid, timeout);
  if (!exit_code.ok()) {
    StopProcess(*pid, absl::Seconds(1)).IgnoreError();
    run.err = "timed out: " + std::string(exit_code.status().message());
    return run;
  }
  run.exit_code = *exit_code;
  run.out = ReadFile(options.stdout_path);
  run.err = ReadFile(options.stderr_path);
  return run;
}

CliRun RunCli(const std::vector<std::string>& args, const std::string& stdin_path) {
  std::vector<std::string> argv = {BinaryPath("gpool")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, stdin_path);
}

std::map<int64_t, std::vector<int64_t>> ParseTrace(const std::string& out) {
  std::map<int64_t, std::vector<int64_t>> pids_by_value;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::StartsWith(line, "Worker ")) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    if (words.size() != 6) continue;
    int64_t pid = 0, value = 0;
    std::string pid_text = words[1].substr(0, words[1].find('@'));
    if (absl::SimpleAtoi(pid_text, &pid) && absl::SimpleAtoi(words[5], &value)) {
      pids_by_value[value].push_back(pid);
    }
  }
  return pids_by_value;
}

int UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  close(fd);  // nothing listens there now
  return port;
}

bool IsAlive(pid_t pid) { return kill(pid, 0) == 0; }

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(interval);
  }
  return condition();
}

}  // namespace gpool::testing
