// Scheduler unit tests: the life of a job and of a worker: cancellation, graceful leave,
// speculative backups, resubmission, shutdown, and values in the client's shared buffer.
#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

// ---- Cancellation -----------------------------------------------------------------------

TEST_F(SchedulerTest, CancelJob_StopsDispatchAndEndsStream) {
  AddWorker("a:1");
  auto job = Submit(1, 100, 1);
  std::vector<uint64_t> running;
  for (PendingCall* call : connector_.PendingFor("a:1")) running.push_back(call->task.call_id);
  scheduler_->CancelJob(job.first, absl::CancelledError("client went away"));
  // The calls already running are cancelled too, so the worker goes idle.
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::UnorderedElementsAreArray(running));
  CompleteAll({"a:1"});
  EXPECT_EQ(connector_.pending_count(), 0u);
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("went away")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
  EXPECT_EQ(scheduler_->Snapshot().workers[0].chunks_in_flight, 0);
}

// ---- Graceful leave ---------------------------------------------------------------------

TEST_F(SchedulerTest, DrainWorker_GetsNoNewChunksButItsResultsCount) {
  const std::string leaving = AddWorker("leaving:1");
  auto job = Submit(1, 100, 10);
  ASSERT_EQ(connector_.PendingFor("leaving:1").size(), 2u);
  ASSERT_OK(scheduler_->DrainWorker(leaving, 7));
  AddWorker("staying:1");
  Drained drained = RunJob(job, {"leaving:1", "staying:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 338350);
  int by_leaving = 0;
  for (const auto& chunk : drained.chunks) by_leaving += chunk.worker_id == leaving;
  EXPECT_EQ(by_leaving, 2);  // only the two it held when it started draining
  ASSERT_OK(scheduler_->DeregisterWorker(leaving, 7));
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
  EXPECT_THAT(scheduler_->DrainWorker(leaving, 7), StatusIs(absl::StatusCode::kNotFound, HasSubstr(leaving)));
}

TEST_F(SchedulerTest, DeregisterWithChunksInHand_HandsThemBackWithoutCountingALoss) {
  const std::string leaving = AddWorker("leaving:1");
  auto job = Submit(1, 20, 10);
  ASSERT_OK(scheduler_->DeregisterWorker(leaving, 7));
  AddWorker("staying:1");
  Drained drained = RunJob(job, {"staying:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);
  EXPECT_EQ(drained.finished->stats.workers_lost, 0);
  EXPECT_EQ(drained.finished->stats.retries, 2);
}

TEST_F(SchedulerTest, ChunkHandedBackMoreThanMaxAttempts_StillCompletes) {
  // A rolling restart: every worker that takes the chunk leaves gracefully before answering.
  auto job = Submit(1, 10, 10);
  for (int i = 0; i <= options_.max_attempts; ++i) {
    const std::string address = absl::StrCat("leaving", i, ":1");
    const std::string leaving = AddWorker(address);
    ASSERT_FALSE(connector_.PendingFor(address).empty()) << "worker " << i << " got no chunk";
    ASSERT_OK(scheduler_->DeregisterWorker(leaving, 7));
  }
  AddWorker("staying:1");
  Drained drained = RunJob(job, {"staying:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.workers_lost, 0);
}

// ---- Speculative execution --------------------------------------------------------------

TEST_F(SchedulerTest, Straggler_GetsBackupOnIdleWorker_FirstResultWinsLoserCancelled) {
  AddWorker("slow:1");
  AddWorker("fast:1");
  auto job = Submit(1, 40, 10);  // 4 chunks: slow holds 0 and 2, fast holds 1 and 3
  // The fast worker finishes its chunks quickly: the median chunk takes 10 ms.
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  Drained drained = Drain(job);
  EXPECT_EQ(drained.chunks.size(), 2u);
  // Below the threshold (max(3 × 10 ms, 1 s)) nothing is copied.
  clock_.Advance(absl::Milliseconds(500));
  scheduler_->Tick();
  EXPECT_TRUE(connector_.PendingFor("fast:1").empty());
  // Past it, the idle fast worker gets backups of the slow worker's chunks.
  clock_.Advance(absl::Milliseconds(600));
  scheduler_->Tick();
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);  // one idle slot
  const uint64_t backed_up = connector_.PendingFor("fast:1")[0]->task.chunk_index;
  const uint64_t losing_call = [&] {
    for (PendingCall* call : connector_.PendingFor("slow:1")) {
      if (call->task.chunk_index == backed_up) return call->task.call_id;
    }
    return uint64_t{0};
  }();
  CompleteAll({"fast:1"});
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Contains(losing_call));
  // The slow worker answers anyway: the late copy is dropped, the sum is exact.
  CompleteAll({"slow:1", "fast:1"});
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 22140);
  EXPECT_EQ(drained.chunks.size(), 4u);
  EXPECT_GE(drained.finished->stats.backups, 1);
}

TEST_F(SchedulerTest, Straggler_NoBackupWhileFreshChunksWait) {
  AddWorker("slow:1");
  AddWorker("fast:1");
  Submit(1, 1000, 10);  // 100 chunks: plenty of fresh work for the fast worker
  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(connector_.CompleteOldest("fast:1"));
  clock_.Advance(absl::Seconds(30));
  scheduler_->Tick();
  for (PendingCall* call : connector_.PendingFor("fast:1")) {
    EXPECT_EQ(call->task.attempt, 1) << "chunk " << call->task.chunk_index;
  }
}

TEST_F(SchedulerTest, Backup_DoesNotCountAsLoss) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("slow:1");
  AddWorker("fast:1");
  auto job = Submit(1, 20, 10);
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  clock_.Advance(absl::Seconds(2));
  scheduler_->Tick();  // backup of chunk 0 on fast
  // The backup fails like a crashed worker would; the original still runs, so the job
  // lives on (one loss is not "lost max_attempts times" while a copy is running).
  ASSERT_TRUE(connector_.CompleteOldest("fast:1", absl::InternalError("boom")));
  CompleteAll({"slow:1"});
  Drained drained = RunJob(job, {"slow:1", "fast:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);
}

// ---- Resubmission after a lost coordinator ----------------------------------------------

TEST_F(SchedulerTest, Resume_RunsOnlyMissingChunks) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kSum;
  spec.completed_chunks = {{0, 3}, {5, 5}, {9, 9}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  std::set<uint64_t> indices;
  for (const auto& chunk : drained.chunks) indices.insert(chunk.chunk_index);
  EXPECT_EQ(indices, (std::set<uint64_t>{4, 6, 7, 8}));
  EXPECT_EQ(drained.plan->num_chunks, 10u);
}

TEST_F(SchedulerTest, Resume_WithoutChunkSizeOrBeyondPlan_IsInvalidArgument) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.completed_chunks = {{0, 1}};
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("original chunk size")));
  spec.chunk_size = 10;
  spec.completed_chunks = {{5, 12}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the 10 chunks")));
}

TEST_F(SchedulerTest, Resume_EverythingAlreadyHeld_FinishesAtOnce) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.chunk_size = 50;
  spec.completed_chunks = {{0, 1}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(connector_.pending_count(), 0u);
}

TEST_F(SchedulerTest, Shutdown_EndsStreamsWithRetryableStatus) {
  AddWorker("a:1");
  auto job = Submit(1, 100, 10);
  connector_.set_complete_on_cancel_all(true);
  scheduler_.reset();  // cancels the calls in flight and waits for them
  Drained drained;
  for (JobEvent& event : job.second->TakeAll(absl::ZeroDuration())) {
    if (event.kind == JobEvent::Kind::kFinished) drained.finished = event;
  }
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  EXPECT_FALSE(drained.finished->final);
  Reset(SchedulerOptions{});
}

// ---- Values in the client's shared-memory buffer ----------------------------------------

JobSpec SharedValuesJob(int64_t start, int64_t end, int64_t chunk_size) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(start, end));
  spec.chunk_size = chunk_size;
  spec.mode = ResultMode::kValues;
  spec.shared_values = SharedValuesRef{/*pid=*/4242, /*fd=*/7, /*token_high=*/1, /*token_low=*/2};
  return spec;
}

// What a worker that wrote the chunk's values to the buffer answers.
ChunkReply SharedReply(const ChunkTask& task) {
  ChunkReply reply = *FakeConnector::Compute(task);
  reply.values = Values();
  reply.values_shared = true;
  return reply;
}

TEST_F(SchedulerTest, SubmitJob_SharedValuesOnSumJobOrMalformed_IsInvalidArgument) {
  AddWorker("a:1");
  JobSpec spec = SharedValuesJob(1, 10, 5);
  spec.mode = ResultMode::kSum;
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("return values")));
  spec = SharedValuesJob(1, 10, 5);
  spec.shared_values->pid = 0;
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pid")));
}

TEST_F(SchedulerTest, SharedValues_TasksNameTheBufferAndSharedRepliesAreDelivered) {
  AddWorker("a:1");
  auto submitted = scheduler_->SubmitJob(SharedValuesJob(1, 10, 5));
  ASSERT_OK(submitted.status());
  for (int call = 0; call < 2; ++call) {
    std::optional<PendingCall> pending = connector_.TakeOldest("a:1");
    ASSERT_TRUE(pending.has_value());
    const ChunkTask& task = pending->task;
    ASSERT_TRUE(task.shared_values.has_value());
    EXPECT_EQ(task.shared_values->pid, 4242);
    EXPECT_EQ(task.shared_values->fd, 7);
    EXPECT_EQ(task.shared_values->token_high, 1u);
    EXPECT_EQ(task.shared_values->token_low, 2u);
    EXPECT_EQ(task.first_element, task.chunk_index * 5);
    pending->done(SharedReply(task));
  }
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 2u);
  for (const ChunkDelivery& chunk : drained.chunks) {
    EXPECT_TRUE(chunk.values_shared);
    EXPECT_TRUE(chunk.values.empty());
  }
  EXPECT_EQ(drained.sum, 385);
}

TEST_F(SchedulerTest, SharedValues_ReplyWithValuesToo_IsAcceptedOverTheWire) {
  // A worker that could not reach the buffer sends the values as usual.
  AddWorker("a:1");
  auto submitted = scheduler_->SubmitJob(SharedValuesJob(1, 10, 10));
  ASSERT_OK(submitted.status());
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_FALSE(drained.chunks[0].values_shared);
  EXPECT_EQ(drained.chunks[0].values.size(), 10u);
}

TEST_F(SchedulerTest, SharedValues_SharedReplyToJobWithoutBuffer_WorkerFaultedChunkRedone) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  JobSpec spec = SharedValuesJob(1, 10, 10);
  spec.shared_values.reset();
  auto submitted = scheduler_->SubmitJob(spec);
  ASSERT_OK(submitted.status());
  std::optional<PendingCall> pending = connector_.TakeOldest("a:1");
  ASSERT_TRUE(pending.has_value());
  EXPECT_FALSE(pending->task.shared_values.has_value());
  pending->done(SharedReply(pending->task));
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_FALSE(drained.chunks[0].values_shared);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

}  // namespace
}  // namespace gpool
