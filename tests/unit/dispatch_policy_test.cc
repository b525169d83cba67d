// The dispatch policy alone, on plain data: a worker registry filled by hand and a job's
// dispatch state, or a planned job whose chunks a test starts and ends by hand. No
// Scheduler, no connections; time is given.
#include "server/dispatch_policy.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(24);

class DispatchPolicyTest : public ::testing::Test {
 protected:
  // Adds a worker offering `functions`, holding `calls` calls; returns it.
  RegisteredWorker& Add(int slots, int calls = 0, int max_chunks_per_call = 64,
                        std::vector<std::string> functions = {"square"}) {
    WorkerRegistration registration;
    registration.address = "127.0.0.1:" + std::to_string(++port_);
    registration.slots = slots;
    registration.functions.assign(functions.begin(), functions.end());
    registration.max_chunks_per_call = max_chunks_per_call;
    RegisteredWorker& worker = registry_.Add(registration, nullptr, kStart);
    worker.calls_in_flight = calls;
    return worker;
  }

  // A planned job of `chunks` chunks of `chunk_size` elements, `window` results deep.
  static ::gpool::Job Planned(int chunks, int64_t chunk_size = 10, int window = 1000,
                              ResultMode mode = ResultMode::kSum, int64_t max_chunks_ahead = 0) {
    JobSpec spec;
    spec.function = "square";
    spec.input = std::make_shared<const Input>(Input::Range(1, chunks * chunk_size));
    spec.chunk_size = chunk_size;
    spec.mode = mode;
    spec.max_chunks_ahead = max_chunks_ahead;
    ::gpool::Job job(1, std::move(spec), ResultWindow(window, 1 << 20), kStart);
    EXPECT_TRUE(job.Plan(1, 1, {"square"}).ok());
    return job;
  }

  static JobDispatchState Job(int max_workers = 0) {
    JobDispatchState job;
    job.function = "square";
    job.max_workers = max_workers;
    return job;
  }

  WorkerRegistry registry_{HeartbeatPolicy(absl::Milliseconds(500), absl::Seconds(3), 0,
                                           absl::Seconds(10))};
  DispatchPolicy policy_{DispatchOptions{}};  // pipeline_depth 1
  int port_ = 0;
};

TEST_F(DispatchPolicyTest, MayRun_OtherFunction_False) {
  RegisteredWorker& worker = Add(1, 0, 64, {"cube"});
  EXPECT_FALSE(DispatchPolicy::MayRun(worker, Job()));
}

TEST_F(DispatchPolicyTest, MayRun_Draining_False) {
  RegisteredWorker& worker = Add(1);
  worker.draining = true;
  EXPECT_FALSE(DispatchPolicy::MayRun(worker, Job()));
}

TEST_F(DispatchPolicyTest, MayRun_WorkerLimitReached_OnlyWorkersAlreadyUsed) {
  RegisteredWorker& used = Add(1);
  RegisteredWorker& other = Add(1);
  JobDispatchState job = Job(/*max_workers=*/1);
  job.workers_used.insert(used.worker_id);
  EXPECT_TRUE(DispatchPolicy::MayRun(used, job));
  EXPECT_FALSE(DispatchPolicy::MayRun(other, job));
}

TEST_F(DispatchPolicyTest, PickWorker_DifferentLoads_LeastLoadedRelativeToSlots) {
  Add(/*slots=*/2, /*calls=*/1);               // half loaded
  RegisteredWorker& big = Add(/*slots=*/8, /*calls=*/2);  // a quarter
  Add(/*slots=*/1, /*calls=*/1);               // full, pipeline room left
  EXPECT_EQ(policy_.PickWorker(registry_, Job()), &big);
}

TEST_F(DispatchPolicyTest, PickWorker_SlotsAndPipelineFull_Nullptr) {
  Add(/*slots=*/2, /*calls=*/3);
  EXPECT_EQ(policy_.PickWorker(registry_, Job()), nullptr);
}

TEST_F(DispatchPolicyTest, PickForRetry_FirstChoiceFailedTheChunk_AnotherWorker) {
  RegisteredWorker& faulty = Add(4);
  RegisteredWorker& other = Add(1, /*calls=*/1);
  EXPECT_EQ(policy_.PickForRetry(registry_, Job(), {faulty.worker_id}), &other);
}

TEST_F(DispatchPolicyTest, PickForRetry_OtherWorkerWithoutRoom_Waits) {
  RegisteredWorker& faulty = Add(4);
  Add(1, /*calls=*/2);
  EXPECT_EQ(policy_.PickForRetry(registry_, Job(), {faulty.worker_id}), nullptr);
}

TEST_F(DispatchPolicyTest, PickForRetry_NoOtherWorkerMayRunTheJob_TheFaultyOne) {
  RegisteredWorker& faulty = Add(4);
  Add(1, 0, 64, {"cube"});
  EXPECT_EQ(policy_.PickForRetry(registry_, Job(), {faulty.worker_id}), &faulty);
}

TEST_F(DispatchPolicyTest, PickBackup_OnlyPipelineRoomElsewhere_Nullptr) {
  RegisteredWorker& running = Add(1, /*calls=*/1);
  Add(1, /*calls=*/1);
  EXPECT_EQ(policy_.PickBackup(registry_, Job(), {running.worker_id}), nullptr);
}

TEST_F(DispatchPolicyTest, PickBackup_IdleSlotElsewhere_ThatWorker) {
  RegisteredWorker& running = Add(2, /*calls=*/1);
  RegisteredWorker& idle = Add(1);
  EXPECT_EQ(policy_.PickBackup(registry_, Job(), {running.worker_id}), &idle);
}

TEST_F(DispatchPolicyTest, CallSize_IdleSlots_FairShareOfUnsentChunks) {
  RegisteredWorker& worker = Add(2);
  Add(2);
  // 40 unsent chunks over 4 idle slots; timing and window leave more room.
  EXPECT_EQ(policy_.CallSize(registry_, worker, Job(), 40, 1000), 10u);
}

TEST_F(DispatchPolicyTest, CallSize_NoChunkTimedYet_InitialChunksPerCall) {
  RegisteredWorker& worker = Add(1);
  EXPECT_EQ(policy_.CallSize(registry_, worker, Job(), 1000, 1000), 16u);
}

TEST_F(DispatchPolicyTest, CallSize_MeasuredTimePerChunk_AboutTargetDuration) {
  RegisteredWorker& worker = Add(1);
  JobDispatchState job = Job();
  job.RecordCall(absl::Milliseconds(40), 10);  // 4 ms per chunk, 20 ms target
  EXPECT_EQ(policy_.CallSize(registry_, worker, job, 1000, 1000), 5u);
}

TEST_F(DispatchPolicyTest, CallSize_WindowAlmostFull_WindowRoom) {
  RegisteredWorker& worker = Add(1);
  EXPECT_EQ(policy_.CallSize(registry_, worker, Job(), 1000, 3), 3u);
  EXPECT_EQ(policy_.CallSize(registry_, worker, Job(), 1000, 0), 1u);
}

TEST_F(DispatchPolicyTest, CallSize_WorkerTakesOneChunkPerCall_One) {
  RegisteredWorker& worker = Add(1, 0, /*max_chunks_per_call=*/1);
  EXPECT_EQ(policy_.CallSize(registry_, worker, Job(), 1000, 1000), 1u);
}

TEST_F(DispatchPolicyTest, StragglerThreshold_NoChunkDone_Nullopt) {
  EXPECT_EQ(policy_.StragglerThreshold(Job()), std::nullopt);
}

TEST_F(DispatchPolicyTest, StragglerThreshold_Samples_MultipleOfMedianAtLeastMinimum) {
  JobDispatchState job = Job();
  for (int ms : {100, 500, 900}) job.RecordChunkDuration(absl::Milliseconds(ms));
  EXPECT_EQ(policy_.StragglerThreshold(job), absl::Milliseconds(1500));
  JobDispatchState quick = Job();
  quick.RecordChunkDuration(absl::Milliseconds(10));
  EXPECT_EQ(policy_.StragglerThreshold(quick), absl::Seconds(1));
}

TEST_F(DispatchPolicyTest, SlotsFor_WorkerLimit_LargestWorkersThatAcceptTheJob) {
  Add(2);
  Add(8);
  Add(4);
  Add(16, 0, 64, {"cube"});
  const DispatchPolicy::Slots slots = DispatchPolicy::SlotsFor(registry_, Job(/*max_workers=*/2));
  EXPECT_EQ(slots.cluster, 30);
  EXPECT_EQ(slots.job, 12);
}

TEST_F(DispatchPolicyTest, NextCall_FreshChunks_InitialBatchToTheLeastLoadedWorker) {
  Add(2, /*calls=*/1);
  RegisteredWorker& idle = Add(2);
  ::gpool::Job job = Planned(100);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->worker, &idle);
  ASSERT_EQ(call->chunk_indices.size(), 16u);  // initial_chunks_per_call
  EXPECT_EQ(call->chunk_indices.front(), 0u);
  EXPECT_EQ(job.chunks->UnsentCount(), 84u);
}

TEST_F(DispatchPolicyTest, NextCall_ChunksOverElementBudget_EachAlone) {
  DispatchOptions options;
  options.max_elements_per_call = 15;
  const DispatchPolicy policy(options);
  Add(1);
  ::gpool::Job job = Planned(4);
  std::optional<DispatchPolicy::Call> call = policy.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u));
}

TEST_F(DispatchPolicyTest, NextCall_RetryWaiting_AloneToAWorkerThatDidNotFailIt) {
  RegisteredWorker& faulty = Add(4);
  RegisteredWorker& other = Add(1);
  ::gpool::Job job = Planned(10);
  job.chunks->TakeFresh(1, 1000);
  job.StartCall(1, faulty.worker_id, {0}, kStart);
  job.RunFailed(0, faulty.worker_id, faulty.worker_id, 1, absl::InternalError("disk"), 4);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->worker, &other);
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u));
  EXPECT_FALSE(job.chunks->HasRetries());
}

TEST_F(DispatchPolicyTest, NextCall_RetryWaitsForBusyOtherWorker_FreshChunksMeanwhile) {
  RegisteredWorker& faulty = Add(4);
  Add(1, /*calls=*/2);  // may run the job, no room
  ::gpool::Job job = Planned(10);
  job.chunks->TakeFresh(1, 1000);
  job.StartCall(1, faulty.worker_id, {0}, kStart);
  job.RunFailed(0, faulty.worker_id, faulty.worker_id, 1, absl::InternalError("disk"), 4);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->worker, &faulty);
  EXPECT_EQ(call->chunk_indices.front(), 1u);
  EXPECT_TRUE(job.chunks->HasRetries());
}

TEST_F(DispatchPolicyTest, NextCall_ResultWindowFull_Nullopt) {
  Add(1);
  ::gpool::Job job = Planned(10, 10, /*window=*/1);
  job.window.Add(0);
  EXPECT_FALSE(policy_.NextCall(registry_, job).has_value());
  EXPECT_EQ(job.chunks->UnsentCount(), 10u);
}

// Dispatches `call`'s chunks on `worker`, as the Scheduler does.
void Start(::gpool::Job& job, const DispatchPolicy::Call& call, uint64_t call_id) {
  job.StartCall(call_id, call.worker->worker_id, call.chunk_indices, kStart);
}

// Completes `chunk_index` (run `attempt` 1 on `worker_id`) with an honest sum result.
void Complete(::gpool::Job& job, uint64_t chunk_index, const std::string& worker_id) {
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.count = job.chunks->plan().ElementCount(chunk_index);
  ASSERT_TRUE(job.AcceptResult(chunk_index, worker_id, worker_id, 1, std::move(reply), "",
                               kStart, 4)
                  .chunk_event.has_value());
}

TEST_F(DispatchPolicyTest, NextCall_MaxChunksAhead_NoChunkAtOrPastLowestNotDonePlusN) {
  Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kSum, /*max_chunks_ahead=*/4);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u, 1u, 2u, 3u));
  Start(job, *call, 1);
  EXPECT_FALSE(policy_.NextCall(registry_, job).has_value());
}

TEST_F(DispatchPolicyTest, NextCall_MaxChunksAhead_LaterChunkDone_StillBlockedByLowest) {
  RegisteredWorker& worker = Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kSum, /*max_chunks_ahead=*/4);
  Start(job, *policy_.NextCall(registry_, job), 1);
  Complete(job, 3, worker.worker_id);
  EXPECT_FALSE(policy_.NextCall(registry_, job).has_value());
  Complete(job, 0, worker.worker_id);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(4u));
}

TEST_F(DispatchPolicyTest, NextCall_MaxChunksAhead_ResumedJobCountsCompletedChunksAsDone) {
  Add(1);
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 1000));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kSum;
  spec.max_chunks_ahead = 2;
  spec.completed_chunks = {{0, 49}};
  ::gpool::Job job(1, std::move(spec), ResultWindow(1000, 1 << 20), kStart);
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(50u, 51u));
}

TEST_F(DispatchPolicyTest, NextCall_ValuesJobOverBudget_WaitsWhileItHoldsChunks) {
  Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kValues);
  ResultBudget budget(/*max_bytes=*/200);  // 2.5 chunks of 10 values
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job, &budget);
  ASSERT_TRUE(call.has_value());
  // TakeFresh always takes the first chunk; the budget holds two chunks of 80 bytes.
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u, 1u));
  Start(job, *call, 1);
  budget.Reserve(job.reserved_bytes);
  EXPECT_EQ(job.reserved_bytes, 160);
  EXPECT_FALSE(policy_.NextCall(registry_, job, &budget).has_value());
}

TEST_F(DispatchPolicyTest, NextCall_BudgetTakenByOthers_JobHoldingNothingGetsOneChunk) {
  Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kValues);
  ResultBudget budget(/*max_bytes=*/200);
  budget.Reserve(200);  // other jobs' unread results
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job, &budget);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u));
}

TEST_F(DispatchPolicyTest, NextCall_SumJobOverBudget_NotHeldBack) {
  Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kSum);
  ResultBudget budget(/*max_bytes=*/1);
  budget.Reserve(1);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job, &budget);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->chunk_indices.size(), 16u);
}

TEST_F(DispatchPolicyTest, NextCall_JobLimitBelowBudget_JobStopsAtItsOwnLimit) {
  DispatchOptions options;
  options.max_job_result_bytes = 80;  // one chunk
  const DispatchPolicy policy(options);
  Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kValues);
  ResultBudget budget(/*max_bytes=*/1 << 20);
  std::optional<DispatchPolicy::Call> call = policy.NextCall(registry_, job, &budget);
  ASSERT_TRUE(call.has_value());
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u));
  Start(job, *call, 1);
  budget.Reserve(job.reserved_bytes);
  EXPECT_FALSE(policy.NextCall(registry_, job, &budget).has_value());
}

TEST_F(DispatchPolicyTest, Stragglers_HeldBackByMaxChunksAhead_LowestChunkGetsABackup) {
  RegisteredWorker& worker = Add(1);
  ::gpool::Job job = Planned(100, 10, 1000, ResultMode::kSum, /*max_chunks_ahead=*/2);
  Start(job, *policy_.NextCall(registry_, job), 1);  // chunks 0 and 1
  job.dispatch.RecordChunkDuration(absl::Milliseconds(10));
  Complete(job, 1, worker.worker_id);
  // Chunk 0 blocks the job: it is the job's tail now, and a straggler.
  EXPECT_THAT(policy_.Stragglers(job, kStart + absl::Seconds(5)), ElementsAre(0u));
}

TEST_F(DispatchPolicyTest, NextCall_NoWorkerWithRoom_NulloptNothingTaken) {
  Add(1, /*calls=*/2);
  ::gpool::Job job = Planned(10);
  EXPECT_FALSE(policy_.NextCall(registry_, job).has_value());
  EXPECT_EQ(job.chunks->UnsentCount(), 10u);
}

TEST_F(DispatchPolicyTest, Stragglers_FreshChunksLeft_None) {
  ::gpool::Job job = Planned(3);
  job.chunks->TakeFresh(1, 1000);
  job.StartCall(1, "w1", {0}, kStart);
  job.dispatch.RecordChunkDuration(absl::Milliseconds(10));
  EXPECT_THAT(policy_.Stragglers(job, kStart + absl::Hours(1)), IsEmpty());
}

TEST_F(DispatchPolicyTest, Stragglers_TailChunkRunsPastThreshold_ListedOnceWithoutBackup) {
  ::gpool::Job job = Planned(3);
  job.chunks->TakeFresh(3, 1000);
  job.StartCall(1, "w1", {0}, kStart);
  job.StartCall(2, "w2", {1}, kStart);
  job.StartCall(3, "w3", {2}, kStart);
  job.StartCall(4, "w4", {2}, kStart);  // chunk 2 has a backup already
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.count = 10;
  job.AcceptResult(0, "w1", "w1", 1, reply, "", kStart + absl::Milliseconds(100),
                   4);  // threshold: 1 s
  EXPECT_THAT(policy_.Stragglers(job, kStart + absl::Milliseconds(900)), IsEmpty());
  EXPECT_THAT(policy_.Stragglers(job, kStart + absl::Seconds(2)), ElementsAre(1u));
}


// --verify: chunk 0's first result came from `voter`; its copy waits in the retry queue.
::gpool::Job VerifiedWithHeldResult(const std::string& voter) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 10));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kSum;
  spec.verify_fraction = 1;
  ::gpool::Job job(1, std::move(spec), ResultWindow(1000, 1 << 20), kStart);
  EXPECT_TRUE(job.Plan(1, 1, {"square"}).ok());
  job.StartCall(1, voter, job.chunks->TakeFresh(1, 1000), kStart);
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.count = 10;
  job.AcceptResult(0, voter, voter, 1, reply, "", kStart, 4);
  return job;
}

TEST_F(DispatchPolicyTest, NextCall_VerificationCopy_NotToTheWorkerThatComputedIt) {
  RegisteredWorker& first = Add(4);
  RegisteredWorker& other = Add(1, /*calls=*/1);  // busier, but the only one allowed
  ::gpool::Job job = VerifiedWithHeldResult(first.worker_id);
  std::optional<DispatchPolicy::Call> call = policy_.NextCall(registry_, job);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->worker, &other);
  EXPECT_THAT(call->chunk_indices, ElementsAre(0u));
}

TEST_F(DispatchPolicyTest, NextCall_VerificationCopyOnlyTheVoterRegistered_Nothing) {
  RegisteredWorker& only = Add(4);
  ::gpool::Job job = VerifiedWithHeldResult(only.worker_id);
  EXPECT_FALSE(policy_.NextCall(registry_, job).has_value());
  EXPECT_EQ(DispatchPolicy::BlockedVerification(registry_, job), std::optional<uint64_t>(0));
  EXPECT_FALSE(DispatchPolicy::HasWorkerFor(registry_, job));
}

TEST_F(DispatchPolicyTest, BlockedVerification_AnotherWorkerBusy_NotBlocked) {
  RegisteredWorker& first = Add(4);
  Add(1, /*calls=*/2);  // no room now, but it exists
  ::gpool::Job job = VerifiedWithHeldResult(first.worker_id);
  EXPECT_FALSE(DispatchPolicy::BlockedVerification(registry_, job).has_value());
}

TEST_F(DispatchPolicyTest, PickWorker_Quarantined_Skipped) {
  RegisteredWorker& liar = Add(4);
  RegisteredWorker& honest = Add(1, /*calls=*/1);
  ASSERT_NE(registry_.Quarantine(liar.worker_id, "outvoted"), nullptr);
  EXPECT_EQ(policy_.PickWorker(registry_, Job()), &honest);
  EXPECT_EQ(registry_.Quarantine(liar.worker_id, "again"), nullptr);
}

}  // namespace
}  // namespace gpool
