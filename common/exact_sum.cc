#include "common/exact_sum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gpool {
namespace {

constexpr uint64_t kFractionMask = (uint64_t{1} << 52) - 1;
constexpr uint32_t kNonFiniteExponent = 0x7ff;

// The fast path adds each value's mantissa, with its implicit bit, to a uint64 bin chosen by
// its top 12 bits (sign and biased exponent): a load, two bit operations and an add to
// memory. Lanes take consecutive values in turn, so that a run of values of one exponent
// (sqrt(1..N) has long runs) does not wait on the store of the previous one. Bins of zeros
// and subnormals (exponent 0: no implicit bit) and of infinities and NaNs are wrong that way;
// they are rare, and a block that touched them is looked at again.
constexpr int kLanes = 8;
constexpr int kIndexes = 4096;
// A bin takes at most kBinAdds mantissas (< 2^53 each, the sign is in the index) before it
// is flushed: bin < 2^64.
constexpr size_t kBinAdds = 2048;
constexpr size_t kBlock = kBinAdds * kLanes;
// Below this many values the bins cost more than they save.
constexpr size_t kFastPathMin = 64;
constexpr uint64_t kImplicitBit = uint64_t{1} << 52;
// A block notes which groups of 64 bins (the top 6 bits of a value) it touched.
constexpr int kGroupShift = 58;

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

// A finite double is mantissa x 2^shift in units of 2^-1074; biased exponent e >= 1 has
// the implicit bit and shift e - 1, a subnormal (e = 0) none and shift 0.
int ShiftOf(uint32_t biased_exponent) {
  return biased_exponent == 0 ? 0 : static_cast<int>(biased_exponent) - 1;
}

int64_t SignedMantissa(uint64_t bits, uint32_t biased_exponent) {
  const int64_t magnitude = static_cast<int64_t>(
      (bits & kFractionMask) | (static_cast<uint64_t>(biased_exponent != 0) << 52));
  const int64_t sign = static_cast<int64_t>(bits) >> 63;  // 0 or -1
  return (magnitude ^ sign) - sign;
}

// digits += v x 2^shift, |v| < 2^67, without carries: every digit gains less than 2^32.
void AddShifted(int64_t* digits, __int128 v, int shift) {
  const int index = shift >> 5;
  // A left shift of a negative number is not defined in C++17; its unsigned twin is.
  const __int128 t =
      static_cast<__int128>(static_cast<unsigned __int128>(v) << (shift & 31));  // < 2^98
  digits[index] += static_cast<int64_t>(static_cast<uint32_t>(t));
  digits[index + 1] += static_cast<int64_t>(static_cast<uint32_t>(t >> 32));
  digits[index + 2] += static_cast<int64_t>(static_cast<uint32_t>(t >> 64));
  digits[index + 3] += static_cast<int64_t>(t >> 96);
}

struct Bins {
  uint64_t bin[kLanes][kIndexes] = {};
};

// Zero between uses; per thread (256 KiB, of which a block touches the groups its values
// fall in) so that concurrent chunks do not share it, on the heap because worker threads
// may have small stacks.
Bins& ThreadBins() {
  thread_local std::unique_ptr<Bins> bins = std::make_unique<Bins>();
  return *bins;
}

uint64_t LoadBits(const double* value) {
  uint64_t bits;
  std::memcpy(&bits, value, sizeof bits);
  return bits;
}

}  // namespace

void ExactSum::NotePending(uint32_t additions) {
  pending_ += additions;
  if (pending_ >= kMaxPending) Normalize();
}

int64_t* ExactSum::Digits() {
  if (digits_.empty()) digits_.assign(kDigits, 0);
  return digits_.data();
}

void ExactSum::Normalize() {
  if (digits_.empty()) {
    pending_ = 0;
    return;
  }
  int64_t carry = 0;
  for (int i = 0; i < kDigits - 1; ++i) {
    const int64_t x = digits_[i] + carry;
    digits_[i] = x & 0xffffffff;
    carry = x >> 32;  // arithmetic: a negative digit borrows from the next
  }
  digits_[kDigits - 1] += carry;
  pending_ = 0;
}

void ExactSum::Add(double x) {
  const uint64_t bits = Bits(x);
  const uint32_t e = static_cast<uint32_t>(bits >> 52) & 0x7ff;
  if (e == kNonFiniteExponent) {
    nonfinite_sum_ += x;
    return;
  }
  AddShifted(Digits(), SignedMantissa(bits, e), ShiftOf(e));
  NotePending(1);
}

template <bool kStats>
void ExactSum::AddValues(const double* values, size_t n, double* min, double* max) {
  if (n < kFastPathMin) {
    for (size_t i = 0; i < n; ++i) {
      Add(values[i]);
      if (kStats) {
        // NaN compares false both ways, so it changes neither.
        if (values[i] < *min) *min = values[i];
        if (values[i] > *max) *max = values[i];
      }
    }
    return;
  }
  Bins& bins = ThreadBins();
  double lane_min[kLanes], lane_max[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lane_min[l] = *min;
    lane_max[l] = *max;
  }
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t end = std::min(n, start + kBlock);
    // Two chains of ORs, so that neither holds the loop up.
    uint64_t touched[2] = {0, 0};
    auto add = [&](size_t i, int l) {
      const uint64_t bits = LoadBits(values + i);
      bins.bin[l][bits >> 52] += (bits & kFractionMask) | kImplicitBit;
      touched[l & 1] |= uint64_t{1} << (bits >> kGroupShift);
      if (kStats) {
        const double x = values[i];
        lane_min[l] = x < lane_min[l] ? x : lane_min[l];
        lane_max[l] = x > lane_max[l] ? x : lane_max[l];
      }
    };
    size_t i = start;
    for (; i + kLanes <= end; i += kLanes) {
#pragma GCC unroll 8
      for (int l = 0; l < kLanes; ++l) add(i + l, l);
    }
    for (int l = 0; i < end; ++i, ++l) add(i, l);  // the tail, one value per lane
    uint64_t groups = touched[0] | touched[1];

    // Exponent 0 (zeros, subnormals) and 0x7ff (infinities, NaNs), either sign: groups 0,
    // 31, 32 and 63. Their bins are dropped and their values taken one at a time.
    constexpr uint64_t kSpecialGroups =
        (uint64_t{1} << 0) | (uint64_t{1} << 31) | (uint64_t{1} << 32) | (uint64_t{1} << 63);
    if ((groups & kSpecialGroups) != 0) {
      bool special = false;
      for (uint32_t index : {0x000u, 0x7ffu, 0x800u, 0xfffu}) {
        for (int l = 0; l < kLanes; ++l) {
          special |= bins.bin[l][index] != 0;
          bins.bin[l][index] = 0;
        }
      }
      if (special) {
        for (size_t j = start; j < end; ++j) {
          const uint32_t e = static_cast<uint32_t>(LoadBits(values + j) >> 52) & 0x7ff;
          if (e == 0 || e == kNonFiniteExponent) Add(values[j]);
        }
      }
    }
    uint32_t flushed = 0;
    while (groups != 0) {
      const int group = __builtin_ctzll(groups);
      groups &= groups - 1;
      // The lanes' sum in two halves that cannot overflow, in loops the compiler vectorises.
      uint64_t low[64] = {}, high[64] = {};
      for (int l = 0; l < kLanes; ++l) {
        uint64_t* lane = bins.bin[l] + group * 64;
        for (int k = 0; k < 64; ++k) {
          low[k] += lane[k] & 0xffffffff;
          high[k] += lane[k] >> 32;
          lane[k] = 0;
        }
      }
      for (int k = 0; k < 64; ++k) {
        if ((low[k] | high[k]) == 0) continue;
        const __int128 v = (static_cast<__int128>(high[k]) << 32) + low[k];  // < 2^67
        const int index = group * 64 + k;
        const uint32_t e = static_cast<uint32_t>(index) & 0x7ff;
        AddShifted(Digits(), (index & 0x800) != 0 ? -v : v, ShiftOf(e));
        ++flushed;
      }
    }
    NotePending(flushed);
  }
  if (kStats) {
    for (int l = 0; l < kLanes; ++l) {
      if (lane_min[l] < *min) *min = lane_min[l];
      if (lane_max[l] > *max) *max = lane_max[l];
    }
  }
}

void ExactSum::Add(const double* values, size_t n) {
  double unused_min = 0, unused_max = 0;
  AddValues<false>(values, n, &unused_min, &unused_max);
}

void ExactSum::Merge(const ExactSum& other) {
  // Both sides' digits are below 2^62 in magnitude (kMaxPending), so their sums fit.
  nonfinite_sum_ += other.nonfinite_sum_;
  if (other.digits_.empty()) return;
  int64_t* digits = Digits();
  for (int i = 0; i < kDigits; ++i) digits[i] += other.digits_[i];
  pending_ += other.pending_ + 1;
  Normalize();
}

double ExactSum::Round() const {
  if (nonfinite_sum_ != 0 || std::isnan(nonfinite_sum_)) return nonfinite_sum_;
  if (digits_.empty()) return 0.0;
  ExactSum magnitude = *this;
  magnitude.Normalize();
  const bool negative = magnitude.digits_[kDigits - 1] < 0;
  if (negative) {
    for (int64_t& digit : magnitude.digits_) digit = -digit;
    magnitude.Normalize();
  }
  const int64_t* d = magnitude.digits_.data();
  // 2^2240 units (2^1166) is far beyond DBL_MAX; below it every digit fits 32 bits.
  if (d[kDigits - 1] >= (int64_t{1} << 32)) {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  int top = kDigits - 1;
  while (top >= 0 && d[top] == 0) --top;
  if (top < 0) return 0.0;
  // The highest set bit, in units of 2^-1074.
  const int p = 32 * top + 31 - __builtin_clz(static_cast<uint32_t>(d[top]));
  auto bits_at = [d](int lo, int count) {  // bits lo .. lo+count-1, count <= 53
    const int index = lo >> 5;
    unsigned __int128 wide = 0;
    for (int k = 2; k >= 0; --k) {
      const int j = index + k;
      wide = (wide << 32) | (j < kDigits ? static_cast<uint64_t>(d[j]) : 0);
    }
    return static_cast<uint64_t>(wide >> (lo & 31)) & ((uint64_t{1} << count) - 1);
  };
  double result;
  if (p < 53) {
    // Fewer than 53 significant bits above 2^-1074: exact, subnormal or the smallest normals.
    result = std::ldexp(static_cast<double>(bits_at(0, 53)), -1074);
  } else {
    uint64_t mantissa = bits_at(p - 52, 53);
    const int guard = p - 53;
    const bool half = bits_at(guard, 1) != 0;
    bool sticky = false;
    for (int j = 0; j < (guard >> 5) && !sticky; ++j) sticky = d[j] != 0;
    if (!sticky && (guard & 31) != 0) sticky = bits_at(guard & ~31, guard & 31) != 0;
    if (half && (sticky || (mantissa & 1))) ++mantissa;  // 2^53 stays exact
    // ldexp gives HUGE_VAL beyond DBL_MAX, which is what we want.
    result = std::ldexp(static_cast<double>(mantissa), p - 52 - 1074);
  }
  return negative ? -result : result;
}

std::string ExactSum::ExactBytes() const {
  if (digits_.empty()) return "";
  ExactSum normal = *this;
  normal.Normalize();
  std::string bytes;
  bytes.reserve(kDigits * 4 + 4);
  for (int i = 0; i < kDigits - 1; ++i) {
    const uint32_t digit = static_cast<uint32_t>(normal.digits_[i]);
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>(digit >> (8 * b)));
  }
  // The sign digit may exceed 32 bits after merging sums beyond 2^63 doubles' worth.
  const uint64_t top = static_cast<uint64_t>(normal.digits_[kDigits - 1]);
  for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>(top >> (8 * b)));
  // Minimal: drop a top byte that only repeats the sign of the byte below it.
  while (!bytes.empty()) {
    const uint8_t last = static_cast<uint8_t>(bytes.back());
    if (bytes.size() == 1) {
      if (last == 0) bytes.pop_back();
      break;
    }
    const bool below_negative = (static_cast<uint8_t>(bytes[bytes.size() - 2]) & 0x80) != 0;
    if ((last == 0 && !below_negative) || (last == 0xff && below_negative)) {
      bytes.pop_back();
    } else {
      break;
    }
  }
  return bytes;
}

absl::StatusOr<ExactSum> ExactSum::FromParts(absl::string_view exact_sum_bytes,
                                             double nonfinite_sum) {
  if (exact_sum_bytes.size() > kMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an exact sum of ", exact_sum_bytes.size(),
                                                   " bytes; at most ", kMaxBytes, " are allowed"));
  }
  if (std::isfinite(nonfinite_sum) && nonfinite_sum != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("nonfinite_sum is ", nonfinite_sum, "; it must be 0, +-inf or NaN"));
  }
  const bool negative =
      !exact_sum_bytes.empty() && (static_cast<uint8_t>(exact_sum_bytes.back()) & 0x80) != 0;
  uint8_t padded[kMaxBytes];
  std::memset(padded, negative ? 0xff : 0, sizeof padded);
  std::memcpy(padded, exact_sum_bytes.data(), exact_sum_bytes.size());
  ExactSum sum;
  sum.Digits();
  for (int i = 0; i < kDigits; ++i) {
    uint32_t digit = 0;
    for (int b = 3; b >= 0; --b) digit = (digit << 8) | padded[4 * i + b];
    sum.digits_[i] = i == kDigits - 1 ? static_cast<int64_t>(static_cast<int32_t>(digit))
                                      : static_cast<int64_t>(digit);
  }
  // -0.0 is "no non-finite values" as much as 0.0; keep one zero so that == compares bits.
  sum.nonfinite_sum_ = nonfinite_sum == 0 ? 0.0 : nonfinite_sum;
  return sum;
}

bool operator==(const ExactSum& a, const ExactSum& b) {
  const uint64_t a_bits = Bits(a.nonfinite_sum_), b_bits = Bits(b.nonfinite_sum_);
  const bool same_nonfinite =
      a_bits == b_bits || (std::isnan(a.nonfinite_sum_) && std::isnan(b.nonfinite_sum_));
  if (!same_nonfinite) return false;
  ExactSum x = a, y = b;
  x.Digits();
  y.Digits();
  x.Normalize();
  y.Normalize();
  return x.digits_ == y.digits_;
}

void DoubleStats::Merge(const DoubleStats& other) {
  count += other.count;
  sum.Merge(other.sum);
  if (other.min < min) min = other.min;
  if (other.max > max) max = other.max;
}

DoubleStats SummarizeDoubles(const double* values, size_t n) {
  DoubleStats stats;
  stats.count = n;
  stats.sum.AddValues<true>(values, n, &stats.min, &stats.max);
  return stats;
}

}  // namespace gpool
