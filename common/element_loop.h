// The loop behind FunctionRegistry::Register: runs an element-wise function of any element
// types over a chunk and gathers its results and their reductions. Included by
// common/functions.h; not for direct use.
#ifndef GPOOL_COMMON_ELEMENT_LOOP_H_
#define GPOOL_COMMON_ELEMENT_LOOP_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/elements.h"
#include "common/input.h"

namespace gpool {
namespace internal {

// How many elements the per-element loops run between two polls of the cancellation
// callback: a few hundred microseconds of work at most.
inline constexpr uint64_t kElementLoopPollInterval = 1 << 16;

template <typename T>
struct Unwrapped {
  using type = T;
};
template <typename T>
struct Unwrapped<absl::StatusOr<T>> {
  using type = T;
};

// The argument and (unwrapped) result type of a one-argument callable.
template <typename F>
struct CallableTraits : CallableTraits<decltype(&F::operator())> {};
template <typename R, typename A>
struct CallableTraits<R (*)(A)> {
  using Arg = std::decay_t<A>;
  using Result = std::decay_t<typename Unwrapped<R>::type>;
};
template <typename R, typename A>
struct CallableTraits<R(A)> : CallableTraits<R (*)(A)> {};
template <typename C, typename R, typename A>
struct CallableTraits<R (C::*)(A) const> : CallableTraits<R (*)(A)> {};
template <typename C, typename R, typename A>
struct CallableTraits<R (C::*)(A)> : CallableTraits<R (*)(A)> {};

template <typename F>
inline constexpr bool kIsStdFunction = false;
template <typename R, typename A>
inline constexpr bool kIsStdFunction<std::function<R(A)>> = true;

template <typename T>
inline constexpr bool kIsText =
    std::is_same_v<T, absl::string_view> || std::is_same_v<T, std::string>;

// The element type a C++ type declares by default.
template <typename T>
constexpr ElementType DeclaredType() {
  static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, double> || kIsText<T>,
                "element functions take and return int64_t, double, absl::string_view or "
                "std::string");
  if constexpr (std::is_same_v<T, int64_t>) return ElementType::kInt64;
  if constexpr (std::is_same_v<T, double>) return ElementType::kDouble;
  return ElementType::kString;
}

// Whether C++ type T can carry elements of `type`.
template <typename T>
bool Carries(ElementType type) {
  if constexpr (kIsText<T>) return type == ElementType::kString || type == ElementType::kBytes;
  return type == DeclaredType<T>();
}

// Element `i` of `input` as the function's argument type (Run has converted the list to the
// declared type; ranges stay ranges).
template <typename Arg>
Arg ElementAt(const Input& input, uint64_t i) {
  if constexpr (std::is_same_v<Arg, int64_t>) {
    return input.At(i);
  } else if constexpr (std::is_same_v<Arg, double>) {
    return input.is_range() ? static_cast<double>(input.At(i)) : input.elements().doubles()[i];
  } else {
    return Arg(input.elements().texts()[i]);
  }
}

template <typename T>
const T& ValueOf(const T& value) {
  return value;
}
template <typename T>
const T& ValueOf(const absl::StatusOr<T>& value) {
  return *value;
}
template <typename T>
absl::Status StatusOf(const T&) {
  return absl::OkStatus();
}
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& value) {
  return value.status();
}

inline void AddResult(int64_t value, bool keep, ChunkOutput& output) {
  output.sum += value;
  if (value < output.min) output.min = value;
  if (value > output.max) output.max = value;
  if (keep) output.values.mutable_int64s().push_back(value);
}
inline void AddResult(double value, bool keep, ChunkOutput& output) {
  output.doubles.sum.Add(value);
  if (value < output.doubles.min) output.doubles.min = value;
  if (value > output.doubles.max) output.doubles.max = value;
  if (keep) output.values.mutable_doubles().push_back(value);
}
inline void AddResult(std::string value, bool keep, ChunkOutput& output) {
  if (keep) output.values.mutable_texts().push_back(std::move(value));
}
inline void AddResult(absl::string_view value, bool keep, ChunkOutput& output) {
  if (keep) output.values.mutable_texts().emplace_back(value);
}

absl::Status CancelledChunk();

template <typename F>
absl::StatusOr<ChunkOutput> MapTyped(const F& function, ElementType output_type,
                                     const Input& input, ResultMode mode,
                                     const CancelledFn& cancelled) {
  using Arg = typename CallableTraits<F>::Arg;
  ChunkOutput output;
  output.count = input.size();
  output.doubles.count = output.count;
  output.values = Elements(output_type);
  const bool keep = mode == ResultMode::kValues;
  if (keep) output.values.Reserve(output.count);
  for (uint64_t i = 0; i < output.count; ++i) {
    if (cancelled && i % kElementLoopPollInterval == kElementLoopPollInterval - 1 &&
        cancelled()) {
      return CancelledChunk();
    }
    auto result = function(ElementAt<Arg>(input, i));
    if (absl::Status status = StatusOf(result); !status.ok()) return status;
    AddResult(ValueOf(result), keep, output);
  }
  return output;
}

}  // namespace internal

template <typename F>
absl::Status FunctionRegistry::Register(const std::string& name, F function) {
  using Traits = internal::CallableTraits<F>;
  return Register(name, std::move(function), internal::DeclaredType<typename Traits::Arg>(),
                  internal::DeclaredType<typename Traits::Result>());
}

template <typename F>
absl::Status FunctionRegistry::Register(const std::string& name, F function,
                                        ElementType input_type, ElementType output_type) {
  using Traits = internal::CallableTraits<F>;
  if (!internal::Carries<typename Traits::Arg>(input_type) ||
      !internal::Carries<typename Traits::Result>(output_type)) {
    return absl::InvalidArgumentError(
        "function '" + name + "': its C++ argument or result type cannot hold " +
        ElementTypeName(input_type) + " -> " + ElementTypeName(output_type));
  }
  if constexpr (std::is_pointer_v<F> || internal::kIsStdFunction<F>) {
    if (!function) {
      return absl::InvalidArgumentError("function '" + name + "' is empty");
    }
  }
  return Add({name, input_type, output_type},
             [function = std::move(function), output_type](
                 const Input& input, ResultMode mode, const CancelledFn& cancelled) {
               return internal::MapTyped(function, output_type, input, mode, cancelled);
             });
}

}  // namespace gpool

#endif  // GPOOL_COMMON_ELEMENT_LOOP_H_
