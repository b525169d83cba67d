#include "common/exact_sum.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace gpool {

void ExactSum::AddShifted(uint64_t mantissa, int shift, bool negative) {
  const int word = shift / 64;
  const int bit = shift % 64;
  uint64_t parts[3] = {mantissa << bit, bit == 0 ? 0 : mantissa >> (64 - bit), 0};
  if (!negative) {
    unsigned carry = 0;
    for (int i = word; i < kLimbs; ++i) {
      const uint64_t add = i - word < 3 ? parts[i - word] : 0;
      if (i - word >= 2 && carry == 0 && add == 0) break;
      const uint64_t before = limbs_[i];
      uint64_t sum = before + add;
      unsigned c1 = sum < before;
      uint64_t sum2 = sum + carry;
      unsigned c2 = sum2 < sum;
      limbs_[i] = sum2;
      carry = c1 | c2;
    }
  } else {
    unsigned borrow = 0;
    for (int i = word; i < kLimbs; ++i) {
      const uint64_t sub = i - word < 3 ? parts[i - word] : 0;
      if (i - word >= 2 && borrow == 0 && sub == 0) break;
      const uint64_t before = limbs_[i];
      uint64_t diff = before - sub;
      unsigned b1 = before < sub;
      uint64_t diff2 = diff - borrow;
      unsigned b2 = diff < borrow;
      limbs_[i] = diff2;
      borrow = b1 | b2;
    }
  }
}

void ExactSum::Add(double x) {
  if (!std::isfinite(x)) {
    nonfinite_ += x;
    return;
  }
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ff);
  uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  if (exponent != 0) mantissa |= uint64_t{1} << 52;
  if (mantissa == 0) return;
  AddShifted(mantissa, exponent == 0 ? 0 : exponent - 1, (bits >> 63) != 0);
}

void ExactSum::Merge(const ExactSum& other) {
  unsigned carry = 0;
  for (int i = 0; i < kLimbs; ++i) {
    const uint64_t before = limbs_[i];
    uint64_t sum = before + other.limbs_[i];
    unsigned c1 = sum < before;
    uint64_t sum2 = sum + carry;
    unsigned c2 = sum2 < sum;
    limbs_[i] = sum2;
    carry = c1 | c2;
  }
  nonfinite_ += other.nonfinite_;
}

double ExactSum::Round() const {
  if (nonfinite_ != 0 || std::isnan(nonfinite_)) return nonfinite_;
  uint64_t magnitude[kLimbs];
  const bool negative = (limbs_[kLimbs - 1] >> 63) != 0;
  std::memcpy(magnitude, limbs_, sizeof(magnitude));
  if (negative) {
    unsigned carry = 1;
    for (int i = 0; i < kLimbs; ++i) {
      magnitude[i] = ~magnitude[i] + carry;
      carry = carry && magnitude[i] == 0;
    }
  }
  int top = -1;
  for (int i = kLimbs - 1; i >= 0; --i) {
    if (magnitude[i] != 0) {
      top = i * 64 + 63 - __builtin_clzll(magnitude[i]);
      break;
    }
  }
  if (top < 0) return 0.0;
  auto bit_at = [&](int position) -> uint64_t {
    if (position < 0) return 0;
    return (magnitude[position / 64] >> (position % 64)) & 1;
  };
  // Keep 53 significant bits (fewer in the subnormal range, where the unit is 2^-1074).
  const int lowest_kept = top - 52 > 0 ? top - 52 : 0;
  uint64_t kept = 0;
  for (int p = top; p >= lowest_kept; --p) kept = (kept << 1) | bit_at(p);
  const uint64_t guard = bit_at(lowest_kept - 1);
  bool sticky = false;
  for (int p = lowest_kept - 2; p >= 0 && !sticky; --p) sticky = bit_at(p) != 0;
  if (guard && (sticky || (kept & 1))) ++kept;
  const double value = std::ldexp(static_cast<double>(kept), lowest_kept - 1074);
  return negative ? -value : value;
}

std::string ExactSum::ExactBytes() const {
  std::string bytes(kLimbs * 8, '\0');
  for (int i = 0; i < kLimbs; ++i) {
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<char>(limbs_[i] >> (8 * b));
  }
  // Minimal two's complement: drop sign-extension bytes.
  while (!bytes.empty()) {
    const unsigned char last = bytes.back();
    const unsigned char sign_of_rest =
        bytes.size() >= 2 ? (static_cast<unsigned char>(bytes[bytes.size() - 2]) & 0x80) : 0;
    if ((last == 0 && sign_of_rest == 0) || (last == 0xff && sign_of_rest == 0x80)) {
      bytes.pop_back();
    } else {
      break;
    }
  }
  return bytes;
}

absl::StatusOr<ExactSum> ExactSum::FromParts(absl::string_view bytes, double nonfinite_sum) {
  if (bytes.size() > 280) {
    return absl::InvalidArgumentError(
        absl::StrCat("an exact double sum of ", bytes.size(), " bytes; at most 280"));
  }
  ExactSum sum;
  const bool negative = !bytes.empty() && (static_cast<unsigned char>(bytes.back()) & 0x80);
  std::memset(sum.limbs_, negative ? 0xff : 0, sizeof(sum.limbs_));
  for (size_t i = 0; i < bytes.size() && i < kLimbs * 8; ++i) {
    const uint64_t byte = static_cast<unsigned char>(bytes[i]);
    sum.limbs_[i / 8] &= ~(uint64_t{0xff} << (8 * (i % 8)));
    sum.limbs_[i / 8] |= byte << (8 * (i % 8));
  }
  sum.nonfinite_ = nonfinite_sum;
  return sum;
}

bool ExactSum::operator==(const ExactSum& other) const {
  const bool both_nan = std::isnan(nonfinite_) && std::isnan(other.nonfinite_);
  return std::memcmp(limbs_, other.limbs_, sizeof(limbs_)) == 0 &&
         (both_nan || nonfinite_ == other.nonfinite_);
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
  stats.sum.Add(values, n);
  for (size_t i = 0; i < n; ++i) {
    if (values[i] < stats.min) stats.min = values[i];
    if (values[i] > stats.max) stats.max = values[i];
  }
  return stats;
}

}  // namespace gpool
