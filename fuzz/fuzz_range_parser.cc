// The CLI's range spelling "A..B", from any bytes: never crashes, and what it accepts is a
// valid input whose description reads back as the same range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "common/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gpool::Input> range = gpool::ParseRange(text);
  if (!range.ok()) {
    if (range.status().message().empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (!range->is_range() || !gpool::ValidateInput(*range).ok()) std::abort();
  absl::StatusOr<gpool::Input> again = gpool::ParseRange(range->Describe());
  if (!again.ok() || again->range_start() != range->range_start() ||
      again->range_end() != range->range_end()) {
    std::abort();
  }
  return 0;
}
