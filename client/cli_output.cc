#include "client/cli_output.h"

#include <algorithm>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "client/json.h"
#include "common/int128.h"
#include "common/typed_builtins.h"

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
    case absl::StatusCode::kResourceExhausted:  // a request over the size limit
    // Credentials of a role that may not make the call: fix --credentials.
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
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

namespace {

// "square,cube,...": the names of the functions a worker offers.
std::string FunctionNames(const WorkerInfo& worker) {
  return absl::StrJoin(worker.functions, ",",
                       [](std::string* out, const FunctionSignature& function) {
                         out->append(function.name);
                       });
}


// "the first 5000 integers", "the integers from -5 to 5", "the 3 given integers".
// "the 3 given integers", "the 1 given string".
std::string GivenPhrase(uint64_t count, ElementType type) {
  const char* noun = type == ElementType::kInt64    ? "integer"
                     : type == ElementType::kDouble ? "number"
                     : type == ElementType::kString ? "string"
                                                    : "bytes value";
  return absl::StrCat("the ", count, " given ", noun, count == 1 ? "" : "s");
}

std::string InputPhrase(const Input& input) {
  if (input.is_range() && input.range_start() == 1) {
    return absl::StrCat("the first ", input.range_end(),
                        input.range_end() == 1 ? " integer" : " integers");
  }
  if (input.is_range()) {
    return absl::StrCat("the integers from ", input.range_start(), " to ", input.range_end());
  }
  return GivenPhrase(input.size(), input.type());
}

std::string ResultSentence(const std::string& word, const std::string& function,
                           const Input& input, const std::string& value) {
  return absl::StrCat("The ", word, " of the ", function, " of ", InputPhrase(input), " is ",
                      value);
}

// Rows of cells as left-aligned columns two spaces apart; the last column is not padded.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string table;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        absl::StrAppend(&line, absl::StrFormat("%-*s  ", static_cast<int>(widths[i]), row[i]));
      } else {
        absl::StrAppend(&line, row[i]);
      }
    }
    absl::StrAppend(&table, line, "\n");
  }
  return table;
}

std::string JsonStats(const JobStats& stats) {
  return JsonObject()
      .Int("retries", stats.retries)
      .Int("workers_lost", stats.workers_lost)
      .Int("backups", stats.backups)
      .Int("duplicates_dropped", stats.duplicates_dropped)
      .Int("chunks_verified", stats.chunks_verified)
      .Int("verification_mismatches", stats.verification_mismatches)
      .Build();
}

}  // namespace

std::string SumLine(const std::string& function, const Input& input, absl::int128 sum) {
  return ResultSentence("sum", function, input, FormatInt128(sum));
}

namespace {

// The value a result sentence states: an inexact mean as its fraction, and about its decimal.
std::string ReductionText(Reduction reduction, const MapSummary& summary) {
  std::string value = ReductionValue(reduction, summary);
  if (reduction == Reduction::kMean && summary.job.output_type == ElementType::kInt64) {
    const ExactMean mean = ComputeMean(summary.sum, summary.count);
    if (!mean.decimal_is_exact) value = absl::StrCat(mean.fraction, " (about ", mean.decimal, ")");
  }
  return value;
}

}  // namespace

std::string ReductionLine(Reduction reduction, const std::string& function, const Input& input,
                          const MapSummary& summary) {
  return ResultSentence(ReductionWord(reduction), function, input,
                        ReductionText(reduction, summary));
}

std::string FormatElement(const Elements& values, size_t index) {
  switch (values.type()) {
    case ElementType::kInt64:
      return absl::StrCat(values.int64s()[index]);
    case ElementType::kDouble:
      return FormatDouble(values.doubles()[index]);
    case ElementType::kString:
      return values.texts()[index];
    case ElementType::kBytes:
      return ToHex(values.texts()[index]);
  }
  return "";
}

std::string TraceLine(const WorkerIdentity& worker, bool show_host, const std::string& function,
                      const std::string& value) {
  return absl::StrCat("Worker ", worker.pid, show_host ? absl::StrCat("@", worker.host) : "",
                      " calculating ", function, " of ", value);
}

namespace {

// "1 worker", "2 workers": the stats line is read by people (scripts match `workers?`).
std::string Counted(uint64_t count, absl::string_view one, absl::string_view many) {
  return absl::StrCat(count, " ", count == 1 ? one : many);
}

}  // namespace

std::string StatsLine(const MapSummary& summary) {
  return absl::StrCat(summary.job.job_id, ": ", Counted(summary.job.num_chunks, "chunk", "chunks"),
                      " on ", Counted(summary.chunks_by_worker.size(), "worker", "workers"), "; ",
                      Counted(summary.stats.retries, "retry", "retries"), ", ",
                      Counted(summary.stats.workers_lost, "worker", "workers"), " lost, ",
                      Counted(summary.stats.backups, "backup", "backups"), ", ",
                      Counted(summary.stats.duplicates_dropped, "duplicate", "duplicates"),
                      " dropped",
                      summary.stats.chunks_verified > 0 ||
                              summary.stats.verification_mismatches > 0
                          ? absl::StrCat("; ",
                                         Counted(summary.stats.chunks_verified, "chunk",
                                                 "chunks"),
                                         " verified, ",
                                         Counted(summary.stats.verification_mismatches,
                                                 "mismatch", "mismatches"))
                          : "",
                      summary.values_shared > 0
                          ? absl::StrCat("; ", summary.values_shared,
                                         " values through shared memory")
                          : "");
}

namespace {

// Under a table of workers: those the coordinator left out to keep its answer under the
// message limit (ClusterInfo.workers_omitted).
std::string OmittedWorkersLine(const ClusterInfo& view) {
  if (view.workers_omitted <= 0) return "";
  return absl::StrCat("... and ", view.workers_omitted,
                      view.workers_omitted == 1 ? " more worker" : " more workers",
                      " not listed\n");
}

}  // namespace

std::string ClusterReport(const ClusterInfo& view) {
  std::string report = absl::StrCat(CoresLine(view.total_slots), "\n");
  if (view.workers.empty() && view.workers_omitted <= 0) {
    absl::StrAppend(&report, "No workers are registered.\n");
    return report;
  }
  std::vector<std::vector<std::string>> rows = {
      {"WORKER", "HOST", "PID", "SLOTS", "FUNCTIONS", "ADDRESS"}};
  for (const WorkerInfo& worker : view.workers) {
    rows.push_back({worker.ref.worker_id, worker.ref.host, absl::StrCat(worker.ref.pid),
                    absl::StrCat(worker.slots), FunctionNames(worker),
                    worker.address});
  }
  absl::StrAppend(&report, FormatTable(rows), OmittedWorkersLine(view));
  return report;
}

std::string CompactDuration(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) duration = absl::ZeroDuration();
  if (duration < absl::Seconds(10)) {
    // Tenths, rounded down, so 9.99s does not print as "10.0s".
    return absl::StrFormat("%d.%ds", absl::ToInt64Seconds(duration),
                           absl::ToInt64Milliseconds(duration) % 1000 / 100);
  }
  const int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, seconds % 3600 / 60);
}

std::string PercentText(uint64_t done, uint64_t total) {
  if (total == 0) return "0.0%";
  const uint64_t permille = static_cast<uint64_t>(
      absl::uint128(std::min(done, total)) * 1000 / absl::uint128(total));
  return absl::StrFormat("%d.%d%%", permille / 10, permille % 10);
}

std::string StatusReport(const std::string& coordinator, const ClusterInfo& view) {
  const size_t registered = view.workers.size() + std::max(view.workers_omitted, 0);
  std::string report = absl::StrCat(
      "Coordinator ", coordinator, ": ", registered,
      registered == 1 ? " worker, " : " workers, ", view.total_slots,
      view.total_slots == 1 ? " slot, " : " slots, ", view.jobs.size(),
      view.jobs.size() == 1 ? " running job" : " running jobs", "\n\n");
  if (registered == 0) {
    absl::StrAppend(&report, "No workers are registered.\n");
  } else {
    std::vector<std::vector<std::string>> rows = {{"WORKER", "HOST", "PID", "SLOTS", "FUNCTIONS",
                                                   "IN-FLIGHT", "DONE", "FAULTS", "HEARTBEAT"}};
    for (const WorkerInfo& worker : view.workers) {
      rows.push_back({worker.ref.worker_id, worker.ref.host, absl::StrCat(worker.ref.pid),
                      absl::StrCat(worker.slots), FunctionNames(worker),
                      absl::StrCat(worker.chunks_in_flight), absl::StrCat(worker.chunks_done),
                      absl::StrCat(worker.faults),
                      absl::StrCat(CompactDuration(worker.heartbeat_age), " ago")});
    }
    absl::StrAppend(&report, FormatTable(rows), OmittedWorkersLine(view));
    for (const WorkerInfo& worker : view.workers) {
      if (!worker.quarantined) continue;
      // --verify outvoted it: say so beside the table, with why.
      absl::StrAppend(&report, "Worker ", worker.ref.worker_id,
                      " is QUARANTINED (gets no chunks): ", worker.quarantine_reason, "\n");
    }
  }
  absl::StrAppend(&report, "\n");
  if (view.jobs.empty()) {
    absl::StrAppend(&report, "No jobs are running.\n");
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"JOB", "FUNCTION", "ELEMENTS", "PROGRESS", "ELAPSED", "RETRIES"}};
    for (const JobInfo& job : view.jobs) {
      rows.push_back({job.job_id, job.function, absl::StrCat(job.total_elements),
                      absl::StrCat(job.chunks_done, "/", job.num_chunks, " chunks ",
                                   PercentText(job.chunks_done, job.num_chunks)),
                      CompactDuration(job.elapsed), absl::StrCat(job.stats.retries)});
    }
    absl::StrAppend(&report, FormatTable(rows));
  }
  return report;
}

std::string StatusJson(const std::string& coordinator, const ClusterInfo& view) {
  std::vector<std::string> workers;
  for (const WorkerInfo& worker : view.workers) {
    std::vector<std::string> functions;
    std::vector<std::string> signatures;
    for (const FunctionSignature& function : worker.functions) {
      functions.push_back(JsonString(function.name));
      signatures.push_back(JsonString(function.Describe()));
    }
    workers.push_back(JsonObject()
                          .String("id", worker.ref.worker_id)
                          .String("host", worker.ref.host)
                          .Int("pid", worker.ref.pid)
                          .String("address", worker.address)
                          .Int("slots", worker.slots)
                          .Raw("functions", JsonArray(functions))
                          .Raw("function_types", JsonArray(signatures))
                          .Int("chunks_in_flight", worker.chunks_in_flight)
                          .Int("chunks_done", worker.chunks_done)
                          .Int("faults", worker.faults)
                          .Bool("quarantined", worker.quarantined)
                          .String("quarantine_reason", worker.quarantine_reason)
                          .Int("heartbeat_age_ms", absl::ToInt64Milliseconds(worker.heartbeat_age))
                          .Int("heartbeat_interval_ms",
                               absl::ToInt64Milliseconds(worker.heartbeat_interval))
                          .Int("lease_timeout_ms", absl::ToInt64Milliseconds(worker.lease_timeout))
                          .Build());
  }
  std::vector<std::string> jobs;
  for (const JobInfo& job : view.jobs) {
    jobs.push_back(JsonObject()
                       .String("id", job.job_id)
                       .String("function", job.function)
                       .Uint("total_elements", job.total_elements)
                       .Uint("num_chunks", job.num_chunks)
                       .Uint("chunks_done", job.chunks_done)
                       .Int("elapsed_ms", absl::ToInt64Milliseconds(job.elapsed))
                       .Raw("stats", JsonStats(job.stats))
                       .Build());
  }
  return JsonObject()
      .String("coordinator", coordinator)
      .Int("total_slots", view.total_slots)
      .Raw("workers", JsonArray(workers))
      .Int("workers_omitted", view.workers_omitted)
      .Raw("jobs", JsonArray(jobs))
      .Build();
}

namespace {

std::string MapJsonOf(const std::string& function, JsonObject& input, Reduction reduction,
                      const MapSummary& summary, absl::Duration elapsed, const Elements* values);

}  // namespace

std::string MapJson(const MapSpec& spec, Reduction reduction, const MapSummary& summary,
                    absl::Duration elapsed, const Elements* values) {
  JsonObject input;
  if (spec.input.is_range()) {
    input.Raw("range", JsonArray({JsonString(absl::StrCat(spec.input.range_start())),
                                  JsonString(absl::StrCat(spec.input.range_end()))}));
  } else {
    input.Uint("count", spec.input.size());
  }
  return MapJsonOf(spec.function, input, reduction, summary, elapsed, values);
}

std::string StreamedMapJson(const std::string& function, Reduction reduction,
                            const MapSummary& summary, absl::Duration elapsed,
                            const Elements* values) {
  JsonObject input;
  input.Uint("count", summary.job.total_elements);
  return MapJsonOf(function, input, reduction, summary, elapsed, values);
}

std::string StreamedReductionLine(Reduction reduction, const std::string& function,
                                  const MapSummary& summary) {
  const uint64_t n = summary.job.total_elements;
  return absl::StrCat("The ", ReductionWord(reduction), " of the ", function, " of ",
                      GivenPhrase(n, summary.job.input_type), " is ",
                      ReductionText(reduction, summary));
}

namespace {

std::string MapJsonOf(const std::string& function, JsonObject& input, Reduction reduction,
                      const MapSummary& summary, absl::Duration elapsed, const Elements* values) {
  JsonObject json;
  json.String("function", function)
      .Raw("input", input.Build())
      .String("reduce", ReductionName(reduction))
      .String("result", ReductionValue(reduction, summary))
      .String("input_type", ElementTypeName(summary.job.input_type))
      .String("output_type", ElementTypeName(summary.job.output_type));
  if (reduction == Reduction::kMean && summary.job.output_type == ElementType::kInt64) {
    const ExactMean mean = ComputeMean(summary.sum, summary.count);
    json.String("fraction", mean.fraction)
        .String("decimal", mean.decimal)
        .Bool("decimal_is_exact", mean.decimal_is_exact);
  }
  std::vector<std::string> workers;
  for (const auto& [worker, chunks] : summary.chunks_by_worker) {
    workers.push_back(JsonObject()
                          .String("id", worker.worker_id)
                          .String("host", worker.host)
                          .Int("pid", worker.pid)
                          .Int("chunks", chunks)
                          .Build());
  }
  json.Uint("count", summary.count)
      .Uint("values_shared", summary.values_shared)
      .String("job_id", summary.job.job_id)
      .Uint("chunks", summary.job.num_chunks)
      .Uint("chunk_size", summary.job.chunk_size)
      .Int("cluster_slots", summary.job.cluster_slots)
      .Int("job_slots", summary.job.job_slots)
      .Int("elapsed_ms", absl::ToInt64Milliseconds(elapsed))
      .Raw("workers", JsonArray(workers))
      .Raw("stats", JsonStats(summary.stats));
  if (values != nullptr) {
    std::vector<std::string> encoded;
    encoded.reserve(values->size());
    // Each value as a string, losslessly: integers in decimal, doubles in shortest
    // round-trip form ("nan", "inf" too), strings as they are, bytes in lowercase hex.
    for (size_t i = 0; i < values->size(); ++i) {
      encoded.push_back(JsonString(FormatElement(*values, i)));
    }
    json.Raw("values", JsonArray(encoded));
  }
  return json.Build();
}

}  // namespace

}  // namespace gpool
