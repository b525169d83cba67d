// PLACEHOLDER: the textfn branch replaces this file with the real kernels.
#ifndef GPOOL_COMMON_TYPED_BUILTINS_H_
#define GPOOL_COMMON_TYPED_BUILTINS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

absl::StatusOr<double> Sqrt(double x);
void SqrtOfRange(int64_t start, int64_t end, double* out);
size_t SqrtOfDoubles(const double* in, size_t n, double* out);
absl::StatusOr<int64_t> Utf8Length(absl::string_view text);
absl::StatusOr<std::string> Upper(absl::string_view text);
std::string Sha256(absl::string_view data);
std::string ToHex(absl::string_view bytes);
std::string ShortestDouble(double x);

}  // namespace gpool

#endif  // GPOOL_COMMON_TYPED_BUILTINS_H_
