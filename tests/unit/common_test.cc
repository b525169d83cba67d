// Unit tests of the transport-free vocabulary: inputs, chunking, exact arithmetic, index sets.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/chunking.h"
#include "common/functions.h"
#include "common/index_set.h"
#include "common/input.h"
#include "common/int128.h"
#include "common/process_tuning.h"
#include "common/subprocess.h"
#include "common/value_stats.h"
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

// ---- Exact arithmetic -------------------------------------------------------------------

// What a plain loop with an int128 accumulator finds.
ValueStats Naive(const std::vector<int64_t>& values, size_t n) {
  ValueStats stats;
  stats.count = n;
  for (size_t i = 0; i < n; ++i) {
    stats.sum += values[i];
    stats.min = std::min(stats.min, values[i]);
    stats.max = std::max(stats.max, values[i]);
  }
  return stats;
}

void ExpectSame(const ValueStats& got, const ValueStats& want, const std::string& what) {
  EXPECT_EQ(got.count, want.count) << what;
  EXPECT_EQ(got.sum, want.sum) << what;
  EXPECT_EQ(got.min, want.min) << what;
  EXPECT_EQ(got.max, want.max) << what;
}

std::vector<int64_t> ExtremeAndRandomValues() {
  std::vector<int64_t> values = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MAX,
                                 INT64_MIN, -42, 1LL << 32, -(1LL << 32), (1LL << 32) - 1};
  std::mt19937_64 random(7);
  for (int i = 0; i < 10'000; ++i) values.push_back(static_cast<int64_t>(random()));
  return values;
}

TEST(ValueStatsTest, Summarize_MatchesA128BitLoopAcrossSignsAndExtremes) {
  const std::vector<int64_t> values = ExtremeAndRandomValues();
  for (size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{12}, values.size()}) {
    ExpectSame(Summarize(values.data(), n), Naive(values, n), absl::StrCat("first ", n));
  }
  const std::vector<int64_t> all_min(1000, INT64_MIN);
  EXPECT_EQ(Summarize(all_min.data(), all_min.size()).sum, absl::int128(INT64_MIN) * 1000);
  const std::vector<int64_t> all_max(1000, INT64_MAX);
  EXPECT_EQ(Summarize(all_max.data(), all_max.size()).sum, absl::int128(INT64_MAX) * 1000);
}

TEST(ValueStatsTest, CopyAndSummarize_CopiesEveryValue) {
  const std::vector<int64_t> values = ExtremeAndRandomValues();
  std::vector<int64_t> out(values.size());
  ExpectSame(CopyAndSummarize(values.data(), values.size(), out.data()),
             Naive(values, values.size()), "copied");
  EXPECT_EQ(out, values);
}

// Values as received: pieces of any size, splitting values anywhere, over several blocks.
TEST(ValueStatsTest, SummarizeEncoded_AnyPiecesGiveTheSameAnswer) {
  const std::vector<int64_t> values = ExtremeAndRandomValues();
  auto owner = std::make_shared<std::vector<int64_t>>(values);
  const char* data = reinterpret_cast<const char*>(owner->data());
  const size_t bytes = owner->size() * sizeof(int64_t);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{8}, size_t{4099}, bytes}) {
    EncodedValues encoded;
    for (size_t offset = 0; offset < bytes; offset += piece) {
      encoded.Append(data + offset, std::min(piece, bytes - offset), owner);
    }
    ExpectSame(Summarize(encoded), Naive(values, values.size()),
               absl::StrCat("pieces of ", piece));
  }
  ExpectSame(Summarize(EncodedValues()), ValueStats{}, "no values");
}

TEST(ValueStatsTest, Disagreement_SaysWhatDiffers) {
  const std::vector<int64_t> values = {1, 4, 9};
  const ValueStats stats = Summarize(values.data(), values.size());
  EXPECT_EQ(Disagreement(stats, 3, 14, 1, 9), "");
  EXPECT_EQ(Disagreement(stats, 4, 14, 1, 9), "it sent 3 values for 4 elements");
  EXPECT_EQ(Disagreement(stats, 3, 15, 1, 9), "its 3 values sum to 14, not 15");
  EXPECT_EQ(Disagreement(stats, 3, 14, 0, 9), "its values range over 1..9, not 0..9");
  EXPECT_EQ(Disagreement(stats, 3, 14, 1, 10), "its values range over 1..9, not 1..10");
}

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

TEST(CubeTest, Overflow_IsOutOfRange_MinusTwoToThe21IsInDomain) {
  EXPECT_OK(Cube(kMaxCubeInput));
  EXPECT_THAT(Cube(kMaxCubeInput + 1), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("cube(2097152)")));
  // int64 is not symmetric: (-2^21)^3 = -2^63 is the one negative cube beyond -kMaxCubeInput.
  ASSERT_OK_AND_ASSIGN(int64_t smallest, Cube(kMinCubeInput));
  EXPECT_EQ(smallest, std::numeric_limits<int64_t>::min());
  EXPECT_THAT(Cube(kMinCubeInput - 1),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("cube(-2097153) does not fit in a signed 64-bit integer; inputs "
                                 "must satisfy -2097152 <= x <= 2097151")));
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

// ---- Custom functions and the square fast path ------------------------------------------

// A registry whose `square` is the plain element-wise loop: the oracle for the fast path.
FunctionRegistry ElementwiseSquareRegistry() {
  FunctionRegistry registry;
  EXPECT_OK(registry.Register("square", Square));
  return registry;
}

// Sum of x*x over [start, end] in closed form, from n(n+1)(2n+1)/6 and the symmetry of
// squares around 0.
absl::int128 ClosedFormSumOfSquares(int64_t start, int64_t end) {
  auto prefix = [](int64_t n) -> absl::int128 {  // 0^2 + ... + n^2 for n >= 0
    return absl::int128(n) * (n + 1) * (2 * absl::int128(n) + 1) / 6;
  };
  if (start >= 0) return prefix(end) - (start == 0 ? 0 : prefix(start - 1));
  if (end <= 0) return ClosedFormSumOfSquares(-end, -start);
  return prefix(-start) + prefix(end);
}

// Ranges that stress the kernels: single elements, both signs, crossing zero, the extremes,
// lengths around the vector widths (2, 4, 8, 16 elements per step).
std::vector<std::pair<int64_t, int64_t>> EdgeRanges() {
  std::vector<std::pair<int64_t, int64_t>> ranges = {
      {0, 0}, {1, 1}, {-1, -1}, {-1, 1}, {-5, 5}, {-7, 3}, {-3, 1000},
      {kMaxSquareInput, kMaxSquareInput}, {-kMaxSquareInput, -kMaxSquareInput},
      {kMaxSquareInput - 1000, kMaxSquareInput}, {-kMaxSquareInput, -kMaxSquareInput + 77},
      {-kMaxSquareInput, -kMaxSquareInput + 5000}, {kMaxSquareInput - 40'000, kMaxSquareInput},
  };
  for (int64_t length = 1; length <= 40; ++length) {
    ranges.push_back({10, 10 + length - 1});
    ranges.push_back({-kMaxSquareInput, -kMaxSquareInput + length - 1});
    ranges.push_back({-length / 2, length - 1 - length / 2});
  }
  return ranges;
}

TEST(SquareChunkTest, EveryKernelOnEdgeRanges_MatchesClosedForm) {
  for (internal::SquareSumKernel kernel : internal::AvailableSquareSumKernels()) {
    for (const auto& [start, end] : EdgeRanges()) {
      EXPECT_EQ(internal::SumOfSquares(start, end, kernel), ClosedFormSumOfSquares(start, end))
          << internal::SquareSumKernelName(kernel) << " on " << start << ".." << end;
    }
  }
}

TEST(SquareChunkTest, EveryKernelOnRandomRanges_MatchesClosedForm) {
  std::mt19937_64 random(20240605);
  std::uniform_int_distribution<int64_t> position(-kMaxSquareInput, kMaxSquareInput);
  std::uniform_int_distribution<int64_t> length(1, 200'000);
  for (int i = 0; i < 300; ++i) {
    const int64_t start = position(random);
    const int64_t end = std::min(kMaxSquareInput, start + length(random) - 1);
    const absl::int128 expected = ClosedFormSumOfSquares(start, end);
    for (internal::SquareSumKernel kernel : internal::AvailableSquareSumKernels()) {
      ASSERT_EQ(internal::SumOfSquares(start, end, kernel), expected)
          << internal::SquareSumKernelName(kernel) << " on " << start << ".." << end;
    }
  }
}

TEST(SquareChunkTest, WholeExactDomain_MatchesClosedForm) {
  // Every exact input at once: 6 * 10^9 squares, a sum of about 2^94, many slices.
  const absl::int128 expected = ClosedFormSumOfSquares(-kMaxSquareInput, kMaxSquareInput);
  EXPECT_EQ(internal::SumOfSquares(-kMaxSquareInput, kMaxSquareInput,
                                   internal::AvailableSquareSumKernels().back()),
            expected);
}

// Checks one values kernel against x*x element by element and the closed-form sum.
void ExpectSquareValues(internal::SquareSumKernel kernel, int64_t start, int64_t end) {
  std::vector<int64_t> values(static_cast<size_t>(end - start) + 1, -1);
  const absl::int128 sum = internal::SquareValues(start, end, kernel, values.data());
  ASSERT_EQ(sum, ClosedFormSumOfSquares(start, end))
      << internal::SquareSumKernelName(kernel) << " on " << start << ".." << end;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t x = start + static_cast<int64_t>(i);
    ASSERT_EQ(values[i], x * x) << internal::SquareSumKernelName(kernel) << " on " << start
                                << ".." << end << " at x = " << x;
  }
}

TEST(SquareChunkTest, EveryValuesKernelOnEdgeRanges_WritesEverySquareInOrder) {
  for (internal::SquareSumKernel kernel : internal::AvailableSquareSumKernels()) {
    for (const auto& [start, end] : EdgeRanges()) ExpectSquareValues(kernel, start, end);
  }
}

TEST(SquareChunkTest, EveryValuesKernelOnRandomRanges_WritesEverySquareInOrder) {
  std::mt19937_64 random(20261125);
  std::uniform_int_distribution<int64_t> position(-kMaxSquareInput, kMaxSquareInput);
  std::uniform_int_distribution<int64_t> small_position(-3000, 3000);
  std::uniform_int_distribution<int64_t> length(1, 20'000);
  for (int i = 0; i < 100; ++i) {
    // Half the ranges near zero, so many of them cross it.
    const int64_t start = i % 2 == 0 ? position(random) : small_position(random);
    const int64_t end = std::min(kMaxSquareInput, start + length(random) - 1);
    for (internal::SquareSumKernel kernel : internal::AvailableSquareSumKernels()) {
      ExpectSquareValues(kernel, start, end);
    }
  }
}

TEST(SquareChunkTest, ValuesRangeOfSeveralSlicesAcrossZero_EqualsElementwiseLoop) {
  // Both signs longer than one values slice (2^20 elements), each with a partial last slice.
  const Input input = Input::Range(-1'500'003, 2'300'001);
  ASSERT_OK_AND_ASSIGN(ChunkOutput got,
                       FunctionRegistry::WithBuiltins().Run("square", input, ResultMode::kValues));
  ASSERT_OK_AND_ASSIGN(ChunkOutput want,
                       ElementwiseSquareRegistry().Run("square", input, ResultMode::kValues));
  EXPECT_TRUE(got.values == want.values);
  EXPECT_EQ(got.sum, want.sum);
  EXPECT_EQ(got.min, want.min);
  EXPECT_EQ(got.max, want.max);
}

TEST(SquareChunkTest, FastPathOnRandomRanges_EqualsElementwiseLoop) {
  const FunctionRegistry fast = FunctionRegistry::WithBuiltins();
  const FunctionRegistry elementwise = ElementwiseSquareRegistry();
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int64_t> position(-kMaxSquareInput, kMaxSquareInput);
  std::uniform_int_distribution<int64_t> small_position(-3000, 3000);
  std::uniform_int_distribution<int64_t> length(1, 5'000);
  for (int i = 0; i < 400; ++i) {
    // Half the ranges near zero, so many of them cross it.
    const int64_t start = i % 2 == 0 ? position(random) : small_position(random);
    const int64_t end = std::min(kMaxSquareInput, start + length(random) - 1);
    const Input input = Input::Range(start, end);
    ASSERT_OK_AND_ASSIGN(ChunkOutput got, fast.Run("square", input, ResultMode::kSum));
    ASSERT_OK_AND_ASSIGN(ChunkOutput want, elementwise.Run("square", input, ResultMode::kSum));
    ASSERT_EQ(got.sum, want.sum) << input.Describe();
    ASSERT_EQ(got.count, want.count) << input.Describe();
    ASSERT_EQ(got.min, want.min) << input.Describe();
    ASSERT_EQ(got.max, want.max) << input.Describe();
    ASSERT_TRUE(got.values.empty());
  }
}

TEST(SquareChunkTest, RangeLongerThanOneSlice_EqualsElementwiseLoop) {
  // 4.2 million elements ending at the limit: several cancellation slices, the last partial.
  const Input input = Input::Range(kMaxSquareInput - 4'200'037, kMaxSquareInput);
  ASSERT_OK_AND_ASSIGN(ChunkOutput got,
                       FunctionRegistry::WithBuiltins().Run("square", input, ResultMode::kSum));
  ASSERT_OK_AND_ASSIGN(ChunkOutput want,
                       ElementwiseSquareRegistry().Run("square", input, ResultMode::kSum));
  EXPECT_EQ(got.sum, want.sum);
  EXPECT_EQ(got.min, want.min);
  EXPECT_EQ(got.max, want.max);
}

TEST(SquareChunkTest, ValuesModeOnRangesAndLists_EqualsElementwiseLoop) {
  const FunctionRegistry fast = FunctionRegistry::WithBuiltins();
  const FunctionRegistry elementwise = ElementwiseSquareRegistry();
  std::vector<Input> inputs;
  for (const auto& [start, end] : EdgeRanges()) inputs.push_back(Input::Range(start, end));
  inputs.push_back(Input::List({3, -7, 12, 0, -kMaxSquareInput, kMaxSquareInput, 5}));
  inputs.push_back(Input::List({-2}));
  for (const Input& input : inputs) {
    for (ResultMode mode : {ResultMode::kValues, ResultMode::kSum}) {
      ASSERT_OK_AND_ASSIGN(ChunkOutput got, fast.Run("square", input, mode));
      ASSERT_OK_AND_ASSIGN(ChunkOutput want, elementwise.Run("square", input, mode));
      EXPECT_EQ(got.values, want.values) << input.Describe();
      EXPECT_EQ(got.sum, want.sum) << input.Describe();
      EXPECT_EQ(got.count, want.count) << input.Describe();
      EXPECT_EQ(got.min, want.min) << input.Describe();
      EXPECT_EQ(got.max, want.max) << input.Describe();
    }
  }
}

TEST(SquareChunkTest, MinAndMax_AreClosedFormsOfTheEnds) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  struct Case {
    int64_t start, end, min, max;
  };
  const std::vector<Case> cases = {
      {3, 7, 9, 49},     {-7, -3, 9, 49}, {-2, 5, 0, 25}, {-9, 4, 0, 81},
      {-4, -4, 16, 16},  {0, 0, 0, 0},    {0, 3, 0, 9},   {-3, 0, 0, 9},
      {kMaxSquareInput - 1, kMaxSquareInput, 9223372024852248004, 9223372030926249001},
      {-kMaxSquareInput, -kMaxSquareInput + 1, 9223372024852248004, 9223372030926249001},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                         registry.Run("square", Input::Range(c.start, c.end), ResultMode::kSum));
    EXPECT_EQ(output.min, c.min) << c.start << ".." << c.end;
    EXPECT_EQ(output.max, c.max) << c.start << ".." << c.end;
  }
}

TEST(SquareChunkTest, Overflow_NamesFirstOffendingValueLikeElementwiseLoop) {
  const FunctionRegistry fast = FunctionRegistry::WithBuiltins();
  const FunctionRegistry elementwise = ElementwiseSquareRegistry();
  struct Case {
    Input input;
    std::string named;
  };
  const std::vector<Case> cases = {
      {Input::Range(3037000490, 3037000600), "square(3037000500)"},
      {Input::Range(-3037000510, 0), "square(-3037000510)"},
      {Input::Range(-3037000600, 3037000600), "square(-3037000600)"},
      {Input::Range(4'000'000'000, 4'000'000'100), "square(4000000000)"},
      {Input::Range(-kMaxSquareInput - 1, -kMaxSquareInput - 1), "square(-3037000500)"},
      {Input::List({1, 2, 3037000500, -3037000501}), "square(3037000500)"},
      {Input::List({-3037000501, 3037000500}), "square(-3037000501)"},
  };
  for (const Case& c : cases) {
    for (ResultMode mode : {ResultMode::kSum, ResultMode::kValues}) {
      // The element-wise loop reserves room for every value first: keep that small.
      if (mode == ResultMode::kValues && c.input.size() > 1'000'000) continue;
      absl::StatusOr<ChunkOutput> got = fast.Run("square", c.input, mode);
      EXPECT_THAT(got, StatusIs(absl::StatusCode::kOutOfRange, HasSubstr(c.named)))
          << c.input.Describe();
      absl::StatusOr<ChunkOutput> want = elementwise.Run("square", c.input, mode);
      EXPECT_EQ(got.status(), want.status()) << c.input.Describe();
    }
  }
}

TEST(SquareChunkTest, CancelledDuringLongRange_StopsAfterOneSlice) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  // The whole exact domain would take about a second; the second poll cancels it.
  int polls = 0;
  EXPECT_THAT(registry.Run("square", Input::Range(-kMaxSquareInput, kMaxSquareInput),
                           ResultMode::kSum, [&polls] { return ++polls >= 2; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
  EXPECT_EQ(polls, 2);
}

TEST(SquareChunkTest, CancelledInValuesMode_StopsWithCancelled) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("square", Input::Range(1, 100), ResultMode::kValues,
                           [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
}

TEST(SquareChunkTest, NeverCancelled_PollsEveryFewMillionElements) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  int polls = 0;
  ASSERT_OK(registry.Run("square", Input::Range(1, 20'000'000), ResultMode::kSum, [&polls] {
    ++polls;
    return false;
  }));
  EXPECT_GE(polls, 3);    // a poll at least every ~7 million elements
  EXPECT_LE(polls, 100);  // and not per element
}

TEST(FunctionRegistryTest, ChunkwiseFunction_GetsTheChunkAndItsOutputIsReturned) {
  FunctionRegistry registry;
  ASSERT_OK(registry.RegisterChunkwise(
      "triple", [](const Input& input, ResultMode mode, const CancelledFn& cancelled) {
        return MapElements([](int64_t x) -> absl::StatusOr<int64_t> { return 3 * x; }, input,
                           mode, cancelled);
      }));
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       registry.Run("triple", Input::Range(-2, 3), ResultMode::kValues));
  EXPECT_THAT(output.values, ElementsAre(-6, -3, 0, 3, 6, 9));
  EXPECT_EQ(output.sum, 9);
  EXPECT_EQ(output.count, 6u);
  EXPECT_EQ(output.min, -6);
  EXPECT_EQ(output.max, 9);
}

TEST(FunctionRegistryTest, ChunkwiseFunctionMiscounting_IsInternalNamingTheFunction) {
  FunctionRegistry registry;
  ASSERT_OK(registry.RegisterChunkwise(
      "lossy", [](const Input& input, ResultMode mode, const CancelledFn&) {
        ChunkOutput output;
        output.count = input.size() - 1;
        return output;
      }));
  EXPECT_THAT(registry.Run("lossy", Input::Range(1, 10), ResultMode::kSum),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("'lossy'")));
}

TEST(FunctionRegistryTest, ChunkwiseFunctionWithValuesInSumMode_IsInternal) {
  FunctionRegistry registry;
  ASSERT_OK(registry.RegisterChunkwise(
      "chatty", [](const Input& input, ResultMode mode, const CancelledFn& cancelled) {
        return MapElements([](int64_t x) -> absl::StatusOr<int64_t> { return x; }, input,
                           ResultMode::kValues, cancelled);
      }));
  EXPECT_THAT(registry.Run("chatty", Input::Range(1, 10), ResultMode::kSum),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("'chatty'")));
  EXPECT_OK(registry.Run("chatty", Input::Range(1, 10), ResultMode::kValues));
}

TEST(FunctionRegistryTest, ChunkwiseDuplicateOrEmpty_IsRejected) {
  FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.RegisterChunkwise("square", SquareChunk),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("square")));
  EXPECT_THAT(registry.RegisterChunkwise("", SquareChunk),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a name")));
  EXPECT_THAT(registry.RegisterChunkwise("nothing", ChunkFunction()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nothing")));
  EXPECT_THAT(registry.Register("nothing", ElementFunction()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nothing")));
  EXPECT_THAT(registry.Names(), ElementsAre("cube", "identity", "square"));
}

TEST(FunctionRegistryTest, InvalidInput_IsRejectedBeforeTheFunctionRuns) {
  FunctionRegistry registry;
  bool called = false;
  ASSERT_OK(registry.RegisterChunkwise(
      "spy",
      [&called](const Input&, ResultMode, const CancelledFn&) -> absl::StatusOr<ChunkOutput> {
        called = true;
        return ChunkOutput{};
      }));
  EXPECT_THAT(registry.Run("spy", Input::Range(5, 1), ResultMode::kSum),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5..1")));
  EXPECT_FALSE(called);
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

// ---- Forking without exec ---------------------------------------------------------------

TEST(ForkProcessTest, SingleThreaded_RunsFunctionInAChildThatExitsWithItsValue) {
  char path[] = "/tmp/gpool-fork-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  SpawnOptions options;
  options.stdout_path = path;
  ASSERT_OK_AND_ASSIGN(pid_t child, ForkProcess(
                                        [] {
                                          std::printf("%d %d\n", static_cast<int>(getpid()),
                                                      static_cast<int>(getppid()));
                                          return 7;
                                        },
                                        options));
  ASSERT_OK_AND_ASSIGN(int exit_code, WaitForExit(child, absl::Seconds(30)));
  EXPECT_EQ(exit_code, 7);
  std::ifstream file(path);
  int printed_pid = 0;
  int printed_parent = 0;
  file >> printed_pid >> printed_parent;
  std::remove(path);
  EXPECT_EQ(printed_pid, child);
  EXPECT_NE(printed_pid, getpid());
  EXPECT_EQ(printed_parent, getpid());
}

TEST(ForkProcessTest, AnotherThreadRunning_FailsPreconditionWithoutForking) {
  absl::Notification done;
  std::thread other([&done] { done.WaitForNotification(); });
  absl::StatusOr<pid_t> child = ForkProcess([] { return 0; });
  done.Notify();
  other.join();
  EXPECT_THAT(child.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2 threads")));
}

TEST(CountThreadsTest, AnotherThreadStarted_CountsOneMore) {
  const int before = CountThreads();
  ASSERT_GE(before, 1);
  absl::Notification done;
  std::thread other([&done] { done.WaitForNotification(); });
  EXPECT_EQ(CountThreads(), before + 1);
  done.Notify();
  other.join();
}

}  // namespace
}  // namespace gpool

namespace gpool {
namespace {

// Kilobytes of transparent huge pages backing the mapping that holds `address`, from
// /proc/self/smaps; -1 when the mapping is not found.
int64_t AnonHugePagesKbAt(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > 8) {
      in_mapping = begin <= target && target < end;
      continue;
    }
    long kb = 0;
    if (in_mapping && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kb) == 1) return kb;
  }
  return -1;
}

TEST(AdviseHugePagesTest, BigBuffer_IsBackedByHugePagesWhenTheKernelOffersThem) {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(thp, modes);
  if (modes.empty() || modes.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are off on this machine (" << modes << ")";
  }
  std::vector<int64_t> values;
  values.reserve(64 << 17);  // 64 MiB
  AdviseHugePages(values.data(), values.capacity() * sizeof(int64_t));
  values.resize(values.capacity(), 7);
  EXPECT_GT(AnonHugePagesKbAt(values.data() + values.size() / 2), 0) << "THP modes: " << modes;
  EXPECT_EQ(values[values.size() - 1], 7);
}

TEST(WriteFileAtomicallyTest, MissingDirectory_NamesTheRequestedPathAndTheReason) {
  const std::string path = "/nonexistent-gpool-dir/port";
  absl::Status status = WriteFileAtomically(path, "1\n");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               ::testing::StartsWith("cannot write '" + path +
                                                     "': No such file or directory")));
}

TEST(AdviseHugePagesTest, RangeWithoutAWholeHugePage_IsLeftAlone) {
  std::vector<int64_t> values(1000, 3);
  AdviseHugePages(values.data(), values.size() * sizeof(int64_t));
  EXPECT_EQ(values[999], 3);
}

}  // namespace
}  // namespace gpool
