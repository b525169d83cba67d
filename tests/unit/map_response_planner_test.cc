// What a Map call writes, and when: the planner alone, over a fake clock.
#include "server/map_response_planner.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kStall = absl::Seconds(60);

// Bytes ResultBytesBound counts for a result of `values` values from worker "w1" on host "h":
// 8 a value, the worker's id and host, and 192 of overhead.
int64_t ResultBytes(int64_t values) { return values * 8 + 3 + 192; }

JobEvent Started() {
  JobEvent event;
  event.kind = JobEvent::Kind::kStarted;
  event.plan.job_id = "job-1";
  event.plan.num_chunks = 10;
  return event;
}

// A result relaying `values` values (all equal to `index`).
JobEvent Chunk(uint64_t index, int64_t values = 10, bool tail = false) {
  JobEvent event;
  event.kind = JobEvent::Kind::kChunk;
  event.chunk.chunk_index = index;
  event.chunk.element_count = static_cast<uint64_t>(values);
  event.chunk.values =
      EncodedValues::Own(std::vector<int64_t>(values, static_cast<int64_t>(index)));
  event.chunk.tail = tail;
  event.chunk.worker_id = "w1";
  event.chunk.worker_host = "h";
  return event;
}

// A tail result whose `count` values are in the client's shared buffer (none relayed).
JobEvent SharedTailChunk(uint64_t index, int64_t count) {
  JobEvent event;
  event.kind = JobEvent::Kind::kChunk;
  event.chunk.chunk_index = index;
  event.chunk.element_count = static_cast<uint64_t>(count);
  event.chunk.values_shared = true;
  event.chunk.tail = true;
  return event;
}

JobEvent Finished() {
  JobEvent event;
  event.kind = JobEvent::Kind::kFinished;
  event.stats.retries = 7;
  return event;
}

JobEvent Failed(absl::Status status) {
  JobEvent event;
  event.kind = JobEvent::Kind::kFinished;
  event.status = std::move(status);
  event.final = true;
  return event;
}

std::vector<JobEvent> Events(JobEvent a) {
  std::vector<JobEvent> events;
  events.push_back(std::move(a));
  return events;
}
template <typename... More>
std::vector<JobEvent> Events(JobEvent a, More... more) {
  std::vector<JobEvent> events = Events(std::move(a));
  for (JobEvent& event : Events(std::move(more)...)) events.push_back(std::move(event));
  return events;
}

MapResponseLimits Limits() {
  MapResponseLimits limits;
  limits.max_result_bytes = int64_t{4} << 20;
  return limits;
}

std::vector<uint64_t> Indices(const MapResponsePlan& plan) {
  std::vector<uint64_t> indices;
  for (const ChunkDelivery& chunk : plan.chunks) indices.push_back(chunk.chunk_index);
  return indices;
}

class MapResponsePlannerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  MapResponsePlanner planner_{&clock_, Limits()};
};

TEST_F(MapResponsePlannerTest, Next_StartAlone_HeldUntilFirstResults) {
  planner_.Take(Events(Started()));
  EXPECT_FALSE(planner_.Next().has_value());
  planner_.Take(Events(Chunk(0)));
  std::optional<MapResponsePlan> plan = planner_.Next();
  ASSERT_TRUE(plan.has_value());
  ASSERT_TRUE(plan->started.has_value());
  EXPECT_EQ(plan->started->job_id, "job-1");
  EXPECT_THAT(Indices(*plan), ElementsAre(0u));
  EXPECT_EQ(plan->chunks[0].values.ToVector(), std::vector<int64_t>(10, 0));
  EXPECT_FALSE(plan->ends_call());
}

TEST_F(MapResponsePlannerTest, Next_TailResults_HeldUntilEndThenOneMessageWithAll) {
  planner_.Take(Events(Started(), Chunk(0, 10, /*tail=*/true)));
  EXPECT_FALSE(planner_.Next().has_value());
  planner_.Take(Events(Chunk(1, 10, /*tail=*/true)));
  EXPECT_FALSE(planner_.Next().has_value());
  planner_.Take(Events(Finished()));
  std::optional<MapResponsePlan> plan = planner_.Next();
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->started.has_value());
  EXPECT_THAT(Indices(*plan), ElementsAre(0u, 1u));
  ASSERT_TRUE(plan->finished.has_value());
  EXPECT_EQ(plan->finished->retries, 7);
  EXPECT_FALSE(plan->failure.has_value());
  EXPECT_FALSE(planner_.open());
  EXPECT_FALSE(planner_.Next().has_value());
}

TEST_F(MapResponsePlannerTest, Next_TailResultsAtHoldLimit_Held) {
  const int64_t limit = MapResponseLimits().max_held_values;
  planner_.Take(Events(Started(), SharedTailChunk(0, limit - 10), Chunk(1, 10, /*tail=*/true)));
  EXPECT_FALSE(planner_.Next().has_value());
}

TEST_F(MapResponsePlannerTest, Next_TailResultsOverHoldLimit_SentBeforeTheEnd) {
  const int64_t limit = MapResponseLimits().max_held_values;
  planner_.Take(Events(Started(), SharedTailChunk(0, limit - 10), Chunk(1, 11, /*tail=*/true)));
  std::optional<MapResponsePlan> plan = planner_.Next();
  ASSERT_TRUE(plan.has_value());
  EXPECT_THAT(Indices(*plan), ElementsAre(0u, 1u));
  EXPECT_FALSE(plan->ends_call());
}

TEST_F(MapResponsePlannerTest, Next_ResultNotOfTheTail_SentAtOnce) {
  planner_.Take(Events(Started(), Chunk(0, 10, /*tail=*/true), Chunk(1, 10, /*tail=*/false)));
  std::optional<MapResponsePlan> plan = planner_.Next();
  ASSERT_TRUE(plan.has_value());
  EXPECT_THAT(Indices(*plan), ElementsAre(0u, 1u));
}

TEST_F(MapResponsePlannerTest, ReleaseHeld_StartWaiting_SentAloneAndNothingHeldAfter) {
  planner_.Take(Events(Started()));
  ASSERT_FALSE(planner_.Next().has_value());
  EXPECT_TRUE(planner_.ReleaseHeld());
  std::optional<MapResponsePlan> start = planner_.Next();
  ASSERT_TRUE(start.has_value());
  EXPECT_TRUE(start->started.has_value());
  EXPECT_TRUE(start->chunks.empty());
  planner_.WriteDone();
  planner_.Take(Events(Chunk(0, 10, /*tail=*/true)));
  std::optional<MapResponsePlan> tail = planner_.Next();
  ASSERT_TRUE(tail.has_value());
  EXPECT_THAT(Indices(*tail), ElementsAre(0u));
  EXPECT_FALSE(planner_.ReleaseHeld());
}

TEST_F(MapResponsePlannerTest, Next_FailureAfterTakenResults_SentAfterThem) {
  planner_.Take(Events(Started(), Chunk(0), Chunk(1),
                       Failed(absl::InternalError("the function crashed"))));
  std::optional<MapResponsePlan> results = planner_.Next();
  ASSERT_TRUE(results.has_value());
  EXPECT_TRUE(results->started.has_value());
  EXPECT_THAT(Indices(*results), ElementsAre(0u, 1u));
  EXPECT_FALSE(results->ends_call());
  EXPECT_FALSE(planner_.Next().has_value());  // their write is in flight
  planner_.WriteDone();
  std::optional<MapResponsePlan> failure = planner_.Next();
  ASSERT_TRUE(failure.has_value());
  ASSERT_TRUE(failure->failure.has_value());
  EXPECT_EQ(*failure->failure, absl::InternalError("the function crashed"));
  EXPECT_TRUE(failure->final);
  EXPECT_FALSE(failure->started.has_value());
  EXPECT_TRUE(failure->chunks.empty());
  EXPECT_FALSE(planner_.open());
}

TEST_F(MapResponsePlannerTest, Next_ResultsOverByteBound_SplitAcrossMessages) {
  MapResponseLimits limits = Limits();
  limits.max_result_bytes = 2 * ResultBytes(100);
  MapResponsePlanner planner(&clock_, limits);
  planner.Take(Events(Chunk(0, 100), Chunk(1, 100), Chunk(2, 100), Chunk(3, 100, true),
                      Chunk(4, 100, true), Finished()));
  std::vector<std::vector<uint64_t>> messages;
  while (std::optional<MapResponsePlan> plan = planner.Next()) {
    messages.push_back(Indices(*plan));
    if (plan->ends_call()) break;
    planner.WriteDone();
  }
  EXPECT_THAT(messages, ElementsAre(ElementsAre(0u, 1u), ElementsAre(2u, 3u), ElementsAre(4u)));
}

TEST_F(MapResponsePlannerTest, Next_ResultAloneOverByteBound_SentAlone) {
  MapResponseLimits limits = Limits();
  limits.max_result_bytes = ResultBytes(10);
  MapResponsePlanner planner(&clock_, limits);
  planner.Take(Events(Chunk(0, 100), Chunk(1, 100)));
  std::optional<MapResponsePlan> plan = planner.Next();
  ASSERT_TRUE(plan.has_value());
  EXPECT_THAT(Indices(*plan), ElementsAre(0u));
}

TEST_F(MapResponsePlannerTest, Next_MoreResultsThanAMessageHolds_SplitAtMaxResults) {
  MapResponseLimits limits = Limits();
  limits.max_results = 2;
  MapResponsePlanner planner(&clock_, limits);
  planner.Take(Events(Started(), Chunk(0, 1), Chunk(1, 1), Chunk(2, 1)));
  std::optional<MapResponsePlan> first = planner.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->started.has_value());
  EXPECT_THAT(Indices(*first), ElementsAre(0u, 1u));
  planner.WriteDone();
  std::optional<MapResponsePlan> second = planner.Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->started.has_value());
  EXPECT_THAT(Indices(*second), ElementsAre(2u));
}

TEST_F(MapResponsePlannerTest, Stalled_WriteInFlightForTheTimeout_TrueOnceNotBefore) {
  planner_.Take(Events(Started(), Chunk(0)));
  ASSERT_TRUE(planner_.Next().has_value());
  clock_.Advance(kStall - absl::Milliseconds(1));
  EXPECT_FALSE(planner_.Stalled(clock_.Now(), kStall));
  EXPECT_FALSE(planner_.stalled());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(planner_.Stalled(clock_.Now(), kStall));
  EXPECT_TRUE(planner_.stalled());
  EXPECT_FALSE(planner_.Stalled(clock_.Now() + kStall, kStall));
}

TEST_F(MapResponsePlannerTest, Stalled_WriteCompleted_False) {
  planner_.Take(Events(Started(), Chunk(0)));
  ASSERT_TRUE(planner_.Next().has_value());
  planner_.WriteDone();
  clock_.Advance(2 * kStall);
  EXPECT_FALSE(planner_.Stalled(clock_.Now(), kStall));
}

// The timeout counts from the start of the write in flight, not from the call's.
TEST_F(MapResponsePlannerTest, Stalled_LaterWriteYoungerThanTimeout_False) {
  planner_.Take(Events(Started(), Chunk(0)));
  ASSERT_TRUE(planner_.Next().has_value());
  clock_.Advance(kStall - absl::Seconds(1));
  planner_.WriteDone();
  planner_.Take(Events(Chunk(1)));
  ASSERT_TRUE(planner_.Next().has_value());
  clock_.Advance(absl::Seconds(2));
  EXPECT_FALSE(planner_.Stalled(clock_.Now(), kStall));
}

TEST_F(MapResponsePlannerTest, Stalled_CallFinishedWithWriteInFlight_False) {
  planner_.Take(Events(Started(), Chunk(0)));
  ASSERT_TRUE(planner_.Next().has_value());
  ASSERT_TRUE(planner_.Finish());
  clock_.Advance(2 * kStall);
  EXPECT_FALSE(planner_.Stalled(clock_.Now(), kStall));
}

TEST_F(MapResponsePlannerTest, WriteDone_ResultsWritten_ReportsTheirChunksAndWindowValues) {
  planner_.Take(Events(Started(), Chunk(0, 10), SharedTailChunk(1, 100), Chunk(2, 5)));
  ASSERT_TRUE(planner_.Next().has_value());
  const MapDelivery delivered = planner_.WriteDone();
  EXPECT_EQ(delivered.chunks, 3);
  EXPECT_EQ(delivered.values, 115);
}

TEST_F(MapResponsePlannerTest, WriteDone_StartOnlyWritten_ReportsNothing) {
  planner_.ReleaseHeld();
  planner_.Take(Events(Started()));
  ASSERT_TRUE(planner_.Next().has_value());
  const MapDelivery delivered = planner_.WriteDone();
  EXPECT_EQ(delivered.chunks, 0);
  EXPECT_EQ(delivered.values, 0);
}

TEST_F(MapResponsePlannerTest, End_ResultsQueued_SentThenUnavailableNotFinal) {
  planner_.Take(Events(Started(), Chunk(0)));
  ASSERT_TRUE(planner_.End(absl::UnavailableError("shutting down")));
  EXPECT_FALSE(planner_.open());
  EXPECT_FALSE(planner_.End(absl::UnavailableError("again")));
  planner_.Take(Events(Chunk(1)));  // after End: not sent
  std::optional<MapResponsePlan> results = planner_.Next();
  ASSERT_TRUE(results.has_value());
  EXPECT_THAT(Indices(*results), ElementsAre(0u));
  EXPECT_FALSE(results->ends_call());
  planner_.WriteDone();
  std::optional<MapResponsePlan> end = planner_.Next();
  ASSERT_TRUE(end.has_value());
  ASSERT_TRUE(end->failure.has_value());
  EXPECT_EQ(end->failure->code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(end->final);
  EXPECT_TRUE(end->chunks.empty());
}

TEST_F(MapResponsePlannerTest, Finish_EventsQueued_DroppedAndNothingPlanned) {
  planner_.Take(Events(Started(), Chunk(0)));
  EXPECT_TRUE(planner_.Finish());
  EXPECT_FALSE(planner_.Next().has_value());
  EXPECT_FALSE(planner_.Finish());
  EXPECT_FALSE(planner_.End(absl::UnavailableError("shutting down")));
}

}  // namespace
}  // namespace gpool
