#include "common/functions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define GPOOL_HAVE_X86_KERNELS 1
#else
#define GPOOL_HAVE_X86_KERNELS 0
#endif

namespace gpool {
namespace {

// How many elements the per-element loops run between two polls of the cancellation
// callback: a few hundred microseconds of work at most.
constexpr uint64_t kCancelPollInterval = 1 << 16;

// Elements the vectorised sum handles between two polls: about a millisecond with AVX2, a
// few with SSE2. The kernels also need every block below 2^32 elements (see FoldSplitSum).
constexpr uint64_t kSumSliceElements = uint64_t{1} << 22;
static_assert(kSumSliceElements < (uint64_t{1} << 32), "FoldSplitSum needs blocks < 2^32");

// Elements the values kernels write between two polls: about a millisecond of work, and
// below 2^32 elements as FoldSplitSum needs.
constexpr uint64_t kValuesSliceElements = uint64_t{1} << 20;

// The builtin square's input limit, as an unsigned bound for the kernels.
constexpr uint64_t kMaxSquareInputU = static_cast<uint64_t>(kMaxSquareInput);
static_assert(kMaxSquareInputU < (uint64_t{1} << 32),
              "the kernels square with a 32x32->64-bit multiply");

absl::Status Cancelled() { return internal::CancelledChunk(); }

// ---- The square-sum kernels ---------------------------------------------------------------
//
// Each sums x*x for x in [begin, end), where end - begin < 2^32 and end - 1 <=
// kMaxSquareInput, so every x fits in 32 bits and every x*x in 63 bits. Summing 63-bit
// values in 64-bit lanes would overflow after two, and 128-bit lanes do not vectorise. So
// each lane keeps two 64-bit sums that cannot lose information for fewer than 2^32 elements:
//   wrapped = sum of x*x modulo 2^64            (plain adds, allowed to wrap)
//   high    = sum of (x*x >> 32)                (each < 2^31: no wrap below 2^33 elements)
// and FoldSplitSum recovers the exact total from them. One multiply (32x32->64, the
// pmuludq instruction SSE2 and AVX2 have, where a full 64x64 multiply would need three),
// one shift and three adds per element, with no carry chain between lanes.

// Exact total from the two lane sums of fewer than 2^32 elements: the total is
// high * 2^32 + low, where low (the sum of the low 32-bit halves) is below 2^64 and equals
// wrapped - high * 2^32 modulo 2^64.
absl::uint128 FoldSplitSum(uint64_t wrapped, uint64_t high) {
  const uint64_t low = wrapped - (high << 32);
  return absl::uint128(low) + (absl::uint128(high) << 32);
}

// The scalar loop, also the tail of the vector kernels. Adds into the split sums.
inline void SumSquaresScalar(uint64_t x, uint64_t end, uint64_t& wrapped, uint64_t& high) {
  for (; x < end; ++x) {
    const uint64_t square = x * x;
    wrapped += square;
    high += square >> 32;
  }
}

absl::uint128 SumSquaresBlockScalar(uint64_t begin, uint64_t end) {
  uint64_t wrapped = 0, high = 0;
  SumSquaresScalar(begin, end, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

#if GPOOL_HAVE_X86_KERNELS

// SSE2 (every x86-64 CPU): four vectors of two lanes, eight elements per iteration. Four
// independent multiplies hide the multiply's latency. The four squares are added in a tree
// into one accumulator per sum, rather than one accumulator per vector: the same number of
// adds, but few enough live registers that GCC keeps every accumulator in a register (with
// one per vector it spilled one to the stack, and the loop ran at half speed).
absl::uint128 SumSquaresBlockSse2(uint64_t begin, uint64_t end) {
  uint64_t x = begin;
  uint64_t wrapped = 0, high = 0;
  if (end - x >= 8) {
    const __m128i step = _mm_set1_epi64x(8);
    __m128i x0 = _mm_set_epi64x(static_cast<long long>(x + 1), static_cast<long long>(x));
    __m128i x1 = _mm_add_epi64(x0, _mm_set1_epi64x(2));
    __m128i x2 = _mm_add_epi64(x0, _mm_set1_epi64x(4));
    __m128i x3 = _mm_add_epi64(x0, _mm_set1_epi64x(6));
    __m128i w = _mm_setzero_si128(), h = w;
    for (; end - x >= 8; x += 8) {
      const __m128i q0 = _mm_mul_epu32(x0, x0), q1 = _mm_mul_epu32(x1, x1);
      const __m128i q2 = _mm_mul_epu32(x2, x2), q3 = _mm_mul_epu32(x3, x3);
      w = _mm_add_epi64(w, _mm_add_epi64(_mm_add_epi64(q0, q1), _mm_add_epi64(q2, q3)));
      h = _mm_add_epi64(
          h, _mm_add_epi64(_mm_add_epi64(_mm_srli_epi64(q0, 32), _mm_srli_epi64(q1, 32)),
                           _mm_add_epi64(_mm_srli_epi64(q2, 32), _mm_srli_epi64(q3, 32))));
      x0 = _mm_add_epi64(x0, step), x1 = _mm_add_epi64(x1, step);
      x2 = _mm_add_epi64(x2, step), x3 = _mm_add_epi64(x3, step);
    }
    alignas(16) uint64_t w_lanes[2], h_lanes[2];
    _mm_store_si128(reinterpret_cast<__m128i*>(w_lanes), w);
    _mm_store_si128(reinterpret_cast<__m128i*>(h_lanes), h);
    wrapped = w_lanes[0] + w_lanes[1];
    high = h_lanes[0] + h_lanes[1];
  }
  SumSquaresScalar(x, end, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

// AVX2: the same with four lanes per vector, sixteen elements per iteration. Compiled for
// AVX2 whatever the build flags (the build does not assume -march=native) and only called
// when the CPU reports AVX2.
__attribute__((target("avx2"))) absl::uint128 SumSquaresBlockAvx2(uint64_t begin, uint64_t end) {
  uint64_t x = begin;
  uint64_t wrapped = 0, high = 0;
  if (end - x >= 16) {
    const __m256i step = _mm256_set1_epi64x(16);
    __m256i x0 = _mm256_setr_epi64x(static_cast<long long>(x), static_cast<long long>(x + 1),
                                    static_cast<long long>(x + 2), static_cast<long long>(x + 3));
    __m256i x1 = _mm256_add_epi64(x0, _mm256_set1_epi64x(4));
    __m256i x2 = _mm256_add_epi64(x0, _mm256_set1_epi64x(8));
    __m256i x3 = _mm256_add_epi64(x0, _mm256_set1_epi64x(12));
    __m256i w = _mm256_setzero_si256(), h = w;
    for (; end - x >= 16; x += 16) {
      const __m256i q0 = _mm256_mul_epu32(x0, x0), q1 = _mm256_mul_epu32(x1, x1);
      const __m256i q2 = _mm256_mul_epu32(x2, x2), q3 = _mm256_mul_epu32(x3, x3);
      w = _mm256_add_epi64(w, _mm256_add_epi64(_mm256_add_epi64(q0, q1), _mm256_add_epi64(q2, q3)));
      h = _mm256_add_epi64(
          h,
          _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(q0, 32), _mm256_srli_epi64(q1, 32)),
                           _mm256_add_epi64(_mm256_srli_epi64(q2, 32), _mm256_srli_epi64(q3, 32))));
      x0 = _mm256_add_epi64(x0, step), x1 = _mm256_add_epi64(x1, step);
      x2 = _mm256_add_epi64(x2, step), x3 = _mm256_add_epi64(x3, step);
    }
    alignas(32) uint64_t w_lanes[4], h_lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(w_lanes), w);
    _mm256_store_si256(reinterpret_cast<__m256i*>(h_lanes), h);
    wrapped = w_lanes[0] + w_lanes[1] + w_lanes[2] + w_lanes[3];
    high = h_lanes[0] + h_lanes[1] + h_lanes[2] + h_lanes[3];
  }
  SumSquaresScalar(x, end, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

#endif  // GPOOL_HAVE_X86_KERNELS

// ---- The square-values kernels ------------------------------------------------------------
//
// For ResultMode::kValues: each writes out[i] = (u + i * step)^2 for i in [0, n), where step
// is +1 or -1 (as uint64: 1 or 2^64 - 1; the negative part of a range is walked from its
// most negative element, as the squares of the absolute values, falling), every u + i * step
// is in [0, kMaxSquareInput] and n < 2^32. In the same pass they sum the squares into the
// split sums of the kernels above, so a values chunk reads its range once and needs no
// second pass for its sum. The squares are 32x32->64-bit multiplies again; the output stays
// in cache for the copy into the response that follows, so the stores are ordinary ones.

inline void SquareValuesScalar(uint64_t u, uint64_t step, uint64_t n, int64_t* out,
                               uint64_t& wrapped, uint64_t& high) {
  for (uint64_t i = 0; i < n; ++i, u += step) {
    const uint64_t square = u * u;
    out[i] = static_cast<int64_t>(square);
    wrapped += square;
    high += square >> 32;
  }
}

absl::uint128 SquareValuesBlockScalar(uint64_t u, uint64_t step, uint64_t n, int64_t* out) {
  uint64_t wrapped = 0, high = 0;
  SquareValuesScalar(u, step, n, out, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

#if GPOOL_HAVE_X86_KERNELS

absl::uint128 SquareValuesBlockSse2(uint64_t u, uint64_t step, uint64_t n, int64_t* out) {
  uint64_t i = 0;
  uint64_t wrapped = 0, high = 0;
  if (n >= 8) {
    const __m128i inc = _mm_set1_epi64x(static_cast<long long>(8 * step));
    __m128i x0 = _mm_set_epi64x(static_cast<long long>(u + step), static_cast<long long>(u));
    __m128i x1 = _mm_add_epi64(x0, _mm_set1_epi64x(static_cast<long long>(2 * step)));
    __m128i x2 = _mm_add_epi64(x0, _mm_set1_epi64x(static_cast<long long>(4 * step)));
    __m128i x3 = _mm_add_epi64(x0, _mm_set1_epi64x(static_cast<long long>(6 * step)));
    __m128i w = _mm_setzero_si128(), h = w;
    for (; n - i >= 8; i += 8) {
      const __m128i q0 = _mm_mul_epu32(x0, x0), q1 = _mm_mul_epu32(x1, x1);
      const __m128i q2 = _mm_mul_epu32(x2, x2), q3 = _mm_mul_epu32(x3, x3);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), q0);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 2), q1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 4), q2);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 6), q3);
      w = _mm_add_epi64(w, _mm_add_epi64(_mm_add_epi64(q0, q1), _mm_add_epi64(q2, q3)));
      h = _mm_add_epi64(
          h, _mm_add_epi64(_mm_add_epi64(_mm_srli_epi64(q0, 32), _mm_srli_epi64(q1, 32)),
                           _mm_add_epi64(_mm_srli_epi64(q2, 32), _mm_srli_epi64(q3, 32))));
      x0 = _mm_add_epi64(x0, inc), x1 = _mm_add_epi64(x1, inc);
      x2 = _mm_add_epi64(x2, inc), x3 = _mm_add_epi64(x3, inc);
    }
    alignas(16) uint64_t w_lanes[2], h_lanes[2];
    _mm_store_si128(reinterpret_cast<__m128i*>(w_lanes), w);
    _mm_store_si128(reinterpret_cast<__m128i*>(h_lanes), h);
    wrapped = w_lanes[0] + w_lanes[1];
    high = h_lanes[0] + h_lanes[1];
  }
  SquareValuesScalar(u + i * step, step, n - i, out + i, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

__attribute__((target("avx2"))) absl::uint128 SquareValuesBlockAvx2(uint64_t u, uint64_t step,
                                                                    uint64_t n, int64_t* out) {
  uint64_t i = 0;
  uint64_t wrapped = 0, high = 0;
  if (n >= 16) {
    const __m256i inc = _mm256_set1_epi64x(static_cast<long long>(16 * step));
    __m256i x0 = _mm256_setr_epi64x(
        static_cast<long long>(u), static_cast<long long>(u + step),
        static_cast<long long>(u + 2 * step), static_cast<long long>(u + 3 * step));
    __m256i x1 = _mm256_add_epi64(x0, _mm256_set1_epi64x(static_cast<long long>(4 * step)));
    __m256i x2 = _mm256_add_epi64(x0, _mm256_set1_epi64x(static_cast<long long>(8 * step)));
    __m256i x3 = _mm256_add_epi64(x0, _mm256_set1_epi64x(static_cast<long long>(12 * step)));
    __m256i w = _mm256_setzero_si256(), h = w;
    for (; n - i >= 16; i += 16) {
      const __m256i q0 = _mm256_mul_epu32(x0, x0), q1 = _mm256_mul_epu32(x1, x1);
      const __m256i q2 = _mm256_mul_epu32(x2, x2), q3 = _mm256_mul_epu32(x3, x3);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), q0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 4), q1);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 8), q2);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 12), q3);
      w = _mm256_add_epi64(w, _mm256_add_epi64(_mm256_add_epi64(q0, q1), _mm256_add_epi64(q2, q3)));
      h = _mm256_add_epi64(
          h,
          _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(q0, 32), _mm256_srli_epi64(q1, 32)),
                           _mm256_add_epi64(_mm256_srli_epi64(q2, 32), _mm256_srli_epi64(q3, 32))));
      x0 = _mm256_add_epi64(x0, inc), x1 = _mm256_add_epi64(x1, inc);
      x2 = _mm256_add_epi64(x2, inc), x3 = _mm256_add_epi64(x3, inc);
    }
    alignas(32) uint64_t w_lanes[4], h_lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(w_lanes), w);
    _mm256_store_si256(reinterpret_cast<__m256i*>(h_lanes), h);
    wrapped = w_lanes[0] + w_lanes[1] + w_lanes[2] + w_lanes[3];
    high = h_lanes[0] + h_lanes[1] + h_lanes[2] + h_lanes[3];
  }
  SquareValuesScalar(u + i * step, step, n - i, out + i, wrapped, high);
  return FoldSplitSum(wrapped, high);
}

#endif  // GPOOL_HAVE_X86_KERNELS

absl::uint128 SquareValuesBlock(uint64_t u, uint64_t step, uint64_t n, int64_t* out,
                                internal::SquareSumKernel kernel) {
  switch (kernel) {
#if GPOOL_HAVE_X86_KERNELS
    case internal::SquareSumKernel::kAvx2:
      return SquareValuesBlockAvx2(u, step, n, out);
    case internal::SquareSumKernel::kSse2:
      return SquareValuesBlockSse2(u, step, n, out);
#endif
    default:
      return SquareValuesBlockScalar(u, step, n, out);
  }
}

// Writes the n squares from u on (step +1 or -1, see above) to out a slice at a time, polling
// `cancelled` before each slice, and adds their sum to `total`.
absl::Status SquareValuesRun(uint64_t u, uint64_t step, uint64_t n, int64_t* out,
                             internal::SquareSumKernel kernel, const CancelledFn& cancelled,
                             absl::uint128& total) {
  for (uint64_t done = 0; done < n;) {
    if (cancelled && cancelled()) return Cancelled();
    const uint64_t slice = std::min(n - done, kValuesSliceElements);
    total += SquareValuesBlock(u + done * step, step, slice, out + done, kernel);
    done += slice;
  }
  return absl::OkStatus();
}

// Writes x*x for x in [start, end] (both ends within ±kMaxSquareInput) to out, in input
// order, and returns their exact sum.
absl::StatusOr<absl::int128> SquareValuesOfRange(int64_t start, int64_t end, int64_t* out,
                                                 internal::SquareSumKernel kernel,
                                                 const CancelledFn& cancelled) {
  absl::uint128 total = 0;
  if (start < 0) {
    // -start down to -min(end, -1): the negative elements' absolute values, falling.
    const uint64_t count = static_cast<uint64_t>(std::min<int64_t>(end, -1) - start) + 1;
    if (absl::Status status = SquareValuesRun(static_cast<uint64_t>(-start), ~uint64_t{0},
                                              count, out, kernel, cancelled, total);
        !status.ok()) {
      return status;
    }
    out += count;
  }
  if (end >= 0) {
    const int64_t first = std::max<int64_t>(start, 0);
    if (absl::Status status =
            SquareValuesRun(static_cast<uint64_t>(first), 1,
                            static_cast<uint64_t>(end - first) + 1, out, kernel, cancelled, total);
        !status.ok()) {
      return status;
    }
  }
  // As in SumSquaresOfRange: far below 2^127.
  return static_cast<absl::int128>(total);
}

absl::uint128 SumSquaresBlock(uint64_t begin, uint64_t end, internal::SquareSumKernel kernel) {
  switch (kernel) {
#if GPOOL_HAVE_X86_KERNELS
    case internal::SquareSumKernel::kAvx2:
      return SumSquaresBlockAvx2(begin, end);
    case internal::SquareSumKernel::kSse2:
      return SumSquaresBlockSse2(begin, end);
#endif
    default:
      return SumSquaresBlockScalar(begin, end);
  }
}

internal::SquareSumKernel BestSquareSumKernel() {
  static const internal::SquareSumKernel best = internal::AvailableSquareSumKernels().back();
  return best;
}

// Sum of x*x over the unsigned range [first, last] (last <= kMaxSquareInput), a slice at a
// time, polling `cancelled` before each slice.
absl::Status SumSquaresUnsigned(uint64_t first, uint64_t last, internal::SquareSumKernel kernel,
                                const CancelledFn& cancelled, absl::uint128& total) {
  const uint64_t end = last + 1;
  for (uint64_t begin = first; begin < end;) {
    if (cancelled && cancelled()) return Cancelled();
    const uint64_t slice_end = end - begin > kSumSliceElements ? begin + kSumSliceElements : end;
    total += SumSquaresBlock(begin, slice_end, kernel);
    begin = slice_end;
  }
  return absl::OkStatus();
}

// Sum of x*x over [start, end] with both ends within ±kMaxSquareInput. The negative part is
// summed as the squares of its absolute values, which are the same.
absl::StatusOr<absl::int128> SumSquaresOfRange(int64_t start, int64_t end,
                                               internal::SquareSumKernel kernel,
                                               const CancelledFn& cancelled) {
  absl::uint128 total = 0;
  if (start < 0) {
    const int64_t negative_end = std::min<int64_t>(end, -1);
    if (absl::Status status =
            SumSquaresUnsigned(static_cast<uint64_t>(-negative_end), static_cast<uint64_t>(-start),
                               kernel, cancelled, total);
        !status.ok()) {
      return status;
    }
  }
  if (end >= 0) {
    if (absl::Status status =
            SumSquaresUnsigned(static_cast<uint64_t>(std::max<int64_t>(start, 0)),
                               static_cast<uint64_t>(end), kernel, cancelled, total);
        !status.ok()) {
      return status;
    }
  }
  // At most 2 * 3037000500 squares below 2^63 each: far below 2^127.
  return static_cast<absl::int128>(total);
}

absl::StatusOr<ChunkOutput> SquareRange(int64_t start, int64_t end, ResultMode mode,
                                        const CancelledFn& cancelled) {
  // The first element in input order that has no exact square, as the element-wise loop
  // would report it.
  if (start < -kMaxSquareInput) return Square(start).status();
  if (end > kMaxSquareInput) return Square(std::max(start, kMaxSquareInput + 1)).status();

  ChunkOutput output;
  output.count = static_cast<uint64_t>(end - start) + 1;
  // Squares fall towards 0 and rise away from it, so the extremes are at the ends or at 0.
  const int64_t start_square = start * start, end_square = end * end;
  if (start >= 0) {
    output.min = start_square, output.max = end_square;
  } else if (end <= 0) {
    output.min = end_square, output.max = start_square;
  } else {
    output.min = 0, output.max = std::max(start_square, end_square);
  }

  absl::StatusOr<absl::int128> sum;
  if (mode == ResultMode::kValues) {
    // One pass writes the values and sums them.
    std::vector<int64_t>& values = output.values.mutable_int64s();
    values.resize(output.count);
    sum = SquareValuesOfRange(start, end, values.data(), BestSquareSumKernel(), cancelled);
  } else {
    sum = SumSquaresOfRange(start, end, BestSquareSumKernel(), cancelled);
  }
  if (!sum.ok()) return sum.status();
  output.sum = *sum;
  return output;
}

absl::StatusOr<ChunkOutput> SquareList(const std::vector<int64_t>& list, ResultMode mode,
                                       const CancelledFn& cancelled) {
  ChunkOutput output;
  output.count = list.size();
  std::vector<int64_t>& values = output.values.mutable_int64s();
  if (mode == ResultMode::kValues) values.reserve(list.size());
  for (uint64_t i = 0; i < list.size(); ++i) {
    if (cancelled && i % kCancelPollInterval == kCancelPollInterval - 1 && cancelled()) {
      return Cancelled();
    }
    const int64_t x = list[i];
    if (x > kMaxSquareInput || x < -kMaxSquareInput) return Square(x).status();
    const int64_t square = x * x;
    output.sum += square;
    output.min = std::min(output.min, square);
    output.max = std::max(output.max, square);
    if (mode == ResultMode::kValues) values.push_back(square);
  }
  return output;
}

}  // namespace

absl::StatusOr<int64_t> Square(int64_t x) {
  if (x > kMaxSquareInput || x < -kMaxSquareInput) {
    return absl::OutOfRangeError(absl::StrCat(
        "square(", x,
        ") does not fit in a signed 64-bit integer; inputs must satisfy |x| <= ", kMaxSquareInput));
  }
  return x * x;
}

absl::StatusOr<int64_t> Cube(int64_t x) {
  if (x > kMaxCubeInput || x < kMinCubeInput) {
    return absl::OutOfRangeError(absl::StrCat(
        "cube(", x, ") does not fit in a signed 64-bit integer; inputs must satisfy ",
        kMinCubeInput, " <= x <= ", kMaxCubeInput));
  }
  return x * x * x;
}

absl::StatusOr<ChunkOutput> SquareChunk(const Input& input, ResultMode mode,
                                        const CancelledFn& cancelled) {
  // Run has validated the input already; this is for direct callers (a reversed range would
  // otherwise count a huge number of elements).
  if (absl::Status status = ValidateInput(input); !status.ok()) return status;
  if (input.is_range()) return SquareRange(input.range_start(), input.range_end(), mode, cancelled);
  return SquareList(input.list(), mode, cancelled);
}

absl::StatusOr<ChunkOutput> MapElements(const ElementFunction& function, const Input& input,
                                        ResultMode mode, const CancelledFn& cancelled) {
  return internal::MapTyped(function, ElementType::kInt64, input, mode, cancelled);
}

FunctionRegistry FunctionRegistry::WithBuiltins() {
  FunctionRegistry registry;
  // The names are distinct literals, so registration cannot fail.
  (void)registry.RegisterChunkwise("square", SquareChunk);
  (void)registry.Register("cube", Cube);
  (void)registry.Register("identity", [](int64_t x) -> absl::StatusOr<int64_t> { return x; });
  RegisterTypedBuiltins(registry);
  return registry;
}

absl::Status FunctionRegistry::RegisterChunkwise(const FunctionSignature& signature,
                                                 ChunkFunction function) {
  if (!function) {
    return absl::InvalidArgumentError(absl::StrCat("function '", signature.name, "' is empty"));
  }
  return Add(signature, std::move(function));
}

absl::Status FunctionRegistry::RegisterChunkwise(const std::string& name, ChunkFunction function) {
  return RegisterChunkwise({name, ElementType::kInt64, ElementType::kInt64}, std::move(function));
}

absl::Status FunctionRegistry::Add(const FunctionSignature& signature, ChunkFunction function) {
  if (signature.name.empty()) return absl::InvalidArgumentError("a function needs a name");
  if (!functions_.emplace(signature.name, Entry{signature, std::move(function)}).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("function '", signature.name, "' is already registered"));
  }
  return absl::OkStatus();
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : functions_) names.push_back(name);
  return names;
}

std::vector<FunctionSignature> FunctionRegistry::Signatures() const {
  std::vector<FunctionSignature> signatures;
  for (const auto& [name, entry] : functions_) signatures.push_back(entry.signature);
  return signatures;
}

namespace {

// Whether a function that takes `declared` elements needs `input` converted: int64 list
// elements become doubles for a function of doubles. Strings are bytes already, and ranges
// stay ranges.
bool NeedsConversion(const Input& input, ElementType declared) {
  return declared == ElementType::kDouble && !input.is_range() &&
         input.type() == ElementType::kInt64;
}

Input AsDoubles(const Input& input) {
  const std::vector<int64_t>& integers = input.list();
  return Input::List(Elements::Doubles(std::vector<double>(integers.begin(), integers.end())));
}

// Checks what Run cannot trust a function with: the count, the values' type and number, and
// the limits of string and bytes results.
absl::Status CheckOutput(const FunctionSignature& signature, const Input& input,
                         ResultMode mode, const ChunkOutput& output) {
  const uint64_t expected = input.size();
  const uint64_t expected_values = mode == ResultMode::kValues ? expected : 0;
  if (output.count != expected || output.values.size() != expected_values ||
      (expected_values > 0 && output.values.type() != signature.output_type)) {
    return absl::InternalError(absl::StrCat(
        "function '", signature.name, "' broke the chunk contract on ", input.Describe(),
        ": count ", output.count, " and ", output.values.size(), " ",
        ElementTypeName(output.values.type()), " values for ", expected, " elements (expected ",
        expected_values, " ", ElementTypeName(signature.output_type), " values)"));
  }
  if (IsNumeric(signature.output_type) || expected_values == 0) return absl::OkStatus();
  uint64_t total = 0;
  const std::vector<std::string>& texts = output.values.texts();
  for (size_t i = 0; i < texts.size(); ++i) {
    total += texts[i].size();
    if (texts[i].size() > kMaxElementBytes) {
      return absl::OutOfRangeError(absl::StrCat(
          signature.name, "(", input.DescribeSlice(i, 1), ") returned ", texts[i].size(),
          " bytes, over the limit of ", kMaxElementBytes, " bytes (1 MiB) per element"));
    }
    size_t offset = 0;
    if (signature.output_type == ElementType::kString && !IsUtf8(texts[i], &offset)) {
      return absl::InternalError(absl::StrCat(
          "function '", signature.name, "' returned a string that is not UTF-8 (byte ", offset,
          ") for ", input.DescribeSlice(i, 1), "; declare its output as bytes"));
    }
  }
  if (total > kMaxChunkValueBytes) {
    return absl::OutOfRangeError(absl::StrCat(
        "the values of ", signature.name, " over ", input.DescribeSlice(0, expected), " take ",
        total, " bytes, over the limit of ", kMaxChunkValueBytes,
        " bytes (3 MiB) per chunk; map it with a smaller chunk_size"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ChunkOutput> FunctionRegistry::Run(const std::string& name, const Input& input,
                                                  ResultMode mode,
                                                  const CancelledFn& cancelled) const {
  auto it = functions_.find(name);
  if (it == functions_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown function '", name, "'; available: ", absl::StrJoin(Names(), ", ")));
  }
  const FunctionSignature& signature = it->second.signature;
  if (absl::Status status = ValidateInput(input); !status.ok()) return status;
  if (!TakesElements(signature.input_type, input.type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "function ", signature.Describe(), " does not take ", ElementTypeName(input.type()),
        " elements"));
  }
  absl::StatusOr<ChunkOutput> output =
      NeedsConversion(input, signature.input_type)
          ? it->second.function(AsDoubles(input), mode, cancelled)
          : it->second.function(input, mode, cancelled);
  if (!output.ok()) return output;
  if (absl::Status status = CheckOutput(signature, input, mode, *output); !status.ok()) {
    return status;
  }
  return output;
}

namespace internal {

absl::Status CancelledChunk() { return absl::CancelledError("chunk cancelled by the coordinator"); }

std::vector<SquareSumKernel> AvailableSquareSumKernels() {
  std::vector<SquareSumKernel> kernels = {SquareSumKernel::kScalar};
#if GPOOL_HAVE_X86_KERNELS
  kernels.push_back(SquareSumKernel::kSse2);  // part of x86-64 itself
  if (__builtin_cpu_supports("avx2")) kernels.push_back(SquareSumKernel::kAvx2);
#endif
  return kernels;
}

const char* SquareSumKernelName(SquareSumKernel kernel) {
  switch (kernel) {
    case SquareSumKernel::kScalar:
      return "scalar";
    case SquareSumKernel::kSse2:
      return "sse2";
    case SquareSumKernel::kAvx2:
      return "avx2";
  }
  return "unknown";
}

absl::int128 SumOfSquares(int64_t start, int64_t end, SquareSumKernel kernel) {
  // Without a cancellation callback the sum cannot fail.
  return *SumSquaresOfRange(start, end, kernel, CancelledFn());
}

absl::int128 SquareValues(int64_t start, int64_t end, SquareSumKernel kernel, int64_t* out) {
  // Without a cancellation callback the kernels cannot fail.
  return *SquareValuesOfRange(start, end, out, kernel, CancelledFn());
}

}  // namespace internal
}  // namespace gpool
