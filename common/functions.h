// The functions a worker can map, by name. Each is element-wise: int64 -> int64, exact or an
// OUT_OF_RANGE error naming the input. Running a chunk also produces its exact 128-bit sum
// (the combiner), so a sum-only job never ships values.
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
// The largest |x| whose cube fits in int64: floor(cbrt(2^63 - 1)).
inline constexpr int64_t kMaxCubeInput = 2097151;

enum class ResultMode { kValues, kSum };

struct ChunkOutput {
  std::vector<int64_t> values;  // Empty in ResultMode::kSum.
  absl::int128 sum = 0;
  uint64_t count = 0;
  // Smallest and largest mapped value; meaningful when count > 0.
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;
};

// Computes f(x) exactly, or returns OUT_OF_RANGE naming x.
using ElementFunction = std::function<absl::StatusOr<int64_t>(int64_t)>;

// Immutable after setup; Run is thread-safe.
class FunctionRegistry {
 public:
  // square, cube, identity.
  static FunctionRegistry WithBuiltins();

  // ALREADY_EXISTS if the name is taken; INVALID_ARGUMENT for an empty name.
  absl::Status Register(const std::string& name, ElementFunction function);

  bool Has(const std::string& name) const { return functions_.count(name) > 0; }
  // Sorted.
  std::vector<std::string> Names() const;

  // Maps every element of `input`. NOT_FOUND for an unknown function, OUT_OF_RANGE from the
  // function, CANCELLED when `cancelled` returns true (polled every few thousand elements).
  absl::StatusOr<ChunkOutput> Run(const std::string& name, const Input& input, ResultMode mode,
                                  const std::function<bool()>& cancelled = {}) const;

 private:
  std::map<std::string, ElementFunction> functions_;
};

absl::StatusOr<int64_t> Square(int64_t x);
absl::StatusOr<int64_t> Cube(int64_t x);

}  // namespace gpool

#endif  // GPOOL_COMMON_FUNCTIONS_H_
