// One job alone: planning, judging replies against the plan and the ends of its runs, its
// events. No workers beyond their ids; time is given.
#include "server/job.h"

#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(24);

// 1..95 in chunks of 10: ten chunks, the last one of 5.
JobSpec Spec(ResultMode mode = ResultMode::kSum) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 95));
  spec.chunk_size = 10;
  spec.mode = mode;
  return spec;
}

Job MakeJob(JobSpec spec) { return Job(3, std::move(spec), ResultWindow(16, 1000), kStart); }

TEST(JobTest, Plan_ChunkSizeGiven_StartedEventAndChunkTable) {
  Job job = MakeJob(Spec());
  absl::StatusOr<JobEvent> started = job.Plan(/*cluster_slots=*/8, /*job_slots=*/4, {"square"});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->kind, JobEvent::Kind::kStarted);
  EXPECT_EQ(started->plan.job_id, "job-3");
  EXPECT_EQ(started->plan.num_chunks, 10u);
  EXPECT_EQ(started->plan.job_slots, 4);
  ASSERT_TRUE(job.chunks.has_value());
  EXPECT_EQ(job.chunks->chunks_done(), 0u);
}

TEST(JobTest, Plan_CompletedChunksBeyondPlan_InvalidArgument) {
  JobSpec spec = Spec();
  spec.completed_chunks = {{8, 12}};
  Job job = MakeJob(std::move(spec));
  EXPECT_THAT(job.Plan(1, 1, {"square"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8..12")));
  EXPECT_FALSE(job.chunks.has_value());
}

TEST(JobTest, Plan_CompletedChunks_StartDone) {
  JobSpec spec = Spec();
  spec.completed_chunks = {{0, 4}};
  Job job = MakeJob(std::move(spec));
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  EXPECT_EQ(job.chunks->chunks_done(), 5u);
}

ChunkReply SumReply(uint64_t count) {
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.count = count;
  return reply;
}

TEST(JobTest, CheckReply_RightCount_Empty) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  EXPECT_THAT(job.CheckReply(9, SumReply(5), ""), IsEmpty());
}

TEST(JobTest, CheckReply_WrongCount_SaysSo) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  EXPECT_THAT(job.CheckReply(9, SumReply(10), ""), HasSubstr("for a chunk of 5 elements"));
}

TEST(JobTest, CheckReply_ValuesMissingForValuesJob_SaysSo) {
  Job job = MakeJob(Spec(ResultMode::kValues));
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  EXPECT_THAT(job.CheckReply(0, SumReply(10), ""), HasSubstr("0 values"));
}

TEST(JobTest, CheckReply_SharedValuesWithoutBuffer_SaysSo) {
  Job job = MakeJob(Spec(ResultMode::kValues));
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  ChunkReply reply = SumReply(10);
  reply.values_shared = true;
  EXPECT_THAT(job.CheckReply(0, reply, ""), HasSubstr("no shared buffer"));
}

TEST(JobTest, CheckReply_Contradiction_SaysSo) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  EXPECT_THAT(job.CheckReply(0, SumReply(10), "sum 3 != 4"),
              HasSubstr("contradicts itself: sum 3 != 4"));
}

TEST(JobTest, ChunkEvent_LastChunk_ElementsOfThePlan) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  const JobEvent event = job.ChunkEvent(9, SumReply(5), "w2", 3);
  EXPECT_EQ(event.kind, JobEvent::Kind::kChunk);
  EXPECT_EQ(event.chunk.first_element, 90u);
  EXPECT_EQ(event.chunk.element_count, 5u);
  EXPECT_EQ(event.chunk.worker_id, "w2");
  EXPECT_EQ(event.chunk.attempt, 3);
}

TEST(JobTest, FinishedEvent_Unavailable_NotFinal) {
  Job job = MakeJob(Spec());
  EXPECT_FALSE(job.FinishedEvent(absl::UnavailableError("no worker")).final);
  EXPECT_TRUE(job.FinishedEvent(absl::AbortedError("lost")).final);
}

TEST(JobTest, Snapshot_BeforePlanning_NoChunks) {
  Job job = MakeJob(Spec());
  const JobInfo snapshot = job.Snapshot(kStart + absl::Seconds(2));
  EXPECT_EQ(snapshot.job_id, "job-3");
  EXPECT_EQ(snapshot.total_elements, 95u);
  EXPECT_EQ(snapshot.num_chunks, 0u);
  EXPECT_EQ(snapshot.elapsed, absl::Seconds(2));
}

// A planned job whose chunks 0..(count-1) run in call 1 on w1, started at kStart.
Job RunningJob(uint64_t count, JobSpec spec = Spec()) {
  Job job = MakeJob(std::move(spec));
  EXPECT_TRUE(job.Plan(1, 1, {"square"}).ok());
  job.StartCall(1, "w1", job.chunks->TakeFresh(count, 1000), kStart);
  return job;
}

TEST(JobTest, CallFailure_OneReplyPerChunk_Ok) {
  EXPECT_TRUE(CallFailure(std::vector<ChunkReply>(2), 2).ok());
}

TEST(JobTest, CallFailure_FewerRepliesThanChunks_DataLossForTheCall) {
  EXPECT_THAT(CallFailure(std::vector<ChunkReply>(1), 2),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("answered 1 of the 2 chunks")));
}

TEST(JobTest, CallFailure_CallFailed_ItsOwnError) {
  EXPECT_THAT(CallFailure(absl::InternalError("boom"), 2),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("boom")));
}

TEST(JobTest, ValidateJobSpec_Good_Ok) { EXPECT_TRUE(ValidateJobSpec(Spec()).ok()); }

TEST(JobTest, ValidateJobSpec_FunctionNameThatWouldForgeALogLine_InvalidArgument) {
  JobSpec spec = Spec();
  spec.function = "square\n2026-12-07T00:00:00Z W coordinator: forged";
  EXPECT_THAT(ValidateJobSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("MapRequest.function \"square\\n2026")));
  spec.function = std::string(200, 'f');
  EXPECT_THAT(ValidateJobSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the limit of 128")));
}

TEST(JobTest, ValidateJobSpec_SharedValuesOnSumJob_InvalidArgument) {
  JobSpec spec = Spec(ResultMode::kSum);
  spec.shared_values = SharedValuesRef{};
  EXPECT_THAT(ValidateJobSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shared_values")));
}

TEST(JobTest, ValidateJobSpec_ResumeWithoutChunkSize_InvalidArgument) {
  JobSpec spec = Spec();
  spec.chunk_size = 0;
  spec.completed_chunks = {{0, 1}};
  EXPECT_THAT(ValidateJobSpec(spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("original chunk size")));
}

TEST(JobTest, StartCall_TwoChunks_TasksOfThePlanRecordedAsRunning) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  const std::vector<ChunkTask> tasks = job.StartCall(7, "w2", {0, 1}, kStart);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[1].call_id, 7u);
  EXPECT_EQ(tasks[1].job_id, "job-3");
  EXPECT_EQ(tasks[1].first_element, 10u);
  EXPECT_EQ(tasks[1].element_count, 10u);
  EXPECT_EQ(tasks[1].attempt, 1);
  ASSERT_NE(job.chunks->Active(1), nullptr);
  EXPECT_EQ(job.chunks->Active(1)->runs.front().worker_id, "w2");
  EXPECT_EQ(job.open_chunks_by_call[7], 2);
  EXPECT_EQ(job.dispatch.workers_used.count("w2"), 1u);
}

TEST(JobTest, AcceptResult_FirstResult_ChunkEventWindowPlaceAndDuration) {
  Job job = RunningJob(1);
  const RunOutcome outcome = job.AcceptResult(0, "w1", "w1 (h/1)", 1, SumReply(10), "",
                                              kStart + absl::Seconds(2), /*max_attempts=*/4);
  ASSERT_TRUE(outcome.chunk_event.has_value());
  EXPECT_EQ(outcome.chunk_event->chunk.chunk_index, 0u);
  EXPECT_FALSE(outcome.worker_fault);
  EXPECT_FALSE(outcome.finish.has_value());
  EXPECT_EQ(job.chunks->chunks_done(), 1u);
  EXPECT_EQ(job.window.ChunkRoom(), 15);
  EXPECT_THAT(job.dispatch.chunk_durations, ElementsAre(absl::Seconds(2)));
}

TEST(JobTest, AcceptResult_SecondCopy_DroppedAndCounted) {
  Job job = RunningJob(1);
  job.StartCall(2, "w2", {0}, kStart);
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  const RunOutcome late = job.AcceptResult(0, "w2", "w2", 2, SumReply(10), "", kStart, 4);
  EXPECT_FALSE(late.chunk_event.has_value());
  EXPECT_EQ(job.stats.duplicates_dropped, 1);
  EXPECT_EQ(job.chunks->chunks_done(), 1u);
}

TEST(JobTest, AcceptResult_BackupWins_LosingCallCancelled) {
  Job job = RunningJob(1);
  job.StartCall(2, "w2", {0}, kStart);
  const RunOutcome outcome = job.AcceptResult(0, "w2", "w2", 2, SumReply(10), "", kStart, 4);
  EXPECT_THAT(outcome.calls_to_cancel, ElementsAre(Pair("w1", 1u)));
}

TEST(JobTest, AcceptResult_LosingCallStillCarriesOpenChunks_NotCancelled) {
  Job job = RunningJob(2);  // chunks 0 and 1 in call 1 on w1
  job.StartCall(2, "w2", {0}, kStart);
  const RunOutcome outcome = job.AcceptResult(0, "w2", "w2", 2, SumReply(10), "", kStart, 4);
  EXPECT_THAT(outcome.calls_to_cancel, IsEmpty());
}

TEST(JobTest, AcceptResult_LastChunk_FinishesOk) {
  JobSpec spec = Spec();
  spec.completed_chunks = {{0, 8}};
  Job job = RunningJob(1, std::move(spec));  // chunk 9, of 5 elements
  const RunOutcome outcome = job.AcceptResult(9, "w1", "w1", 1, SumReply(5), "", kStart, 4);
  ASSERT_TRUE(outcome.finish.has_value());
  EXPECT_TRUE(outcome.finish->ok());
}

TEST(JobTest, AcceptResult_WrongCountWhileRunning_WorkersFaultAndChunkRequeued) {
  Job job = RunningJob(1);
  const RunOutcome outcome = job.AcceptResult(0, "w1", "w1", 1, SumReply(3), "", kStart, 4);
  EXPECT_TRUE(outcome.worker_fault);
  EXPECT_FALSE(outcome.chunk_event.has_value());
  EXPECT_FALSE(outcome.finish.has_value());
  EXPECT_EQ(job.chunks->NextRetry(), std::optional<uint64_t>(0));
  EXPECT_THAT(job.chunks->Active(0)->faulted_on, ElementsAre("w1"));
  EXPECT_EQ(job.stats.retries, 1);
}

TEST(JobTest, AcceptResult_WrongCountOfLateCopy_WorkersFaultOnly) {
  Job job = RunningJob(1);
  job.StartCall(2, "w2", {0}, kStart);
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  const RunOutcome late = job.AcceptResult(0, "w2", "w2", 2, SumReply(3), "", kStart, 4);
  EXPECT_TRUE(late.worker_fault);
  EXPECT_FALSE(late.finish.has_value());
  EXPECT_EQ(job.stats.duplicates_dropped, 0);
  EXPECT_EQ(job.stats.retries, 0);
}

TEST(JobTest, RunFailed_FunctionsOwnError_FinishesTheJobWithIt) {
  Job job = RunningJob(1);
  const RunOutcome outcome =
      job.RunFailed(0, "w1", "w1", 1, absl::OutOfRangeError("overflow at 7"), 4);
  ASSERT_TRUE(outcome.finish.has_value());
  EXPECT_THAT(*outcome.finish, StatusIs(absl::StatusCode::kOutOfRange, "overflow at 7"));
  EXPECT_FALSE(outcome.worker_fault);
}

TEST(JobTest, RunFailed_WorkersError_FaultAndRetry) {
  Job job = RunningJob(1);
  const RunOutcome outcome =
      job.RunFailed(0, "w1", "w1 (h/1)", 1, absl::InternalError("disk full"), 4);
  EXPECT_TRUE(outcome.worker_fault);
  EXPECT_FALSE(outcome.finish.has_value());
  EXPECT_EQ(job.stats.retries, 1);
  EXPECT_THAT(job.chunks->Active(0)->lost_on, ElementsAre("w1 (h/1) [INTERNAL: disk full]"));
}

TEST(JobTest, RunFailed_Cancelled_RetryWithoutFault) {
  Job job = RunningJob(1);
  const RunOutcome outcome = job.RunFailed(0, "w1", "w1", 1, absl::CancelledError("drain"), 4);
  EXPECT_FALSE(outcome.worker_fault);
  EXPECT_EQ(job.stats.retries, 1);
  EXPECT_THAT(job.chunks->Active(0)->faulted_on, IsEmpty());
}

TEST(JobTest, RunFailed_LastAttempt_AbortedNamingTheWorkers) {
  Job job = RunningJob(1);
  const RunOutcome outcome =
      job.RunFailed(0, "w1", "w1", 1, absl::InternalError("boom"), /*max_attempts=*/1);
  ASSERT_TRUE(outcome.finish.has_value());
  EXPECT_THAT(*outcome.finish,
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("failed 1 times, on workers w1 [INTERNAL: boom]")));
}

TEST(JobTest, RunFailed_RunAlreadyEnded_Nothing) {
  Job job = RunningJob(1);
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  const RunOutcome outcome = job.RunFailed(0, "w1", "w1", 1, absl::InternalError("late"), 4);
  EXPECT_FALSE(outcome.worker_fault);
  EXPECT_FALSE(outcome.finish.has_value());
  EXPECT_EQ(job.stats.retries, 0);
}

TEST(JobTest, WorkerGone_LostTwoChunks_CountedOnceBothRequeued) {
  Job job = RunningJob(2);
  EXPECT_FALSE(job.WorkerGone("w1", "w1", 0, 1, /*lost=*/true, 4).has_value());
  EXPECT_FALSE(job.WorkerGone("w1", "w1", 1, 1, /*lost=*/true, 4).has_value());
  EXPECT_EQ(job.stats.workers_lost, 1);
  EXPECT_EQ(job.stats.retries, 2);
  EXPECT_EQ(job.dispatch.workers_used.count("w1"), 0u);
  EXPECT_THAT(job.chunks->Active(0)->lost_on, ElementsAre("w1"));
}

TEST(JobTest, WorkerGone_LeftGracefully_HandedBackWithoutSpendingAnAttempt) {
  Job job = RunningJob(1);
  EXPECT_FALSE(job.WorkerGone("w1", "w1", 0, 1, /*lost=*/false, /*max_attempts=*/1).has_value());
  EXPECT_EQ(job.stats.workers_lost, 0);
  EXPECT_EQ(job.stats.retries, 1);
  EXPECT_THAT(job.chunks->Active(0)->lost_on, IsEmpty());
  EXPECT_EQ(job.chunks->NextRetry(), std::optional<uint64_t>(0));
}

TEST(JobTest, WorkerGone_LostOnLastAttempt_Aborted) {
  Job job = RunningJob(1);
  EXPECT_THAT(job.WorkerGone("w1", "w1 (h/1)", 0, 1, /*lost=*/true, /*max_attempts=*/1),
              ::testing::Optional(StatusIs(absl::StatusCode::kAborted,
                                           HasSubstr("on workers w1 (h/1)"))));
}

TEST(JobTest, Finish_TwoChunksInOneCallAndABackup_OneEntryPerCall) {
  Job job = RunningJob(2);
  job.StartCall(2, "w2", {0}, kStart);
  EXPECT_THAT(job.Finish(), ElementsAre(Pair("w1", 1u), Pair("w2", 2u)));
  EXPECT_TRUE(job.finished);
}

TEST(JobTest, Contradiction_ValuesAgreeWithSummary_Empty) {
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.values = EncodedValues::Own(std::vector<int64_t>{1, 4, 9});
  reply.count = 3;
  reply.sum = 14;
  reply.min = 1;
  reply.max = 9;
  EXPECT_THAT(Contradiction(reply), IsEmpty());
}

TEST(JobTest, Contradiction_SumDisagrees_SaysSo) {
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.values = EncodedValues::Own(std::vector<int64_t>{1, 4, 9});
  reply.count = 3;
  reply.sum = 15;
  reply.min = 1;
  reply.max = 9;
  EXPECT_THAT(Contradiction(reply), Not(IsEmpty()));
}

TEST(JobTest, NoWorkerError_OtherFunctionsOffered_UnavailableNamingThemAndTheAddress) {
  Job job = MakeJob(Spec());
  EXPECT_THAT(job.NoWorkerError(absl::Seconds(10), {"cube", "sleep"}, "10.0.0.1:50051"),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("no worker offering 'square' was available for 10s"),
                             HasSubstr("offer: cube, sleep"),
                             HasSubstr("--coordinator 10.0.0.1:50051"))));
}

TEST(JobTest, NoWorkerError_NoWorkerNoAddressYet_SaysWhereToLook) {
  Job job = MakeJob(Spec());
  EXPECT_THAT(job.NoWorkerError(absl::Seconds(1), {}, ""),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("no worker is registered"),
                             HasSubstr("HOST:PORT (this coordinator's --listen address)"))));
}


// --verify: a job of ten chunks, every one of them verified, chunk 0 running on w1.
Job VerifiedJob(ResultMode mode = ResultMode::kSum) {
  JobSpec spec = Spec(mode);
  spec.verify_fraction = 1;
  return RunningJob(1, std::move(spec));
}

TEST(JobTest, ValidateJobSpec_VerifyOutsideZeroToOne_InvalidArgument) {
  for (double fraction : {-0.1, 1.5, std::nan("")}) {
    JobSpec spec = Spec();
    spec.verify_fraction = fraction;
    EXPECT_THAT(ValidateJobSpec(spec),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("verify fraction")))
        << fraction;
  }
}

TEST(JobTest, StartCall_VerifiedChunk_NoSharedBuffer) {
  JobSpec spec = Spec(ResultMode::kValues);
  spec.verify_fraction = 1;
  spec.shared_values = SharedValuesRef{};
  Job job = MakeJob(std::move(spec));
  ASSERT_TRUE(job.Plan(1, 1, {"square"}).ok());
  const std::vector<ChunkTask> tasks = job.StartCall(1, "w1", {0}, kStart);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_FALSE(tasks[0].shared_values.has_value());
}

TEST(JobTest, AcceptResult_VerifyZero_PublishedAtOnceNoCopy) {
  Job job = RunningJob(1);
  const RunOutcome outcome = job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  EXPECT_TRUE(outcome.chunk_event.has_value());
  EXPECT_FALSE(job.chunks->NextRetry().has_value());
  EXPECT_EQ(job.stats.chunks_verified, 0);
}

TEST(JobTest, AcceptResult_VerifiedFirstResult_HeldWithWindowPlaceAndCopyQueued) {
  Job job = VerifiedJob();
  const RunOutcome outcome = job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  EXPECT_FALSE(outcome.chunk_event.has_value());
  EXPECT_FALSE(outcome.finish.has_value());
  EXPECT_EQ(job.chunks->chunks_done(), 0u);
  EXPECT_EQ(job.window.ChunkRoom(), 15);
  EXPECT_EQ(job.chunks->NextRetry(), std::optional<uint64_t>(0));
  EXPECT_THAT(job.CopyExclusions(0), ElementsAre("w1"));
  EXPECT_EQ(job.stats.retries, 0);
}

TEST(JobTest, AcceptResult_VerifiedSecondWorkerAgrees_PublishedOnceAndCounted) {
  Job job = VerifiedJob();
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  job.chunks->PopRetry();
  job.StartCall(2, "w2", {0}, kStart);
  const RunOutcome outcome = job.AcceptResult(0, "w2", "w2", 2, SumReply(10), "", kStart, 4);
  ASSERT_TRUE(outcome.chunk_event.has_value());
  EXPECT_EQ(outcome.chunk_event->chunk.chunk_index, 0u);
  EXPECT_THAT(outcome.quarantine, IsEmpty());
  EXPECT_EQ(job.chunks->chunks_done(), 1u);
  EXPECT_EQ(job.window.ChunkRoom(), 15);  // one place, taken when it was held
  EXPECT_EQ(job.stats.chunks_verified, 1);
  EXPECT_EQ(job.stats.verification_mismatches, 0);
}

TEST(JobTest, AcceptResult_VerifiedDisagreementThirdDecides_MinorityQuarantined) {
  Job job = VerifiedJob();
  ChunkReply lie = SumReply(10);
  lie.sum = 1;
  job.AcceptResult(0, "w1", "w1", 1, std::move(lie), "", kStart, 4);
  job.chunks->PopRetry();
  job.StartCall(2, "w2", {0}, kStart);
  const RunOutcome mismatch = job.AcceptResult(0, "w2", "w2", 2, SumReply(10), "", kStart, 4);
  EXPECT_FALSE(mismatch.chunk_event.has_value());
  EXPECT_EQ(job.stats.verification_mismatches, 1);
  EXPECT_EQ(job.chunks->NextRetry(), std::optional<uint64_t>(0));
  EXPECT_THAT(job.CopyExclusions(0), ElementsAre("w1", "w2"));
  job.chunks->PopRetry();
  job.StartCall(3, "w3", {0}, kStart);
  const RunOutcome decided = job.AcceptResult(0, "w3", "w3", 3, SumReply(10), "", kStart, 4);
  ASSERT_TRUE(decided.chunk_event.has_value());
  EXPECT_EQ(decided.chunk_event->chunk.sum, 0);  // the honest SumReply's
  ASSERT_EQ(decided.quarantine.size(), 1u);
  EXPECT_EQ(decided.quarantine[0].first, "w1");
  EXPECT_THAT(decided.quarantine[0].second, AllOf(HasSubstr("chunk 0 of job-3"),
                                                  HasSubstr("w2"), HasSubstr("w3")));
}

TEST(JobTest, AcceptResult_VerifiedAllDisagreeUpToMaxAttempts_Aborted) {
  Job job = VerifiedJob();
  for (int i = 1; i <= 3; ++i) {
    if (i > 1) {
      job.chunks->PopRetry();
      job.StartCall(i, absl::StrCat("w", i), {0}, kStart);
    }
    ChunkReply reply = SumReply(10);
    reply.sum = i;
    const RunOutcome outcome =
        job.AcceptResult(0, absl::StrCat("w", i), "w", i, std::move(reply), "", kStart, 3);
    EXPECT_EQ(outcome.finish.has_value(), i == 3) << i;
    if (i == 3) {
      EXPECT_THAT(*outcome.finish,
                  StatusIs(absl::StatusCode::kAborted, HasSubstr("no two agree")));
    }
  }
}

TEST(JobTest, AcceptResult_VerifiedRunAlreadyEnded_DoesNotVote) {
  Job job = VerifiedJob();
  job.WorkerGone("w1", "w1", 0, 1, /*lost=*/true, 4);
  const RunOutcome outcome = job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  EXPECT_FALSE(outcome.chunk_event.has_value());
  EXPECT_FALSE(job.quorum.Holds(0));
}

TEST(JobTest, WorkerQuarantined_HeldResult_DroppedWindowFreedLaterResultsIgnored) {
  Job job = VerifiedJob();
  job.StartCall(2, "w1", job.chunks->TakeFresh(1, 1000), kStart);  // chunk 1 on w1 too
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  job.WorkerQuarantined("w1");
  EXPECT_FALSE(job.quorum.Holds(0));
  EXPECT_EQ(job.window.ChunkRoom(), 16);
  const RunOutcome late = job.AcceptResult(1, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  EXPECT_FALSE(late.chunk_event.has_value());
  EXPECT_FALSE(job.quorum.Holds(1));
}

TEST(JobTest, NoVerifierError_OneWorker_UnavailableNamingChunkAndWorker) {
  Job job = VerifiedJob();
  job.AcceptResult(0, "w1", "w1", 1, SumReply(10), "", kStart, 4);
  EXPECT_THAT(job.NoVerifierError(absl::Seconds(10), 0),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("chunk 0"), HasSubstr("(w1)"), HasSubstr("2 distinct"))));
}

TEST(JobTest, Plan_FunctionTakesAnotherType_InvalidNamingBothTypes) {
  Job job = MakeJob(Spec());
  EXPECT_THAT(job.Plan(1, 1, FunctionSignature("upper", ElementType::kString, ElementType::kString))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("upper(string) -> string does not take int64"),
                             HasSubstr("--type string"))));
}

TEST(JobTest, Plan_LargeStrings_ChunksCutByBytesOneChunkPerCall) {
  JobSpec spec = Spec();
  spec.input = std::make_shared<const Input>(Input::List(
      Elements::Strings(std::vector<std::string>(10, std::string(400 * 1024, 'a')))));
  spec.chunk_size = 0;
  Job job = MakeJob(spec);
  ASSERT_OK_AND_ASSIGN(JobEvent started,
                       job.Plan(1, 1, FunctionSignature("upper", ElementType::kString,
                                                        ElementType::kString)));
  EXPECT_EQ(started.plan.chunk_size, 2u);  // 2 x 400 KiB <= 1 MiB
  EXPECT_EQ(started.plan.output_type, ElementType::kString);
  EXPECT_TRUE(job.dispatch.one_chunk_per_call);
}

TEST(JobTest, CheckReply_SummaryOfAnotherKind_SaysSo) {
  JobSpec spec = Spec();
  spec.function = "sqrt";
  Job job = MakeJob(spec);
  ASSERT_OK(job.Plan(1, 1, FunctionSignature("sqrt", ElementType::kDouble, ElementType::kDouble))
                .status());
  // An int64 summary for double results is a fault of the worker.
  EXPECT_THAT(job.CheckReply(0, SumReply(10), ""), HasSubstr("summary"));
  ChunkReply right;
  right.summary = SummaryKind::kDouble;
  right.count = 10;
  EXPECT_THAT(job.CheckReply(0, right, ""), IsEmpty());
}

}  // namespace
}  // namespace gpool
