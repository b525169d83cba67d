#include "common/int128.h"

#include <algorithm>

namespace gpool {

std::string FormatInt128(absl::int128 value) {
  // Work on the magnitude as unsigned so that the minimum value does not overflow on negation.
  const bool negative = value < 0;
  absl::uint128 magnitude = negative ? -static_cast<absl::uint128>(value)
                                     : static_cast<absl::uint128>(value);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

namespace {

// Both sums, with or without a copy; see SumExact.
template <bool kCopy>
absl::int128 SumExactImpl(const int64_t* __restrict values, size_t n, int64_t* __restrict out) {
  // Each value as unsigned 64 bits u = high * 2^32 + low, and v = u - 2^64 when v < 0. Over
  // fewer than 2^32 values, the sums of the 32-bit halves and the count of negatives each fit
  // in 64 bits, and every step is a shift, a mask or an add: no carry crosses a lane.
  constexpr size_t kBlock = (size_t{1} << 32) - 1;
  absl::int128 total = 0;
  while (n > 0) {
    const size_t block = n < kBlock ? n : kBlock;
    uint64_t low = 0;
    uint64_t high = 0;
    uint64_t negatives = 0;
    for (size_t i = 0; i < block; ++i) {
      const uint64_t u = static_cast<uint64_t>(values[i]);
      if constexpr (kCopy) out[i] = values[i];
      low += u & 0xffffffffu;
      high += u >> 32;
      negatives += u >> 63;
    }
    total += absl::int128(absl::uint128(high) << 32) + absl::int128(low) -
             absl::int128(absl::uint128(negatives) << 64);
    values += block;
    if constexpr (kCopy) out += block;
    n -= block;
  }
  return total;
}

}  // namespace

absl::int128 SumExact(const int64_t* values, size_t n) {
  return SumExactImpl<false>(values, n, nullptr);
}

absl::int128 CopyAndSumExact(const int64_t* values, size_t n, int64_t* out) {
  return SumExactImpl<true>(values, n, out);
}

}  // namespace gpool
