// The functions a worker can map, by name, with their types, and the small API to add your
// own. An element is an int64, a double, a UTF-8 string or bytes (common/elements.h); a
// function declares the type it takes and the type it returns.
//
// A function is registered in one of two shapes:
//
//   * element-wise: one call per element. The argument and result types of the C++ function
//     declare its types: int64_t, double, or absl::string_view / std::string (a string; pass
//     ElementType::kBytes to Register to take or return bytes instead). The result may be
//     wrapped in absl::StatusOr to reject an input. The registry runs the loop over the chunk
//     and computes the reductions (an exact sum, min and max of numeric results).
//
//       registry.Register("triple", [](int64_t x) -> absl::StatusOr<int64_t> {
//         if (x > INT64_MAX / 3 || x < INT64_MIN / 3) {
//           return absl::OutOfRangeError(absl::StrCat("triple(", x, ") does not fit in int64"));
//         }
//         return 3 * x;
//       });
//       registry.Register("half", [](double x) { return x / 2; });
//       registry.Register("reverse", [](absl::string_view s) { return std::string(s.rbegin(), s.rend()); });
//       registry.Register("checksum", Crc32, ElementType::kBytes, ElementType::kInt64);
//
//   * chunk-wise: the whole chunk at once (a range or a list, see common/input.h), for
//     functions that can do better than one call per element: a vectorised loop, a closed
//     form for the reductions, a batched call into a library. The builtin `square` is one:
//     over a range in ResultMode::kSum it checks the bounds once and sums in SIMD lanes.
//
//       absl::StatusOr<ChunkOutput> IsOddChunk(const Input& input, ResultMode mode,
//                                              const CancelledFn& cancelled);
//       registry.RegisterChunkwise("is_odd", IsOddChunk);  // int64 -> int64
//       registry.RegisterChunkwise({"sqrt", ElementType::kDouble, ElementType::kDouble}, SqrtChunk);
//
//   A worker binary with extra functions passes its registry to RunWorkerMain
//   (worker/worker_main.h).
//
// What a function receives: elements of the type it declared. Run converts int64 list
// elements to doubles for a function that takes doubles (an int64 range stays a range: a
// chunk-wise double function reads its bounds as numbers), and hands strings to a function
// that takes bytes as they are.
//
// The contract every function must keep (the coordinator relies on it to count each element
// exactly once and to fail a job instead of retrying it forever):
//
//   1. Exact. Int64 results never wrap: when f(x) does not fit, fail the chunk with
//      OUT_OF_RANGE and a message naming the input, "f(x) ...". A chunk-wise function names
//      the FIRST offending element in input order, as the element-wise loop would. String and
//      bytes results are at most kMaxElementBytes (1 MiB) each, and a chunk's at most
//      kMaxChunkValueBytes (3 MiB) together; strings are UTF-8. Run checks these (OUT_OF_RANGE
//      naming the input, INTERNAL for a string that is not UTF-8).
//   2. Complete (chunk-wise). ChunkOutput.count is the number of input elements; values holds
//      every f(x) in input order, of the declared output type, in ResultMode::kValues and
//      is empty in kSum; for int64 results sum is the exact 128-bit sum of all f(x) and
//      min/max the smallest and largest, for double results `doubles` holds them. Run checks
//      count and values and turns a violation into INTERNAL.
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
#include "common/elements.h"
#include "common/exact_sum.h"
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

// The most bytes of string or bytes values one chunk may return (its answer must fit the
// 4 MiB message limit).
inline constexpr uint64_t kMaxChunkValueBytes = uint64_t{3} << 20;

struct ChunkOutput {
  // Every f(x) in input order, of the function's output type, in kValues; empty in kSum.
  Elements values;
  uint64_t count = 0;  // Number of input elements.
  // Int64 results: their exact sum, and the smallest and largest (meaningful when count > 0).
  absl::int128 sum = 0;
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;
  // Double results: their exact sum, smallest and largest.
  DoubleStats doubles;
};

// Returns true once the chunk should stop. May be empty (never cancelled).
using CancelledFn = std::function<bool()>;

// Computes f(x) exactly, or returns OUT_OF_RANGE naming x: an int64 -> int64 function.
using ElementFunction = std::function<absl::StatusOr<int64_t>(int64_t)>;

// Maps a whole chunk; see the contract at the top of this file.
using ChunkFunction = std::function<absl::StatusOr<ChunkOutput>(const Input& input, ResultMode mode,
                                                                const CancelledFn& cancelled)>;

// Immutable after setup (register everything before handing it to a ChunkExecutor); Run is
// thread-safe as long as the registered functions are.
class FunctionRegistry {
 public:
  // square (chunk-wise, with a vectorised sum over ranges), cube, identity (int64 -> int64);
  // sqrt (double -> double), length (string -> int64, in code points), upper (string ->
  // string), sha256 (bytes -> bytes; strings are taken as their UTF-8 bytes).
  static FunctionRegistry WithBuiltins();

  // Registers an element-wise function; its argument and result types declare its element
  // types (see the top of this file), and `input_type` / `output_type` may name kBytes
  // where the C++ type is a string. ALREADY_EXISTS if the name is taken; INVALID_ARGUMENT for
  // an empty name or function, or a type the C++ type cannot hold.
  template <typename F>
  absl::Status Register(const std::string& name, F function);
  template <typename F>
  absl::Status Register(const std::string& name, F function, ElementType input_type,
                        ElementType output_type);
  // Registers a chunk-wise function. Errors as for Register.
  absl::Status RegisterChunkwise(const FunctionSignature& signature, ChunkFunction function);
  // An int64 -> int64 chunk-wise function.
  absl::Status RegisterChunkwise(const std::string& name, ChunkFunction function);

  bool Has(const std::string& name) const { return functions_.count(name) > 0; }
  // The function's signature; null for an unknown name.
  const FunctionSignature* Find(const std::string& name) const {
    auto it = functions_.find(name);
    return it == functions_.end() ? nullptr : &it->second.signature;
  }
  // Sorted.
  std::vector<std::string> Names() const;
  // Sorted by name.
  std::vector<FunctionSignature> Signatures() const;

  // Maps every element of `input`. NOT_FOUND for an unknown function (listing the known
  // ones), INVALID_ARGUMENT for an invalid input or elements of a type the function does not
  // take (naming both), OUT_OF_RANGE from the function or for results over their limits,
  // CANCELLED when `cancelled` returned true, INTERNAL when a function broke the contract.
  absl::StatusOr<ChunkOutput> Run(const std::string& name, const Input& input, ResultMode mode,
                                  const CancelledFn& cancelled = {}) const;

 private:
  struct Entry {
    FunctionSignature signature;
    ChunkFunction function;
  };
  absl::Status Add(const FunctionSignature& signature, ChunkFunction function);

  std::map<std::string, Entry> functions_;
};

// The loop Run uses for element-wise int64 functions, for chunk-wise functions that specialise only
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

// Registers sqrt, length, upper and sha256 (common/builtin_functions.cc).
void RegisterTypedBuiltins(FunctionRegistry& registry);

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

#include "common/element_loop.h"  // Register's template definitions

#endif  // GPOOL_COMMON_FUNCTIONS_H_
