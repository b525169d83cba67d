#include "common/value_stats.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/elements.h"
#include "common/int128.h"

namespace gpool {
namespace {

// Each value as unsigned 64 bits u = high * 2^32 + low, and v = u - 2^64 when v < 0. Over
// fewer than 2^32 values, the sums of the 32-bit halves and the count of negatives each fit
// in 64 bits, and every step is a shift, a mask or an add: no carry crosses a lane, so the
// compiler vectorises the loop (an int128 accumulator would add with carry, a value at a
// time). The smallest and largest value are taken with selects it turns into lane-wise
// compares.
// `bytes` holds n values, aligned or not: each is loaded with memcpy, which the compiler
// turns into (unaligned) vector loads.
template <bool kCopy>
inline __attribute__((always_inline)) ValueStats SummarizeBody(
    const char* __restrict bytes, size_t n, int64_t* __restrict out) {
  constexpr size_t kBlock = (size_t{1} << 32) - 1;
  ValueStats stats;
  stats.count = n;
  while (n > 0) {
    const size_t block = n < kBlock ? n : kBlock;
    uint64_t low = 0;
    uint64_t high = 0;
    uint64_t negatives = 0;
    int64_t min = INT64_MAX;
    int64_t max = INT64_MIN;
    for (size_t i = 0; i < block; ++i) {
      int64_t v;
      std::memcpy(&v, bytes + i * sizeof(int64_t), sizeof(v));
      const uint64_t u = static_cast<uint64_t>(v);
      if constexpr (kCopy) out[i] = v;
      low += u & 0xffffffffu;
      high += u >> 32;
      negatives += u >> 63;
      min = v < min ? v : min;
      max = v > max ? v : max;
    }
    stats.sum += absl::int128(absl::uint128(high) << 32) + absl::int128(low) -
                 absl::int128(absl::uint128(negatives) << 64);
    stats.min = std::min(stats.min, min);
    stats.max = std::max(stats.max, max);
    bytes += block * sizeof(int64_t);
    if constexpr (kCopy) out += block;
    n -= block;
  }
  return stats;
}

// 64-bit compares need AVX2 (or SSE4.2) to be done lane-wise; the x86-64 baseline the build
// targets has neither, so the AVX2 copy is chosen at run time. (This file is compiled with
// GCC's dynamic vectoriser cost model: the default one at -O2 declines this loop.)
__attribute__((target("avx2"))) ValueStats SummarizeAvx2(const char* bytes, size_t n,
                                                         int64_t* out) {
  return out == nullptr ? SummarizeBody<false>(bytes, n, nullptr)
                        : SummarizeBody<true>(bytes, n, out);
}

ValueStats SummarizeBaseline(const char* bytes, size_t n, int64_t* out) {
  return out == nullptr ? SummarizeBody<false>(bytes, n, nullptr)
                        : SummarizeBody<true>(bytes, n, out);
}

ValueStats SummarizeAny(const char* bytes, size_t n, int64_t* out) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? SummarizeAvx2(bytes, n, out) : SummarizeBaseline(bytes, n, out);
}

}  // namespace

void ValueStats::Merge(const ValueStats& other) {
  count += other.count;
  sum += other.sum;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

ValueStats Summarize(const int64_t* values, size_t n) {
  return SummarizeAny(reinterpret_cast<const char*>(values), n, nullptr);
}

ValueStats CopyAndSummarize(const int64_t* values, size_t n, int64_t* out) {
  return SummarizeAny(reinterpret_cast<const char*>(values), n, out);
}


namespace {

// Hands the 8-byte values of `values` to run(bytes, n) in runs: each piece's whole values are
// read in place, and a value split between two pieces (they are bytes of the received
// buffers, split anywhere) is put together apart.
template <typename Run>
void ForEachRunOfValues(const EncodedValues& values, Run run) {
  constexpr size_t kValueBytes = 8;
  char split[kValueBytes];
  size_t split_bytes = 0;
  for (const EncodedValues::Piece& piece : values.pieces()) {
    const char* data = piece.data;
    size_t left = piece.size;
    if (split_bytes > 0) {
      const size_t n = std::min(left, kValueBytes - split_bytes);
      std::memcpy(split + split_bytes, data, n);
      split_bytes += n;
      data += n;
      left -= n;
      if (split_bytes < kValueBytes) continue;
      run(split, 1);
      split_bytes = 0;
    }
    const size_t whole = left / kValueBytes;
    run(data, whole);
    split_bytes = left - whole * kValueBytes;
    std::memcpy(split, data + whole * kValueBytes, split_bytes);
  }
  // The bytes of all pieces together are whole values (EncodedValues' contract).
}

}  // namespace

ValueStats Summarize(const EncodedValues& values) {
  ValueStats stats;
  ForEachRunOfValues(values, [&stats](const char* bytes, size_t n) {
    stats.Merge(SummarizeAny(bytes, n, nullptr));
  });
  return stats;
}

DoubleStats SummarizeDoubles(const EncodedValues& values) {
  DoubleStats stats;
  ForEachRunOfValues(values, [&stats](const char* bytes, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      double value;
      std::memcpy(&value, bytes + i * sizeof(double), sizeof(double));
      stats.sum.Add(value);
      if (value < stats.min) stats.min = value;
      if (value > stats.max) stats.max = value;
    }
    stats.count += n;
  });
  return stats;
}

std::string Disagreement(const DoubleStats& values, uint64_t count, const DoubleStats& reported) {
  if (values.count != count) {
    return absl::StrCat("it sent ", values.count, " values for ", count, " elements");
  }
  if (values.sum != reported.sum) {
    return absl::StrCat("its ", values.count, " values sum to ", FormatDouble(values.sum.Round()),
                        ", not ", FormatDouble(reported.sum.Round()), " (exactly)");
  }
  // NaN min/max (all values NaN) compare as equal to themselves here.
  auto same = [](double a, double b) { return a == b || (a != a && b != b); };
  if (values.count > 0 && (!same(values.min, reported.min) || !same(values.max, reported.max))) {
    return absl::StrCat("its values range over ", FormatDouble(values.min), "..",
                        FormatDouble(values.max), ", not ", FormatDouble(reported.min), "..",
                        FormatDouble(reported.max));
  }
  return "";
}

std::string Disagreement(const ValueStats& values, uint64_t count, absl::int128 sum,
                         int64_t min, int64_t max) {
  if (values.count != count) {
    return absl::StrCat("it sent ", values.count, " values for ", count, " elements");
  }
  if (values.sum != sum) {
    return absl::StrCat("its ", values.count, " values sum to ", FormatInt128(values.sum),
                        ", not ", FormatInt128(sum));
  }
  if (values.count > 0 && (values.min != min || values.max != max)) {
    return absl::StrCat("its values range over ", values.min, "..", values.max, ", not ", min,
                        "..", max);
  }
  return "";
}

}  // namespace gpool
