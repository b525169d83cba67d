// The kernels of the typed built-in functions (issue 19): sqrt, length, upper, sha256, and the
// spellings the CLI prints (hex bytes, shortest doubles). Pure functions over values, with no
// transport and no registry: common/functions wires them in.
#ifndef GPOOL_COMMON_TYPED_BUILTINS_H_
#define GPOOL_COMMON_TYPED_BUILTINS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

// The square root, correctly rounded (IEEE 754), as std::sqrt. A negative x is
// INVALID_ARGUMENT "sqrt(-2) is not a real number" (x spelled in the shortest text that reads
// back to it); -0.0 gives -0.0, NaN gives NaN, +inf gives +inf.
absl::StatusOr<double> Sqrt(double x);

// out[i] = std::sqrt(double(start + i)) for every integer of [start, end], end - start + 1
// values (none when end < start), bit for bit. Requires start >= 0. Vectorised (AVX when the
// CPU has it, else SSE2) for the integers below 2^53; those above, where not every integer is
// a double, are converted one by one.
void SqrtOfRange(int64_t start, int64_t end, double* out);

// out[i] = std::sqrt(in[i]) for i < n, vectorised; `in` may equal `out` (no other overlap).
// Returns the index of the first negative input (its out is NaN, as are those of the later
// negatives: every out is written), or n when there is none. -0.0 and NaN are not negative.
size_t SqrtOfDoubles(const double* in, size_t n, double* out);

// The number of Unicode code points of a UTF-8 text. Invalid UTF-8 is INVALID_ARGUMENT naming
// the byte offset of the offending sequence and why: a stray continuation byte, a byte that
// never occurs (0xC0, 0xC1, 0xF5..0xFF), an overlong encoding, a surrogate (U+D800..U+DFFF),
// a code point above U+10FFFF, a missing continuation byte, or a sequence cut by the end.
absl::StatusOr<int64_t> Utf8Length(absl::string_view text);

// The text in upper case, equal to Python's str.upper() (Python 3.11, Unicode 14.0) for every
// text whose code points all lie in the covered blocks:
//   U+0000..U+007F  Basic Latin (ASCII): a-z -> A-Z;
//   U+0080..U+00FF  Latin-1 Supplement (µ -> U+039C Μ, ÿ -> U+0178 Ÿ, ß -> "SS");
//   U+0100..U+017F  Latin Extended-A (ı -> I, ſ -> S, ŉ -> U+02BC U+004E "ʼN");
//   U+0370..U+03FF  Greek and Coptic (ς -> Σ; ΐ and ΰ -> three code points each);
//   U+0400..U+04FF  Cyrillic.
// Python's full mappings (SpecialCasing, as str.upper applies them) are used in these blocks,
// from a table generated with scripts/gen_upper_table.py (common/upper_table.inc). Every other
// code point is copied unchanged, even where Python would change it (Latin Extended-B such as
// ǆ, Armenian, Georgian, Latin Extended Additional, fullwidth forms, ...). Invalid UTF-8 is
// INVALID_ARGUMENT, as for Utf8Length.
absl::StatusOr<std::string> Upper(absl::string_view text);

// The SHA-256 digest of `data`, 32 raw bytes (OpenSSL's EVP_sha256).
std::string Sha256(absl::string_view data);

// Two lowercase hex digits per byte: "\x01\xab" -> "01ab".
std::string ToHex(absl::string_view bytes);

// The shortest text that reads back to x, spelled as Python's repr(float): "0.1", "2.0",
// "1e+16", "1e-05", "5e-324", "1.7976931348623157e+308", "-0.0", "inf", "-inf", "nan".
// (Positional between 1e-4 and 1e16, with ".0" when integral; exponent with a sign and at
// least two digits otherwise.)
std::string ShortestDouble(double x);

// The kernels of each instruction set, for the tests and benchmarks; the functions above take
// the best this CPU has.
namespace typed_builtins_internal {

enum class SimdLevel { kScalar, kSse2, kAvx };

// kScalar, and the others this build and CPU run, best last.
std::vector<SimdLevel> AvailableSimdLevels();
const char* SimdLevelName(SimdLevel level);

void SqrtOfRange(SimdLevel level, int64_t start, int64_t end, double* out);
size_t SqrtOfDoubles(SimdLevel level, const double* in, size_t n, double* out);

}  // namespace typed_builtins_internal

}  // namespace gpool

#endif  // GPOOL_COMMON_TYPED_BUILTINS_H_
