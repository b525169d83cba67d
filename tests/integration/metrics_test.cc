// The daemons' /metrics on a real cluster (a coordinator and two workers, the real binaries on
// loopback ephemeral ports): after a job, the text served says what happened and passes
// `promtool check metrics`; a real Prometheus (Debian's, 2.42) scraping the cluster answers
// queries about the job's elements and the workers; a bad or busy --metrics_listen is a usage
// error. The scrape config and alert rules of deploy/prometheus/ are checked by ctest tests of
// their own (tests/CMakeLists.txt).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr int64_t kJobElements = 100000;

// GET http://127.0.0.1:port`target` over a loopback socket: the body of a 200 answer,
// nullopt for anything else (nothing listening, another status).
std::optional<std::string> HttpGet(int port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  // A daemon that stopped answering must not hang the test.
  timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    // HTTP/1.0: the server closes the connection after the answer, which ends the read.
    const std::string request =
        absl::StrCat("GET ", target, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[65536];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos || !absl::StartsWith(response, "HTTP/1.") ||
      response.find(" 200 ") > response.find("\r\n")) {
    return std::nullopt;
  }
  return response.substr(body + 4);
}

// The value of the sample `series` (name and labels exactly as served) in `text`.
std::optional<double> SampleValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return std::nullopt;
}

std::string UrlEncode(const std::string& text) {
  std::string encoded;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.') {
      encoded += static_cast<char>(c);
    } else {
      encoded += absl::StrFormat("%%%02X", c);
    }
  }
  return encoded;
}

// A coordinator and two workers, each serving /metrics on a loopback ephemeral port.
class MetricsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = scratch_.path();
    ASSERT_OK_AND_ASSIGN(coordinator_,
                         SpawnProcess({BinaryPath("gpool-coordinator"), "--listen=127.0.0.1:0",
                                       "--port_file=" + dir + "/coordinator.port",
                                       "--metrics_listen=127.0.0.1:0",
                                       "--metrics_port_file=" + dir + "/coordinator.metrics"},
                                      Logs("coordinator")));
    ASSERT_OK_AND_ASSIGN(const std::string port,
                         WaitForFileLine(dir + "/coordinator.port", kStartTimeout, coordinator_));
    address_ = "127.0.0.1:" + port;
    ASSERT_OK_AND_ASSIGN(coordinator_metrics_port_, MetricsPort("coordinator", coordinator_));
    for (int i = 0; i < 2; ++i) {
      const std::string name = absl::StrCat("worker", i);
      ASSERT_OK_AND_ASSIGN(const pid_t pid,
                           SpawnProcess({BinaryPath("gpool-worker"), "--coordinator=" + address_,
                                         "--slots=2", "--metrics_listen=127.0.0.1:0",
                                         "--metrics_port_file=" + dir + "/" + name + ".metrics"},
                                        Logs(name)));
      workers_.push_back(pid);
      ASSERT_OK_AND_ASSIGN(const int metrics_port, MetricsPort(name, pid));
      worker_metrics_ports_.push_back(metrics_port);
    }
    ASSERT_TRUE(WaitUntil(
        [&] { return CoordinatorSample("gpool_workers{state=\"active\"}") == 2.0; },
        kStartTimeout))
        << "the coordinator's /metrics never showed 2 active workers; logs in " << dir;
  }

  void TearDown() override {
    for (pid_t pid : workers_) (void)StopProcess(pid, absl::Seconds(10));
    if (coordinator_ > 0) (void)StopProcess(coordinator_, absl::Seconds(10));
  }

  SpawnOptions Logs(const std::string& name) const {
    SpawnOptions options;
    options.stdout_path = scratch_.path() + "/" + name + ".log";
    options.stderr_path = options.stdout_path;
    return options;
  }

  absl::StatusOr<int> MetricsPort(const std::string& name, pid_t pid) const {
    absl::StatusOr<std::string> line =
        WaitForFileLine(scratch_.path() + "/" + name + ".metrics", kStartTimeout, pid);
    if (!line.ok()) return line.status();
    int port = 0;
    if (!absl::SimpleAtoi(*line, &port)) return absl::InternalError("bad port file: " + *line);
    return port;
  }

  std::optional<double> CoordinatorSample(const std::string& series) const {
    std::optional<std::string> text = HttpGet(coordinator_metrics_port_, "/metrics");
    return text.has_value() ? SampleValue(*text, series) : std::nullopt;
  }

  void RunJob() {
    CliRun run = RunCli({"--coordinator=" + address_, "map", "square",
                         absl::StrCat("1..", kJobElements)});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }

  // `promtool check metrics` on `text`: its exit code and what it printed.
  CliRun Promtool(const std::string& text) const {
    const std::string path = scratch_.path() + "/scraped.txt";
    std::ofstream(path) << text;
    return RunProgram({kPromtool, "check", "metrics"}, path);
  }

  TempDir scratch_;
  pid_t coordinator_ = 0;
  std::string address_;
  int coordinator_metrics_port_ = 0;
  std::vector<pid_t> workers_;
  std::vector<int> worker_metrics_ports_;
};

TEST_F(MetricsClusterTest, CoordinatorMetrics_AfterJob_CountItsElementsAndWorkers) {
  RunJob();
  std::optional<std::string> text = HttpGet(coordinator_metrics_port_, "/metrics");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(SampleValue(*text, "gpool_elements_mapped_total"), double{kJobElements});
  EXPECT_EQ(SampleValue(*text, "gpool_jobs_finished_total{outcome=\"ok\"}"), 1.0);
  EXPECT_EQ(SampleValue(*text, "gpool_workers{state=\"active\"}"), 2.0);
  EXPECT_EQ(SampleValue(*text, "gpool_slots"), 4.0);
  EXPECT_EQ(SampleValue(*text, "gpool_job_duration_seconds_count"), 1.0);
  EXPECT_EQ(SampleValue(*text, "gpool_workers_lost_total"), 0.0);
  // One chunks-done series per worker, with its id, host and pid.
  const std::vector<std::string> pieces =
      absl::StrSplit(*text, "\ngpool_worker_chunks_done_total{");
  EXPECT_EQ(pieces.size(), 3u);
}

TEST_F(MetricsClusterTest, CoordinatorMetrics_PassPromtoolCheck) {
  RunJob();
  std::optional<std::string> text = HttpGet(coordinator_metrics_port_, "/metrics");
  ASSERT_TRUE(text.has_value());
  CliRun check = Promtool(*text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(MetricsClusterTest, WorkerMetrics_AfterJob_AddUpToTheJobsChunksAndPassPromtool) {
  RunJob();
  const std::optional<double> chunks =
      CoordinatorSample("gpool_chunks_total{outcome=\"done\"}");
  ASSERT_TRUE(chunks.has_value());
  double done = 0;
  for (int port : worker_metrics_ports_) {
    std::optional<std::string> text = HttpGet(port, "/metrics");
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(SampleValue(*text, "gpool_executor_slots"), 2.0);
    done += SampleValue(*text, "gpool_executor_chunks_done_total").value_or(-1);
    CliRun check = Promtool(*text);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }
  EXPECT_EQ(done, *chunks);
}

TEST_F(MetricsClusterTest, Prometheus_ScrapingTheCluster_FindsTheJobsElementsAndWorkers) {
  ASSERT_EQ(access(kPrometheus, X_OK), 0)
      << kPrometheus << " is missing: scripts/install-deps.sh test installs it (Debian "
      << "package prometheus)";
  RunJob();
  const std::string dir = scratch_.path();
  std::string workers;
  for (int port : worker_metrics_ports_) {
    absl::StrAppend(&workers, workers.empty() ? "" : ", ", "'127.0.0.1:", port, "'");
  }
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n"
      << "  - job_name: gpool-coordinator\n    static_configs:\n      - targets: ['127.0.0.1:"
      << coordinator_metrics_port_ << "']\n"
      << "  - job_name: gpool-worker\n    static_configs:\n      - targets: [" << workers
      << "]\n";
  // Prometheus cannot be told to pick its own port and report it: a port free a moment ago
  // may be taken by then, so a Prometheus that exits at once is started again elsewhere.
  pid_t prometheus = 0;
  int web_port = 0;
  for (int attempt = 0; attempt < 3 && prometheus == 0; ++attempt) {
    web_port = UnusedLoopbackPort();
    SpawnOptions logs;
    logs.stdout_path = dir + "/prometheus.log";
    logs.stderr_path = logs.stdout_path;
    ASSERT_OK_AND_ASSIGN(
        const pid_t pid,
        SpawnProcess({kPrometheus, "--config.file=" + dir + "/prometheus.yml",
                      "--storage.tsdb.path=" + dir + "/tsdb",
                      absl::StrCat("--web.listen-address=127.0.0.1:", web_port)},
                     logs));
    if (WaitUntil([&] { return HttpGet(web_port, "/-/ready").has_value() || !IsAlive(pid); },
                  kStartTimeout) &&
        HttpGet(web_port, "/-/ready").has_value()) {
      prometheus = pid;
    } else {
      (void)StopProcess(pid, absl::Seconds(5));
    }
  }
  ASSERT_NE(prometheus, 0) << "prometheus did not become ready; see " << dir
                           << "/prometheus.log:\n" << ReadFile(dir + "/prometheus.log");
  // The value of an instant query's single sample; nullopt until there is exactly one.
  auto query = [&](const std::string& promql) -> std::optional<double> {
    std::optional<std::string> body =
        HttpGet(web_port, "/api/v1/query?query=" + UrlEncode(promql));
    if (!body.has_value()) return std::nullopt;
    nlohmann::json answer = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded() || answer.value("status", "") != "success") return std::nullopt;
    const nlohmann::json& result = answer["data"]["result"];
    if (!result.is_array() || result.size() != 1) return std::nullopt;
    double value = 0;
    if (!absl::SimpleAtod(result[0]["value"][1].get<std::string>(), &value)) return std::nullopt;
    return value;
  };
  // Scrapes every second: a few seconds at most, given a generous deadline for slow machines.
  EXPECT_TRUE(WaitUntil(
      [&] { return query("gpool_elements_mapped_total") == double{kJobElements}; },
      absl::Seconds(30), absl::Milliseconds(250)))
      << "last answer: " << query("gpool_elements_mapped_total").value_or(-1);
  EXPECT_TRUE(WaitUntil([&] { return query("gpool_workers{state=\"active\"}") == 2.0; },
                        absl::Seconds(30), absl::Milliseconds(250)));
  EXPECT_TRUE(WaitUntil([&] { return query("count(gpool_worker_chunks_done_total)") == 2.0; },
                        absl::Seconds(30), absl::Milliseconds(250)));
  EXPECT_TRUE(WaitUntil([&] { return query("sum(up{job=\"gpool-worker\"})") == 2.0; },
                        absl::Seconds(30), absl::Milliseconds(250)));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return query("sum(gpool_executor_chunks_done_total)") ==
               query("gpool_chunks_total{outcome=\"done\"}");
      },
      absl::Seconds(30), absl::Milliseconds(250)));
  (void)StopProcess(prometheus, absl::Seconds(10));
}

// A daemon with a --metrics_listen it cannot use exits 2 at once, naming the flag.
class MetricsListenUsageTest : public ::testing::TestWithParam<const char*> {
 protected:
  // The daemon's command line with `metrics_listen`, valid otherwise.
  static std::vector<std::string> Command(const std::string& metrics_listen) {
    std::vector<std::string> argv = {BinaryPath(GetParam()), "--listen=127.0.0.1:0",
                                     "--metrics_listen=" + metrics_listen};
    if (std::string(GetParam()) == "gpool-worker") argv.push_back("--coordinator=127.0.0.1:1");
    return argv;
  }
};

TEST_P(MetricsListenUsageTest, BadValue_ExitsTwoNamingTheFlag) {
  CliRun run = RunProgram(Command("127.0.0.1:http"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--metrics_listen"));
}

TEST_P(MetricsListenUsageTest, PortInUse_ExitsTwoNamingTheAddress) {
  // Held listening for the whole run.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string busy = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  CliRun run = RunProgram(Command(busy));
  close(fd);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--metrics_listen " + busy + ": cannot listen"));
}

INSTANTIATE_TEST_SUITE_P(Daemons, MetricsListenUsageTest,
                         ::testing::Values("gpool-coordinator", "gpool-worker"),
                         [](const auto& info) {
                           return std::string(info.param) == "gpool-coordinator"
                                      ? "Coordinator"
                                      : "Worker";
                         });

}  // namespace
}  // namespace gpool::testing
