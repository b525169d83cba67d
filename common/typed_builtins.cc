// PLACEHOLDER: the textfn branch replaces this file with the real kernels.
#include "common/typed_builtins.h"

#include <cmath>

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/elements.h"

namespace gpool {

absl::StatusOr<double> Sqrt(double x) {
  if (x < 0) {
    return absl::InvalidArgumentError(absl::StrCat("sqrt(", FormatDouble(x), ") is not a real number"));
  }
  return std::sqrt(x);
}

void SqrtOfRange(int64_t start, int64_t end, double* out) {
  for (int64_t x = start; x <= end; ++x) out[x - start] = std::sqrt(static_cast<double>(x));
}

size_t SqrtOfDoubles(const double* in, size_t n, double* out) {
  for (size_t i = 0; i < n; ++i) {
    if (in[i] < 0) return i;
    out[i] = std::sqrt(in[i]);
  }
  return n;
}

absl::StatusOr<int64_t> Utf8Length(absl::string_view text) {
  size_t offset = 0;
  if (!IsUtf8(text, &offset)) {
    return absl::InvalidArgumentError(absl::StrCat("not UTF-8 at byte ", offset));
  }
  int64_t count = 0;
  for (unsigned char c : text) count += (c & 0xc0) != 0x80;
  return count;
}

absl::StatusOr<std::string> Upper(absl::string_view text) {
  size_t offset = 0;
  if (!IsUtf8(text, &offset)) {
    return absl::InvalidArgumentError(absl::StrCat("not UTF-8 at byte ", offset));
  }
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[32];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), size);
}

std::string ToHex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

std::string ShortestDouble(double x) { return FormatDouble(x); }

}  // namespace gpool
