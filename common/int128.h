// Exact 128-bit helpers: sums of squares of 64-bit integers overflow 64 bits quickly, so every
// reduction in gpool accumulates in absl::int128 and is printed with FormatInt128.
#ifndef GPOOL_COMMON_INT128_H_
#define GPOOL_COMMON_INT128_H_

#include <string>

#include "absl/numeric/int128.h"

namespace gpool {

// Decimal representation, exact for every value including the minimum.
std::string FormatInt128(absl::int128 value);

}  // namespace gpool

#endif  // GPOOL_COMMON_INT128_H_
