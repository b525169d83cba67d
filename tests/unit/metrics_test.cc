// The daemons' metrics without sockets: CoordinatorMetrics observing a Scheduler driven by the
// fake connector and clock, WorkerMetrics reading a ChunkExecutor, and the check of
// --metrics_listen. What each family means is docs/metrics.md's.
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "rpc/metrics_endpoint.h"
#include "server/coordinator_metrics.h"
#include "tests/unit/scheduler_test_fixture.h"
#include "worker/chunk_executor.h"
#include "worker/worker_metrics.h"

namespace gpool {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::gpool::testing::StatusIs;
using Labels = std::vector<std::pair<std::string, std::string>>;

// The sample of family `name` with exactly `labels`: its value (counter, gauge) or its count
// (histogram); nullopt when there is none.
std::optional<double> Sample(const std::vector<prometheus::MetricFamily>& families,
                             const std::string& name, const Labels& labels = {}) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      Labels have;
      for (const auto& label : metric.label) have.emplace_back(label.name, label.value);
      Labels want = labels;
      std::sort(have.begin(), have.end());
      std::sort(want.begin(), want.end());
      if (have != want) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return metric.counter.value;
        case prometheus::MetricType::Gauge:
          return metric.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(metric.histogram.sample_count);
        default:
          return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

class CoordinatorMetricsTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerOptions options;
    options.observer = &metrics_;
    Reset(options);
    metrics_.Attach([this] { return scheduler_->Snapshot(); });
  }
  void TearDown() override {
    metrics_.Detach();
    SchedulerTest::TearDown();
  }

  // The scheduler tells it of events until it goes, in TearDown.
  CoordinatorMetrics metrics_;
};

TEST_F(CoordinatorMetricsTest, JobDone_CountsElementsChunksAndOkOutcome) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 100, 10);
  CompleteAll({"a:1", "b:1"});
  ASSERT_TRUE(Drain(job).finished.has_value());
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_elements_mapped_total"), Optional(100.0));
  EXPECT_THAT(Sample(families, "gpool_chunks_total", {{"outcome", "done"}}), Optional(10.0));
  EXPECT_THAT(Sample(families, "gpool_chunk_duration_seconds"), Optional(10.0));
  EXPECT_THAT(Sample(families, "gpool_jobs_finished_total", {{"outcome", "ok"}}),
              Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_job_duration_seconds"), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_jobs", {{"state", "running"}}), Optional(0.0));
}

TEST_F(CoordinatorMetricsTest, Workers_ReportedByStateWithPerWorkerSeries) {
  const std::string a = AddWorker("a:1", /*slots=*/2);
  const std::string b = AddWorker("b:1", /*slots=*/3);
  ASSERT_OK(scheduler_->DrainWorker(b, 7));
  auto job = Submit(1, 10, 10);  // one chunk, to a (b drains)
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_workers", {{"state", "active"}}), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_workers", {{"state", "draining"}}), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_workers", {{"state", "quarantined"}}), Optional(0.0));
  EXPECT_THAT(Sample(families, "gpool_slots"), Optional(5.0));
  EXPECT_THAT(Sample(families, "gpool_slots_busy"), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_jobs", {{"state", "running"}}), Optional(1.0));
  const Labels of_a = {{"worker_id", a}, {"host", "host-a"}, {"pid", "100"}};
  EXPECT_THAT(Sample(families, "gpool_worker_busy_slots", of_a), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_worker_slots", of_a), Optional(2.0));
  EXPECT_THAT(Sample(families, "gpool_worker_chunks_done_total", of_a), Optional(0.0));
  EXPECT_THAT(Sample(families, "gpool_function_workers", {{"function", "square"}}),
              Optional(1.0));
}

TEST_F(CoordinatorMetricsTest, WorkerLost_CountsItsRunsAndRetriesAndDropsItsSeries) {
  const std::string a = AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 100, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::UnavailableError("connection refused")));
  CompleteAll({"a:1", "b:1"});
  ASSERT_TRUE(Drain(job).finished.has_value());
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_workers_lost_total"), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_chunks_total", {{"outcome", "lost"}}), Optional(2.0));
  EXPECT_THAT(Sample(families, "gpool_chunk_retries_total"), Optional(2.0));
  EXPECT_THAT(Sample(families, "gpool_elements_mapped_total"), Optional(100.0));
  EXPECT_EQ(Sample(families, "gpool_worker_slots",
                   {{"worker_id", a}, {"host", "host-a"}, {"pid", "100"}}),
            std::nullopt);
  EXPECT_THAT(Sample(families, "gpool_workers", {{"state", "active"}}), Optional(1.0));
}

TEST_F(CoordinatorMetricsTest, WorkerError_CountsFailedRunNotLostWorker) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 20, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::InternalError("disk full")));
  CompleteAll({"a:1", "b:1"});
  ASSERT_TRUE(Drain(job).finished.has_value());
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_chunks_total", {{"outcome", "failed"}}), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_workers_lost_total"), Optional(0.0));
}

TEST_F(CoordinatorMetricsTest, JobWithoutWorker_WaitsWithZeroWorkersForItsFunction) {
  auto job = Submit(1, 10, 10, 0, "cube");
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_jobs", {{"state", "waiting"}}), Optional(1.0));
  EXPECT_THAT(Sample(families, "gpool_function_workers", {{"function", "cube"}}),
              Optional(0.0));
}

TEST_F(CoordinatorMetricsTest, CancelledJob_CountedUnderItsStatusCode) {
  AddWorker("a:1");
  auto job = Submit(1, 10, 10);
  scheduler_->CancelJob(job.first, absl::CancelledError("client went away"));
  EXPECT_THAT(Sample(metrics_.Collect(), "gpool_jobs_finished_total",
                     {{"outcome", "cancelled"}}),
              Optional(1.0));
}

TEST_F(CoordinatorMetricsTest, Detached_ReportsOnlyTheEventMetrics) {
  metrics_.Detach();
  const auto families = metrics_.Collect();
  EXPECT_THAT(Sample(families, "gpool_elements_mapped_total"), Optional(0.0));
  EXPECT_EQ(Sample(families, "gpool_workers", {{"state", "active"}}), std::nullopt);
}

TEST_F(CoordinatorMetricsTest, Collect_EveryFamilyInTheGpoolNamespaceAndDocumented) {
  const auto families = metrics_.Collect();
  const std::string text = prometheus::TextSerializer().Serialize(families);
  for (const prometheus::MetricFamily& family : families) {
    EXPECT_THAT(family.name, ::testing::StartsWith("gpool_"));
    EXPECT_FALSE(family.help.empty()) << family.name;
  }
  EXPECT_THAT(text, HasSubstr("# TYPE gpool_chunks_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE gpool_job_duration_seconds histogram"));
}

TEST(WorkerMetricsTest, ChunkComputed_CountedAndTimed) {
  WorkerMetrics metrics;
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 3, absl::ZeroDuration(), &metrics);
  metrics.Attach(&executor);
  ASSERT_OK(executor.Execute("square", Input::Range(1, 10), ResultMode::kSum, {}).status());
  ASSERT_OK(executor.Execute("square", Input::Range(1, 10), ResultMode::kSum, {}).status());
  const auto families = metrics.Collect();
  EXPECT_THAT(Sample(families, "gpool_executor_chunks_done_total"), Optional(2.0));
  EXPECT_THAT(Sample(families, "gpool_executor_chunk_duration_seconds"), Optional(2.0));
  EXPECT_THAT(Sample(families, "gpool_executor_slots"), Optional(3.0));
  EXPECT_THAT(Sample(families, "gpool_executor_busy_slots"), Optional(0.0));
  metrics.Detach();
}

TEST(WorkerMetricsTest, BatchOfChunks_EachChunkTimed) {
  WorkerMetrics metrics;
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1, absl::ZeroDuration(), &metrics);
  metrics.Attach(&executor);
  ASSERT_OK(executor.ExecuteBatch("square",
                                  {Input::Range(1, 1), Input::Range(2, 2), Input::Range(3, 3)},
                                  ResultMode::kSum, {}, [](size_t, ChunkOutput) {}));
  const auto families = metrics.Collect();
  EXPECT_THAT(Sample(families, "gpool_executor_chunk_duration_seconds"), Optional(3.0));
  EXPECT_THAT(Sample(families, "gpool_executor_chunks_done_total"), Optional(3.0));
  metrics.Detach();
}

TEST(WorkerMetricsTest, SlotTaken_ReportedBusy) {
  WorkerMetrics metrics;
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 2, absl::ZeroDuration(), &metrics);
  metrics.Attach(&executor);
  ASSERT_TRUE(executor.TryAcquireSlot());
  EXPECT_THAT(Sample(metrics.Collect(), "gpool_executor_busy_slots"), Optional(1.0));
  ASSERT_OK(executor.ExecuteBatchInSlot("square", {Input::Range(1, 2)}, ResultMode::kSum, {},
                                        [](size_t, ChunkOutput) {}));
  EXPECT_THAT(Sample(metrics.Collect(), "gpool_executor_busy_slots"), Optional(0.0));
  metrics.Detach();
}

TEST(MetricsListenTest, ValidateMetricsListen_AcceptsHostPortAndPortZero) {
  EXPECT_OK(ValidateMetricsListen("127.0.0.1:9464"));
  EXPECT_OK(ValidateMetricsListen("127.0.0.1:0"));
  EXPECT_OK(ValidateMetricsListen("0.0.0.0:9464"));
  EXPECT_OK(ValidateMetricsListen("localhost:9464"));
}

TEST(MetricsListenTest, ValidateMetricsListen_RefusesWhatIsNotHostPort) {
  for (const char* bad : {"9464", ":9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:http", "bad host:9464"}) {
    EXPECT_THAT(ValidateMetricsListen(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--metrics_listen")))
        << bad;
  }
}

}  // namespace
}  // namespace gpool
