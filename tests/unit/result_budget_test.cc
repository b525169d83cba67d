// The coordinator's byte budget for results, alone.
#include "server/result_budget.h"

#include "gtest/gtest.h"

namespace gpool {
namespace {

TEST(ResultBudgetTest, Room_SmallerOfBudgetAndJobLimit) {
  ResultBudget budget(100);
  budget.Reserve(30);
  EXPECT_EQ(budget.Room(/*job_reserved=*/10, /*job_limit=*/50), 40);
  EXPECT_EQ(budget.Room(/*job_reserved=*/0, /*job_limit=*/1000), 70);
}

TEST(ResultBudgetTest, AllowsChunk_OverBudgetWhileJobHoldsBytes_False) {
  ResultBudget budget(100);
  budget.Reserve(90);
  EXPECT_FALSE(budget.AllowsChunk(/*job_reserved=*/40, /*job_limit=*/1000, /*bytes=*/20));
  EXPECT_TRUE(budget.AllowsChunk(/*job_reserved=*/40, /*job_limit=*/1000, /*bytes=*/10));
}

// A job whose own results are all delivered is never starved by others that hold the
// budget, and a chunk larger than the whole budget still goes: no deadlock.
TEST(ResultBudgetTest, AllowsChunk_JobHoldsNothing_TrueWhateverTheBudget) {
  ResultBudget budget(100);
  budget.Reserve(100);
  EXPECT_TRUE(budget.AllowsChunk(/*job_reserved=*/0, /*job_limit=*/10, /*bytes=*/1000));
}

TEST(ResultBudgetTest, AllowsChunk_OverJobLimit_False) {
  ResultBudget budget(1000);
  budget.Reserve(10);
  EXPECT_FALSE(budget.AllowsChunk(/*job_reserved=*/10, /*job_limit=*/15, /*bytes=*/10));
}

TEST(ResultBudgetTest, Release_MoreThanReserved_StopsAtZero) {
  ResultBudget budget(100);
  budget.Reserve(10);
  budget.Release(25);
  EXPECT_EQ(budget.reserved(), 0);
}

TEST(ResultBudgetTest, Constructor_NonPositiveBudget_AtLeastOneByte) {
  EXPECT_EQ(ResultBudget(0).max_bytes(), 1);
}

}  // namespace
}  // namespace gpool
