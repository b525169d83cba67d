// Writing JSON text for the CLI's --json output, without a library: a string escaper and a
// small object builder. Transport-free and pure, so the escaping is unit-tested.
#ifndef GPOOL_CLIENT_JSON_H_
#define GPOOL_CLIENT_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace gpool {

// `text` as a quoted JSON string: quotes, backslashes and control characters are escaped,
// valid UTF-8 passes through, and each byte that is not part of valid UTF-8 becomes U+FFFD
// (worker ids and host names come from remote processes, and the output must stay valid
// JSON whatever they send).
std::string JsonString(absl::string_view text);

// A JSON array of already-encoded values: [a,b,c].
std::string JsonArray(const std::vector<std::string>& encoded_values);

// Builds one JSON object, keys in insertion order, on a single line with no spaces. Not
// thread-safe.
class JsonObject {
 public:
  JsonObject& String(absl::string_view key, absl::string_view value);
  JsonObject& Int(absl::string_view key, int64_t value);
  JsonObject& Uint(absl::string_view key, uint64_t value);
  JsonObject& Bool(absl::string_view key, bool value);
  // `encoded` must already be JSON (a nested object, an array, a number).
  JsonObject& Raw(absl::string_view key, absl::string_view encoded);

  std::string Build() const { return "{" + body_ + "}"; }

 private:
  void Key(absl::string_view key);
  std::string body_;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_JSON_H_
