// What the gpool CLI prints, as pure functions so the wording is unit-tested.
#ifndef GPOOL_CLIENT_CLI_OUTPUT_H_
#define GPOOL_CLIENT_CLI_OUTPUT_H_

#include <string>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "client/client.h"
#include "common/input.h"

namespace gpool {

// Documented exit codes of the gpool CLI.
inline constexpr int kExitOk = 0;
inline constexpr int kExitJobFailed = 1;      // the cluster ran the job and it failed
inline constexpr int kExitBadInput = 2;       // usage, input or function is wrong
inline constexpr int kExitUnavailable = 3;    // coordinator unreachable, no workers, deadline

int ExitCodeFor(const absl::Status& status);

// "gpool: error: <message> (OUT_OF_RANGE)".
std::string ErrorLine(const absl::Status& status);

// "Number of cores available equals 4".
std::string CoresLine(int slots);

// "The sum of the square of the first 5000 integers is 41679167500", or "... of the integers
// from -5 to 5 ...", or "... of the 3 given integers ...".
std::string SumLine(const std::string& function, const Input& input, absl::int128 sum);

// "Worker 6190 calculating square of 1"; with show_host, "Worker 6190@host calculating ...".
std::string TraceLine(const WorkerIdentity& worker, bool show_host, const std::string& function,
                      int64_t value);

// "job-3: 12 chunks on 2 workers; 1 retries, 1 workers lost, 0 backups".
std::string StatsLine(const MapSummary& summary);

// The `gpool info` report: the cores line, then one line per worker.
std::string ClusterReport(const ClusterView& view);

}  // namespace gpool

#endif  // GPOOL_CLIENT_CLI_OUTPUT_H_
