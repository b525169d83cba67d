// Integration test: a network partition between separate hosts. The coordinator and two
// workers each run in a network namespace of their own, cabled by veth pairs to a bridge that
// lives in a further namespace, so each daemon has its own network stack, address and
// routing, as on separate machines. The test unplugs one worker's cable in the middle of a job
// (its bridge port goes down: no FIN, no RST, just silence), checks that the job still returns
// the exact sum with every element counted once, then plugs the cable back in and checks that
// the worker registers again and gets work.
//
// Only addresses inside the test's own namespaces are used (10.77.<run>.0/24); the root
// namespace's interfaces and routes are never touched. Creating namespaces needs root (or
// CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2; without them the test is skipped and says why.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/int128.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::CliRun;
using ::gpool::testing::ParseTrace;
using ::gpool::testing::ReadFile;
using ::gpool::testing::RunProgram;
using ::gpool::testing::TempDir;
using ::gpool::testing::WaitUntil;
using ::testing::HasSubstr;

// Namespaces of this test are named kNamespacePrefix + "<pid>-<instance>-<role>", so a run can
// recognise (and remove) namespaces that a killed earlier run left behind.
constexpr char kNamespacePrefix[] = "gpool-pt-";
constexpr absl::Duration kIpTimeout = absl::Seconds(10);

std::optional<std::string> FindExecutable(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

// The executable a process runs, from /proc/PID/exe. A binary that was rebuilt while the
// process runs reads "PATH (deleted)"; that still names it.
std::string ExecutableOf(pid_t pid) {
  std::error_code error;
  std::string exe = std::filesystem::read_symlink(absl::StrCat("/proc/", pid, "/exe"), error);
  if (error) return "";
  constexpr absl::string_view kDeleted = " (deleted)";
  if (absl::EndsWith(exe, kDeleted)) exe.resize(exe.size() - kDeleted.size());
  return exe;
}

std::string CanonicalPath(const std::string& path) {
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::canonical(path, error);
  return error ? path : canonical.string();
}

// Runs `ip` with `args`; the error names the command and quotes what ip printed.
absl::Status RunIp(const std::string& ip, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ip};
  argv.insert(argv.end(), args.begin(), args.end());
  CliRun run = RunProgram(argv, "", kIpTimeout);
  if (run.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` exited with ",
                                          run.exit_code, ": ",
                                          absl::StripAsciiWhitespace(run.err)));
}

// A private network of hosts: one network namespace per host, each with a veth pair whose other
// end is a port of a bridge in a namespace of its own. Host i (0-based) has the address
// 10.77.<subnet>.<i + 1>/24. Owns everything it creates: the destructor deletes the links and
// then the namespaces (stop the processes inside first). Not thread-safe.
class NamespacedNetwork {
 public:
  // FAILED_PRECONDITION when this machine does not let us create network namespaces (no `ip`,
  // not privileged): the caller skips. INTERNAL when a later step fails: that is a failure.
  static absl::StatusOr<std::unique_ptr<NamespacedNetwork>> Create(
      const std::vector<std::string>& host_roles) {
    std::optional<std::string> ip =
        FindExecutable({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
    if (!ip.has_value()) {
      return absl::FailedPreconditionError(
          "iproute2's `ip` was not found in /usr/sbin, /sbin, /usr/bin or /bin "
          "(apt-get install iproute2)");
    }
    static int instances = 0;
    const int instance = instances++;
    auto network = std::unique_ptr<NamespacedNetwork>(new NamespacedNetwork(*ip, instance));
    network->RemoveStaleNamespaces();

    // The first namespace decides whether this machine allows namespaces at all.
    if (absl::Status created = network->AddNamespace(network->bridge_namespace_); !created.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create a network namespace (running as euid ", geteuid(),
          "; this needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN): ", created.message()));
    }
    RETURN_IF_ERROR(network->Build(host_roles));
    return network;
  }

  ~NamespacedNetwork() {
    // Deleting one end of a veth pair deletes both; the bridge goes with its namespace, but
    // is deleted explicitly so nothing is left to the kernel's garbage collection.
    std::vector<std::vector<std::string>> commands;
    for (const std::string& port : bridge_ports_) {
      commands.push_back({"-n", bridge_namespace_, "link", "del", port});
    }
    if (bridge_created_) commands.push_back({"-n", bridge_namespace_, "link", "del", bridge_});
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
      commands.push_back({"netns", "del", *it});
    }
    for (const auto& command : commands) {
      if (absl::Status status = RunIp(ip_, command); !status.ok()) {
        std::cerr << "partition_test cleanup: " << status.message() << std::endl;
      }
    }
  }

  NamespacedNetwork(const NamespacedNetwork&) = delete;
  NamespacedNetwork& operator=(const NamespacedNetwork&) = delete;

  std::string address(int host) const { return absl::StrCat("10.77.", subnet_, ".", host + 1); }

  // argv run inside `host`'s namespace. `ip netns exec` execs argv in place (iproute2 6.1), so
  // the process it starts becomes argv[0] under the same PID.
  std::vector<std::string> InHost(int host, const std::vector<std::string>& argv) const {
    std::vector<std::string> wrapped = {ip_, "netns", "exec", host_namespaces_.at(host)};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }

  // Plugs `host`'s cable in or out: its bridge port goes up or down. The host keeps its
  // address and its sockets; frames to and from it are dropped, as with a pulled cable.
  absl::Status SetCable(int host, bool plugged) {
    return RunIp(ip_, {"-n", bridge_namespace_, "link", "set", "dev", bridge_ports_.at(host),
                       plugged ? "up" : "down"});
  }

 private:
  NamespacedNetwork(std::string ip, int instance)
      : ip_(std::move(ip)),
        // A subnet per run: namespaces isolate addresses anyway, but distinct subnets keep the
        // logs of concurrent runs apart.
        subnet_(static_cast<int>((getpid() + instance) % 250) + 1),
        tag_(absl::StrCat(getpid(), "-", instance)),
        bridge_namespace_(absl::StrCat(kNamespacePrefix, tag_, "-bridge")),
        // Interface names: at most 15 characters; a PID has at most 7 digits.
        bridge_(absl::StrCat("gpbr-", getpid())) {}

  absl::Status AddNamespace(const std::string& name) {
    RETURN_IF_ERROR(RunIp(ip_, {"netns", "add", name}));
    namespaces_.push_back(name);
    return absl::OkStatus();
  }

  absl::Status Build(const std::vector<std::string>& host_roles) {
    RETURN_IF_ERROR(
        RunIp(ip_, {"-n", bridge_namespace_, "link", "add", bridge_, "type", "bridge"}));
    bridge_created_ = true;
    RETURN_IF_ERROR(RunIp(ip_, {"-n", bridge_namespace_, "link", "set", "dev", bridge_, "up"}));
    for (size_t i = 0; i < host_roles.size(); ++i) {
      const std::string host_namespace = absl::StrCat(kNamespacePrefix, tag_, "-", host_roles[i]);
      RETURN_IF_ERROR(AddNamespace(host_namespace));
      host_namespaces_.push_back(host_namespace);
      const std::string port = absl::StrCat("gpp", i, "-", getpid());
      const std::string nic = absl::StrCat("gph", i, "-", getpid());
      // Created inside the bridge namespace with the peer moved straight into the host's, so
      // no interface ever appears in the root namespace.
      RETURN_IF_ERROR(RunIp(ip_, {"-n", bridge_namespace_, "link", "add", port, "type", "veth",
                                  "peer", "name", nic, "netns", host_namespace}));
      bridge_ports_.push_back(port);
      RETURN_IF_ERROR(RunIp(
          ip_, {"-n", bridge_namespace_, "link", "set", "dev", port, "master", bridge_, "up"}));
      RETURN_IF_ERROR(RunIp(ip_, {"-n", host_namespace, "addr", "add",
                                  absl::StrCat(address(static_cast<int>(i)), "/24"), "dev", nic}));
      RETURN_IF_ERROR(RunIp(ip_, {"-n", host_namespace, "link", "set", "dev", nic, "up"}));
      // A host reaches its own address through lo: the CLI next to the coordinator needs it.
      RETURN_IF_ERROR(RunIp(ip_, {"-n", host_namespace, "link", "set", "dev", "lo", "up"}));
    }
    return absl::OkStatus();
  }

  // Namespaces of earlier runs of this test whose process is gone (killed by a timeout before
  // it could clean up). Namespaces of live runs are left alone.
  void RemoveStaleNamespaces() {
    DIR* dir = opendir("/run/netns");
    if (dir == nullptr) return;
    std::vector<std::string> stale;
    while (dirent* entry = readdir(dir)) {
      absl::string_view name = entry->d_name;
      if (!absl::ConsumePrefix(&name, kNamespacePrefix)) continue;
      int64_t owner = 0;
      if (!absl::SimpleAtoi(name.substr(0, name.find('-')), &owner) || owner <= 0) continue;
      if (kill(static_cast<pid_t>(owner), 0) != 0 && errno == ESRCH) {
        stale.push_back(entry->d_name);
      }
    }
    closedir(dir);
    for (const std::string& name : stale) RunIp(ip_, {"netns", "del", name}).IgnoreError();
  }

  const std::string ip_;
  const int subnet_;
  const std::string tag_;
  const std::string bridge_namespace_;
  const std::string bridge_;
  bool bridge_created_ = false;
  std::vector<std::string> namespaces_;       // all created, bridge namespace first
  std::vector<std::string> host_namespaces_;  // by host index
  std::vector<std::string> bridge_ports_;     // by host index
};

// A process the test started. `pid` is the program we meant to run; `spawned` is what
// SpawnProcess returned, the same PID unless a wrapper forked instead of exec'ing it.
struct Child {
  pid_t spawned = 0;
  pid_t pid = 0;
};

// Every process the test starts, so that whichever still run are stopped, by PID, whatever
// happens to the test. Not thread-safe.
class ChildProcesses {
 public:
  ~ChildProcesses() { StopAll(); }

  absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
    ASSIGN_OR_RETURN(pid_t pid, SpawnProcess(argv, options));
    children_.push_back({pid, pid});
    return pid;
  }

  // Records that the program of `spawned` runs as `pid` (see Child).
  void SetProgramPid(pid_t spawned, pid_t pid) {
    for (Child& child : children_) {
      if (child.spawned == spawned) child.pid = pid;
    }
  }

  // WaitForExit; a process that exited is forgotten (reaped: its PID may be reused).
  absl::StatusOr<int> Wait(pid_t spawned, absl::Duration timeout) {
    absl::StatusOr<int> exit_code = WaitForExit(spawned, timeout);
    if (!absl::IsDeadlineExceeded(exit_code.status())) Forget(spawned);
    return exit_code;
  }

  bool Running(pid_t spawned) {
    return absl::IsDeadlineExceeded(Wait(spawned, absl::ZeroDuration()).status());
  }

  // Stops the children, last started first.
  void StopAll() {
    while (!children_.empty()) {
      const Child child = children_.back();
      children_.pop_back();
      if (child.pid != child.spawned) kill(child.pid, SIGTERM);
      absl::StatusOr<int> exit_code = StopProcess(child.spawned, absl::Seconds(5));
      if (!exit_code.ok()) {
        std::cerr << "cannot stop " << child.spawned << ": " << exit_code.status() << std::endl;
      }
      if (child.pid != child.spawned) kill(child.pid, SIGKILL);  // gone by now, normally
    }
  }

 private:
  void Forget(pid_t spawned) {
    for (auto it = children_.begin(); it != children_.end(); ++it) {
      if (it->spawned == spawned) {
        children_.erase(it);
        return;
      }
    }
  }

  std::vector<Child> children_;
};

// One row of `gpool info`'s worker table.
struct InfoRow {
  std::string worker_id;
  int64_t pid = 0;
  std::string address;
};

// Parses the table of `gpool info`: "WORKER HOST PID SLOTS FUNCTIONS ADDRESS" rows.
std::vector<InfoRow> ParseInfo(const std::string& out) {
  std::vector<InfoRow> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    InfoRow row;
    if (fields.size() != 6 || fields[0] == "WORKER" || !absl::SimpleAtoi(fields[2], &row.pid)) {
      continue;
    }
    row.worker_id = fields[0];
    row.address = fields[5];
    rows.push_back(row);
  }
  return rows;
}

// Elements of the job's trace computed by the process `pid`.
int64_t TracedBy(const std::string& out, pid_t pid) {
  int64_t count = 0;
  for (const auto& [value, pids] : ParseTrace(out)) {
    for (int64_t traced : pids) count += traced == pid ? 1 : 0;
  }
  return count;
}

struct JobStatsLine {
  int64_t chunks = 0;
  int64_t retries = 0;
  int64_t workers_lost = 0;
};

// "gpool: job-1: 80 chunks on 2 workers; 2 retries, 1 worker lost, ..." from the CLI's stderr.
std::optional<JobStatsLine> ParseStatsLine(const std::string& err) {
  static const std::regex kStats(
      R"(gpool: \S+: (\d+) chunks? on \d+ workers?; (\d+) retr(?:y|ies), (\d+) workers? lost)");
  std::smatch match;
  if (!std::regex_search(err, match, kStats)) return std::nullopt;
  return JobStatsLine{std::stoll(match[1]), std::stoll(match[2]), std::stoll(match[3])};
}

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

constexpr int kCoordinatorHost = 0;
constexpr int kKeptWorkerHost = 1;
constexpr int kCutWorkerHost = 2;

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NamespacedNetwork>> network =
        NamespacedNetwork::Create({"coord", "w1", "w2"});
    if (absl::IsFailedPrecondition(network.status())) {
      GTEST_SKIP() << "network namespaces are not available here, so the partition test "
                      "cannot run: "
                   << network.status().message();
    }
    ASSERT_TRUE(network.ok()) << "building the namespaced test network failed: "
                              << network.status();
    network_ = *std::move(network);
    coordinator_ = absl::StrCat(network_->address(kCoordinatorHost), ":50051");
  }

  void TearDown() override {
    processes_.StopAll();
    if (HasFailure()) {
      // The daemons' logs say what the cluster saw (registrations, leases, retries).
      for (const std::string& name : log_names_) {
        std::cerr << "---- " << name << " ----\n" << ReadFile(logs_.path() + "/" + name);
      }
    }
    network_.reset();
  }

  // Starts a daemon in `host`'s namespace, waits until it serves (its --port_file), and
  // returns the daemon's PID after checking that the PID really is the daemon.
  absl::StatusOr<pid_t> StartDaemon(int host, const std::string& binary,
                                    std::vector<std::string> flags) {
    const std::string name = absl::StrCat(binary, "-", host);
    const std::string port_file = absl::StrCat(logs_.path(), "/", name, ".port");
    flags.push_back("--port_file=" + port_file);
    std::vector<std::string> argv = {BinaryPath(binary)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    SpawnOptions options;
    options.stderr_path = absl::StrCat(logs_.path(), "/", name, ".log");
    log_names_.push_back(name + ".log");
    ASSIGN_OR_RETURN(pid_t spawned, processes_.Spawn(network_->InHost(host, argv), options));
    RETURN_IF_ERROR(WaitForFileLine(port_file, absl::Seconds(20), spawned).status());
    // Serving, so any exec is done: the PID must now run the daemon's binary, or (should `ip
    // netns exec` fork) be its parent.
    const std::string want = CanonicalPath(BinaryPath(binary));
    if (ExecutableOf(spawned) == want) return spawned;
    const std::string children =
        ReadFile(absl::StrCat("/proc/", spawned, "/task/", spawned, "/children"));
    for (absl::string_view text : absl::StrSplit(children, ' ', absl::SkipEmpty())) {
      int64_t child = 0;
      if (absl::SimpleAtoi(text, &child) && ExecutableOf(static_cast<pid_t>(child)) == want) {
        processes_.SetProgramPid(spawned, static_cast<pid_t>(child));
        return static_cast<pid_t>(child);
      }
    }
    return absl::InternalError(absl::StrCat("process ", spawned, " runs '", ExecutableOf(spawned),
                                            "' and no child of it runs '", want, "'"));
  }

  // `gpool info`, run next to the coordinator.
  CliRun Info() {
    return RunProgram(
        network_->InHost(kCoordinatorHost, {BinaryPath("gpool"), "--coordinator", coordinator_,
                                            "--connect_timeout=2s", "info"}),
        "", absl::Seconds(10));
  }

  // Polls `info` until it succeeds and `accept` approves its worker rows; returns those rows,
  // or nullopt (with the last info output in *last) after `timeout`.
  std::optional<std::vector<InfoRow>> WaitForWorkers(
      const std::function<bool(const std::vector<InfoRow>&)>& accept, absl::Duration timeout,
      std::string* last) {
    std::vector<InfoRow> rows;
    const bool done = WaitUntil(
        [&] {
          CliRun run = Info();
          *last = absl::StrCat("exit ", run.exit_code, "\n", run.out, run.err);
          rows = ParseInfo(run.out);
          return run.exit_code == 0 && accept(rows);
        },
        timeout, absl::Milliseconds(100));
    if (!done) return std::nullopt;
    return rows;
  }

  TempDir logs_;
  std::vector<std::string> log_names_;
  std::unique_ptr<NamespacedNetwork> network_;  // destroyed after processes_ stopped
  ChildProcesses processes_;
  std::string coordinator_;
};

const InfoRow* FindPid(const std::vector<InfoRow>& rows, pid_t pid) {
  for (const InfoRow& row : rows) {
    if (row.pid == pid) return &row;
  }
  return nullptr;
}

TEST_F(PartitionTest, WorkerCableOutMidJob_ExactSumAndWorkerRegistersAgainWhenPluggedIn) {
  ASSERT_OK(StartDaemon(
      kCoordinatorHost, "gpool-coordinator",
      // The namespaces' network is the test's own; plain text on it is deliberate.
      {"--listen=" + coordinator_, "--insecure", "--lease_timeout=1s",
       "--heartbeat_interval=200ms"}));
  std::map<int, pid_t> workers;  // host -> worker PID
  for (int host : {kKeptWorkerHost, kCutWorkerHost}) {
    // The worker advertises its --listen host: the address in its own namespace.
    ASSERT_OK_AND_ASSIGN(workers[host],
                         StartDaemon(host, "gpool-worker",
                                     {"--coordinator=" + coordinator_,
                                      absl::StrCat("--listen=", network_->address(host), ":0"),
                                      "--insecure", "--chunk_delay=100ms"}));
  }
  const pid_t cut_pid = workers[kCutWorkerHost];
  const pid_t kept_pid = workers[kKeptWorkerHost];

  std::string last_info;
  std::optional<std::vector<InfoRow>> registered = WaitForWorkers(
      [&](const std::vector<InfoRow>& rows) {
        return rows.size() == 2 && FindPid(rows, cut_pid) && FindPid(rows, kept_pid);
      },
      absl::Seconds(20), &last_info);
  ASSERT_TRUE(registered.has_value()) << "both workers never registered; last info: " << last_info;
  const std::string first_id = FindPid(*registered, cut_pid)->worker_id;
  // It advertises the address of its own namespace, where the coordinator dials it.
  const std::string cut_port =
      ReadFile(absl::StrCat(logs_.path(), "/gpool-worker-", kCutWorkerHost, ".port"));
  EXPECT_EQ(
      FindPid(*registered, cut_pid)->address,
      absl::StrCat(network_->address(kCutWorkerHost), ":", absl::StripAsciiWhitespace(cut_port)));

  // 80 chunks of 100ms over two one-slot workers: about 4s with both, twice that with one,
  // so the cable comes out well before the end.
  constexpr int64_t kElements = 800;
  constexpr int64_t kChunkSize = 10;
  std::optional<std::string> stdbuf = FindExecutable({"/usr/bin/stdbuf", "/bin/stdbuf"});
  ASSERT_TRUE(stdbuf.has_value()) << "coreutils' stdbuf is needed to watch the job's progress";
  TempDir job_dir;
  SpawnOptions job_output;
  job_output.stdout_path = job_dir.path() + "/out";
  job_output.stderr_path = job_dir.path() + "/err";
  // stdbuf -oL: the CLI's --trace lines reach the file as each chunk arrives instead of at
  // exit, so the test sees the job's progress per worker.
  ASSERT_OK_AND_ASSIGN(
      pid_t cli,
      processes_.Spawn(
          network_->InHost(kCoordinatorHost,
                           {*stdbuf, "-oL", BinaryPath("gpool"), "--coordinator", coordinator_,
                            "map", "square", absl::StrCat("1..", kElements), "--chunksize",
                            absl::StrCat(kChunkSize), "--stats", "--trace"}),
          job_output));
  const absl::Time job_start = absl::Now();

  // Mid-job: the worker to be cut off has delivered two chunks (so it holds the next ones).
  ASSERT_TRUE(WaitUntil(
      [&] {
        return TracedBy(ReadFile(job_output.stdout_path), cut_pid) >= 2 * kChunkSize ||
               !processes_.Running(cli);
      },
      absl::Seconds(30), absl::Milliseconds(10)))
      << "the worker never delivered two chunks:\n"
      << ReadFile(job_output.stdout_path);
  ASSERT_TRUE(processes_.Running(cli))
      << "the job ended before the partition:\n"
      << ReadFile(job_output.stdout_path) << ReadFile(job_output.stderr_path);
  const int64_t traced_before_cut =
      static_cast<int64_t>(ParseTrace(ReadFile(job_output.stdout_path)).size());
  ASSERT_LT(traced_before_cut, kElements / 2);

  ASSERT_OK(network_->SetCable(kCutWorkerHost, /*plugged=*/false));
  const absl::Time cut_at = absl::Now();

  // Silent past its 1s lease, the worker is declared dead and leaves the registry.
  ASSERT_TRUE(WaitForWorkers(
                  [&](const std::vector<InfoRow>& rows) {
                    return rows.size() == 1 && FindPid(rows, kept_pid);
                  },
                  absl::Seconds(15), &last_info)
                  .has_value())
      << "the cut-off worker was never declared dead; last info: " << last_info;
  const absl::Duration detection = absl::Now() - cut_at;
  EXPECT_LT(detection, absl::Seconds(6)) << "a 1s lease should expire well within this";

  ASSERT_OK_AND_ASSIGN(int exit_code, processes_.Wait(cli, absl::Seconds(60)));
  const absl::Duration job_time = absl::Now() - job_start;
  const std::string out = ReadFile(job_output.stdout_path);
  const std::string err = ReadFile(job_output.stderr_path);
  ASSERT_EQ(exit_code, 0) << err;
  EXPECT_THAT(
      out, HasSubstr(absl::StrCat("The sum of the square of the first ", kElements, " integers is ",
                                  FormatInt128(SumOfSquares(kElements)), "\n")));
  // Every element computed and accepted exactly once, the early ones partly by the worker
  // that was cut off.
  const auto pids_by_value = ParseTrace(out);
  ASSERT_EQ(pids_by_value.size(), static_cast<size_t>(kElements)) << out;
  std::set<int64_t> pids;
  for (int64_t x = 1; x <= kElements; ++x) {
    ASSERT_EQ(pids_by_value.count(x), 1u) << "element " << x << " missing";
    ASSERT_EQ(pids_by_value.at(x).size(), 1u) << "element " << x << " accepted twice";
    pids.insert(pids_by_value.at(x)[0]);
  }
  EXPECT_EQ(pids, (std::set<int64_t>{cut_pid, kept_pid}));
  // The chunks the cut-off worker held were lost with it and ran again elsewhere.
  std::optional<JobStatsLine> stats = ParseStatsLine(err);
  ASSERT_TRUE(stats.has_value()) << "no stats line on stderr: " << err;
  EXPECT_EQ(stats->chunks, kElements / kChunkSize) << err;
  EXPECT_GE(stats->workers_lost, 1) << err;
  EXPECT_GE(stats->retries, 1) << err;

  // Cable back in: the worker's next heartbeat reaches a coordinator that no longer knows it,
  // so it registers again, under a new worker id.
  ASSERT_OK(network_->SetCable(kCutWorkerHost, /*plugged=*/true));
  const absl::Time plugged_at = absl::Now();
  std::optional<std::vector<InfoRow>> rejoined = WaitForWorkers(
      [&](const std::vector<InfoRow>& rows) {
        const InfoRow* cut = FindPid(rows, cut_pid);
        return rows.size() == 2 && FindPid(rows, kept_pid) && cut && cut->worker_id != first_id;
      },
      absl::Seconds(30), &last_info);
  ASSERT_TRUE(rejoined.has_value())
      << "the worker did not register again after the cable came back; last info: " << last_info;
  const absl::Duration rejoin = absl::Now() - plugged_at;

  // And it gets work again, over the restored link.
  CliRun after = RunProgram(
      network_->InHost(kCoordinatorHost, {BinaryPath("gpool"), "--coordinator", coordinator_, "map",
                                          "square", "1..40", "--chunksize", "1", "--trace"}));
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("The sum of the square of the first 40 integers is 22140\n"));
  std::set<int64_t> after_pids;
  for (const auto& [value, value_pids] : ParseTrace(after.out)) {
    after_pids.insert(value_pids.begin(), value_pids.end());
  }
  EXPECT_EQ(after_pids, (std::set<int64_t>{cut_pid, kept_pid})) << after.out;

  std::cout << "partition: cut after " << traced_before_cut << "/" << kElements
            << " elements; declared dead after " << detection << "; job " << job_time << " ("
            << stats->retries << " retries, " << stats->workers_lost
            << " workers lost); registered again as " << FindPid(*rejoined, cut_pid)->worker_id
            << " after " << rejoin << std::endl;
}

}  // namespace
}  // namespace gpool
