#include "tests/support/extra_worker.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "tests/support/integration_helpers.h"

namespace gpool::testing {

absl::StatusOr<ExtraWorker> StartExtraWorker(const std::string& binary,
                                             const std::string& coordinator, Client& client) {
  ExtraWorker worker;
  absl::StatusOr<pid_t> pid = SpawnProcess(
      {binary, "--coordinator=" + coordinator, "--listen=127.0.0.1:0", "--log_level=warning"});
  if (!pid.ok()) return pid.status();
  worker.pid = *pid;
  // Registration has no event to wait on from here: poll the coordinator's view.
  const bool registered = WaitUntil(
      [&] {
        absl::StatusOr<ClusterInfo> view = client.GetClusterInfo();
        if (!view.ok()) return false;
        for (const WorkerInfo& info : view->workers) {
          if (info.ref.pid == worker.pid) {
            worker.worker_id = info.ref.worker_id;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20));
  if (!registered) {
    (void)StopProcess(worker.pid, absl::Seconds(10));
    return absl::DeadlineExceededError(
        absl::StrCat(binary, " (pid ", worker.pid, ") did not register within 20s"));
  }
  return worker;
}

absl::Status StopExtraWorker(const ExtraWorker& worker) {
  absl::StatusOr<int> exit_code = StopProcess(worker.pid, absl::Seconds(10));
  if (!exit_code.ok()) return exit_code.status();
  if (*exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("worker pid ", worker.pid, " exited with status ", *exit_code));
  }
  return absl::OkStatus();
}

}  // namespace gpool::testing
