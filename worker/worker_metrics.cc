#include "worker/worker_metrics.h"

#include <algorithm>
#include <string>
#include <utility>

#include "worker/chunk_executor.h"

namespace gpool {
namespace {

prometheus::MetricFamily Sample(std::string name, std::string help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return family;
}

}  // namespace

const prometheus::Histogram::BucketBoundaries& WorkerMetrics::Buckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600};
  return *buckets;
}

WorkerMetrics::WorkerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  chunk_duration_ = &prometheus::BuildHistogram()
                         .Name("gpool_executor_chunk_duration_seconds")
                         .Help("Time of each chunk this worker completed in its slot: its "
                               "compute and the encoding of its result (without waiting for "
                               "the slot or --chunk_delay).")
                         .Register(*registry_)
                         .Add({}, Buckets());
}

void WorkerMetrics::ChunksComputed(const std::vector<absl::Duration>& elapsed) {
  // One update of the histogram (it takes a lock) for the whole call.
  const auto& bounds = Buckets();
  std::vector<double> increments(bounds.size() + 1, 0.0);
  double sum = 0;
  for (absl::Duration duration : elapsed) {
    const double seconds = absl::ToDoubleSeconds(duration);
    sum += seconds;
    increments[static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) -
                                   bounds.begin())] += 1;
  }
  chunk_duration_->ObserveMultiple(increments, sum);
}

void WorkerMetrics::Attach(const ChunkExecutor* executor) {
  absl::MutexLock lock(&mu_);
  executor_ = executor;
}

void WorkerMetrics::Detach() {
  absl::MutexLock lock(&mu_);
  executor_ = nullptr;
}

std::vector<prometheus::MetricFamily> WorkerMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    // Held while the executor is read, so that Detach waits for it.
    absl::MutexLock lock(&mu_);
    if (executor_ != nullptr) {
      families.push_back(Sample("gpool_executor_slots", "Chunks this worker computes at once.",
                                prometheus::MetricType::Gauge, executor_->slots()));
      families.push_back(Sample("gpool_executor_busy_slots",
                                "Slots of this worker computing a chunk now.",
                                prometheus::MetricType::Gauge, executor_->busy_slots()));
      families.push_back(Sample("gpool_executor_chunks_done_total",
                                "Chunks this worker computed successfully.",
                                prometheus::MetricType::Counter,
                                static_cast<double>(executor_->chunks_completed())));
    }
  }
  std::sort(families.begin(), families.end(),
            [](const prometheus::MetricFamily& a, const prometheus::MetricFamily& b) {
              return a.name < b.name;
            });
  return families;
}

}  // namespace gpool
