// One job's chunk table alone: no Scheduler, no workers beyond their ids.
#include "server/chunk_table.h"

#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(24);

// 10 chunks of 10 elements, the last one of 5: 95 elements.
ChunkPlan Plan() {
  ChunkPlan plan;
  plan.total_elements = 95;
  plan.chunk_size = 10;
  plan.num_chunks = 10;
  return plan;
}

TEST(ChunkTableTest, Constructor_AlreadyDoneChunks_CountAsDoneAndAreNeverTaken) {
  IndexSet done;
  done.InsertRange(0, 1);
  done.Insert(3);
  ChunkTable table(Plan(), done);
  EXPECT_EQ(table.chunks_done(), 3u);
  EXPECT_THAT(table.TakeFresh(3, 1000), ElementsAre(2, 4, 5));
  EXPECT_EQ(table.UnsentCount(), 4u);
}

TEST(ChunkTableTest, TakeFresh_ElementBudget_StopsBeforeExceedingIt) {
  ChunkTable table(Plan(), IndexSet());
  EXPECT_THAT(table.TakeFresh(10, 25), ElementsAre(0, 1));
  EXPECT_THAT(table.TakeFresh(10, 25), ElementsAre(2, 3));
}

TEST(ChunkTableTest, TakeFresh_ChunkLargerThanBudget_TravelsAlone) {
  ChunkTable table(Plan(), IndexSet());
  EXPECT_THAT(table.TakeFresh(10, 5), ElementsAre(0));
}

TEST(ChunkTableTest, TakeFresh_AllTaken_NoFreshLeft) {
  ChunkTable table(Plan(), IndexSet());
  EXPECT_EQ(table.TakeFresh(100, 1000).size(), 10u);
  EXPECT_FALSE(table.HasFresh());
  EXPECT_THAT(table.TakeFresh(100, 1000), IsEmpty());
}

TEST(ChunkTableTest, TakeFresh_End_StopsBeforeIt) {
  ChunkTable table(Plan(), IndexSet());
  EXPECT_THAT(table.TakeFresh(10, 1000, /*end=*/3), ElementsAre(0, 1, 2));
  EXPECT_THAT(table.TakeFresh(10, 1000, /*end=*/3), IsEmpty());
}

TEST(ChunkTableTest, LowestNotDone_FollowsTheLowestActiveOrFreshChunk) {
  IndexSet done;
  done.InsertRange(0, 1);
  ChunkTable table(Plan(), done);
  EXPECT_EQ(table.LowestNotDone(), 2u);
  table.TakeFresh(3, 1000);  // 2, 3, 4
  table.StartRun(2, "w1", 1, kStart);
  table.StartRun(3, "w1", 1, kStart);
  table.StartRun(4, "w1", 1, kStart);
  table.Complete(3);
  EXPECT_EQ(table.LowestNotDone(), 2u);
  table.Complete(2);
  EXPECT_EQ(table.LowestNotDone(), 4u);
  table.Complete(4);
  EXPECT_EQ(table.LowestNotDone(), 5u);
}

TEST(ChunkTableTest, LowestNotDone_AllDone_NumChunks) {
  IndexSet done;
  done.InsertRange(0, 9);
  ChunkTable table(Plan(), done);
  EXPECT_EQ(table.LowestNotDone(), 10u);
}

TEST(ChunkTableTest, StartRun_SecondRun_GetsNextAttempt) {
  ChunkTable table(Plan(), IndexSet());
  EXPECT_EQ(table.StartRun(0, "w1", /*call_id=*/1, kStart), 1);
  EXPECT_EQ(table.StartRun(0, "w2", /*call_id=*/2, kStart), 2);
  ASSERT_NE(table.Active(0), nullptr);
  EXPECT_EQ(table.Active(0)->runs.size(), 2u);
}

TEST(ChunkTableTest, Complete_ActiveChunk_ReturnsItsRunsAndCountsDone) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  table.StartRun(0, "w2", 2, kStart);
  std::optional<ActiveChunk> done = table.Complete(0);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->runs.size(), 2u);
  EXPECT_EQ(table.chunks_done(), 1u);
  EXPECT_EQ(table.Active(0), nullptr);
}

TEST(ChunkTableTest, Complete_LateCopy_Nullopt) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  ASSERT_TRUE(table.Complete(0).has_value());
  EXPECT_FALSE(table.Complete(0).has_value());
  EXPECT_EQ(table.chunks_done(), 1u);
}

TEST(ChunkTableTest, EndRun_UnknownRun_False) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  EXPECT_FALSE(table.EndRun(0, "w2", 1));
  EXPECT_FALSE(table.EndRun(1, "w1", 1));
  EXPECT_TRUE(table.EndRun(0, "w1", 1));
}

TEST(ChunkTableTest, Lost_BackupStillRunning_StillRunning) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  table.StartRun(0, "w2", 2, kStart);
  ASSERT_TRUE(table.EndRun(0, "w1", 1));
  EXPECT_EQ(table.Lost(0, "w1 (h/1)", 4), ChunkTable::Loss::kStillRunning);
  EXPECT_FALSE(table.HasRetries());
}

TEST(ChunkTableTest, Lost_LastRun_RequeuedAtTheFront) {
  ChunkTable table(Plan(), IndexSet());
  table.TakeFresh(2, 1000);
  table.StartRun(0, "w1", 1, kStart);
  table.StartRun(1, "w1", 1, kStart);
  ASSERT_TRUE(table.EndRun(0, "w1", 1));
  ASSERT_TRUE(table.EndRun(1, "w1", 1));
  EXPECT_EQ(table.Lost(0, "w1 (h/1)", 4), ChunkTable::Loss::kRequeued);
  EXPECT_EQ(table.Lost(1, "w1 (h/1)", 4), ChunkTable::Loss::kRequeued);
  EXPECT_EQ(table.NextRetry(), std::optional<uint64_t>(1));
}

TEST(ChunkTableTest, Lost_MaxAttemptsTimes_Exhausted) {
  ChunkTable table(Plan(), IndexSet());
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(table.StartRun(0, "w1", 1, kStart), attempt);
    ASSERT_TRUE(table.EndRun(0, "w1", attempt));
    const ChunkTable::Loss loss = table.Lost(0, "w1 (h/1)", /*max_attempts=*/2);
    EXPECT_EQ(loss, attempt == 1 ? ChunkTable::Loss::kRequeued : ChunkTable::Loss::kExhausted);
    if (attempt == 1) table.PopRetry();
  }
  EXPECT_THAT(table.Active(0)->lost_on, ElementsAre("w1 (h/1)", "w1 (h/1)"));
}

TEST(ChunkTableTest, NextRetry_ChunkCompletedByLateResult_Skipped) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  table.StartRun(0, "w2", 2, kStart);
  ASSERT_TRUE(table.EndRun(0, "w1", 1));
  ASSERT_TRUE(table.EndRun(0, "w2", 2));
  ASSERT_EQ(table.Lost(0, "w2", 4), ChunkTable::Loss::kRequeued);
  // w1's copy, already counted lost, was answered after all: the chunk is done.
  ASSERT_TRUE(table.Complete(0).has_value());
  EXPECT_EQ(table.NextRetry(), std::nullopt);
  EXPECT_FALSE(table.HasRetries());
}

TEST(ChunkTableTest, RequestCopy_BehindRetriesUnlessUrgent_NoAttemptSpent) {
  ChunkTable table(Plan(), IndexSet());
  for (uint64_t chunk : {0, 1, 2}) {
    table.StartRun(chunk, "w1", 1, kStart);
    ASSERT_TRUE(table.EndRun(chunk, "w1", 1));
  }
  table.RequestCopy(0);
  ASSERT_EQ(table.Lost(1, "w1", 4), ChunkTable::Loss::kRequeued);
  table.RequestCopy(2, /*urgent=*/true);
  std::vector<uint64_t> order;
  while (std::optional<uint64_t> next = table.NextRetry()) {
    order.push_back(*next);
    table.PopRetry();
  }
  EXPECT_THAT(order, ElementsAre(2, 1, 0));
  EXPECT_THAT(table.Active(0)->lost_on, ElementsAre());
}

TEST(ChunkTableTest, AddFault_ActiveChunk_RemembersTheWorker) {
  ChunkTable table(Plan(), IndexSet());
  table.StartRun(0, "w1", 1, kStart);
  table.AddFault(0, "w1");
  EXPECT_THAT(table.Active(0)->faulted_on, ElementsAre("w1"));
}

TEST(ChunkTableTest, AllDone_EveryChunkCompleted_True) {
  IndexSet done;
  done.InsertRange(1, 9);
  ChunkTable table(Plan(), done);
  EXPECT_FALSE(table.AllDone());
  EXPECT_THAT(table.TakeFresh(10, 1000), ElementsAre(0));
  table.StartRun(0, "w1", 1, kStart);
  ASSERT_TRUE(table.Complete(0).has_value());
  EXPECT_TRUE(table.AllDone());
}

}  // namespace
}  // namespace gpool
