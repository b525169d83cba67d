// A GoogleTest fixture that runs a private gpool cluster (the real binaries on loopback) for
// each test, and helpers to point the CLI at it.
#ifndef GPOOL_TESTS_SUPPORT_CLUSTER_FIXTURE_H_
#define GPOOL_TESTS_SUPPORT_CLUSTER_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/local_cluster.h"
#include "gtest/gtest.h"
#include "tests/support/integration_helpers.h"

namespace gpool::testing {

// A private cluster of the build's binaries: a coordinator with `coordinator_flags` and
// `workers` workers with `worker_flags`; the other options at their defaults.
inline LocalClusterOptions TestClusterOptions(int workers,
                                              std::vector<std::string> worker_flags = {},
                                              std::vector<std::string> coordinator_flags = {}) {
  LocalClusterOptions options;
  options.workers = workers;
  const std::string gpool = BinaryPath("gpool");
  options.binary_dir = gpool.substr(0, gpool.rfind('/'));
  options.worker_flags = std::move(worker_flags);
  options.coordinator_flags = std::move(coordinator_flags);
  return options;
}

class LocalClusterTest : public ::testing::Test {
 protected:
  // Starts a coordinator and `workers` workers and waits until all are registered; the
  // cluster stops when the test ends.
  void StartCluster(int workers, std::vector<std::string> worker_flags = {},
                    std::vector<std::string> coordinator_flags = {}) {
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(
        TestClusterOptions(workers, std::move(worker_flags), std::move(coordinator_flags)));
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  // `args` for the gpool CLI, aimed at this test's cluster.
  std::vector<std::string> WithCoordinator(std::vector<std::string> args) const {
    args.insert(args.begin(), "--coordinator=" + cluster_->address());
    return args;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

}  // namespace gpool::testing

#endif  // GPOOL_TESTS_SUPPORT_CLUSTER_FIXTURE_H_
