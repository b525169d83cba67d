// A worker daemon's Prometheus metrics (docs/metrics.md): its slots, the slots busy and the
// chunks it completed, read from its ChunkExecutor at each scrape, and a histogram of the
// chunks' compute times, observed as each is computed. Series carry no labels: Prometheus
// tells workers apart by their scrape target (instance).
//
// Thread-safety: thread-safe.
#ifndef GPOOL_WORKER_WORKER_METRICS_H_
#define GPOOL_WORKER_WORKER_METRICS_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "worker/executor_monitor.h"

namespace gpool {

class WorkerMetrics final : public ExecutorMonitor, public prometheus::Collectable {
 public:
  WorkerMetrics();

  // ExecutorMonitor.
  void ChunksComputed(const std::vector<absl::Duration>& elapsed) override;
  void Attach(const ChunkExecutor* executor) override;
  void Detach() override;

  // prometheus::Collectable: every gpool_executor_ family, sorted by name (the slot and
  // chunk counts only while attached).
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  static const prometheus::Histogram::BucketBoundaries& Buckets();

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* chunk_duration_;
  mutable absl::Mutex mu_;
  const ChunkExecutor* executor_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_WORKER_METRICS_H_
