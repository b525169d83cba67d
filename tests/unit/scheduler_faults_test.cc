// Scheduler unit tests: lost workers and chunks, retries, deterministic failures, results a
// worker garbled, and jobs that finish in the middle of a step.
#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

// ---- Failures ---------------------------------------------------------------------------

TEST_F(SchedulerTest, WorkerUnavailable_ChunkRedispatchedAndCountedOnce) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 100, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::UnavailableError("connection refused")));
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, absl::int128(100) * 101 * 201 / 6);
  EXPECT_EQ(drained.chunks.size(), 10u);
  EXPECT_EQ(drained.finished->stats.retries, 2);  // both chunks a:1 held
  EXPECT_EQ(drained.finished->stats.workers_lost, 1);
  EXPECT_THAT(connector_.cancelled_addresses(), ::testing::ElementsAre("a:1"));
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
}

TEST_F(SchedulerTest, LeaseExpiry_RequeuesChunksAndDropsLateDuplicate) {
  const std::string silent = AddWorker("silent:1");
  auto job = Submit(1, 20, 10);  // two chunks, both to the only worker
  ASSERT_EQ(connector_.PendingFor("silent:1").size(), 2u);
  const std::string live = AddWorker("live:1");
  clock_.Advance(options_.lease_timeout + absl::Milliseconds(1));
  ASSERT_OK(scheduler_->Heartbeat(live, 7, kBeat));
  scheduler_->Tick();
  // Re-dispatched to the live worker, which answers first.
  CompleteAll({"live:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, 2870);
  // The silent worker comes back and answers: the job is gone, nothing changes.
  CompleteAll({"silent:1"});
  EXPECT_TRUE(job.second->TakeAll(absl::ZeroDuration()).empty());
}

TEST_F(SchedulerTest, LateResultFromDeadWorker_WinsWhenChunkNotYetRedone) {
  AddWorker("a:1");
  auto job = Submit(1, 10, 10);
  clock_.Advance(options_.lease_timeout + absl::Milliseconds(1));
  scheduler_->Tick();  // declared dead; the chunk waits in the retry queue
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));  // its answer arrives after all
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

TEST_F(SchedulerTest, ChunkLostFourTimes_AbortsNamingChunkAndWorkers) {
  auto job = Submit(1, 10, 10);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    const std::string address = "w" + std::to_string(attempt) + ":1";
    AddWorker(address);
    ASSERT_TRUE(connector_.CompleteOldest(address, absl::UnavailableError("crashed")));
  }
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::AllOf(HasSubstr("chunk 0 (elements 1..10)"),
                                        HasSubstr("failed 4 times"), HasSubstr("w1 (host-w1/100)"),
                                        HasSubstr("w4"))));
  EXPECT_TRUE(drained.finished->final);
}

TEST_F(SchedulerTest, DeterministicFailure_FailsJobAtOnceWithoutRetry) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(3037000490, 3037000509, 10);
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(3037000500)")));
  EXPECT_TRUE(drained.finished->final);
  EXPECT_EQ(drained.finished->stats.retries, 0);
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 2u);  // nobody declared dead
}

// An error that is not the function's own (here a worker lacking a function it registered)
// says nothing about the input: the chunk is retried, and the job finishes.
TEST_F(SchedulerTest, WorkerErrorNotTheFunctions_ChunkRetriedJobSucceeds) {
  AddWorker("a:1");
  auto job = Submit(1, 10, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::NotFoundError("no function 'square'")));
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.retries, 1);
}

// ---- Results no worker can garble unseen -------------------------------------------------

// The squares of 1..10 in one chunk, in RESULT_MODE_VALUES.
std::pair<std::string, std::shared_ptr<JobStream>> SubmitValues(Scheduler& scheduler) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 10));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kValues;
  absl::StatusOr<std::pair<std::string, std::shared_ptr<JobStream>>> submitted =
      scheduler.SubmitJob(std::move(spec));
  EXPECT_TRUE(submitted.ok()) << submitted.status();
  return *submitted;
}

// An honest reply for the call's task, then `garble` applied to it.
template <typename Garble>
void AnswerGarbled(PendingCall& call, Garble garble) {
  absl::StatusOr<ChunkReply> reply = FakeConnector::Compute(call.task);
  ASSERT_TRUE(reply.ok()) << reply.status();
  garble(*reply);
  call.done(*std::move(reply));
}

// A worker whose values do not add up to the sum it reports: the result is refused, counted
// against that worker, and the chunk runs on the other worker, although the faulty one is
// idle and first in line; the job's answer is exact.
TEST_F(SchedulerTest, ValuesDisagreeWithPartialSum_RefusedAndRedoneOnAnotherWorker) {
  const std::string liar = AddWorker("a:1");
  const std::string honest = AddWorker("b:1");
  auto job = SubmitValues(*scheduler_);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) {
    std::vector<int64_t> values = reply.values.ToVector();
    values[3] += 1;  // the sum, min and max stay as computed from the true values
    reply.values = EncodedValues::Own(std::move(values));
  });
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_EQ(drained.chunks[0].worker_id, honest);
  EXPECT_EQ(drained.finished->stats.retries, 1);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
  EXPECT_EQ(FaultsOf(*scheduler_, honest), 0);
}

TEST_F(SchedulerTest, ValuesDisagreeWithMinOrMax_Refused) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  auto job = SubmitValues(*scheduler_);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.max = 99; });
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.chunks[0].max, 100);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

// An element count other than the chunk's (0 here) is the worker's fault, not the job's.
TEST_F(SchedulerTest, ElementCountZero_WorkerFaultedAndChunkRedoneElsewhere) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 10, 10);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.count = 0; });
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

// With nobody else to run it, the chunk goes back to the faulty worker, and when it keeps
// garbling, the job is aborted after max_attempts, saying why: never a wrong answer with OK.
TEST_F(SchedulerTest, OnlyWorkerKeepsGarbling_AbortedNamingTheContradiction) {
  const std::string liar = AddWorker("a:1");
  auto job = SubmitValues(*scheduler_);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    std::optional<PendingCall> call = connector_.TakeOldest("a:1");
    ASSERT_TRUE(call.has_value()) << "attempt " << attempt;
    EXPECT_EQ(call->task.attempt, attempt);
    AnswerGarbled(*call, [](ChunkReply& reply) { reply.sum += 1; });
  }
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::AllOf(HasSubstr("chunk 0"), HasSubstr(liar),
                                        HasSubstr("contradicts itself"),
                                        HasSubstr("values sum to 385, not 386"))));
  EXPECT_TRUE(drained.chunks.empty());
  EXPECT_EQ(FaultsOf(*scheduler_, liar), options_.max_attempts);
}

// A faulty worker does not get the chunk back while another worker may run it: the retry
// waits for that worker's free slot.
TEST_F(SchedulerTest, RetryAfterFault_WaitsForAnotherWorkersSlot) {
  SchedulerOptions options;
  options.pipeline_depth = 0;
  Reset(options);
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 20, 10);  // two chunks: one on each worker
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  ASSERT_EQ(connector_.PendingFor("b:1").size(), 1u);
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.count = 3; });
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());  // a is idle, and gets nothing
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  ASSERT_EQ(connector_.PendingFor("b:1").size(), 1u);  // the retry
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);  // 1^2 + ... + 20^2
}

// ---- A job that finishes in the middle of a step ----------------------------------------
// Finishing a job does not destroy it under its callers: the rest of the step (the other
// chunks of the same call, the other chunks of the same dead worker) sees a finished job and
// leaves it alone, and the job ends exactly once.

int FinishedEvents(const std::vector<JobEvent>& events) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [](const JobEvent& e) {
    return e.kind == JobEvent::Kind::kFinished;
  }));
}

TEST_F(SchedulerTest, Batch_FirstChunkExhaustsAttempts_JobEndsOnceAndRestOfCallIgnored) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 10, 1);
  std::optional<PendingBatch> batch = connector_.TakeOldestBatch("a:1");
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->tasks.size(), 10u);
  // The first chunk's loss aborts the job; nine chunks of the call are still to be handled.
  batch->done(std::vector<ChunkReply>(3));
  const std::vector<JobEvent> events = job.second->TakeAll(absl::ZeroDuration());
  ASSERT_EQ(FinishedEvents(events), 1);
  EXPECT_THAT(events.back().status, StatusIs(absl::StatusCode::kAborted, HasSubstr("chunk 0")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
}

TEST_F(SchedulerTest, DeclareDead_WorkerHeldEveryChunkAtLastAttempt_JobEndsOnce) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("a:1", 4);
  auto job = Submit(1, 40, 10);
  ASSERT_EQ(connector_.PendingFor("a:1").size(), 4u);
  clock_.Advance(options.lease_timeout + absl::Milliseconds(1));
  // The lease expires: four chunks are lost with the worker, the first loss ends the job.
  scheduler_->Tick();
  const std::vector<JobEvent> events = job.second->TakeAll(absl::ZeroDuration());
  ASSERT_EQ(FinishedEvents(events), 1);
  EXPECT_THAT(events.back().status, StatusIs(absl::StatusCode::kAborted, HasSubstr("failed 1 times")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
}

}  // namespace
}  // namespace gpool
