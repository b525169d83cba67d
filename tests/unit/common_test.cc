// Unit tests of the transport-free vocabulary: inputs, chunking, exact arithmetic, index sets.
#include <cstdint>
#include <limits>
#include <sstream>

#include "absl/numeric/int128.h"
#include "common/chunking.h"
#include "common/functions.h"
#include "common/index_set.h"
#include "common/input.h"
#include "common/int128.h"
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

TEST(LooksLikeRangeTest, DistinguishesRangesFromFlags) {
  EXPECT_TRUE(LooksLikeRange("-5..5"));
  EXPECT_FALSE(LooksLikeRange("--processes"));
  EXPECT_FALSE(LooksLikeRange("-7"));
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

TEST(ChunkingTest, DefaultChunkSize_FollowsPoolRule) {
  // Pool: chunksize, extra = divmod(len, 4 * processes); if extra: chunksize += 1.
  EXPECT_EQ(DefaultChunkSize(5000, 4), 313u);  // 5000 / 16 = 312.5
  EXPECT_EQ(DefaultChunkSize(5000, 2), 625u);  // exact
  EXPECT_EQ(DefaultChunkSize(10, 2), 2u);      // 10 / 8 = 1.25
  EXPECT_EQ(DefaultChunkSize(1, 8), 1u);
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

// ---- Exact arithmetic -------------------------------------------------------------------

TEST(FormatInt128Test, PrintsExactDecimal) {
  EXPECT_EQ(FormatInt128(0), "0");
  EXPECT_EQ(FormatInt128(-42), "-42");
  EXPECT_EQ(FormatInt128(absl::MakeInt128(1, 0)), "18446744073709551616");
  EXPECT_EQ(FormatInt128(absl::Int128Max()), "170141183460469231731687303715884105727");
  EXPECT_EQ(FormatInt128(absl::Int128Min()), "-170141183460469231731687303715884105728");
}

TEST(SquareTest, LargestExactInput_Works) {
  ASSERT_OK_AND_ASSIGN(int64_t value, Square(kMaxSquareInput));
  EXPECT_EQ(value, 9223372030926249001);
  ASSERT_OK_AND_ASSIGN(int64_t negative, Square(-kMaxSquareInput));
  EXPECT_EQ(negative, 9223372030926249001);
}

TEST(SquareTest, Overflow_IsOutOfRangeNamingTheValue) {
  EXPECT_THAT(Square(3037000500),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(3037000500)")));
  EXPECT_THAT(Square(std::numeric_limits<int64_t>::min()),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(-9223372036854775808)")));
}

TEST(CubeTest, Overflow_IsOutOfRange) {
  EXPECT_OK(Cube(kMaxCubeInput));
  EXPECT_THAT(Cube(kMaxCubeInput + 1), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("cube(2097152)")));
}

TEST(FunctionRegistryTest, SumOfSquaresToMillion_MatchesClosedForm) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  const int64_t n = 1'000'000;
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       registry.Run("square", Input::Range(1, n), ResultMode::kSum));
  const absl::int128 expected = absl::int128(n) * (n + 1) * (2 * n + 1) / 6;
  EXPECT_EQ(output.sum, expected);
  EXPECT_EQ(FormatInt128(output.sum), "333333833333500000");
  EXPECT_EQ(output.count, static_cast<uint64_t>(n));
  EXPECT_TRUE(output.values.empty());
}

TEST(FunctionRegistryTest, SumBeyond64Bits_IsExact) {
  // Squares near the limit: two of them already exceed 2^63.
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       registry.Run("square", Input::List({kMaxSquareInput, -kMaxSquareInput, 3}),
                                    ResultMode::kValues));
  EXPECT_EQ(FormatInt128(output.sum), "18446744061852498011");
  EXPECT_EQ(output.min, 9);
  EXPECT_EQ(output.max, 9223372030926249001);
  EXPECT_THAT(output.values, ElementsAre(9223372030926249001, 9223372030926249001, 9));
}

TEST(FunctionRegistryTest, SeedJob_Sums41679167500) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       registry.Run("square", Input::Range(1, 5000), ResultMode::kValues));
  EXPECT_EQ(FormatInt128(output.sum), "41679167500");
  ASSERT_EQ(output.values.size(), 5000u);
  EXPECT_EQ(output.values[4999], 25000000);
}

TEST(FunctionRegistryTest, OverflowInsideRange_FailsNamingFirstBadValue) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("square", Input::Range(3037000498, 3037000501), ResultMode::kSum),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(3037000500)")));
}

TEST(FunctionRegistryTest, UnknownFunction_IsNotFoundListingAvailable) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("sqare", Input::Range(1, 2), ResultMode::kSum),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("available: cube, identity, square")));
}

TEST(FunctionRegistryTest, DuplicateName_IsAlreadyExists) {
  FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Register("square", Square),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("square")));
}

TEST(FunctionRegistryTest, Cancelled_StopsWithCancelled) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("square", Input::Range(1, 1'000'000), ResultMode::kSum,
                           [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
}

// ---- IndexSet ---------------------------------------------------------------------------

TEST(IndexSetTest, Insert_RejectsDuplicates) {
  IndexSet set;
  EXPECT_TRUE(set.Insert(3));
  EXPECT_FALSE(set.Insert(3));
  EXPECT_EQ(set.size(), 1u);
}

TEST(IndexSetTest, OutOfOrderInserts_MergeIntoOneInterval) {
  IndexSet set;
  for (uint64_t i : {4u, 0u, 2u, 1u, 3u}) EXPECT_TRUE(set.Insert(i));
  EXPECT_EQ(set.interval_count(), 1u);
  EXPECT_TRUE(set.HoldsExactlyPrefix(5));
  EXPECT_FALSE(set.HoldsExactlyPrefix(6));
}

TEST(IndexSetTest, Missing_ListsGaps) {
  IndexSet set;
  for (uint64_t i : {0u, 1u, 4u, 7u}) set.Insert(i);
  const auto missing = set.Missing(10, 10);
  ASSERT_EQ(missing.size(), 3u);
  EXPECT_EQ(missing[0], std::make_pair(uint64_t{2}, uint64_t{3}));
  EXPECT_EQ(missing[1], std::make_pair(uint64_t{5}, uint64_t{6}));
  EXPECT_EQ(missing[2], std::make_pair(uint64_t{8}, uint64_t{9}));
  EXPECT_TRUE(set.Contains(4));
  EXPECT_FALSE(set.Contains(5));
}

TEST(IndexSetTest, InsertRange_MergesAndCountsOnlyNewIndices) {
  IndexSet set;
  EXPECT_EQ(set.InsertRange(10, 19), 10u);
  EXPECT_EQ(set.InsertRange(0, 4), 5u);
  EXPECT_EQ(set.InsertRange(3, 12), 5u);  // 5..9 are new
  EXPECT_EQ(set.size(), 20u);
  EXPECT_TRUE(set.HoldsExactlyPrefix(20));
  EXPECT_EQ(set.InsertRange(21, 21), 1u);
  EXPECT_EQ(set.interval_count(), 2u);
  EXPECT_EQ(set.InsertRange(20, 20), 1u);  // bridges the gap
  EXPECT_EQ(set.interval_count(), 1u);
}

TEST(IndexSetTest, NextAbsent_SkipsWholeIntervals) {
  IndexSet set;
  set.InsertRange(0, 9);
  set.InsertRange(11, 1'000'000);
  EXPECT_EQ(set.NextAbsent(0), 10u);
  EXPECT_EQ(set.NextAbsent(10), 10u);
  EXPECT_EQ(set.NextAbsent(11), 1'000'001u);
  EXPECT_THAT(set.Intervals(), ElementsAre(std::make_pair(uint64_t{0}, uint64_t{9}),
                                           std::make_pair(uint64_t{11}, uint64_t{1'000'000})));
}

}  // namespace
}  // namespace gpool
