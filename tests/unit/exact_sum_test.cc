// ExactSum against Python's math.fsum and exact integers (python3 computes them from the same
// values), and its own laws: any chunking and order merge to the same sum, the fast path
// equals the value-by-value one, the bytes round-trip at minimal length.
#include "common/exact_sum.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::nan("");

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

double FromBits(uint64_t bits) {
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Reads the values (little-endian doubles) from argv[1]; argv[2] says what to print:
//   fsum      math.fsum's bits as an unsigned integer
//   exact     the exact sum x 2^1074, minimal signed little-endian bytes, in hex
//   fraction  "equal" when int.from_bytes(bytes.fromhex(argv[3]), "little", signed=True)
//             is Fraction(sum) x 2^1074, else the two
constexpr char kPythonScript[] = R"py(
import math, struct, sys
from fractions import Fraction
data = open(sys.argv[1], 'rb').read()
vals = struct.unpack('<%dd' % (len(data) // 8), data)
def minimal(n):
    if n == 0:
        return b''
    bits = (n if n >= 0 else ~n).bit_length() + 1
    return n.to_bytes((bits + 7) // 8, 'little', signed=True)
mode = sys.argv[2]
if mode == 'fsum':
    print(struct.unpack('<Q', struct.pack('<d', math.fsum(vals)))[0])
elif mode == 'exact':
    total = 0
    for x in vals:
        n, d = x.as_integer_ratio()
        total += n * (2**1074 // d)
    print(minimal(total).hex())
elif mode == 'fraction':
    ours = int.from_bytes(bytes.fromhex(sys.argv[3]), 'little', signed=True)
    exact = sum(map(Fraction, vals), Fraction(0)) * 2**1074
    print('equal' if exact.denominator == 1 and ours == exact else '%s %s' % (ours, exact))
)py";

// What python3 prints for `values` in `mode`, without the newline.
std::string RunPython(const std::vector<double>& values, const std::string& mode,
                      const std::string& extra = "") {
  // ctest runs each test in its own process, in parallel: the files are per process.
  static int calls = 0;
  const std::string prefix = absl::StrCat(testing::TempDir(), "/exact_sum_", getpid(), "_");
  const std::string script = absl::StrCat(prefix, "fsum.py");
  const std::string data = absl::StrCat(prefix, ++calls, ".bin");
  {
    std::ofstream out(script, std::ios::trunc);
    out << kPythonScript;
    std::ofstream bin(data, std::ios::binary | std::ios::trunc);
    bin.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(double)));
  }
  const std::string command =
      absl::StrCat("/usr/bin/python3 ", script, " ", data, " ", mode, " ", extra);
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return "";
  std::string output;
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
  EXPECT_EQ(pclose(pipe), 0) << command << ": " << output;
  std::remove(data.c_str());
  std::remove(script.c_str());
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

double PythonFsum(const std::vector<double>& values) {
  return FromBits(std::stoull(RunPython(values, "fsum")));
}

// Mantissa random, binary exponent in [-1000, 1000], sign random; some subnormals, and exact
// cancellations (1e300, 1.0, -1e300) that a naive sum loses.
std::vector<double> MixedValues(size_t n, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<double> values;
  values.reserve(n);
  while (values.size() < n) {
    const uint64_t r = random();
    if (r % 97 == 0 && values.size() + 3 <= n) {
      values.insert(values.end(), {1e300, 1.0, -1e300});
      continue;
    }
    const double mantissa = 1.0 + static_cast<double>(random() >> 12) * 0x1p-52;
    const int exponent = static_cast<int>(random() % 2001) - 1000;
    double x = std::ldexp(mantissa, exponent);
    if (r % 89 == 0) x = FromBits(random() & ((uint64_t{1} << 52) - 1));  // subnormal
    values.push_back((r >> 63) ? -x : x);
  }
  return values;
}

ExactSum SumOf(const std::vector<double>& values) {
  ExactSum sum;
  sum.Add(values.data(), values.size());
  return sum;
}

ExactSum SumOneByOne(const std::vector<double>& values) {
  ExactSum sum;
  for (double x : values) sum.Add(x);
  return sum;
}

const std::vector<double>& MillionMixed() {
  static const auto* values = new std::vector<double>(MixedValues(1'000'000, 19));
  return *values;
}

TEST(ExactSumTest, Round_MillionMixedValues_BitIdenticalToPythonFsum) {
  const double ours = SumOf(MillionMixed()).Round();
  const double python = PythonFsum(MillionMixed());
  EXPECT_EQ(Bits(ours), Bits(python)) << std::hexfloat << ours << " vs " << python;
}

TEST(ExactSumTest, ExactBytes_MillionMixedValues_AreThePythonExactIntegerMinimal) {
  const std::string ours = absl::BytesToHexString(SumOf(MillionMixed()).ExactBytes());
  EXPECT_EQ(ours, RunPython(MillionMixed(), "exact"));
}

TEST(ExactSumTest, ExactBytes_ReadByPython_AreFractionSumTimes2To1074) {
  for (uint64_t seed : {1, 2, 3}) {
    const std::vector<double> values = MixedValues(3000, seed);
    const std::string hex = absl::BytesToHexString(SumOf(values).ExactBytes());
    EXPECT_EQ(RunPython(values, "fraction", hex), "equal") << "seed " << seed;
  }
}

TEST(ExactSumTest, Round_SmallCasesAndCancellations_MatchPythonFsum) {
  const std::vector<std::vector<double>> cases = {
      {},
      {-0.0},
      {-0.0, -0.0},
      {0.1, 0.2, 0.3},
      {1e300, 1.0, -1e300},
      {1.0, 0x1p-53},
      {1.0, 0x1p-53, 0x1p-106},
      {-1.0, -0x1p-53},
      {1.0 + 0x1p-52, 0x1p-53},
      {0x1p-1074, 0x1p-1074, -0x1p-1070},
      {DBL_MAX, 0x1p969},
      {DBL_MAX, -DBL_MAX, 0x1p-1074},
      {1e16, 1.0, 1e-16},
  };
  for (const auto& values : cases) {
    EXPECT_EQ(Bits(SumOneByOne(values).Round()), Bits(PythonFsum(values)))
        << testing::PrintToString(values);
  }
}

TEST(ExactSumTest, Round_EmptyAndNegativeZero_PositiveZeroAsFsum) {
  ExactSum sum;
  EXPECT_EQ(Bits(sum.Round()), Bits(0.0));
  sum.Add(-0.0);
  EXPECT_EQ(Bits(sum.Round()), Bits(0.0));
  EXPECT_EQ(Bits(PythonFsum({-0.0})), Bits(0.0));
  EXPECT_EQ(sum.ExactBytes(), "");
}

TEST(ExactSumTest, Merge_AnyChunkingInShuffledOrder_SameSum) {
  const std::vector<double>& values = MillionMixed();
  const ExactSum whole = SumOf(values);
  std::mt19937_64 random(7);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{1000}, size_t{4097}, size_t{65536}}) {
    std::vector<ExactSum> parts;
    for (size_t start = 0; start < values.size(); start += chunk) {
      ExactSum part;
      part.Add(values.data() + start, std::min(chunk, values.size() - start));
      parts.push_back(part);
    }
    std::shuffle(parts.begin(), parts.end(), random);
    ExactSum merged;
    for (const ExactSum& part : parts) merged.Merge(part);
    EXPECT_TRUE(merged == whole) << "chunk " << chunk;
    EXPECT_EQ(merged.ExactBytes(), whole.ExactBytes()) << "chunk " << chunk;
    EXPECT_EQ(Bits(merged.Round()), Bits(whole.Round())) << "chunk " << chunk;
  }
}

TEST(ExactSumTest, AddArray_RandomDataOfEverySize_EqualsAddOneByOne) {
  std::mt19937_64 random(11);
  for (size_t n : {0, 1, 3, 31, 32, 33, 4095, 4096, 4097, 100'000}) {
    std::vector<double> values = MixedValues(n, random());
    EXPECT_TRUE(SumOf(values) == SumOneByOne(values)) << n;
    // Runs of one exponent (the bins' worst case for lanes) and of one sign.
    std::vector<double> roots(n);
    for (size_t i = 0; i < n; ++i) roots[i] = std::sqrt(static_cast<double>(i + 1));
    EXPECT_TRUE(SumOf(roots) == SumOneByOne(roots)) << n;
  }
}

TEST(ExactSumTest, AddArray_NonFiniteAmongFiniteValues_SameAsOneByOne) {
  std::vector<double> values = MixedValues(10'000, 5);
  values[17] = kInf;
  values[5000] = kInf;
  values[9999] = 3.0;
  const ExactSum fast = SumOf(values);
  EXPECT_TRUE(fast == SumOneByOne(values));
  EXPECT_EQ(fast.Round(), kInf);
  EXPECT_EQ(fast.nonfinite_sum(), kInf);
  // The finite values are still summed exactly: the infinities did not leak into the bins.
  values[17] = 0;
  values[5000] = 0;
  EXPECT_EQ(fast.ExactBytes(), SumOf(values).ExactBytes());
}

TEST(ExactSumTest, AddArray_ZerosAndSubnormalsOfBothSigns_MatchPythonFsum) {
  // Exponent 0 has no implicit bit: the fast path takes these values one at a time.
  std::mt19937_64 random(13);
  std::vector<double> values;
  for (int i = 0; i < 20'000; ++i) {
    const uint64_t r = random();
    double x = r % 3 == 0 ? 0.0 : FromBits(random() & ((uint64_t{1} << 52) - 1));
    if (r % 5 == 0) x = DBL_MIN * static_cast<double>(r % 7);
    values.push_back((r >> 63) ? -x : x);
  }
  const ExactSum fast = SumOf(values);
  EXPECT_TRUE(fast == SumOneByOne(values));
  EXPECT_EQ(Bits(fast.Round()), Bits(PythonFsum(values)));
}

TEST(ExactSumTest, Round_Ties_ToEven) {
  const auto sum = [](std::vector<double> values) { return SumOneByOne(values).Round(); };
  EXPECT_EQ(sum({1.0, 0x1p-53}), 1.0);                           // tie, 1.0 is even
  EXPECT_EQ(sum({1.0 + 0x1p-52, 0x1p-53}), 1.0 + 0x1p-51);        // tie, rounds up to even
  EXPECT_EQ(sum({1.0, 0x1p-53, 0x1p-1074}), 1.0 + 0x1p-52);       // just above the tie
  EXPECT_EQ(sum({1.0, 0x1p-53, -0x1p-1074}), 1.0);                // just below it
  EXPECT_EQ(sum({-1.0, -0x1p-53}), -1.0);
  EXPECT_EQ(sum({-1.0 - 0x1p-52, -0x1p-53}), -1.0 - 0x1p-51);
  EXPECT_EQ(sum({0x1p60, 0x1p7, 0x1p-1074}), 0x1p60 + 0x1p8);     // sticky far below
}

TEST(ExactSumTest, Round_Subnormals_Exact) {
  const auto sum = [](std::vector<double> values) { return SumOneByOne(values).Round(); };
  EXPECT_EQ(sum({0x1p-1074, 0x1p-1074}), 0x1p-1073);
  EXPECT_EQ(sum({DBL_MIN, -0x1p-1074}), DBL_MIN - 0x1p-1074);
  EXPECT_EQ(sum({DBL_MIN / 2, DBL_MIN / 2}), DBL_MIN);
  EXPECT_EQ(sum({-0x1p-1074}), -0x1p-1074);
  EXPECT_EQ(sum({0x1p-1074, -0x1p-1074}), 0.0);
}

TEST(ExactSumTest, Round_BeyondDblMax_Infinity) {
  const auto sum = [](std::vector<double> values) { return SumOneByOne(values).Round(); };
  EXPECT_EQ(sum({DBL_MAX, DBL_MAX}), kInf);
  EXPECT_EQ(sum({-DBL_MAX, -DBL_MAX}), -kInf);
  EXPECT_EQ(sum({DBL_MAX, 0x1p970}), kInf);           // half an ulp: the tie goes to 2^1024
  EXPECT_EQ(sum({DBL_MAX, 0x1p969}), DBL_MAX);        // a quarter ulp
  EXPECT_EQ(sum({DBL_MAX, DBL_MAX, -DBL_MAX}), DBL_MAX);  // fsum raises OverflowError here
}

TEST(ExactSumTest, Add_ManyLargestDoubles_NoOverflowAndCancelsExactly) {
  std::vector<double> values(1'000'000, DBL_MAX);
  ExactSum sum = SumOf(values);
  EXPECT_EQ(sum.Round(), kInf);
  EXPECT_LE(sum.ExactBytes().size(), ExactSum::kMaxBytes);
  for (double& x : values) x = -DBL_MAX;
  values.push_back(DBL_MAX);
  sum.Merge(SumOf(values));
  EXPECT_EQ(sum.Round(), DBL_MAX);
}

TEST(ExactSumTest, Round_NonFiniteValues_IeeeSum) {
  const auto sum = [](std::vector<double> values) { return SumOneByOne(values); };
  EXPECT_EQ(sum({1.0, kInf}).Round(), kInf);
  EXPECT_EQ(sum({kInf, kInf, -5.0}).Round(), kInf);
  EXPECT_EQ(sum({-kInf, 1e308, 1e308}).Round(), -kInf);
  EXPECT_TRUE(std::isnan(sum({kInf, -kInf}).Round()));
  EXPECT_TRUE(std::isnan(sum({1.0, kNaN}).Round()));
  EXPECT_TRUE(std::isnan(sum({kNaN, kInf}).Round()));
  EXPECT_EQ(sum({1.0, 2.0}).nonfinite_sum(), 0.0);
  EXPECT_TRUE(sum({kNaN}) == sum({kNaN, 1.0, -1.0}));
  EXPECT_TRUE(sum({kInf}) != sum({-kInf}));
}

TEST(ExactSumTest, ExactBytes_SmallValues_MinimalTwosComplement) {
  const auto bytes = [](std::vector<double> values) {
    return absl::BytesToHexString(SumOneByOne(values).ExactBytes());
  };
  EXPECT_EQ(bytes({}), "");
  EXPECT_EQ(bytes({0x1p-1074}), "01");
  EXPECT_EQ(bytes({-0x1p-1074}), "ff");
  EXPECT_EQ(bytes({0x1p-1067}), "8000");      // 128 needs a 0 above its sign bit
  EXPECT_EQ(bytes({-0x1p-1067}), "80");       // -128
  EXPECT_EQ(bytes({-0x1p-1067, -0x1p-1074}), "7fff");  // -129
  EXPECT_EQ(bytes({1.0}), absl::StrCat(std::string(268, '0'), "04"));  // 2^1074
}

TEST(ExactSumTest, FromParts_ExactBytesOfRandomSums_RoundTrip) {
  std::mt19937_64 random(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> values = MixedValues(1 + random() % 5000, random());
    if (trial % 5 == 0) values.push_back(trial % 10 == 0 ? kNaN : -kInf);
    const ExactSum sum = SumOf(values);
    absl::StatusOr<ExactSum> back = ExactSum::FromParts(sum.ExactBytes(), sum.nonfinite_sum());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == sum);
    EXPECT_EQ(back->ExactBytes(), sum.ExactBytes());
    EXPECT_EQ(Bits(back->Round()), Bits(sum.Round()));
  }
}

TEST(ExactSumTest, FromParts_NonMinimalBytes_SameValueMinimalAgain) {
  absl::StatusOr<ExactSum> padded = ExactSum::FromParts(std::string("\xff\xff\xff", 3), 0);
  ASSERT_TRUE(padded.ok()) << padded.status();
  EXPECT_EQ(padded->ExactBytes(), "\xff");
  EXPECT_EQ(padded->Round(), -0x1p-1074);
}

TEST(ExactSumTest, FromParts_MoreThan280Bytes_InvalidArgument) {
  EXPECT_EQ(ExactSum::FromParts(std::string(281, '\0'), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ExactSum> largest = ExactSum::FromParts(std::string(280, '\x7f'), 0);
  ASSERT_TRUE(largest.ok()) << largest.status();
  EXPECT_EQ(largest->Round(), kInf);
  EXPECT_EQ(largest->ExactBytes(), std::string(280, '\x7f'));
}

TEST(ExactSumTest, FromParts_FiniteNonZeroNonFiniteSum_InvalidArgument) {
  EXPECT_EQ(ExactSum::FromParts("", 1.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ExactSum::FromParts("", -0.0).ok());
}

TEST(DoubleStatsTest, SummarizeDoubles_WithNaN_MinMaxIgnoreIt) {
  std::vector<double> values = MixedValues(10'000, 8);
  values[3] = kNaN;
  values[7000] = kNaN;
  const DoubleStats stats = SummarizeDoubles(values.data(), values.size());
  std::vector<double> finite;
  for (double x : values) {
    if (!std::isnan(x)) finite.push_back(x);
  }
  EXPECT_EQ(stats.count, values.size());
  EXPECT_EQ(stats.min, *std::min_element(finite.begin(), finite.end()));
  EXPECT_EQ(stats.max, *std::max_element(finite.begin(), finite.end()));
  EXPECT_TRUE(std::isnan(stats.sum.Round()));
  EXPECT_TRUE(stats.sum == SumOneByOne(values));
}

TEST(DoubleStatsTest, SummarizeDoubles_SmallAndAllNaN_InfinitiesAsMinMax) {
  const std::vector<double> nans(100, kNaN);
  const DoubleStats all_nan = SummarizeDoubles(nans.data(), nans.size());
  EXPECT_EQ(all_nan.min, kInf);
  EXPECT_EQ(all_nan.max, -kInf);
  const double three[] = {2.0, kNaN, -1.0};
  const DoubleStats small = SummarizeDoubles(three, 3);
  EXPECT_EQ(small.min, -1.0);
  EXPECT_EQ(small.max, 2.0);
  EXPECT_EQ(small.count, 3u);
  const DoubleStats none = SummarizeDoubles(nullptr, 0);
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.min, kInf);
}

TEST(DoubleStatsTest, Merge_Halves_SameAsWhole) {
  const std::vector<double> values = MixedValues(50'000, 4);
  const DoubleStats whole = SummarizeDoubles(values.data(), values.size());
  DoubleStats merged = SummarizeDoubles(values.data() + 20'000, 30'000);
  merged.Merge(SummarizeDoubles(values.data(), 20'000));
  EXPECT_EQ(merged.count, whole.count);
  EXPECT_EQ(merged.min, whole.min);
  EXPECT_EQ(merged.max, whole.max);
  EXPECT_TRUE(merged.sum == whole.sum);
}

}  // namespace
}  // namespace gpool
