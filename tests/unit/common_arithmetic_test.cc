// Unit tests of the exact arithmetic: value statistics, int128 printing, the built-in
// functions' domains and the registry's exact sums.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/int128.h"
#include "common/value_stats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
  EXPECT_THAT(output.values.int64s(), ElementsAre(9223372030926249001, 9223372030926249001, 9));
}

TEST(FunctionRegistryTest, SeedJob_Sums41679167500) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       registry.Run("square", Input::Range(1, 5000), ResultMode::kValues));
  EXPECT_EQ(FormatInt128(output.sum), "41679167500");
  ASSERT_EQ(output.values.size(), 5000u);
  EXPECT_EQ(output.values.int64s()[4999], 25000000);
}

TEST(FunctionRegistryTest, OverflowInsideRange_FailsNamingFirstBadValue) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("square", Input::Range(3037000498, 3037000501), ResultMode::kSum),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(3037000500)")));
}

TEST(FunctionRegistryTest, UnknownFunction_IsNotFoundListingAvailable) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("sqare", Input::Range(1, 2), ResultMode::kSum),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("available: cube, identity, length, sha256, sqrt, square, upper")));
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

}  // namespace
}  // namespace gpool
