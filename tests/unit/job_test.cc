// One job alone: planning, judging replies against the plan, its events. No workers.
#include "server/job.h"

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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
  absl::StatusOr<JobEvent> started = job.Plan(/*cluster_slots=*/8, /*job_slots=*/4);
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
  EXPECT_THAT(job.Plan(1, 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8..12")));
  EXPECT_FALSE(job.chunks.has_value());
}

TEST(JobTest, Plan_CompletedChunks_StartDone) {
  JobSpec spec = Spec();
  spec.completed_chunks = {{0, 4}};
  Job job = MakeJob(std::move(spec));
  ASSERT_TRUE(job.Plan(1, 1).ok());
  EXPECT_EQ(job.chunks->chunks_done(), 5u);
}

ChunkReply SumReply(uint64_t count) {
  ChunkReply reply;
  reply.count = count;
  return reply;
}

TEST(JobTest, CheckReply_RightCount_Empty) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1).ok());
  EXPECT_THAT(job.CheckReply(9, SumReply(5), ""), IsEmpty());
}

TEST(JobTest, CheckReply_WrongCount_SaysSo) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1).ok());
  EXPECT_THAT(job.CheckReply(9, SumReply(10), ""), HasSubstr("for a chunk of 5 elements"));
}

TEST(JobTest, CheckReply_ValuesMissingForValuesJob_SaysSo) {
  Job job = MakeJob(Spec(ResultMode::kValues));
  ASSERT_TRUE(job.Plan(1, 1).ok());
  EXPECT_THAT(job.CheckReply(0, SumReply(10), ""), HasSubstr("0 values"));
}

TEST(JobTest, CheckReply_SharedValuesWithoutBuffer_SaysSo) {
  Job job = MakeJob(Spec(ResultMode::kValues));
  ASSERT_TRUE(job.Plan(1, 1).ok());
  ChunkReply reply = SumReply(10);
  reply.values_shared = true;
  EXPECT_THAT(job.CheckReply(0, reply, ""), HasSubstr("no shared buffer"));
}

TEST(JobTest, CheckReply_Contradiction_SaysSo) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1).ok());
  EXPECT_THAT(job.CheckReply(0, SumReply(10), "sum 3 != 4"),
              HasSubstr("contradicts itself: sum 3 != 4"));
}

TEST(JobTest, ChunkEvent_LastChunk_ElementsOfThePlan) {
  Job job = MakeJob(Spec());
  ASSERT_TRUE(job.Plan(1, 1).ok());
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
  const JobSnapshot snapshot = job.Snapshot(kStart + absl::Seconds(2));
  EXPECT_EQ(snapshot.job_id, "job-3");
  EXPECT_EQ(snapshot.total_elements, 95u);
  EXPECT_EQ(snapshot.num_chunks, 0u);
  EXPECT_EQ(snapshot.elapsed, absl::Seconds(2));
}

}  // namespace
}  // namespace gpool
