#include "common/functions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gpool {
namespace {

// How many elements run between two polls of the cancellation callback.
constexpr uint64_t kCancelPollInterval = 1 << 16;

}  // namespace

absl::StatusOr<int64_t> Square(int64_t x) {
  if (x > kMaxSquareInput || x < -kMaxSquareInput) {
    return absl::OutOfRangeError(absl::StrCat(
        "square(", x, ") does not fit in a signed 64-bit integer; inputs must satisfy |x| <= ",
        kMaxSquareInput));
  }
  return x * x;
}

absl::StatusOr<int64_t> Cube(int64_t x) {
  if (x > kMaxCubeInput || x < -kMaxCubeInput) {
    return absl::OutOfRangeError(absl::StrCat(
        "cube(", x, ") does not fit in a signed 64-bit integer; inputs must satisfy |x| <= ",
        kMaxCubeInput));
  }
  return x * x * x;
}

FunctionRegistry FunctionRegistry::WithBuiltins() {
  FunctionRegistry registry;
  // The names are distinct literals, so registration cannot fail.
  (void)registry.Register("square", Square);
  (void)registry.Register("cube", Cube);
  (void)registry.Register("identity", [](int64_t x) -> absl::StatusOr<int64_t> { return x; });
  return registry;
}

absl::Status FunctionRegistry::Register(const std::string& name, ElementFunction function) {
  if (name.empty()) return absl::InvalidArgumentError("a function needs a name");
  if (!functions_.emplace(name, std::move(function)).second) {
    return absl::AlreadyExistsError(absl::StrCat("function '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, function] : functions_) names.push_back(name);
  return names;
}

absl::StatusOr<ChunkOutput> FunctionRegistry::Run(const std::string& name, const Input& input,
                                                  ResultMode mode,
                                                  const std::function<bool()>& cancelled) const {
  auto it = functions_.find(name);
  if (it == functions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown function '", name, "'; available: ",
                                            absl::StrJoin(Names(), ", ")));
  }
  if (absl::Status status = ValidateInput(input); !status.ok()) return status;
  const ElementFunction& function = it->second;
  ChunkOutput output;
  output.count = input.size();
  if (mode == ResultMode::kValues) output.values.reserve(output.count);
  for (uint64_t i = 0; i < output.count; ++i) {
    if (cancelled && i % kCancelPollInterval == kCancelPollInterval - 1 && cancelled()) {
      return absl::CancelledError("chunk cancelled by the coordinator");
    }
    absl::StatusOr<int64_t> value = function(input.At(i));
    if (!value.ok()) return value.status();
    output.sum += *value;
    output.min = std::min(output.min, *value);
    output.max = std::max(output.max, *value);
    if (mode == ResultMode::kValues) output.values.push_back(*value);
  }
  return output;
}

}  // namespace gpool
