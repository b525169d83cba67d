#include "client/cli_output.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/int128.h"

namespace gpool {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kFailedPrecondition:
      return kExitBadInput;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitJobFailed;
  }
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat("gpool: error: ", status.message(), " (",
                      absl::StatusCodeToString(status.code()), ")");
}

std::string CoresLine(int slots) {
  return absl::StrCat("Number of cores available equals ", slots);
}

std::string SumLine(const std::string& function, const Input& input, absl::int128 sum) {
  std::string what;
  if (input.is_range() && input.range_start() == 1) {
    what = absl::StrCat("the first ", input.range_end(),
                        input.range_end() == 1 ? " integer" : " integers");
  } else if (input.is_range()) {
    what = absl::StrCat("the integers from ", input.range_start(), " to ", input.range_end());
  } else {
    what = absl::StrCat("the ", input.size(), input.size() == 1 ? " given integer" : " given integers");
  }
  return absl::StrCat("The sum of the ", function, " of ", what, " is ", FormatInt128(sum));
}

std::string TraceLine(const WorkerIdentity& worker, bool show_host, const std::string& function,
                      int64_t value) {
  return absl::StrCat("Worker ", worker.pid, show_host ? absl::StrCat("@", worker.host) : "",
                      " calculating ", function, " of ", value);
}

std::string StatsLine(const MapSummary& summary) {
  return absl::StrCat(summary.job.job_id, ": ", summary.job.num_chunks, " chunks on ",
                      summary.chunks_by_worker.size(), " workers; ", summary.stats.retries,
                      " retries, ", summary.stats.workers_lost, " workers lost, ",
                      summary.stats.backups, " backups, ", summary.stats.duplicates_dropped,
                      " duplicates dropped");
}

std::string ClusterReport(const ClusterView& view) {
  std::string report = absl::StrCat(CoresLine(view.total_slots), "\n");
  if (view.workers.empty()) {
    absl::StrAppend(&report, "No workers are registered.\n");
    return report;
  }
  std::vector<std::vector<std::string>> rows = {
      {"WORKER", "HOST", "PID", "SLOTS", "FUNCTIONS", "ADDRESS"}};
  for (const WorkerView& worker : view.workers) {
    rows.push_back({worker.ref.worker_id, worker.ref.host, absl::StrCat(worker.ref.pid),
                    absl::StrCat(worker.slots), absl::StrJoin(worker.functions, ","),
                    worker.address});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        absl::StrAppend(&line, absl::StrFormat("%-*s  ", static_cast<int>(widths[i]), row[i]));
      } else {
        absl::StrAppend(&line, row[i]);
      }
    }
    absl::StrAppend(&report, line, "\n");
  }
  return report;
}

}  // namespace gpool
