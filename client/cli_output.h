// What the gpool CLI prints, as pure functions so the wording is unit-tested.
#ifndef GPOOL_CLIENT_CLI_OUTPUT_H_
#define GPOOL_CLIENT_CLI_OUTPUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/reduction.h"
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

// The line of `gpool map --reduce R`, worded like SumLine: "The maximum of the square of the
// first 10 integers is 100", "The mean of ... is 38.5". A mean whose decimal does not
// terminate prints as its reduced fraction and a rounded decimal: "... is 8/3 (about
// 2.666667)". For kSum it is exactly SumLine.
std::string ReductionLine(Reduction reduction, const std::string& function, const Input& input,
                          const MapSummary& summary);

// "Worker 6190 calculating square of 1"; with show_host, "Worker 6190@host calculating ...".
std::string TraceLine(const WorkerIdentity& worker, bool show_host, const std::string& function,
                      const std::string& value);
// Value `index` as --print writes it: an int64 in decimal, a double in shortest round-trip
// form (Python's repr), a string as it is, bytes in lowercase hex.
std::string FormatElement(const Elements& values, size_t index);

// "job-3: 12 chunks on 2 workers; 1 retries, 1 workers lost, 0 backups".
std::string StatsLine(const MapSummary& summary);

// The `gpool info` report: the cores line, then one line per worker listed, then "... and N
// more workers not listed" when the coordinator left some out (ClusterInfo.workers_omitted).
std::string ClusterReport(const ClusterInfo& view);

// A short duration for tables and the progress bar: "0.4s", "42s", "3m07s", "2h05m".
std::string CompactDuration(absl::Duration duration);

// "42.5%": done / total in per mille, rounded down (so 100.0% means all done); "0.0%" for an
// empty total.
std::string PercentText(uint64_t done, uint64_t total);

// The `gpool status` report: a summary line, a table of workers (id, host, PID, slots,
// functions, chunks in flight, chunks done, heartbeat age) and a table of running jobs (id,
// function, elements, chunk progress, elapsed, retries).
std::string StatusReport(const std::string& coordinator, const ClusterInfo& view);

// `gpool status --json`: one JSON object on one line (no trailing newline) with
// "coordinator", "total_slots", "workers", "workers_omitted" (registered but not listed: the
// coordinator's answer has a byte budget) and "jobs". Durations are in milliseconds.
std::string StatusJson(const std::string& coordinator, const ClusterInfo& view);

// `gpool map --json`: the job's result and statistics as one JSON object on one line (no
// trailing newline). Integers that can exceed 2^53 (input values, mapped values, every
// reduction) are decimal strings, so that no JSON parser rounds them; counts, PIDs and
// durations are numbers. `values` (input order) is included when not null.
std::string MapJson(const MapSpec& spec, Reduction reduction, const MapSummary& summary,
                    absl::Duration elapsed, const Elements* values);

// The same for a job over a streamed list (--input), of which only the number of values is
// known (summary.job.total_elements): "The sum of the square of the 3 given integers is 83".
std::string StreamedMapJson(const std::string& function, Reduction reduction,
                            const MapSummary& summary, absl::Duration elapsed,
                            const Elements* values);
std::string StreamedReductionLine(Reduction reduction, const std::string& function,
                                  const MapSummary& summary);

}  // namespace gpool

#endif  // GPOOL_CLIENT_CLI_OUTPUT_H_
