// A worker binary of a test's own (gpool-worker-custom, gpool-worker-liar) started beside a
// LocalCluster's workers, for the integration tests that need one worker unlike the others.
#ifndef GPOOL_TESTS_SUPPORT_EXTRA_WORKER_H_
#define GPOOL_TESTS_SUPPORT_EXTRA_WORKER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"

namespace gpool::testing {

struct ExtraWorker {
  pid_t pid = 0;
  std::string worker_id;
};

// Starts `binary` registering with `coordinator` on a loopback port, and returns once
// `client` sees it registered (within 20 s: DEADLINE_EXCEEDED otherwise).
absl::StatusOr<ExtraWorker> StartExtraWorker(const std::string& binary,
                                             const std::string& coordinator, Client& client);

// Stops it (SIGTERM, then at most 10 s); an error unless it exited with status 0.
absl::Status StopExtraWorker(const ExtraWorker& worker);

}  // namespace gpool::testing

#endif  // GPOOL_TESTS_SUPPORT_EXTRA_WORKER_H_
