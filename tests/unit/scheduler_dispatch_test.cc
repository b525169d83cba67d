// Scheduler unit tests: submission, planning, dispatch to free slots, the result window, and
// small chunks batched into one RunChunks call.
#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

// ---- Submission -------------------------------------------------------------------------

TEST_F(SchedulerTest, SubmitJob_BadSpec_IsInvalidArgument) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(5, 1));
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5..1")));
  spec.input = std::make_shared<const Input>(Input::Range(1, 5));
  spec.chunk_size = -1;
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk size")));
  spec.chunk_size = 0;
  spec.max_workers = -2;
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max workers")));
  spec.max_workers = 0;
  spec.function = "";
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("function")));
}

// A chunk's values travel in one 4 MiB message: a larger chunk size is lowered, not refused,
// and the plan (JobStarted.chunk_size) says so.
TEST_F(SchedulerTest, Plan_ValuesJobAsksForHugeChunks_LoweredTo2To18) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 20'000'000));
  spec.chunk_size = 10'000'000;
  spec.mode = ResultMode::kValues;
  auto values_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(values_job.status());
  Drained drained = Drain(*values_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, uint64_t{1} << 18);
  spec.mode = ResultMode::kSum;
  auto sum_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(sum_job.status());
  drained = Drain(*sum_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, 10'000'000u);
}

TEST_F(SchedulerTest, Plan_ValuesJobsGetChunksOfAtMost2To18ByDefault) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 10'000'000));
  spec.mode = ResultMode::kValues;
  auto values_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(values_job.status());
  Drained drained = Drain(*values_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, uint64_t{1} << 18);
  spec.mode = ResultMode::kSum;  // Pool's rule: ceil(10^7 / 4)
  auto sum_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(sum_job.status());
  drained = Drain(*sum_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, 2'500'000u);
}

// Other workers registered change nothing: the job waits for one that offers its function,
// then fails UNAVAILABLE (not final) naming it and listing what is offered.
TEST_F(SchedulerTest, SubmitJob_FunctionNobodyOffers_WaitsThenUnavailableListingOffered) {
  const std::string worker = AddWorker("a:1", 1, {"square", "cube"});
  JobSpec spec;
  spec.function = "sqare";
  spec.input = std::make_shared<const Input>(Input::Range(1, 5));
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  scheduler_->Tick();
  EXPECT_FALSE(Drain(job).finished.has_value());
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  ASSERT_OK(scheduler_->Heartbeat(worker, 7, kBeat).status());  // the worker stays registered
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr("no worker offering 'sqare'"),
                                        HasSubstr("the registered workers offer: cube, square"))));
  EXPECT_FALSE(drained.finished->final);
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
}

TEST_F(SchedulerTest, SubmitJob_NoWorkers_FailsUnavailableAfterWorkerWait) {
  auto job = Submit(1, 10);
  scheduler_->Tick();
  EXPECT_FALSE(Drain(job).finished.has_value());
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr("no worker is registered"),
                                        HasSubstr("gpool-worker --coordinator"))));
  EXPECT_FALSE(drained.finished->final);
}

TEST_F(SchedulerTest, SubmitJob_WorkerOfferingTheFunctionJoinsWhileOthersServe_JobRuns) {
  const std::string plain = AddWorker("plain:1", 1, {"square"});
  auto job = Submit(1, 10, 5, 0, "cube");
  clock_.Advance(options_.worker_wait / 2);
  ASSERT_OK(scheduler_->Heartbeat(plain, 7, kBeat).status());
  scheduler_->Tick();
  AddWorker("cubes:1", 1, {"cube"});
  CompleteAll({"cubes:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 3025);  // 1^3 + ... + 10^3
}

TEST_F(SchedulerTest, SubmitJob_NoWorkersAndAddressKnown_HintNamesTheAddress) {
  scheduler_->SetCoordinatorAddress("vm:50051");
  auto job = Submit(1, 10);
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("start workers with: gpool-worker --coordinator vm:50051")));
}

TEST_F(SchedulerTest, SubmitJob_WorkerRegistersWhileWaiting_JobRuns) {
  auto job = Submit(1, 10, 5);
  clock_.Advance(options_.worker_wait / 2);
  scheduler_->Tick();
  AddWorker("a:1");
  CompleteAll({"a:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

// ---- Dispatch ---------------------------------------------------------------------------

TEST_F(SchedulerTest, Run_SeedJob_StreamsPlanChunksAndExactSum) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 5000);
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.plan.has_value());
  // Pool's default over 2 slots: ceil(5000 / 8) = 625 per chunk.
  EXPECT_EQ(drained.plan->chunk_size, 625u);
  EXPECT_EQ(drained.plan->num_chunks, 8u);
  EXPECT_EQ(drained.plan->cluster_slots, 2);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(FormatInt128(drained.sum), "41679167500");
  std::set<uint64_t> indices;
  for (const auto& chunk : drained.chunks) EXPECT_TRUE(indices.insert(chunk.chunk_index).second);
  EXPECT_EQ(indices.size(), 8u);
}

// A result is marked tail once no chunk of its job waits for dispatch: what lets the Map
// stream hold the last results for the job's end.
TEST_F(SchedulerTest, ChunkResult_TailOnceEveryRemainingChunkRuns) {
  AddWorker("a:1");  // one slot plus the pipeline: fewer calls than the job's chunks
  auto job = Submit(1, 100, 1);
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_EQ(drained.chunks.size(), 100u);
  const size_t in_flight_at_most = static_cast<size_t>(1 + options_.pipeline_depth);
  for (size_t i = 0; i < drained.chunks.size(); ++i) {
    const bool near_end = i + in_flight_at_most >= drained.chunks.size();
    if (!near_end) {
      EXPECT_FALSE(drained.chunks[i].tail) << "result " << i;
    }
  }
  EXPECT_FALSE(drained.chunks.front().tail);
  EXPECT_TRUE(drained.chunks.back().tail);
}

TEST_F(SchedulerTest, Dispatch_WorkerHoldsAtMostSlotsPlusPipelineDepth) {
  AddWorker("a:1", 2);
  Submit(1, 100, 1);
  EXPECT_EQ(connector_.PendingFor("a:1").size(),
            static_cast<size_t>(2 + options_.pipeline_depth));
}

TEST_F(SchedulerTest, Dispatch_FreeSlotPullsNextChunk_FastWorkerDoesMore) {
  AddWorker("fast:1");
  AddWorker("slow:1");
  auto job = Submit(1, 100, 1);
  // The slow worker never answers; the fast one answers as soon as asked.
  Drained drained = RunJob(job, {"fast:1"});
  int fast = 0;
  for (const auto& chunk : drained.chunks) fast += chunk.worker_id == "w1";
  EXPECT_EQ(fast, 100 - static_cast<int>(connector_.PendingFor("slow:1").size()));
  EXPECT_GE(fast, 98);
}

TEST_F(SchedulerTest, Dispatch_MaxWorkers_UsesOnlyThatMany) {
  AddWorker("a:1");
  AddWorker("b:1");
  AddWorker("c:1");
  auto job = Submit(1, 60, 1, /*max_workers=*/1);
  int with_calls = 0;
  for (const char* address : {"a:1", "b:1", "c:1"}) {
    with_calls += !connector_.PendingFor(address).empty();
  }
  EXPECT_EQ(with_calls, 1);
  Drained drained = RunJob(job, {"a:1", "b:1", "c:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.chunks.size(), 60u);
  std::set<std::string> workers;
  for (const auto& chunk : drained.chunks) workers.insert(chunk.worker_id);
  EXPECT_EQ(workers.size(), 1u);
  EXPECT_EQ(drained.plan->job_slots, 1);
}

TEST_F(SchedulerTest, Dispatch_OnlyToWorkersWithTheFunction) {
  AddWorker("a:1", 1, {"cube"});
  AddWorker("b:1", 1, {"square"});
  Submit(1, 10, 1);
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
  EXPECT_FALSE(connector_.PendingFor("b:1").empty());
}

TEST_F(SchedulerTest, ResultWindow_PausesDispatchUntilClientTakesResults) {
  SchedulerOptions options;
  options.result_window = 2;
  Reset(options);
  AddWorker("a:1");
  auto job = Submit(1, 10, 1);
  while (connector_.CompleteOldest("a:1")) {
  }
  // Nothing more is dispatched while two results wait for the client. The chunk that was
  // already running when the window filled still landed: 2 + 1 buffered.
  EXPECT_EQ(connector_.pending_count(), 0u);
  Drained drained = Drain(job);  // the client takes them
  EXPECT_EQ(drained.chunks.size(), 3u);
  EXPECT_GT(connector_.pending_count(), 0u);
}

TEST_F(SchedulerTest, TwoJobs_ShareWorkersRoundRobin) {
  // Both jobs queue before any capacity exists, so dispatch has to choose between them.
  auto first = Submit(1, 100, 1);
  auto second = Submit(1, 100, 1);
  AddWorker("a:1", 2);
  std::set<std::string> jobs;
  for (PendingCall* call : connector_.PendingFor("a:1")) jobs.insert(call->task.job_id);
  EXPECT_EQ(jobs.size(), 2u);
}

// ---- Small chunks travel together (RunChunks) -------------------------------------------

// Sum of squares 1..n.
absl::int128 SquareSum(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

TEST_F(SchedulerTest, Batch_SmallChunksShareCallsSplitFairlyOverWorkers) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, /*max_chunks_per_call=*/64);
  AddWorker("b:1", 1, {"square"}, 7, /*max_chunks_per_call=*/64);
  auto job = Submit(1, 100, 1);  // 100 one-element chunks over 2 slots
  // Each worker's first call carries its fair share (50 chunks, capped at 64), not 1 chunk
  // and not the whole job; the pipeline call gets nothing because nothing is left.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 1u);
  ASSERT_EQ(connector_.PendingBatchesFor("b:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 50u);
  EXPECT_EQ(connector_.PendingBatchesFor("b:1")[0]->tasks.size(), 50u);
  EXPECT_EQ(connector_.pending_count(), 0u);  // no call of a single chunk
  const uint64_t call_id = connector_.PendingBatchesFor("a:1")[0]->tasks.front().call_id;
  for (const ChunkTask& task : connector_.PendingBatchesFor("a:1")[0]->tasks) {
    EXPECT_EQ(task.call_id, call_id);
  }
  EXPECT_TRUE(connector_.CompleteOldestBatch("a:1"));
  EXPECT_TRUE(connector_.CompleteOldestBatch("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(100));
  std::set<uint64_t> indices;
  for (const ChunkDelivery& chunk : drained.chunks) indices.insert(chunk.chunk_index);
  EXPECT_EQ(drained.chunks.size(), 100u);
  EXPECT_EQ(indices.size(), 100u);
}

TEST_F(SchedulerTest, Batch_WholeJob_NoCallCarriesMoreThanTheWorkersMax) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  // Fair share and timing alone would put 100 chunks in a call; the workers take 1 and 3.
  AddWorker("one:1", 1, {"square"}, 7, /*max_chunks_per_call=*/1);
  AddWorker("three:1", 2, {"square"}, 7, /*max_chunks_per_call=*/3);
  auto job = Submit(1, 300, 1);
  Drained drained = RunJob(job, {"one:1", "three:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(300));
  const std::vector<size_t> one = connector_.CallSizes("one:1");
  const std::vector<size_t> three = connector_.CallSizes("three:1");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(three.empty());
  for (size_t size : one) EXPECT_EQ(size, 1u);
  for (size_t size : three) {
    EXPECT_GE(size, 1u);
    EXPECT_LE(size, 3u);
  }
  EXPECT_NE(std::find(three.begin(), three.end(), 3u), three.end());  // the max is used
}

TEST_F(SchedulerTest, Batch_SeedShape_OneCallPerWorker) {
  // W1's shape: 8 chunks of 625 over 2 one-slot workers → one call of 4 chunks each.
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  AddWorker("b:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 5000);
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 1u);
  ASSERT_EQ(connector_.PendingBatchesFor("b:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 4u);
  EXPECT_EQ(connector_.PendingBatchesFor("b:1")[0]->tasks.size(), 4u);
  connector_.CompleteOldestBatch("a:1");
  connector_.CompleteOldestBatch("b:1");
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, SquareSum(5000));
}

TEST_F(SchedulerTest, Batch_ChunksAboveElementBudgetGoAlone) {
  SchedulerOptions options;
  options.max_elements_per_call = 90;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 1000, 60);  // 17 chunks of 60 (the last of 40)
  // 60 + 60 > 90 and 60 + 40 > 90: every call carries one chunk.
  EXPECT_EQ(connector_.PendingBatchesFor("a:1").size(), 0u);
  EXPECT_EQ(connector_.PendingFor("a:1").size(), 2u);  // slot + pipeline
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, SquareSum(1000));
}

TEST_F(SchedulerTest, Batch_ResultWindowCapsCallSize) {
  SchedulerOptions options;
  options.result_window = 5;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 100, 1);
  // The slot's call and the pipeline's each carry what the window has room for.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 2u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 5u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[1]->tasks.size(), 5u);
}

TEST_F(SchedulerTest, Batch_LostWithWorker_EveryChunkRedoneOnceElsewhere) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  AddWorker("dies:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 40, 1);  // one worker: fair share is everything, capped at 64
  ASSERT_EQ(connector_.PendingBatchesFor("dies:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("dies:1")[0]->tasks.size(), 40u);
  AddWorker("lives:1", 1, {"square"}, 7, 64);
  ASSERT_TRUE(connector_.CompleteOldestBatch("dies:1", absl::UnavailableError("gone")));
  // All 40 chunks come back to the queue and go to the survivor, one per call: one of them
  // may be what killed the worker, and the others must not share its fate again.
  EXPECT_TRUE(connector_.PendingBatchesFor("lives:1").empty());
  ASSERT_EQ(connector_.PendingFor("lives:1").size(), 2u);
  EXPECT_EQ(connector_.PendingFor("lives:1")[0]->task.attempt, 2);
  Drained drained = RunJob(job, {"lives:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(40));
  EXPECT_EQ(drained.chunks.size(), 40u);
  EXPECT_EQ(drained.finished->stats.retries, 40);
  EXPECT_EQ(drained.finished->stats.workers_lost, 1);
}

TEST_F(SchedulerTest, Batch_DeterministicErrorFailsJobAtOnce) {
  AddWorker("a:1", 1, {"square"}, 7, 64);
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(3037000490, 3037000510));
  spec.chunk_size = 1;
  spec.mode = ResultMode::kSum;
  auto job = scheduler_->SubmitJob(std::move(spec));
  ASSERT_OK(job.status());
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));
  Drained drained = Drain(*job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("3037000500")));
  EXPECT_EQ(drained.finished->stats.retries, 0);
}

TEST_F(SchedulerTest, Batch_BackupWinsOneChunk_BatchKeepsRunningForTheOthers) {
  AddWorker("slow:1", 1, {"square"}, 7, 64);
  AddWorker("fast:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 3, 1);  // 3 chunks over 2 slots: slow gets {0, 1}, fast gets {2}
  ASSERT_EQ(connector_.PendingBatchesFor("slow:1").size(), 1u);
  const uint64_t batch_call = connector_.PendingBatchesFor("slow:1")[0]->tasks.front().call_id;
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  Drained drained = Drain(job);
  // Past the threshold, the idle fast worker backs up one of the batch's chunks.
  clock_.Advance(absl::Milliseconds(1100));
  scheduler_->Tick();
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  ASSERT_TRUE(connector_.CompleteOldest("fast:1"));
  // One chunk of the batch is done elsewhere, the other is not: the batch is not cancelled.
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Not(::testing::Contains(batch_call)));
  // Meanwhile the other chunk got its own backup; the batch answers first and wins it, so
  // that backup is cancelled.
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  const uint64_t second_backup = connector_.PendingFor("fast:1")[0]->task.call_id;
  ASSERT_TRUE(connector_.CompleteOldestBatch("slow:1"));
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Contains(second_backup));
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(3));
  EXPECT_EQ(drained.chunks.size(), 3u);
  EXPECT_EQ(drained.finished->stats.duplicates_dropped, 1);
  EXPECT_EQ(drained.finished->stats.backups, 2);
  EXPECT_EQ(drained.finished->stats.retries, 0);
}

TEST_F(SchedulerTest, Batch_CallsFollowMeasuredTimePerChunk) {
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 10000, 1);
  // Untimed: the first calls carry initial_chunks_per_call.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 2u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 16u);
  // 16 chunks in 1.6 s: 100 ms per chunk, so a 20 ms call holds one chunk.
  clock_.Advance(absl::Milliseconds(1600));
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));
  ASSERT_EQ(connector_.PendingFor("a:1").size(), 1u);
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));  // the pipeline's 16, also slow
  // Chunks now take 100-200 µs (the pipelined call waited one step longer): once that is the
  // median, a call grows to 20 ms / (100..200 µs) = 100..200 chunks.
  for (int i = 0; i < 20 && connector_.PendingBatchesFor("a:1").empty(); ++i) {
    std::optional<PendingCall> call = connector_.TakeOldest("a:1");
    ASSERT_TRUE(call.has_value());
    clock_.Advance(absl::Microseconds(100));
    call->done(FakeConnector::Compute(call->task));
    Drain(job);
  }
  std::vector<PendingBatch*> batches = connector_.PendingBatchesFor("a:1");
  ASSERT_FALSE(batches.empty());
  EXPECT_GE(batches.back()->tasks.size(), 100u);
  EXPECT_LE(batches.back()->tasks.size(), 200u);
}

// Which reply is for which chunk is unknown: every chunk of the call runs again, and the
// worker is faulted once per chunk.
TEST_F(SchedulerTest, Batch_WrongReplyCount_EveryChunkRedoneAndWorkerFaulted) {
  const std::string liar = AddWorker("a:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 10, 1);
  std::optional<PendingBatch> batch = connector_.TakeOldestBatch("a:1");
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->tasks.size(), 10u);
  batch->done(std::vector<ChunkReply>(3));
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 10);
  // Nobody else may run the job: the retries come back to this worker, one per call.
  Drained drained;
  while (connector_.CompleteOldest("a:1")) drained = Drain(job, std::move(drained));
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.retries, 10);
}

}  // namespace
}  // namespace gpool
