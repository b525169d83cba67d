#include "common/typed_builtins.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gpool {
namespace {

// Python-free spelling of a double for messages: the shortest round-trip text as std::to_chars
// gives it ("-2", "-0.5", "-1e+16").
std::string PlainShortest(double x) {
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return std::string(buffer, result.ptr);
}

// Every double below 2^53 is an integer exactly, so a range below it can be counted in
// doubles (and vectorised) instead of converted one by one.
constexpr int64_t kExactIntegerLimit = int64_t{1} << 53;

void SqrtOfExactRangeScalar(double first, uint64_t n, double* out) {
  for (uint64_t i = 0; i < n; ++i) out[i] = std::sqrt(first + static_cast<double>(i));
}

size_t SqrtOfDoublesScalar(const double* in, size_t begin, size_t n, double* out) {
  size_t first_negative = n;
  for (size_t i = begin; i < n; ++i) {
    const double x = in[i];
    if (x < 0 && first_negative == n) first_negative = i;
    out[i] = std::sqrt(x);
  }
  return first_negative;
}

#if defined(__x86_64__)
// sqrtpd and vsqrtpd round correctly (IEEE 754), so each lane is bit-identical to std::sqrt.
// Two independent chains per iteration keep the divider/sqrt unit busy.
void SqrtOfExactRangeSse2(double first, uint64_t n, double* out) {
  const __m128d step = _mm_set1_pd(4.0);
  __m128d low = _mm_setr_pd(first, first + 1);
  __m128d high = _mm_setr_pd(first + 2, first + 3);
  uint64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    _mm_storeu_pd(out + i, _mm_sqrt_pd(low));
    _mm_storeu_pd(out + i + 2, _mm_sqrt_pd(high));
    low = _mm_add_pd(low, step);
    high = _mm_add_pd(high, step);
  }
  for (; i < n; ++i) out[i] = std::sqrt(first + static_cast<double>(i));
}

__attribute__((target("avx"))) void SqrtOfExactRangeAvx(double first, uint64_t n, double* out) {
  const __m256d step = _mm256_set1_pd(8.0);
  __m256d low = _mm256_add_pd(_mm256_set1_pd(first), _mm256_setr_pd(0, 1, 2, 3));
  __m256d high = _mm256_add_pd(_mm256_set1_pd(first), _mm256_setr_pd(4, 5, 6, 7));
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_pd(out + i, _mm256_sqrt_pd(low));
    _mm256_storeu_pd(out + i + 4, _mm256_sqrt_pd(high));
    low = _mm256_add_pd(low, step);
    high = _mm256_add_pd(high, step);
  }
  for (; i < n; ++i) out[i] = std::sqrt(first + static_cast<double>(i));
}

size_t SqrtOfDoublesSse2(const double* in, size_t n, double* out) {
  const __m128d zero = _mm_setzero_pd();
  size_t first_negative = n;
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(in + i);
    const int negative = _mm_movemask_pd(_mm_cmplt_pd(x, zero));
    if (negative != 0 && first_negative == n) first_negative = i + __builtin_ctz(negative);
    _mm_storeu_pd(out + i, _mm_sqrt_pd(x));
  }
  const size_t tail_negative = SqrtOfDoublesScalar(in, i, n, out);
  return first_negative != n ? first_negative : tail_negative;
}

__attribute__((target("avx"))) size_t SqrtOfDoublesAvx(const double* in, size_t n,
                                                        double* out) {
  const __m256d zero = _mm256_setzero_pd();
  size_t first_negative = n;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d x = _mm256_loadu_pd(in + i);
    const int negative = _mm256_movemask_pd(_mm256_cmp_pd(x, zero, _CMP_LT_OQ));
    if (negative != 0 && first_negative == n) first_negative = i + __builtin_ctz(negative);
    _mm256_storeu_pd(out + i, _mm256_sqrt_pd(x));
  }
  const size_t tail_negative = SqrtOfDoublesScalar(in, i, n, out);
  return first_negative != n ? first_negative : tail_negative;
}

#endif

using typed_builtins_internal::SimdLevel;

void SqrtOfExactRange(SimdLevel level, double first, uint64_t n, double* out) {
  switch (level) {
#if defined(__x86_64__)
    case SimdLevel::kAvx:
      return SqrtOfExactRangeAvx(first, n, out);
    case SimdLevel::kSse2:
      return SqrtOfExactRangeSse2(first, n, out);
#endif
    default:
      return SqrtOfExactRangeScalar(first, n, out);
  }
}

SimdLevel BestSimdLevel() {
  static const SimdLevel best = typed_builtins_internal::AvailableSimdLevels().back();
  return best;
}

// ---- UTF-8 ----

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

uint64_t Load8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

// One decoded sequence, or why it is not one.
struct Decoded {
  uint32_t code_point = 0;
  int length = 0;                 // bytes, 1..4; 0 when invalid
  const char* error = nullptr;    // set when invalid
};

// The sequence starting at text[i] (a byte >= 0x80), validated per the Unicode Standard's
// table 3-7 (well-formed UTF-8 byte sequences).
Decoded DecodeNonAscii(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  Decoded decoded;
  int length;
  uint32_t code_point;
  if (lead < 0xC0) {
    decoded.error = "unexpected continuation byte";
    return decoded;
  } else if (lead < 0xE0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead < 0xF0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if (lead < 0xF8) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    decoded.error = "byte that never occurs in UTF-8";
    return decoded;
  }
  for (int k = 1; k < length; ++k) {
    if (i + k >= text.size()) {
      decoded.error = "sequence cut short by the end of the text";
      return decoded;
    }
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) {
      decoded.error = "missing continuation byte";
      return decoded;
    }
    code_point = (code_point << 6) | (next & 0x3F);
  }
  static constexpr uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallest[length]) {
    decoded.error = "overlong encoding";
  } else if (code_point >= 0xD800 && code_point <= 0xDFFF) {
    decoded.error = "surrogate code point";
  } else if (code_point > 0x10FFFF) {
    decoded.error = "code point above U+10FFFF";
  } else {
    decoded.code_point = code_point;
    decoded.length = length;
  }
  return decoded;
}

// DecodeNonAscii with the 2-byte sequences (U+0080..U+07FF: Latin, Greek, Cyrillic, Hebrew,
// Arabic...) decoded inline, the common case of non-ASCII text.
inline Decoded Decode(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead >= 0xC2 && lead < 0xE0 && i + 1 < text.size()) {
    const auto next = static_cast<unsigned char>(text[i + 1]);
    if ((next & 0xC0) == 0x80) {
      Decoded decoded;
      decoded.code_point = (static_cast<uint32_t>(lead & 0x1F) << 6) | (next & 0x3F);
      decoded.length = 2;
      return decoded;
    }
  }
  return DecodeNonAscii(text, i);
}

absl::Status InvalidUtf8(absl::string_view text, size_t offset, const char* why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid UTF-8 at byte offset %d (0x%02X): %s", offset,
                      static_cast<unsigned char>(text[offset]), why));
}

// ---- upper ----

// a-z -> A-Z in each byte of an all-ASCII word, SWAR: bit 7 of a byte of `at_least_a` is set
// when the byte is >= 'a', of `above_z` when > 'z' (no byte is >= 0x80, so no carries).
uint64_t UpperAscii8(uint64_t word) {
  const uint64_t at_least_a = word + 0x0101010101010101ULL * (0x80 - 'a');
  const uint64_t above_z = word + 0x0101010101010101ULL * (0x80 - 'z' - 1);
  const uint64_t lower = at_least_a & ~above_z & kHighBits;
  return word ^ (lower >> 2);  // 0x80 >> 2 == 0x20, the case bit
}

// The uppercase of each of U+0080..U+04FF as UTF-8 (itself when unchanged), from
// upper_table.inc.
constexpr uint32_t kTableFirst = 0x80;
constexpr uint32_t kTableEnd = 0x500;
struct UpperEntry {
  uint8_t length = 0;
  char bytes[7] = {};
};

const UpperEntry* UpperTable() {
  static const UpperEntry* table = [] {
    struct Row {
      uint32_t code_point;
      const char* upper;
    };
    static constexpr Row kRows[] = {
#include "common/upper_table.inc"
    };
    auto* entries = new UpperEntry[kTableEnd - kTableFirst];
    for (uint32_t code_point = kTableFirst; code_point < kTableEnd; ++code_point) {
      UpperEntry& entry = entries[code_point - kTableFirst];  // all 2-byte UTF-8
      entry.length = 2;
      entry.bytes[0] = static_cast<char>(0xC0 | (code_point >> 6));
      entry.bytes[1] = static_cast<char>(0x80 | (code_point & 0x3F));
    }
    for (const Row& row : kRows) {
      UpperEntry& entry = entries[row.code_point - kTableFirst];
      entry.length = static_cast<uint8_t>(std::strlen(row.upper));
      std::memcpy(entry.bytes, row.upper, entry.length);
    }
    return entries;
  }();
  return table;
}

}  // namespace

absl::StatusOr<double> Sqrt(double x) {
  if (x < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqrt(", PlainShortest(x), ") is not a real number"));
  }
  return std::sqrt(x);
}

void SqrtOfRange(int64_t start, int64_t end, double* out) {
  typed_builtins_internal::SqrtOfRange(BestSimdLevel(), start, end, out);
}

size_t SqrtOfDoubles(const double* in, size_t n, double* out) {
  return typed_builtins_internal::SqrtOfDoubles(BestSimdLevel(), in, n, out);
}

absl::StatusOr<int64_t> Utf8Length(absl::string_view text) {
  const size_t n = text.size();
  int64_t count = 0;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      const uint64_t high = Load8(text.data() + i) & kHighBits;
      if (high == 0) {
        count += 8;
        i += 8;
        continue;
      }
      // Skip the ASCII bytes before the first non-ASCII one (little-endian: lowest first).
      const size_t ascii = static_cast<size_t>(__builtin_ctzll(high)) / 8;
      count += static_cast<int64_t>(ascii);
      i += ascii;
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++count;
      ++i;
      continue;
    }
    // A run of non-ASCII code points, without retrying the ASCII words in between.
    do {
      const Decoded decoded = Decode(text, i);
      if (decoded.error != nullptr) return InvalidUtf8(text, i, decoded.error);
      ++count;
      i += decoded.length;
    } while (i < n && static_cast<unsigned char>(text[i]) >= 0x80);
  }
  return count;
}

absl::StatusOr<std::string> Upper(absl::string_view text) {
  const size_t n = text.size();
  const char* in = text.data();
  // Invariant: out.size() >= o + (n - i), so the ASCII paths, which write what they read,
  // never check; only a mapping longer than its input grows `out`.
  std::string out(n, '\0');
  const UpperEntry* table = nullptr;  // fetched at the first non-ASCII byte
  size_t o = 0;
  size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    if (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      if (_mm_movemask_epi8(v) == 0) {
        // Signed compares: no ASCII byte is negative.
        const __m128i lower = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
                                            _mm_cmplt_epi8(v, _mm_set1_epi8('z' + 1)));
        const __m128i upper = _mm_sub_epi8(v, _mm_and_si128(lower, _mm_set1_epi8(0x20)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(&out[o]), upper);
        i += 16;
        o += 16;
        continue;
      }
    }
#endif
    if (i + 8 <= n) {
      const uint64_t word = Load8(in + i);
      if ((word & kHighBits) == 0) {
        const uint64_t upper = UpperAscii8(word);
        std::memcpy(&out[o], &upper, sizeof(upper));
        i += 8;
        o += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out[o++] = static_cast<char>(c >= 'a' && c <= 'z' ? c - 0x20 : c);
      ++i;
      continue;
    }
    // A run of non-ASCII code points, without retrying the ASCII blocks in between.
    if (table == nullptr) table = UpperTable();
    do {
      const Decoded decoded = Decode(text, i);
      if (decoded.error != nullptr) return InvalidUtf8(text, i, decoded.error);
      const char* bytes = in + i;
      size_t length = static_cast<size_t>(decoded.length);
      if (decoded.code_point >= kTableFirst && decoded.code_point < kTableEnd) {
        // No branch on whether the letter changes: in mixed-case text it would mispredict.
        const UpperEntry& entry = table[decoded.code_point - kTableFirst];
        bytes = entry.bytes;
        length = entry.length;
      }
      i += static_cast<size_t>(decoded.length);
      const size_t needed = o + length + (n - i);
      if (needed > out.size()) out.resize(std::max(needed, 2 * out.size()));
      if (length == 2) {  // most of them: spare the variable-length memcpy call
        out[o] = bytes[0];
        out[o + 1] = bytes[1];
      } else {
        std::memcpy(&out[o], bytes, length);
      }
      o += length;
    } while (i < n && static_cast<unsigned char>(in[i]) >= 0x80);
  }
  out.resize(o);
  return out;
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fetched once: EVP_sha256() alone makes OpenSSL 3 look the implementation up on every call,
  // under a lock (~half the time of a 100-byte digest).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (sha256 == nullptr ||
      EVP_Digest(data.data(), data.size(), digest, &length, sha256, nullptr) != 1 ||
      length != 32) {
    // Only an allocation failure or a broken OpenSSL installation gets here: no caller can
    // recover, and a wrong digest must never be returned.
    std::fprintf(stderr, "gpool: OpenSSL's EVP_Digest(SHA-256) failed\n");
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string ToHex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * bytes.size(), '\0');
  char* out = hex.data();
  for (const char byte : bytes) {
    const auto b = static_cast<unsigned char>(byte);
    *out++ = kDigits[b >> 4];
    *out++ = kDigits[b & 0x0F];
  }
  return hex;
}

std::string ShortestDouble(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  // The shortest digits that round-trip, in std::to_chars's scientific form "-d.ddde-XX"
  // (exponent signed, at least two digits: Python's own exponent form); then laid out as
  // Python's float_repr_style 'short' does (Python/pystrtod.c, format_float_short, mode 'r').
  char scientific[32];
  const std::to_chars_result result =
      std::to_chars(scientific, scientific + sizeof(scientific), x, std::chars_format::scientific);
  const char* p = scientific;
  const bool negative = *p == '-';
  if (negative) ++p;
  char digits[24];
  int count = 0;
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[count++] = *p;
  }
  ++p;  // 'e'
  const bool negative_exponent = *p++ == '-';
  int exponent = 0;
  for (; p < result.ptr; ++p) exponent = 10 * exponent + (*p - '0');
  if (negative_exponent) exponent = -exponent;
  // x = 0.d1d2... * 10^decimal_point.
  const int decimal_point = exponent + 1;
  if (decimal_point <= -4 || decimal_point > 16) return std::string(scientific, result.ptr);
  char text[48];  // at most "-0.000" and 17 digits, or 17 digits and ".0"
  char* w = text;
  if (negative) *w++ = '-';
  if (decimal_point <= 0) {
    *w++ = '0';
    *w++ = '.';
    for (int k = 0; k < -decimal_point; ++k) *w++ = '0';
    for (int k = 0; k < count; ++k) *w++ = digits[k];
  } else if (decimal_point >= count) {
    for (int k = 0; k < count; ++k) *w++ = digits[k];
    for (int k = count; k < decimal_point; ++k) *w++ = '0';
    *w++ = '.';
    *w++ = '0';
  } else {
    for (int k = 0; k < decimal_point; ++k) *w++ = digits[k];
    *w++ = '.';
    for (int k = decimal_point; k < count; ++k) *w++ = digits[k];
  }
  return std::string(text, w);
}

namespace typed_builtins_internal {

std::vector<SimdLevel> AvailableSimdLevels() {
  std::vector<SimdLevel> levels = {SimdLevel::kScalar};
#if defined(__x86_64__)
  levels.push_back(SimdLevel::kSse2);  // part of x86-64
  // GCC's check includes the OS's support (XCR0 saves the YMM registers).
  if (__builtin_cpu_supports("avx")) levels.push_back(SimdLevel::kAvx);
#endif
  return levels;
}

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kSse2:
      return "sse2";
    case SimdLevel::kAvx:
      return "avx";
  }
  return "unknown";
}

void SqrtOfRange(SimdLevel level, int64_t start, int64_t end, double* out) {
  if (end < start) return;
  const uint64_t count = static_cast<uint64_t>(end) - static_cast<uint64_t>(start) + 1;
  const uint64_t exact =
      start >= kExactIntegerLimit
          ? 0
          : std::min<uint64_t>(count, static_cast<uint64_t>(kExactIntegerLimit - start));
  SqrtOfExactRange(level, static_cast<double>(start), exact, out);
  for (uint64_t i = exact; i < count; ++i) {
    out[i] = std::sqrt(static_cast<double>(start + static_cast<int64_t>(i)));
  }
}

size_t SqrtOfDoubles(SimdLevel level, const double* in, size_t n, double* out) {
  switch (level) {
#if defined(__x86_64__)
    case SimdLevel::kAvx:
      return SqrtOfDoublesAvx(in, n, out);
    case SimdLevel::kSse2:
      return SqrtOfDoublesSse2(in, n, out);
#endif
    default:
      return SqrtOfDoublesScalar(in, 0, n, out);
  }
}

}  // namespace typed_builtins_internal
}  // namespace gpool
