// The functions a worker can map, by name, and the small API to add your own.
//
// A function is registered in one of two shapes:
//
//   * element-wise: int64 -> int64. The registry runs the loop over the chunk, sums the
//     results exactly and tracks min and max. Simplest; one indirect call per element.
//
//       registry.Register("triple", [](int64_t x) -> absl::StatusOr<int64_t> {
//         if (x > INT64_MAX / 3 || x < INT64_MIN / 3) {
//           return absl::OutOfRangeError(absl::StrCat("triple(", x, ") does not fit in int64"));
//         }
//         return 3 * x;
//       });
//
//   * chunk-wise: the whole chunk at once (a range or a list, see common/input.h), for
//     functions that can do better than one call per element: a vectorised loop, a closed
//     form for the reductions, a batched call into a library. The builtin `square` is one:
//     over a range in ResultMode::kSum it checks the bounds once and sums in SIMD lanes.
//
//       absl::StatusOr<ChunkOutput> IsOddChunk(const Input& input, ResultMode mode,
//                                              const CancelledFn& cancelled);
//       registry.RegisterChunkwise("is_odd", IsOddChunk);  // examples/custom_function/main.cc
//
//   A worker binary with extra functions passes its registry to RunWorkerMain
//   (worker/worker_main.h).
//
// The contract every function must keep (the coordinator relies on it to count each element
// exactly once and to fail a job instead of retrying it forever):
//
//   1. Exact. Results are int64 and never wrap: when f(x) does not fit, fail the chunk with
//      OUT_OF_RANGE and a message naming the input, "f(x) ...". A chunk-wise function names
//      the FIRST offending element in input order, as the element-wise loop would.
//   2. Complete (chunk-wise). ChunkOutput.count is the number of input elements; sum is the
//      exact 128-bit sum of all f(x); min and max are the smallest and largest f(x); values
//      holds every f(x) in input order in ResultMode::kValues and is empty in kSum. Run
//      checks count and values and turns a violation into INTERNAL.
//   3. Deterministic. The same input gives the same output on any worker: a chunk may run
//      twice (retries, backup copies) and the first result wins.
//   4. Cancellable (chunk-wise). Poll `cancelled` every few milliseconds of work (every few
//      million cheap elements) and return CANCELLED once it returns true; the coordinator
//      cancels chunks whose job is done, failed or abandoned. `cancelled` may be empty.
//   5. Thread-safe. Run is called from many RPC threads at once, so a function must not
//      keep unsynchronised mutable state. It must not block on other chunks.
//
// Pick error codes by what the coordinator should do: a failure that would repeat on any
// worker (INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION, UNIMPLEMENTED, ...) fails the
// job at once; any other code counts as a lost attempt, and the chunk is retried elsewhere a
// bounded number of times (--max_attempts).
#ifndef GPOOL_COMMON_FUNCTIONS_H_
#define GPOOL_COMMON_FUNCTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/input.h"

namespace gpool {

// The largest |x| whose square fits in int64: floor(sqrt(2^63 - 1)).
inline constexpr int64_t kMaxSquareInput = 3037000499;
// cube's domain, kMinCubeInput <= x <= kMaxCubeInput: the x whose cube fits in int64. Not
// symmetric, as int64 is not: (-2^21)^3 = -2^63 fits, 2^21 cubed does not.
inline constexpr int64_t kMaxCubeInput = 2097151;    // floor(cbrt(2^63 - 1))
inline constexpr int64_t kMinCubeInput = -2097152;   // -2^21


// What the caller wants back from a chunk: every mapped value, or only the reductions.
enum class ResultMode { kValues, kSum };

struct ChunkOutput {
  std::vector<int64_t> values;  // Every f(x) in input order in kValues; empty in kSum.
  absl::int128 sum = 0;         // Exact sum of every f(x).
  uint64_t count = 0;           // Number of input elements.
  // Smallest and largest mapped value; meaningful when count > 0.
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;
};

// Returns true once the chunk should stop. May be empty (never cancelled).
using CancelledFn = std::function<bool()>;

// Computes f(x) exactly, or returns OUT_OF_RANGE naming x.
using ElementFunction = std::function<absl::StatusOr<int64_t>(int64_t)>;

// Maps a whole chunk; see the contract at the top of this file.
using ChunkFunction = std::function<absl::StatusOr<ChunkOutput>(const Input& input, ResultMode mode,
                                                                const CancelledFn& cancelled)>;

// Immutable after setup (register everything before handing it to a ChunkExecutor); Run is
// thread-safe as long as the registered functions are.
class FunctionRegistry {
 public:
  // square (chunk-wise, with a vectorised sum over ranges), cube, identity.
  static FunctionRegistry WithBuiltins();

  // Registers an element-wise function.
  // ALREADY_EXISTS if the name is taken; INVALID_ARGUMENT for an empty name or function.
  absl::Status Register(const std::string& name, ElementFunction function);
  // Registers a chunk-wise function. Errors as for Register.
  absl::Status RegisterChunkwise(const std::string& name, ChunkFunction function);

  bool Has(const std::string& name) const { return functions_.count(name) > 0; }
  // Sorted.
  std::vector<std::string> Names() const;

  // Maps every element of `input`. NOT_FOUND for an unknown function (listing the known
  // ones), INVALID_ARGUMENT for an invalid input, OUT_OF_RANGE from the function, CANCELLED
  // when `cancelled` returned true, INTERNAL when a chunk-wise function broke the contract.
  absl::StatusOr<ChunkOutput> Run(const std::string& name, const Input& input, ResultMode mode,
                                  const CancelledFn& cancelled = {}) const;

 private:
  absl::Status Add(const std::string& name, ChunkFunction function);

  std::map<std::string, ChunkFunction> functions_;
};

// The loop Run uses for element-wise functions, for chunk-wise functions that specialise only
// some cases (say, ranges in kSum) and fall back to it for the rest. Polls `cancelled` every
// few thousand elements. `input` must be valid (ValidateInput).
absl::StatusOr<ChunkOutput> MapElements(const ElementFunction& function, const Input& input,
                                        ResultMode mode, const CancelledFn& cancelled);

// The builtins, element by element.
absl::StatusOr<int64_t> Square(int64_t x);
absl::StatusOr<int64_t> Cube(int64_t x);

// The builtin `square` as a chunk-wise function. Over a range it checks the bounds once
// (|x| <= kMaxSquareInput at both ends), derives min and max in closed form, and sums x*x in
// SIMD lanes (AVX2 when the CPU has it, else SSE2); in kValues the same lanes also store each
// x*x, so values and sum come from one pass. Lists use a plain loop.
absl::StatusOr<ChunkOutput> SquareChunk(const Input& input, ResultMode mode,
                                        const CancelledFn& cancelled);

namespace internal {

// The loops SquareChunk can sum a range with; exposed so tests and benchmarks can compare
// each with the element-wise result on this machine.
enum class SquareSumKernel { kScalar, kSse2, kAvx2 };

// The kernels this CPU can run, fastest last.
std::vector<SquareSumKernel> AvailableSquareSumKernels();
const char* SquareSumKernelName(SquareSumKernel kernel);

// Exact sum of x*x for x in [start, end]. Requires start <= end and |start|, |end| <=
// kMaxSquareInput, and `kernel` among AvailableSquareSumKernels(). Not cancellable.
absl::int128 SumOfSquares(int64_t start, int64_t end, SquareSumKernel kernel);

// Writes x*x for x in [start, end] to out[0 .. end - start] in input order and returns their
// exact sum: the kValues pass of SquareChunk. Same requirements as SumOfSquares; `out` holds
// end - start + 1 elements. Not cancellable.
absl::int128 SquareValues(int64_t start, int64_t end, SquareSumKernel kernel, int64_t* out);

}  // namespace internal
}  // namespace gpool

#endif  // GPOOL_COMMON_FUNCTIONS_H_
