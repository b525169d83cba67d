// Typed elements (common/elements.h), the typed function registry (common/functions.h) and
// typed values as they travel (common/encoded_values.h).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/chunking.h"
#include "common/elements.h"
#include "common/encoded_values.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/value_stats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::gpool::testing::StatusIs;

TEST(ElementsTest, SliceAndAppend_KeepTypeAndOrder) {
  const Elements strings = Elements::Strings({"a", "bb", "ccc", "dddd"});
  const Elements middle = strings.Slice(1, 2);
  EXPECT_EQ(middle.type(), ElementType::kString);
  EXPECT_THAT(middle.texts(), ElementsAre("bb", "ccc"));
  Elements joined = strings.Slice(0, 1);
  joined.Append(strings.Slice(3, 1));
  EXPECT_THAT(joined.texts(), ElementsAre("a", "dddd"));
  EXPECT_EQ(strings.ContentBytes(), 10u);
  EXPECT_EQ(strings.LargestElementBytes(), 4u);
  EXPECT_EQ(Elements::Doubles({1, 2}).ContentBytes(), 16u);
}

TEST(ElementsTest, Show_EachTypeReadable) {
  EXPECT_EQ(Elements::Int64s({-7}).Show(0), "-7");
  EXPECT_EQ(Elements::Doubles({0.1}).Show(0), "0.1");
  EXPECT_EQ(Elements::Strings({"a\"b"}).Show(0), "\"a\\\"b\"");
  EXPECT_EQ(Elements::Blobs({std::string("\x01\xff", 2)}).Show(0), "0x01ff (2 bytes)");
}

TEST(ElementsTest, Equality_DoublesByBits) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Elements::Doubles({nan, 1.0}), Elements::Doubles({nan, 1.0}));
  EXPECT_NE(Elements::Doubles({0.0}), Elements::Doubles({-0.0}));
  EXPECT_NE(Elements::Strings({"a"}), Elements::Blobs({"a"}));
}

TEST(ElementsTest, ParseElementType_FourNamesElseInvalid) {
  EXPECT_EQ(*ParseElementType("bytes"), ElementType::kBytes);
  EXPECT_THAT(ParseElementType("float"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int64, double, string")));
}

TEST(ElementsTest, TakesElements_OnlyTheTwoConversions) {
  EXPECT_TRUE(TakesElements(ElementType::kDouble, ElementType::kInt64));
  EXPECT_TRUE(TakesElements(ElementType::kBytes, ElementType::kString));
  EXPECT_FALSE(TakesElements(ElementType::kInt64, ElementType::kDouble));
  EXPECT_FALSE(TakesElements(ElementType::kString, ElementType::kBytes));
  EXPECT_FALSE(TakesElements(ElementType::kString, ElementType::kInt64));
}

TEST(ElementsTest, IsUtf8_RejectsEachMalformedKindAtItsOffset) {
  size_t offset = 0;
  EXPECT_TRUE(IsUtf8("plain ascii, then \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", &offset));
  EXPECT_FALSE(IsUtf8("abc\xc0\xaf", &offset));  // overlong '/'
  EXPECT_EQ(offset, 3u);
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80", &offset));  // a surrogate
  EXPECT_EQ(offset, 0u);
  EXPECT_FALSE(IsUtf8("12345678\xf4\x90\x80\x80", &offset));  // beyond U+10FFFF
  EXPECT_EQ(offset, 8u);
  EXPECT_FALSE(IsUtf8("ab\xe2\x82", &offset));  // cut short
  EXPECT_EQ(offset, 2u);
}

TEST(ElementsTest, ValidateElements_LimitAndUtf8NamingTheElement) {
  EXPECT_OK(ValidateElements(Elements::Strings({std::string(kMaxElementBytes, 'a')}), "the input's"));
  EXPECT_THAT(ValidateElements(Elements::Blobs({"x", std::string(kMaxElementBytes + 1, 'a')}),
                               "the input's"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("element #1 takes 1048577 bytes, over the limit of 1048576")));
  EXPECT_THAT(ValidateElements(Elements::Strings({"ok", "\xff"}), "the input's"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("element #1 is not UTF-8")));
  // The same bytes are fine as bytes.
  EXPECT_OK(ValidateElements(Elements::Blobs({"\xff"}), "the input's"));
}

TEST(FunctionRegistryTypedTest, Register_TypesFromTheCppSignature) {
  FunctionRegistry registry;
  ASSERT_OK(registry.Register("half", [](double x) { return x / 2; }));
  ASSERT_OK(registry.Register("reverse",
                              [](absl::string_view s) { return std::string(s.rbegin(), s.rend()); }));
  ASSERT_OK(registry.Register(
      "size", [](absl::string_view s) { return static_cast<int64_t>(s.size()); },
      ElementType::kBytes, ElementType::kInt64));
  EXPECT_EQ(registry.Find("half")->Describe(), "half(double) -> double");
  EXPECT_EQ(registry.Find("reverse")->Describe(), "reverse(string) -> string");
  EXPECT_EQ(registry.Find("size")->Describe(), "size(bytes) -> int64");
  EXPECT_EQ(registry.Find("missing"), nullptr);
}

TEST(FunctionRegistryTypedTest, Register_TypeTheCppTypeCannotHold_IsInvalid) {
  FunctionRegistry registry;
  EXPECT_THAT(registry.Register("bad", [](double x) { return x; }, ElementType::kString,
                                ElementType::kDouble),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot hold")));
}

TEST(FunctionRegistryTypedTest, Run_DoubleFunctionOverIntegers_ConvertsAndSumsExactly) {
  FunctionRegistry registry;
  ASSERT_OK(registry.Register("half", [](double x) { return x / 2; }));
  ASSERT_OK_AND_ASSIGN(ChunkOutput from_list,
                       registry.Run("half", Input::List({1, 2, 3}), ResultMode::kValues));
  EXPECT_EQ(from_list.values, Elements::Doubles({0.5, 1.0, 1.5}));
  EXPECT_EQ(from_list.doubles.sum.Round(), 3.0);
  EXPECT_EQ(from_list.doubles.min, 0.5);
  EXPECT_EQ(from_list.doubles.max, 1.5);
  ASSERT_OK_AND_ASSIGN(ChunkOutput from_range,
                       registry.Run("half", Input::Range(1, 3), ResultMode::kSum));
  EXPECT_TRUE(from_range.values.empty());
  EXPECT_EQ(from_range.count, 3u);
  EXPECT_EQ(from_range.doubles.sum.Round(), 3.0);
}

TEST(FunctionRegistryTypedTest, Run_ElementsOfAnotherType_IsInvalidNamingBothTypes) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  EXPECT_THAT(registry.Run("upper", Input::Range(1, 3), ResultMode::kValues),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("upper(string) -> string does not take int64 elements")));
  EXPECT_THAT(registry.Run("square", Input::List(Elements::Doubles({1.5})), ResultMode::kSum),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not take double")));
}

TEST(FunctionRegistryTypedTest, Builtins_EachTypeEndToEnd) {
  const FunctionRegistry registry = FunctionRegistry::WithBuiltins();
  ASSERT_OK_AND_ASSIGN(ChunkOutput upper,
                       registry.Run("upper", Input::List(Elements::Strings({"straße", "abc"})),
                                    ResultMode::kValues));
  EXPECT_EQ(upper.values, Elements::Strings({"STRASSE", "ABC"}));
  ASSERT_OK_AND_ASSIGN(ChunkOutput length,
                       registry.Run("length", Input::List(Elements::Strings({"straße", ""})),
                                    ResultMode::kValues));
  EXPECT_EQ(length.values, Elements::Int64s({6, 0}));
  EXPECT_EQ(length.sum, 6);
  // sha256 takes bytes, and strings as their bytes.
  ASSERT_OK_AND_ASSIGN(ChunkOutput digest,
                       registry.Run("sha256", Input::List(Elements::Strings({"abc"})),
                                    ResultMode::kValues));
  ASSERT_EQ(digest.values.type(), ElementType::kBytes);
  EXPECT_EQ(digest.values.texts()[0].size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(digest.values.texts()[0][0]), 0xbau);
  ASSERT_OK_AND_ASSIGN(ChunkOutput roots,
                       registry.Run("sqrt", Input::Range(0, 4), ResultMode::kValues));
  EXPECT_EQ(roots.values.doubles()[4], 2.0);
  EXPECT_EQ(roots.doubles.sum.Round(), 0 + 1 + std::sqrt(2.0) + std::sqrt(3.0) + 2);
  EXPECT_THAT(registry.Run("sqrt", Input::List(Elements::Doubles({4, -2.5})), ResultMode::kSum),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sqrt(-2.5)")));
}

TEST(FunctionRegistryTypedTest, Run_ResultOverTheElementLimit_IsOutOfRangeNamingTheInput) {
  FunctionRegistry registry;
  ASSERT_OK(registry.Register("grow", [](absl::string_view s) {
    return std::string(kMaxElementBytes + s.size(), 'x');
  }));
  EXPECT_THAT(registry.Run("grow", Input::List(Elements::Strings({"", "ab"})), ResultMode::kValues),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("over the limit of 1048576")));
}

TEST(FunctionRegistryTypedTest, Run_ChunkValuesOverThreeMiB_IsOutOfRangeAskingForSmallerChunks) {
  FunctionRegistry registry;
  ASSERT_OK(registry.Register("big", [](absl::string_view) { return std::string(1 << 20, 'x'); }));
  EXPECT_THAT(
      registry.Run("big", Input::List(Elements::Strings({"a", "b", "c", "d"})), ResultMode::kValues),
      StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("smaller chunk_size")));
}

TEST(FunctionRegistryTypedTest, Run_StringResultNotUtf8_IsInternal) {
  FunctionRegistry registry;
  ASSERT_OK(registry.Register("broken", [](absl::string_view) { return std::string("\xff"); }));
  EXPECT_THAT(registry.Run("broken", Input::List(Elements::Strings({"a"})), ResultMode::kValues),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("not UTF-8")));
}

TEST(EncodedValuesTest, Texts_EncodedCountedAndDecoded) {
  const Elements strings = Elements::Strings({"", "é", std::string(300, 'x')});
  EncodedValues encoded = EncodedValues::Own(strings);
  EXPECT_EQ(encoded.type(), ElementType::kString);
  EXPECT_EQ(encoded.size(), 3u);
  // The same bytes received in pieces split anywhere count and decode the same.
  std::string bytes;
  for (const EncodedValues::Piece& piece : encoded.pieces()) bytes.append(piece.data, piece.size);
  EncodedValues received(ElementType::kString);
  for (size_t i = 0; i < bytes.size(); i += 7) {
    received.Append(bytes.data() + i, std::min<size_t>(7, bytes.size() - i), nullptr);
  }
  ASSERT_OK(received.CountTexts());
  EXPECT_EQ(received.size(), 3u);
  ASSERT_OK_AND_ASSIGN(Elements decoded, received.ToElements());
  EXPECT_EQ(decoded, strings);
}

TEST(EncodedValuesTest, Doubles_SummarizedExactlyFromPieces) {
  EncodedValues doubles = EncodedValues::Own(std::vector<double>{1e100, 1.0, -1e100, 0.5});
  const DoubleStats stats = SummarizeDoubles(doubles);
  EXPECT_EQ(stats.count, 4u);
  EXPECT_EQ(stats.sum.Round(), 1.5);  // exact: a naive sum gives 0.5
  EXPECT_EQ(stats.min, -1e100);
  EXPECT_EQ(stats.max, 1e100);
  DoubleStats reported = stats;
  reported.max = 2;
  EXPECT_THAT(Disagreement(stats, 4, reported), HasSubstr("range over"));
  EXPECT_EQ(Disagreement(stats, 4, stats), "");
}

TEST(ChunkingTest, PlanChunks_LargeElements_CutSoNoChunkHoldsOverOneMiB) {
  ASSERT_OK_AND_ASSIGN(ChunkPlan plan, PlanChunks(100, 50, 1, ResultMode::kValues,
                                                  /*largest_element_bytes=*/300 * 1024));
  EXPECT_EQ(plan.chunk_size, 3u);  // 3 x 300 KiB <= 1 MiB < 4 x 300 KiB
  ASSERT_OK_AND_ASSIGN(ChunkPlan huge, PlanChunks(10, 0, 2, ResultMode::kValues,
                                                  /*largest_element_bytes=*/kMaxElementBytes));
  EXPECT_EQ(huge.chunk_size, 1u);
  ASSERT_OK_AND_ASSIGN(ChunkPlan small, PlanChunks(100, 50, 1, ResultMode::kValues, 100));
  EXPECT_EQ(small.chunk_size, 50u);
}

}  // namespace
}  // namespace gpool
