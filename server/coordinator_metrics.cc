#include "server/coordinator_metrics.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gpool {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily NewFamily(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(MetricFamily& family, double value,
               std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

std::vector<ClientMetric::Label> WorkerLabels(const WorkerIdentity& ref) {
  return {{"host", ref.host}, {"pid", absl::StrCat(ref.pid)}, {"worker_id", ref.worker_id}};
}

}  // namespace

const prometheus::Histogram::BucketBoundaries& CoordinatorMetrics::ChunkBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600};
  return *buckets;
}

CoordinatorMetrics::CoordinatorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  elements_mapped_ = &prometheus::BuildCounter()
                          .Name("gpool_elements_mapped_total")
                          .Help("Elements whose results the coordinator accepted.")
                          .Register(*registry_)
                          .Add({});
  auto& chunks = prometheus::BuildCounter()
                     .Name("gpool_chunks_total")
                     .Help("Runs of chunks that ended, by outcome: done (result accepted), "
                           "failed (the worker's error or a refused result), lost (with "
                           "their worker).")
                     .Register(*registry_);
  chunks_done_ = &chunks.Add({{"outcome", "done"}});
  chunks_failed_ = &chunks.Add({{"outcome", "failed"}});
  chunks_lost_ = &chunks.Add({{"outcome", "lost"}});
  workers_lost_ = &prometheus::BuildCounter()
                       .Name("gpool_workers_lost_total")
                       .Help("Workers declared dead (lease expired, or unreachable); not "
                             "graceful leaves.")
                       .Register(*registry_)
                       .Add({});
  jobs_finished_ = &prometheus::BuildCounter()
                        .Name("gpool_jobs_finished_total")
                        .Help("Jobs that ended, by outcome: ok, or the lower-case status "
                              "code they failed with (unavailable, aborted, cancelled, ...).")
                        .Register(*registry_);
  jobs_finished_->Add({{"outcome", "ok"}});
  chunk_duration_ = &prometheus::BuildHistogram()
                         .Name("gpool_chunk_duration_seconds")
                         .Help("Time of a chunk on a worker as the coordinator sees it: from "
                               "the dispatch of its call to its result, shared evenly among "
                               "the call's chunks.")
                         .Register(*registry_)
                         .Add({}, ChunkBuckets());
  job_duration_ = &prometheus::BuildHistogram()
                       .Name("gpool_job_duration_seconds")
                       .Help("Time from a job's submission to its end, whatever the outcome.")
                       .Register(*registry_)
                       .Add({}, prometheus::Histogram::BucketBoundaries{
                                    0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600});
}

void CoordinatorMetrics::Attach(std::function<ClusterInfo()> snapshot) {
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(snapshot);
}

void CoordinatorMetrics::Detach() {
  absl::MutexLock lock(&mu_);
  snapshot_ = nullptr;
}

void CoordinatorMetrics::ChunkDone(uint64_t elements) {
  chunks_done_->Increment();
  elements_mapped_->Increment(static_cast<double>(elements));
}

void CoordinatorMetrics::ChunkFailed() { chunks_failed_->Increment(); }

void CoordinatorMetrics::ChunksLost(int64_t runs) {
  if (runs > 0) chunks_lost_->Increment(static_cast<double>(runs));
}

void CoordinatorMetrics::CallDone(absl::Duration elapsed, int64_t chunks) {
  if (chunks <= 0) return;
  // One update for the whole call: a call may carry a thousand small chunks.
  const double each = absl::ToDoubleSeconds(elapsed) / static_cast<double>(chunks);
  const auto& bounds = ChunkBuckets();
  std::vector<double> increments(bounds.size() + 1, 0.0);
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), each) - bounds.begin());
  increments[bucket] = static_cast<double>(chunks);
  chunk_duration_->ObserveMultiple(increments, each * static_cast<double>(chunks));
}

void CoordinatorMetrics::JobFinished(absl::StatusCode code, absl::Duration elapsed) {
  // At most the 17 status codes: the label's values are bounded.
  jobs_finished_->Add({{"outcome", absl::AsciiStrToLower(absl::StatusCodeToString(code))}})
      .Increment();
  job_duration_->Observe(absl::ToDoubleSeconds(elapsed));
}

void CoordinatorMetrics::WorkerLost() { workers_lost_->Increment(); }

std::vector<MetricFamily> CoordinatorMetrics::Collect() const {
  std::vector<MetricFamily> families = registry_->Collect();
  std::optional<ClusterInfo> cluster;
  {
    // Held while the snapshot is taken, so that Detach waits for it.
    absl::MutexLock lock(&mu_);
    if (snapshot_) cluster = snapshot_();
  }
  if (cluster.has_value()) {
    MetricFamily workers = NewFamily(
        "gpool_workers", "Registered workers, by state: active (takes chunks), draining "
        "(leaving gracefully), quarantined (outvoted under --verify).", MetricType::Gauge);
    MetricFamily slots = NewFamily("gpool_slots", "Slots of the registered workers.",
                                   MetricType::Gauge);
    MetricFamily slots_busy = NewFamily(
        "gpool_slots_busy", "Slots computing a chunk (chunks in flight, at most the slots of "
        "each worker).", MetricType::Gauge);
    MetricFamily jobs = NewFamily(
        "gpool_jobs", "Jobs not ended, by state: running (planned), waiting (for a worker "
        "offering their function).", MetricType::Gauge);
    MetricFamily function_workers = NewFamily(
        "gpool_function_workers", "Active workers offering each function that a worker "
        "offers or a job wants (0: a job waits for a worker nobody runs).", MetricType::Gauge);
    MetricFamily worker_chunks = NewFamily(
        "gpool_worker_chunks_done_total", "Chunks each registered worker completed.",
        MetricType::Counter);
    MetricFamily worker_busy = NewFamily(
        "gpool_worker_busy_slots", "Slots of each registered worker computing a chunk.",
        MetricType::Gauge);
    MetricFamily worker_slots = NewFamily("gpool_worker_slots",
                                          "Slots of each registered worker.",
                                          MetricType::Gauge);
    int active = 0, draining = 0, quarantined = 0;
    int64_t busy = 0;
    std::map<std::string, int> offered;
    for (const WorkerInfo& worker : cluster->workers) {
      const bool takes_chunks = !worker.draining && !worker.quarantined;
      (worker.quarantined ? quarantined : worker.draining ? draining : active) += 1;
      const int worker_busy_slots = std::min(worker.chunks_in_flight, worker.slots);
      busy += worker_busy_slots;
      for (const FunctionSignature& function : worker.functions) {
        offered[function.name] += takes_chunks ? 1 : 0;
      }
      AddSample(worker_chunks, static_cast<double>(worker.chunks_done), WorkerLabels(worker.ref));
      AddSample(worker_busy, worker_busy_slots, WorkerLabels(worker.ref));
      AddSample(worker_slots, worker.slots, WorkerLabels(worker.ref));
    }
    AddSample(workers, active, {{"state", "active"}});
    AddSample(workers, draining, {{"state", "draining"}});
    AddSample(workers, quarantined, {{"state", "quarantined"}});
    AddSample(slots, cluster->total_slots);
    AddSample(slots_busy, static_cast<double>(busy));
    int running = 0, waiting = 0;
    JobStats totals = cluster->ended_jobs;
    for (const JobInfo& job : cluster->jobs) {
      (job.num_chunks > 0 ? running : waiting) += 1;
      offered.try_emplace(job.function, 0);
      totals += job.stats;
    }
    AddSample(jobs, running, {{"state", "running"}});
    AddSample(jobs, waiting, {{"state", "waiting"}});
    for (const auto& [function, count] : offered) {
      AddSample(function_workers, count, {{"function", function}});
    }
    // Totals over every job since the coordinator started: the ended ones' and the running
    // ones' own statistics, from one snapshot, so they never go back.
    MetricFamily retries = NewFamily(
        "gpool_chunk_retries_total", "Chunks dispatched again after a failed or lost run.",
        MetricType::Counter);
    AddSample(retries, static_cast<double>(totals.retries));
    MetricFamily backups = NewFamily(
        "gpool_chunk_backups_total", "Backup copies of straggling chunks (speculation).",
        MetricType::Counter);
    AddSample(backups, static_cast<double>(totals.backups));
    MetricFamily verified = NewFamily(
        "gpool_chunks_verified_total", "Chunks published under --verify once two workers "
        "agreed on them.", MetricType::Counter);
    AddSample(verified, static_cast<double>(totals.chunks_verified));
    MetricFamily mismatches = NewFamily(
        "gpool_verification_mismatches_total", "Results under --verify that disagreed with "
        "every result held for their chunk.", MetricType::Counter);
    AddSample(mismatches, static_cast<double>(totals.verification_mismatches));
    for (MetricFamily* family : {&workers, &slots, &slots_busy, &jobs, &function_workers,
                                 &worker_chunks, &worker_busy, &worker_slots, &retries,
                                 &backups, &verified, &mismatches}) {
      families.push_back(std::move(*family));
    }
  }
  std::sort(families.begin(), families.end(),
            [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  return families;
}

}  // namespace gpool
