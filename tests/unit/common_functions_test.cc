// Unit tests of the function kernels: the square fast path against the element-wise loop and
// closed forms, and chunk-wise custom functions in the registry.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "common/functions.h"
#include "common/input.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
      // The extremes name themselves, never what they would wrap to.
      {Input::List({INT64_MAX}), "square(9223372036854775807)"},
      {Input::Range(INT64_MAX, INT64_MAX), "square(9223372036854775807)"},
      {Input::Range(INT64_MAX - 5, INT64_MAX), "square(9223372036854775802)"},
      {Input::List({INT64_MIN}), "square(-9223372036854775808)"},
      {Input::Range(INT64_MIN, INT64_MIN + 5), "square(-9223372036854775808)"},
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
  EXPECT_THAT(output.values.int64s(), ElementsAre(-6, -3, 0, 3, 6, 9));
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
  EXPECT_THAT(registry.Names(),
              ElementsAre("cube", "identity", "length", "sha256", "sqrt", "square", "upper"));
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

}  // namespace
}  // namespace gpool
