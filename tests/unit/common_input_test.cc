// Unit tests of inputs: range and value-list parsing, and cutting a job into chunks.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "common/chunking.h"
#include "common/input.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- Range parsing ----------------------------------------------------------------------

TEST(ParseRangeTest, SimpleRange_ParsesInclusiveBounds) {
  ASSERT_OK_AND_ASSIGN(Input input, ParseRange("1..5000"));
  EXPECT_TRUE(input.is_range());
  EXPECT_EQ(input.range_start(), 1);
  EXPECT_EQ(input.range_end(), 5000);
  EXPECT_EQ(input.size(), 5000u);
}

TEST(ParseRangeTest, NegativeBounds_Parse) {
  ASSERT_OK_AND_ASSIGN(Input input, ParseRange("-5..-1"));
  EXPECT_EQ(input.range_start(), -5);
  EXPECT_EQ(input.range_end(), -1);
  EXPECT_EQ(input.size(), 5u);
  EXPECT_EQ(input.At(0), -5);
  EXPECT_EQ(input.At(4), -1);
}

TEST(ParseRangeTest, SingleElement_HasSizeOne) {
  ASSERT_OK_AND_ASSIGN(Input input, ParseRange("7..7"));
  EXPECT_EQ(input.size(), 1u);
}

TEST(ParseRangeTest, Reversed_IsInvalidArgumentNamingTheRange) {
  EXPECT_THAT(ParseRange("5..1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5..1")));
}

TEST(ParseRangeTest, NotNumbers_IsInvalidArgument) {
  EXPECT_THAT(ParseRange("a..b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'a' is not an integer")));
}

TEST(ParseRangeTest, Empty_IsInvalidArgument) {
  EXPECT_THAT(ParseRange(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("A..B")));
  EXPECT_THAT(ParseRange(".."), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ParseRange("1.."), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end")));
}

TEST(ParseRangeTest, NoDots_IsInvalidArgument) {
  EXPECT_THAT(ParseRange("5000"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a range")));
}

TEST(ParseRangeTest, BoundBeyondInt64_IsOutOfRange) {
  EXPECT_THAT(ParseRange("1..9223372036854775808"),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("64-bit")));
}

TEST(ParseRangeTest, WholeInt64Span_IsRejectedAsTooLong) {
  EXPECT_THAT(ParseRange("-9223372036854775808..9223372036854775807"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
}

// ---- Value lists ------------------------------------------------------------------------

TEST(ParseValueListTest, CommaSeparated_ParsesInOrder) {
  ASSERT_OK_AND_ASSIGN(auto values, ParseValueList("3,-7, 12"));
  EXPECT_THAT(values, ElementsAre(3, -7, 12));
}

TEST(ParseValueListTest, EmptyItem_IsInvalidArgumentNamingPosition) {
  EXPECT_THAT(ParseValueList("3,,4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value #2")));
}

TEST(ParseValueListTest, Garbage_IsInvalidArgument) {
  EXPECT_THAT(ParseValueList("3,x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'x' is not an integer")));
  EXPECT_THAT(ParseValueList("1.5"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1.5")));
}

TEST(ParseValueListTest, Empty_IsInvalidArgument) {
  EXPECT_THAT(ParseValueList(" "), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(ParseValueLinesTest, OnePerLine_SkipsBlankLines) {
  std::istringstream in("3\n\n-7\n  12  \n");
  ASSERT_OK_AND_ASSIGN(auto values, ParseValueLines(in, "input.txt"));
  EXPECT_THAT(values, ElementsAre(3, -7, 12));
}

TEST(ParseValueLinesTest, BadLine_NamesSourceAndLine) {
  std::istringstream in("3\nfour\n");
  EXPECT_THAT(ParseValueLines(in, "input.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input.txt line 2")));
}

TEST(ParseValueLinesTest, NoValues_IsInvalidArgument) {
  std::istringstream in("\n\n");
  EXPECT_THAT(ParseValueLines(in, "stdin"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no values")));
}

// ---- Chunking ---------------------------------------------------------------------------

TEST(InputDescribeSliceTest, Range_NamesTheValues) {
  EXPECT_EQ(Input::Range(1, 100).DescribeSlice(10, 10), "elements 11..20");
  EXPECT_EQ(Input::Range(-5, 5).DescribeSlice(0, 1), "elements -5..-5");
}

TEST(InputDescribeSliceTest, List_NamesPositionsAndFirstValuesNeverAReversedRange) {
  const Input list = Input::List({9, 4, 7, 3, 1, 8});
  EXPECT_EQ(list.DescribeSlice(0, 2), "list positions 0..1: 9, 4");
  EXPECT_EQ(list.DescribeSlice(1, 5), "list positions 1..5: 4, 7, 3, ...");
}

TEST(ChunkingTest, DefaultChunkSize_FollowsPoolRule) {
  // Pool: chunksize, extra = divmod(len, 4 * processes); if extra: chunksize += 1.
  EXPECT_EQ(DefaultChunkSize(5000, 4), 313u);  // 5000 / 16 = 312.5
  EXPECT_EQ(DefaultChunkSize(5000, 2), 625u);  // exact
  EXPECT_EQ(DefaultChunkSize(10, 2), 2u);      // 10 / 8 = 1.25
  EXPECT_EQ(DefaultChunkSize(1, 8), 1u);
}

TEST(ChunkingTest, DefaultChunkSizeForValues_CapsPoolRuleAt2MiBOfValues) {
  // W2: 10^7 values on 2 slots; Pool's rule gives 1,250,000.
  EXPECT_EQ(DefaultChunkSize(10'000'000, 2, ResultMode::kValues), kMaxDefaultValuesChunkSize);
  EXPECT_EQ(kMaxDefaultValuesChunkSize * 8, uint64_t{2} << 20);  // 2 MiB of sfixed64
  // Reduce-only jobs keep Pool's rule, and so do jobs whose Pool chunks are already small.
  EXPECT_EQ(DefaultChunkSize(10'000'000, 2, ResultMode::kSum), 1'250'000u);
  EXPECT_EQ(DefaultChunkSize(5000, 2, ResultMode::kValues), 625u);
}

TEST(ChunkingTest, PlanChunksForValues_DefaultCappedAt2To18) {
  ASSERT_OK_AND_ASSIGN(ChunkPlan capped, PlanChunks(10'000'000, 0, 2, ResultMode::kValues));
  EXPECT_EQ(capped.chunk_size, kMaxDefaultValuesChunkSize);
  EXPECT_EQ(capped.num_chunks, 39u);  // 10^7 / 2^18 = 38.1
  // Without a mode, Pool's rule as before.
  ASSERT_OK_AND_ASSIGN(ChunkPlan pool, PlanChunks(10'000'000, 0, 2));
  EXPECT_EQ(pool.chunk_size, 1'250'000u);
}

TEST(ChunkingTest, PlanChunksForValues_LargerAskedChunkLoweredToTheCap) {
  // A chunk's values travel in one 4 MiB message: 2^18 values are 2 MiB.
  EXPECT_EQ(kMaxValuesChunkSize * 8, uint64_t{2} << 20);
  ASSERT_OK_AND_ASSIGN(ChunkPlan asked, PlanChunks(10'000'000, 5'000'000, 2, ResultMode::kValues));
  EXPECT_EQ(asked.chunk_size, kMaxValuesChunkSize);
  EXPECT_EQ(asked.num_chunks, 39u);
  // At or under the cap, the size asked for is kept.
  ASSERT_OK_AND_ASSIGN(ChunkPlan small, PlanChunks(10'000'000, 1000, 2, ResultMode::kValues));
  EXPECT_EQ(small.chunk_size, 1000u);
  // Sums carry no values: any size.
  ASSERT_OK_AND_ASSIGN(ChunkPlan sum, PlanChunks(10'000'000, 5'000'000, 2, ResultMode::kSum));
  EXPECT_EQ(sum.chunk_size, 5'000'000u);
}

TEST(ChunkingTest, LenNotDivisible_LastChunkIsShorter) {
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(10, 3, 1));
  EXPECT_EQ(plan.num_chunks, 4u);
  EXPECT_EQ(plan.FirstElement(3), 9u);
  EXPECT_EQ(plan.ElementCount(3), 1u);
  EXPECT_EQ(plan.ElementCount(0), 3u);
}

TEST(ChunkingTest, Boundaries_CoverEveryElementExactlyOnce) {
  for (uint64_t total : {1u, 2u, 7u, 100u, 1001u}) {
    for (int64_t chunk_size : {0, 1, 3, 64, 5000}) {
      ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(total, chunk_size, 3));
      uint64_t covered = 0;
      for (uint64_t i = 0; i < plan.num_chunks; ++i) {
        EXPECT_EQ(plan.FirstElement(i), covered) << "total " << total << " chunk " << i;
        EXPECT_GT(plan.ElementCount(i), 0u);
        covered += plan.ElementCount(i);
      }
      EXPECT_EQ(covered, total);
    }
  }
}

TEST(ChunkingTest, SingleElement_IsOneChunk) {
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(1, 0, 4));
  EXPECT_EQ(plan.num_chunks, 1u);
  EXPECT_EQ(plan.ElementCount(0), 1u);
}

TEST(ChunkingTest, ChunkSizeLargerThanJob_IsClamped) {
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(10, 1000, 1));
  EXPECT_EQ(plan.chunk_size, 10u);
  EXPECT_EQ(plan.num_chunks, 1u);
}

TEST(ChunkingTest, NegativeRangeInput_ChunksByPosition) {
  ASSERT_OK_AND_ASSIGN(Input input, ParseRange("-10..-1"));
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(input.size(), 4, 1));
  Input last = input.Slice(plan.FirstElement(2), plan.ElementCount(2));
  EXPECT_EQ(last.range_start(), -2);
  EXPECT_EQ(last.range_end(), -1);
}

TEST(ChunkingTest, HugeJob_DoesNotOverflow) {
  const uint64_t total = kMaxElements;
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(total, 0, 2));
  EXPECT_EQ(plan.num_chunks, 8u);
  EXPECT_EQ(plan.FirstElement(7) + plan.ElementCount(7), total);
}

TEST(ChunkingTest, BadArguments_AreInvalidArgument) {
  EXPECT_THAT(PlanChunks(0, 0, 1), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least one")));
  EXPECT_THAT(PlanChunks(10, -1, 1), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative")));
  EXPECT_THAT(PlanChunks(10, 0, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallelism")));
}

}  // namespace
}  // namespace gpool
