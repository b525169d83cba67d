// Exact 128-bit helpers: sums of squares of 64-bit integers overflow 64 bits quickly, so every
// reduction in gpool accumulates in absl::int128 and is printed with FormatInt128.
#ifndef GPOOL_COMMON_INT128_H_
#define GPOOL_COMMON_INT128_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"

namespace gpool {

// Decimal representation, exact for every value including the minimum.
std::string FormatInt128(absl::int128 value);

// Exact sum of n 64-bit values. The client checks every chunk's values against the worker's
// partial sum with it, so it runs over every value a job returns: a loop that adds into an
// int128 (add, add-with-carry) runs a value at a time, while this one adds 64-bit lanes the
// compiler vectorises, and costs little more than reading the values.
absl::int128 SumExact(const int64_t* values, size_t n);

// The same, while copying the values to `out` (which must not overlap them): one pass over
// the values where a copy and then a sum would read them twice.
absl::int128 CopyAndSumExact(const int64_t* values, size_t n, int64_t* out);

}  // namespace gpool

#endif  // GPOOL_COMMON_INT128_H_
