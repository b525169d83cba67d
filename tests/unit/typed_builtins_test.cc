// The typed built-ins' kernels (common/typed_builtins): sqrt bit for bit against std::sqrt on
// every SIMD level, UTF-8 validation, and upper and the double spelling against Python itself
// (/usr/bin/python3, a test dependency: scripts/install-deps.sh test).
#include "common/typed_builtins.h"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::HasSubstr;
using typed_builtins_internal::AvailableSimdLevels;
using typed_builtins_internal::SimdLevel;
using typed_builtins_internal::SimdLevelName;

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

double FromBits(uint64_t bits) {
  double x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

// Hex by snprintf: the tests' own, independent of ToHex.
std::string TestHex(const std::string& bytes) {
  std::string hex;
  char pair[3];
  for (const char c : bytes) {
    std::snprintf(pair, sizeof(pair), "%02x", static_cast<unsigned char>(c));
    hex += pair;
  }
  return hex;
}

// Runs `script` under /usr/bin/python3 with a file of `lines` as its argument; returns the
// lines it prints. A missing Python fails the test (it is a test dependency), never skips it.
std::vector<std::string> RunPython(const std::string& script,
                                   const std::vector<std::string>& lines) {
  const std::string dir = ::testing::TempDir();
  const std::string tag = absl::StrCat(getpid(), "_",
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  const std::string script_path = absl::StrCat(dir, "/typed_builtins_", tag, ".py");
  const std::string input_path = absl::StrCat(dir, "/typed_builtins_", tag, ".txt");
  {
    std::ofstream(script_path) << script;
    std::ofstream input(input_path);
    for (const std::string& line : lines) input << line << "\n";
  }
  const std::string command = absl::StrCat("/usr/bin/python3 ", script_path, " ", input_path);
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  std::string output;
  if (pipe != nullptr) {
    char buffer[1 << 16];
    size_t read;
    while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, read);
    EXPECT_EQ(pclose(pipe), 0) << command;
  }
  std::remove(script_path.c_str());
  std::remove(input_path.c_str());
  std::vector<std::string> result = absl::StrSplit(output, '\n');
  if (!result.empty() && result.back().empty()) result.pop_back();
  return result;
}

// ---- sqrt ----

TEST(SqrtTest, Sqrt_NonNegative_CorrectlyRounded) {
  EXPECT_EQ(*Sqrt(4.0), 2.0);
  EXPECT_EQ(Bits(*Sqrt(2.0)), Bits(std::sqrt(2.0)));
  EXPECT_EQ(*Sqrt(0.0), 0.0);
}

TEST(SqrtTest, Sqrt_Negative_InvalidArgumentNamingValue) {
  absl::StatusOr<double> result = Sqrt(-2.0);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "sqrt(-2) is not a real number");
  EXPECT_EQ(Sqrt(-0.1).status().message(), "sqrt(-0.1) is not a real number");
  EXPECT_EQ(Sqrt(-1e300).status().message(), "sqrt(-1e+300) is not a real number");
  EXPECT_EQ(Sqrt(-std::numeric_limits<double>::infinity()).status().message(),
            "sqrt(-inf) is not a real number");
}

TEST(SqrtTest, Sqrt_SpecialValues_FollowIeee) {
  EXPECT_TRUE(std::isnan(*Sqrt(std::nan(""))));
  EXPECT_EQ(*Sqrt(std::numeric_limits<double>::infinity()),
            std::numeric_limits<double>::infinity());
  const double negative_zero = *Sqrt(-0.0);
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));
}

// Every level, every length 0..40 (each vector tail) from several starts.
TEST(SqrtTest, SqrtOfRange_ShortRanges_BitIdenticalToStdSqrtOnEveryLevel) {
  for (const SimdLevel level : AvailableSimdLevels()) {
    for (const int64_t start : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1'000'003}}) {
      for (int64_t length = 0; length <= 40; ++length) {
        std::vector<double> out(length + 1, -1.0);
        typed_builtins_internal::SqrtOfRange(level, start, start + length - 1, out.data());
        for (int64_t i = 0; i < length; ++i) {
          ASSERT_EQ(Bits(out[i]), Bits(std::sqrt(static_cast<double>(start + i))))
              << SimdLevelName(level) << " start " << start << " i " << i;
        }
        EXPECT_EQ(out[length], -1.0) << "wrote past the end, " << SimdLevelName(level);
      }
    }
  }
}

TEST(SqrtTest, SqrtOfRange_MillionFromZero_BitIdenticalToStdSqrtOnEveryLevel) {
  constexpr int64_t kCount = 1'000'000;
  for (const SimdLevel level : AvailableSimdLevels()) {
    std::vector<double> out(kCount);
    typed_builtins_internal::SqrtOfRange(level, 0, kCount - 1, out.data());
    for (int64_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(Bits(out[i]), Bits(std::sqrt(static_cast<double>(i))))
          << SimdLevelName(level) << " " << i;
    }
  }
}

// Across 2^53, where integers stop being doubles, and at the top of int64.
TEST(SqrtTest, SqrtOfRange_AroundTwoTo53AndInt64Max_BitIdenticalToStdSqrt) {
  const int64_t two_to_53 = int64_t{1} << 53;
  const int64_t max = std::numeric_limits<int64_t>::max();
  for (const SimdLevel level : AvailableSimdLevels()) {
    for (const int64_t start : {two_to_53 - 37, two_to_53, two_to_53 + 1, max - 30}) {
      const int64_t end = start >= max - 30 ? max : start + 80;
      std::vector<double> out(static_cast<size_t>(end - start + 1));
      typed_builtins_internal::SqrtOfRange(level, start, end, out.data());
      for (int64_t i = 0; i <= end - start; ++i) {
        ASSERT_EQ(Bits(out[i]), Bits(std::sqrt(static_cast<double>(start + i))))
            << SimdLevelName(level) << " " << start + i;
      }
    }
  }
}

TEST(SqrtTest, SqrtOfRange_EndBeforeStart_WritesNothing) {
  double out = -1.0;
  SqrtOfRange(5, 4, &out);
  EXPECT_EQ(out, -1.0);
}

std::vector<double> RandomNonNegativeDoubles(size_t n, uint32_t seed) {
  std::mt19937_64 random(seed);
  std::vector<double> values(n);
  for (double& value : values) {
    // Any finite non-negative bit pattern: subnormals, huge, tiny.
    do {
      value = FromBits(random() & 0x7FFFFFFFFFFFFFFFULL);
    } while (!std::isfinite(value));
  }
  return values;
}

TEST(SqrtTest, SqrtOfDoubles_RandomValues_BitIdenticalToStdSqrtOnEveryLevel) {
  const std::vector<double> in = RandomNonNegativeDoubles(10'003, 1);
  for (const SimdLevel level : AvailableSimdLevels()) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{5}, size_t{9}, in.size()}) {
      std::vector<double> out(n + 1, -1.0);
      EXPECT_EQ(typed_builtins_internal::SqrtOfDoubles(level, in.data(), n, out.data()), n);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(Bits(out[i]), Bits(std::sqrt(in[i]))) << SimdLevelName(level) << " " << in[i];
      }
      EXPECT_EQ(out[n], -1.0) << "wrote past the end, " << SimdLevelName(level);
    }
  }
}

TEST(SqrtTest, SqrtOfDoubles_InPlace_BitIdenticalToStdSqrt) {
  const std::vector<double> in = RandomNonNegativeDoubles(1'001, 2);
  for (const SimdLevel level : AvailableSimdLevels()) {
    std::vector<double> values = in;
    EXPECT_EQ(typed_builtins_internal::SqrtOfDoubles(level, values.data(), values.size(),
                                                     values.data()),
              values.size());
    for (size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(Bits(values[i]), Bits(std::sqrt(in[i]))) << SimdLevelName(level);
    }
  }
}

// A negative in the vector body or in the scalar tail, alone or after another, in place too.
TEST(SqrtTest, SqrtOfDoubles_Negatives_ReturnsFirstNegativeIndex) {
  for (const SimdLevel level : AvailableSimdLevels()) {
    for (size_t n = 1; n <= 19; ++n) {
      for (size_t first = 0; first < n; ++first) {
        std::vector<double> in(n, 4.0);
        in[first] = -1.0;
        if (first + 2 < n) in[first + 2] = -3.0;
        std::vector<double> out(n);
        ASSERT_EQ(typed_builtins_internal::SqrtOfDoubles(level, in.data(), n, out.data()),
                  first)
            << SimdLevelName(level) << " n " << n;
        for (size_t i = 0; i < n; ++i) {
          if (in[i] < 0) {
            EXPECT_TRUE(std::isnan(out[i])) << i;
          } else {
            EXPECT_EQ(out[i], 2.0) << i;
          }
        }
        ASSERT_EQ(typed_builtins_internal::SqrtOfDoubles(level, in.data(), n, in.data()), first)
            << SimdLevelName(level) << " in place, n " << n;
      }
    }
  }
}

TEST(SqrtTest, SqrtOfDoubles_NegativeZeroAndNan_NotNegative) {
  const std::vector<double> in = {1.0, -0.0, std::nan(""), 9.0, -0.0};
  std::vector<double> out(in.size());
  EXPECT_EQ(SqrtOfDoubles(in.data(), in.size(), out.data()), in.size());
  EXPECT_TRUE(std::signbit(out[1]));
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_EQ(out[3], 3.0);
}

// ---- length ----

TEST(Utf8LengthTest, Utf8Length_Ascii_CountsBytesForEveryLength) {
  std::string text;
  for (int length = 0; length <= 40; ++length) {
    EXPECT_EQ(*Utf8Length(text), length);
    text.push_back(static_cast<char>('!' + length));
  }
}

TEST(Utf8LengthTest, Utf8Length_MixedScripts_CountsCodePoints) {
  EXPECT_EQ(*Utf8Length("h\xC3\xA9llo"), 5);                    // héllo
  EXPECT_EQ(*Utf8Length("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"), 6);  // Привет
  EXPECT_EQ(*Utf8Length("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), 3);              // 日本語
  EXPECT_EQ(*Utf8Length("\xF0\x9F\x98\x80"), 1);                                  // 😀
  // ASCII runs longer than 8 around each width, so the fast path hands over mid-word.
  EXPECT_EQ(*Utf8Length("abcdefghijk\xC3\xA9mnopqrstuvwxyz\xE6\x97\xA5"
                        "0123456789\xF0\x9F\x98\x80zz"),
            11 + 1 + 14 + 1 + 10 + 1 + 2);
  // The extremes of each width.
  EXPECT_EQ(*Utf8Length(std::string("\x00\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF"
                                     "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",
                                     20)),
            8);
}

struct InvalidCase {
  std::string text;
  size_t offset;
  std::string why;
};

std::vector<InvalidCase> InvalidUtf8Cases() {
  return {
      {"abc\x80", 3, "unexpected continuation byte"},
      {"abcdefghij\xBF", 10, "unexpected continuation byte"},
      {"a\xC0\x80", 1, "overlong encoding"},
      {"\xC1\xBF", 0, "overlong encoding"},
      {"ab\xE0\x80\xAF", 2, "overlong encoding"},
      {"\xF0\x82\x82\xAC", 0, "overlong encoding"},
      {"xy\xED\xA0\x80", 2, "surrogate code point"},
      {"\xED\xBF\xBF", 0, "surrogate code point"},
      {"\xF4\x90\x80\x80", 0, "code point above U+10FFFF"},
      {"\xF5\x80\x80\x80", 0, "code point above U+10FFFF"},
      {"ok\xF8\x88\x80\x80\x80", 2, "byte that never occurs in UTF-8"},
      {"\xFF", 0, "byte that never occurs in UTF-8"},
      {"abcdefgh\xE2\x82", 8, "sequence cut short by the end of the text"},
      {"\xF0\x9F\x98", 0, "sequence cut short by the end of the text"},
      {"\xE2\x28\xA1", 0, "missing continuation byte"},
      {"\xC3\xA9\xC3", 2, "sequence cut short by the end of the text"},
  };
}

TEST(Utf8LengthTest, Utf8Length_InvalidUtf8_InvalidArgumentNamingOffsetAndReason) {
  for (const InvalidCase& c : InvalidUtf8Cases()) {
    absl::StatusOr<int64_t> length = Utf8Length(c.text);
    ASSERT_EQ(length.status().code(), absl::StatusCode::kInvalidArgument) << TestHex(c.text);
    EXPECT_THAT(length.status().message(), HasSubstr(absl::StrCat("byte offset ", c.offset)))
        << TestHex(c.text);
    EXPECT_THAT(length.status().message(), HasSubstr(c.why)) << TestHex(c.text);
  }
}

// Python's decoder rejects exactly what we reject, on every case above.
TEST(Utf8LengthTest, Utf8Length_InvalidUtf8_PythonRejectsTheSame) {
  std::vector<std::string> lines;
  for (const InvalidCase& c : InvalidUtf8Cases()) lines.push_back(TestHex(c.text));
  const std::vector<std::string> verdicts = RunPython(R"(
import sys
for line in open(sys.argv[1]):
    try:
        bytes.fromhex(line.strip()).decode("utf-8")
        print("valid")
    except UnicodeDecodeError as e:
        print(e.start)
)",
                                                      lines);
  const std::vector<InvalidCase> cases = InvalidUtf8Cases();
  ASSERT_EQ(verdicts.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(verdicts[i], absl::StrCat(cases[i].offset)) << lines[i];
  }
}

// ---- upper ----

// The corpus: each code point of the covered blocks alone and inside ASCII of varying length,
// ASCII of every length 0..40, and random mixes of ASCII, covered and uncovered-but-caseless
// code points (CJK, emoji), with the expanding and shrinking mappings many times over.
std::vector<std::string> UpperCorpus() {
  std::vector<std::string> corpus;
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return s;
  };
  std::vector<uint32_t> covered;
  for (uint32_t cp = 0; cp < 0x180; ++cp) covered.push_back(cp);
  for (uint32_t cp = 0x370; cp < 0x500; ++cp) covered.push_back(cp);
  const std::string ascii = "The quick brown fox jumps over the lazy dog @[`{ 0123456789";
  for (const uint32_t cp : covered) {
    corpus.push_back(utf8(cp));
    corpus.push_back(ascii.substr(0, cp % 23) + utf8(cp) + ascii.substr(cp % 17));
  }
  for (size_t length = 0; length <= 40; ++length) {
    std::string s;
    for (size_t i = 0; i < length; ++i) s.push_back(static_cast<char>(' ' + (i * 7 + length) % 95));
    corpus.push_back(s);
  }
  std::string every_byte_below_0x80;
  for (int c = 1; c < 0x80; ++c) every_byte_below_0x80.push_back(static_cast<char>(c));
  corpus.push_back(every_byte_below_0x80);
  const std::vector<uint32_t> caseless = {0x4E2D, 0x6587, 0x1F600, 0x20AC, 0x2014};
  std::mt19937 random(3);
  for (int n = 0; n < 300; ++n) {
    std::string s;
    const int length = static_cast<int>(random() % 120);
    for (int i = 0; i < length; ++i) {
      switch (random() % 4) {
        case 0:
        case 1:
          s += static_cast<char>(' ' + random() % 95);
          break;
        case 2:
          s += utf8(covered[random() % covered.size()]);
          break;
        default:
          s += utf8(caseless[random() % caseless.size()]);
      }
    }
    corpus.push_back(s);
  }
  std::string expanding;
  for (int i = 0; i < 200; ++i) expanding += utf8(0x0390) + utf8(0x0149) + utf8(0x00DF);
  corpus.push_back(expanding);
  std::string shrinking;
  for (int i = 0; i < 200; ++i) shrinking += utf8(0x0131) + utf8(0x017F) + "ab";
  corpus.push_back(shrinking);
  return corpus;
}

TEST(UpperTest, Upper_CoveredBlocks_EqualsPythonStrUpper) {
  const std::vector<std::string> corpus = UpperCorpus();
  std::vector<std::string> lines;
  for (const std::string& text : corpus) lines.push_back(TestHex(text));
  const std::vector<std::string> expected = RunPython(R"(
import sys
for line in open(sys.argv[1]):
    print(bytes.fromhex(line.strip()).decode("utf-8").upper().encode("utf-8").hex())
)",
                                                      lines);
  ASSERT_EQ(expected.size(), corpus.size());
  for (size_t i = 0; i < corpus.size(); ++i) {
    absl::StatusOr<std::string> upper = Upper(corpus[i]);
    ASSERT_TRUE(upper.ok()) << upper.status() << " " << lines[i];
    EXPECT_EQ(TestHex(*upper), expected[i]) << "input " << lines[i];
  }
}

TEST(UpperTest, Upper_Examples_MapAsDocumented) {
  EXPECT_EQ(*Upper("hello, World!"), "HELLO, WORLD!");
  EXPECT_EQ(*Upper("stra\xC3\x9F" "e"), "STRASSE");               // straße
  EXPECT_EQ(*Upper("\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"),  // привет
            "\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2");          // ПРИВЕТ
  EXPECT_EQ(*Upper("\xCF\x82"), "\xCE\xA3");                        // ς -> Σ
  EXPECT_EQ(*Upper(""), "");
}

// Outside the covered blocks nothing changes, even where Python's str.upper would.
TEST(UpperTest, Upper_UncoveredCodePoints_Unchanged) {
  for (const std::string text : {"\xC7\x86",          // ǆ U+01C6, Latin Extended-B
                                 "\xD5\xA1",          // ա U+0561, Armenian
                                 "\xE1\xB8\x81",      // ḁ U+1E01, Latin Extended Additional
                                 "\xEF\xBD\x81"}) {   // ａ U+FF41, fullwidth
    EXPECT_EQ(*Upper(text), text) << TestHex(text);
  }
}

TEST(UpperTest, Upper_InvalidUtf8_InvalidArgumentNamingOffsetAndReason) {
  for (const InvalidCase& c : InvalidUtf8Cases()) {
    absl::StatusOr<std::string> upper = Upper(c.text);
    ASSERT_EQ(upper.status().code(), absl::StatusCode::kInvalidArgument) << TestHex(c.text);
    EXPECT_THAT(upper.status().message(), HasSubstr(absl::StrCat("byte offset ", c.offset)));
    EXPECT_THAT(upper.status().message(), HasSubstr(c.why));
  }
}

// ---- sha256, hex ----

TEST(Sha256Test, Sha256_KnownMessages_MatchFips180Digests) {
  EXPECT_EQ(ToHex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(ToHex(Sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, Sha256_AnyInput_ThirtyTwoRawBytes) {
  EXPECT_EQ(Sha256(std::string("\0\xff", 2)).size(), 32u);
}

TEST(ToHexTest, ToHex_EveryByte_TwoLowercaseDigits) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(ToHex(all), TestHex(all));
  EXPECT_EQ(ToHex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(ToHex(""), "");
}

// ---- shortest doubles ----

TEST(ShortestDoubleTest, ShortestDouble_KnownValues_SpelledAsPythonRepr) {
  EXPECT_EQ(ShortestDouble(0.1), "0.1");
  EXPECT_EQ(ShortestDouble(2.0), "2.0");
  EXPECT_EQ(ShortestDouble(-2.5), "-2.5");
  EXPECT_EQ(ShortestDouble(1e16), "1e+16");
  EXPECT_EQ(ShortestDouble(1e15), "1000000000000000.0");
  EXPECT_EQ(ShortestDouble(9007199254740993.0), "9007199254740992.0");
  EXPECT_EQ(ShortestDouble(1e-5), "1e-05");
  EXPECT_EQ(ShortestDouble(1e-4), "0.0001");
  EXPECT_EQ(ShortestDouble(1.5e-7), "1.5e-07");
  EXPECT_EQ(ShortestDouble(1e300), "1e+300");
  EXPECT_EQ(ShortestDouble(5e-324), "5e-324");
  EXPECT_EQ(ShortestDouble(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(ShortestDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(ShortestDouble(123456.789), "123456.789");
  EXPECT_EQ(ShortestDouble(0.0), "0.0");
  EXPECT_EQ(ShortestDouble(-0.0), "-0.0");
  EXPECT_EQ(ShortestDouble(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(ShortestDouble(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(ShortestDouble(std::nan("")), "nan");
}

// Random bit patterns of every magnitude, decimals with few digits, integers and powers of ten
// around the switches between positional and exponent forms: repr() and strtod agree.
TEST(ShortestDoubleTest, ShortestDouble_ManyValues_EqualsPythonReprAndRoundTrips) {
  std::vector<double> values;
  std::mt19937_64 random(4);
  for (int i = 0; i < 3000; ++i) {
    double x;
    do {
      x = FromBits(random());
    } while (!std::isfinite(x));
    values.push_back(x);
  }
  for (int i = 0; i < 2000; ++i) {
    const double mantissa = static_cast<double>(random() % 100000);
    values.push_back(mantissa * std::pow(10.0, static_cast<int>(random() % 50) - 25));
    values.push_back(-mantissa / 1000);
  }
  for (int e = -30; e <= 30; ++e) {
    const double power = std::pow(10.0, e);
    for (const double x : {power, -power, std::nextafter(power, 0.0), 1.5 * power,
                           9.999999999999999 * power}) {
      values.push_back(x);
    }
  }
  for (const double x : {1e16 - 2, 1e16 + 2, 0.001, 0.00012345, 4.9e-324, 2.2250738585072014e-308,
                         2.225073858507201e-308, 3.0e-5, 12345678901234567.0}) {
    values.push_back(x);
  }
  std::vector<std::string> lines;
  for (const double x : values) lines.push_back(absl::StrCat(Bits(x)));
  const std::vector<std::string> expected = RunPython(R"(
import struct, sys
for line in open(sys.argv[1]):
    print(repr(struct.unpack("<d", struct.pack("<Q", int(line)))[0]))
)",
                                                      lines);
  ASSERT_EQ(expected.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string text = ShortestDouble(values[i]);
    EXPECT_EQ(text, expected[i]) << "bits " << lines[i];
    EXPECT_EQ(Bits(std::strtod(text.c_str(), nullptr)), Bits(values[i])) << text;
  }
}

}  // namespace
}  // namespace gpool
