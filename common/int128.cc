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

}  // namespace gpool
