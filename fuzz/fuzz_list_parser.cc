// The CLI's list spelling "3,-7,12", from any bytes: never crashes, and what it accepts reads
// back the same when written with commas.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<int64_t>> values = gpool::ParseValueList(text);
  if (!values.ok()) {
    if (values.status().message().empty()) std::abort();
    return 0;
  }
  if (values->empty()) std::abort();  // an empty list is refused, never accepted
  absl::StatusOr<std::vector<int64_t>> again = gpool::ParseValueList(absl::StrJoin(*values, ","));
  if (!again.ok() || *again != *values) std::abort();
  return 0;
}
