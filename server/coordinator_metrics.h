// The coordinator's Prometheus metrics (docs/metrics.md names and explains each one): the
// scheduler's events counted as they happen (SchedulerObserver: atomic counters and
// histograms, nothing else on the hot path), and the cluster's state (workers by state,
// slots, jobs, per-worker series, per-job statistics) read from a ClusterInfo snapshot at
// each scrape. Transport-free: rpc/metrics_endpoint.h serves Collect() over HTTP.
//
// Per-worker series are labelled worker_id, host and pid, so there are at most as many as
// registered workers (--max_workers), and a worker's series vanish with it.
//
// Thread-safety: thread-safe. The observer methods are lock-free; Collect() takes the
// snapshot through the function given to Attach, which may lock the scheduler.
#ifndef GPOOL_SERVER_COORDINATOR_METRICS_H_
#define GPOOL_SERVER_COORDINATOR_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/cluster_info.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "server/scheduler_observer.h"

namespace gpool {

class CoordinatorMetrics final : public ClusterMonitor, public prometheus::Collectable {
 public:
  CoordinatorMetrics();

  // ClusterMonitor: each scrape reads the cluster through `snapshot` (Scheduler::Snapshot)
  // while attached; detached, only the event metrics are reported.
  void Attach(std::function<ClusterInfo()> snapshot) override;
  void Detach() override;

  // SchedulerObserver.
  void ChunkDone(uint64_t elements) override;
  void ChunkFailed() override;
  void ChunksLost(int64_t runs) override;
  void CallDone(absl::Duration elapsed, int64_t chunks) override;
  void JobFinished(absl::StatusCode code, absl::Duration elapsed) override;
  void WorkerLost() override;

  // prometheus::Collectable: every gpool_ family, sorted by name.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // The buckets of the chunk duration histogram, in seconds.
  static const prometheus::Histogram::BucketBoundaries& ChunkBuckets();

  // The event metrics live here; the snapshot ones are built at each Collect.
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* elements_mapped_;
  prometheus::Counter* chunks_done_;
  prometheus::Counter* chunks_failed_;
  prometheus::Counter* chunks_lost_;
  prometheus::Counter* workers_lost_;
  prometheus::Family<prometheus::Counter>* jobs_finished_;
  prometheus::Histogram* chunk_duration_;
  prometheus::Histogram* job_duration_;

  mutable absl::Mutex mu_;
  std::function<ClusterInfo()> snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_COORDINATOR_METRICS_H_
