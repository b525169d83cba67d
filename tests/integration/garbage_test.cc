// What anyone who reaches a daemon's port can send that is not gRPC: random bytes, HTTP/1.1,
// and HTTP/2 connections that never finish their handshake. The daemons close what they
// cannot speak and keep serving everyone else (issue 22, item 8).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

// A TCP connection to 127.0.0.1:port; -1 on failure.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer closes `fd` (read returns 0 or an error) within `timeout`, reading and
// discarding whatever it sends first.
bool ClosedByPeerWithin(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  while (absl::Now() < deadline) {
    pollfd poll_fd = {fd, POLLIN, 0};
    const int ready = poll(&poll_fd, 1, static_cast<int>(absl::ToInt64Milliseconds(
                                            std::max(absl::Milliseconds(1), deadline - absl::Now()))));
    if (ready <= 0) continue;
    if (read(fd, buffer, sizeof(buffer)) <= 0) return true;
  }
  return false;
}

int PortOf(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) << address;
  return port;
}

class GarbageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
        LocalCluster::Start(testing::TestClusterOptions(1));
    ASSERT_OK(cluster.status());
    cluster_ = *std::move(cluster);
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(cluster_->address());
    ASSERT_OK(client.status());
    client_ = *std::move(client);
    absl::StatusOr<ClusterInfo> info = client_->GetClusterInfo(1, absl::Seconds(30));
    ASSERT_OK(info.status());
    ASSERT_EQ(info->workers.size(), 1u);
    ports_ = {PortOf(cluster_->address()), PortOf(info->workers[0].address)};
  }

  // The seed job, exact, through the coordinator and its worker.
  void ExpectSeedJobExact() {
    MapSpec spec;
    spec.function = "square";
    spec.input = Input::Range(1, 5000);
    absl::StatusOr<MapSummary> summary = client_->MapStreaming(
        spec, /*want_values=*/false, [](const JobStart&) {}, [](const ChunkResult&) {});
    ASSERT_OK(summary.status());
    EXPECT_EQ(summary->sum, absl::int128(41679167500));
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::vector<int> ports_;  // the coordinator's, then the worker's
};

TEST_F(GarbageTest, RandomBytes_ConnectionClosedAndDaemonsKeepServing) {
  for (int port : ports_) {
    const int fd = Connect(port);
    ASSERT_GE(fd, 0) << port;
    std::string garbage;
    for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
    ASSERT_EQ(write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
    EXPECT_TRUE(ClosedByPeerWithin(fd, absl::Seconds(30))) << "port " << port;
    close(fd);
  }
  ExpectSeedJobExact();
}

TEST_F(GarbageTest, Http1Request_ConnectionClosedAndDaemonsKeepServing) {
  for (int port : ports_) {
    const int fd = Connect(port);
    ASSERT_GE(fd, 0) << port;
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    EXPECT_TRUE(ClosedByPeerWithin(fd, absl::Seconds(30))) << "port " << port;
    close(fd);
  }
  ExpectSeedJobExact();
}

// Connections that send half of HTTP/2's preface and then nothing hold no call: jobs go on
// while they are open, and the daemons close them once their keepalive ping goes unanswered
// (sent after 10 s without traffic, answer awaited 5 s: proto/gpool.proto, "Transport").
TEST_F(GarbageTest, HalfOpenHttp2Connections_JobsGoOnAndTheyAreClosed) {
  std::vector<int> fds;
  for (int port : ports_) {
    for (int i = 0; i < 100; ++i) {
      const int fd = Connect(port);
      ASSERT_GE(fd, 0) << port;
      const std::string half_preface = "PRI * HTTP/2.0\r\n";
      ASSERT_EQ(write(fd, half_preface.data(), half_preface.size()),
                static_cast<ssize_t>(half_preface.size()));
      fds.push_back(fd);
    }
  }
  ExpectSeedJobExact();
  for (int fd : fds) {
    EXPECT_TRUE(ClosedByPeerWithin(fd, absl::Seconds(40)));
    close(fd);
  }
}

}  // namespace
}  // namespace gpool
