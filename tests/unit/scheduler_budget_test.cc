// Scheduler unit tests: the coordinator's byte budget for results across jobs
// (SchedulerOptions::result_buffer_bytes) and MapRequest.max_chunks_ahead.
#include <algorithm>
#include <set>

#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

// A job that returns values, chunks of `chunk_size`.
std::pair<std::string, std::shared_ptr<JobStream>> SubmitValues(Scheduler& scheduler,
                                                                int64_t end, int64_t chunk_size,
                                                                int64_t max_chunks_ahead = 0) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, end));
  spec.chunk_size = chunk_size;
  spec.mode = ResultMode::kValues;
  spec.max_chunks_ahead = max_chunks_ahead;
  auto submitted = scheduler.SubmitJob(std::move(spec));
  EXPECT_TRUE(submitted.ok()) << submitted.status();
  return *submitted;
}

TEST_F(SchedulerTest, SubmitJob_NegativeMaxChunksAhead_IsInvalidArgument) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 5));
  spec.max_chunks_ahead = -1;
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              gpool::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                       ::testing::HasSubstr("max_chunks_ahead")));
}

// Clients that never read: the workers finish everything they are given, and what the
// coordinator holds stays within the budget, plus at most one chunk per job (the chunk a job
// holding nothing may always take).
TEST_F(SchedulerTest, ResultBudget_ClientsNeverRead_ReservedStaysWithinBudget) {
  SchedulerOptions options;
  options.result_buffer_bytes = 1000;  // 12.5 chunks of 10 values
  Reset(options);
  AddWorker("a:1", /*slots=*/64);
  std::vector<std::pair<std::string, std::shared_ptr<JobStream>>> jobs;
  for (int i = 0; i < 3; ++i) jobs.push_back(SubmitValues(*scheduler_, 10'000, 10));
  int64_t peak = 0;
  while (connector_.CompleteOldest("a:1")) {
    peak = std::max(peak, scheduler_->ReservedResultBytes());
  }
  EXPECT_LE(peak, 1000 + 3 * 80);
  EXPECT_GE(peak, 1000 - 80);  // the budget is used, not left idle
  EXPECT_EQ(connector_.pending_count(), 0u);  // and dispatch waits for the clients
}

TEST_F(SchedulerTest, ResultBudget_JobsCancelled_EveryByteReleased) {
  SchedulerOptions options;
  options.result_buffer_bytes = 1000;
  Reset(options);
  AddWorker("a:1", /*slots=*/8);
  auto first = SubmitValues(*scheduler_, 10'000, 10);
  auto second = SubmitValues(*scheduler_, 10'000, 10);
  while (connector_.CompleteOldest("a:1")) {
  }
  ASSERT_GT(scheduler_->ReservedResultBytes(), 0);
  scheduler_->CancelJob(first.first, absl::CancelledError("client went away"));
  scheduler_->CancelJob(second.first, absl::CancelledError("client went away"));
  EXPECT_EQ(scheduler_->ReservedResultBytes(), 0);
}

// A budget smaller than one chunk cannot deadlock: the job always gets one chunk through.
TEST_F(SchedulerTest, ResultBudget_SmallerThanAChunk_JobStillCompletesExactly) {
  SchedulerOptions options;
  options.result_buffer_bytes = 8;
  Reset(options);
  AddWorker("a:1", /*slots=*/4);
  auto job = SubmitValues(*scheduler_, 1000, 100);
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_TRUE(drained.finished->status.ok()) << drained.finished->status;
  EXPECT_EQ(drained.chunks.size(), 10u);
  EXPECT_EQ(drained.sum, absl::int128(333'833'500));  // 1^2 + ... + 1000^2
  EXPECT_EQ(scheduler_->ReservedResultBytes(), 0);
}

// One non-reading job with slots enough for all its chunks: what it holds, in flight and
// landed, stops at the budget.
TEST_F(SchedulerTest, ResultBudget_OneJobNeverReads_HoldsAtMostTheBudget) {
  SchedulerOptions options;
  options.result_buffer_bytes = 800;  // ten chunks of 10
  Reset(options);
  AddWorker("a:1", /*slots=*/64);
  auto job = SubmitValues(*scheduler_, 10'000, 10);
  int64_t peak = 0;
  while (connector_.CompleteOldest("a:1")) {
    peak = std::max(peak, scheduler_->ReservedResultBytes());
  }
  EXPECT_EQ(peak, 800);
}

// Every chunk dispatched lies below the lowest chunk without a result + max_chunks_ahead,
// and the job still completes with every chunk once.
TEST_F(SchedulerTest, MaxChunksAhead_EveryDispatchBelowLowestUndonePlusN) {
  AddWorker("a:1", /*slots=*/16);
  auto job = SubmitValues(*scheduler_, 1000, 10, /*max_chunks_ahead=*/3);
  Drained drained;
  uint64_t lowest_undone = 0;
  std::set<uint64_t> done;
  while (true) {
    std::vector<PendingCall*> pending = connector_.PendingFor("a:1");
    if (pending.empty()) break;
    for (const PendingCall* call : pending) {
      EXPECT_LT(call->task.chunk_index, lowest_undone + 3);
    }
    // Newest first: results arrive out of order.
    std::vector<PendingCall> calls;
    while (std::optional<PendingCall> call = connector_.TakeOldest("a:1")) {
      calls.push_back(*std::move(call));
    }
    for (auto call = calls.rbegin(); call != calls.rend(); ++call) {
      done.insert(call->task.chunk_index);
      call->done(FakeConnector::Compute(call->task));
    }
    while (done.count(lowest_undone) > 0) ++lowest_undone;
    drained = Drain(job, std::move(drained));
  }
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_TRUE(drained.finished->status.ok()) << drained.finished->status;
  EXPECT_EQ(drained.chunks.size(), 100u);
}

}  // namespace
}  // namespace gpool
