// An --input file (one integer per line), from any bytes: never crashes, refusals name the
// file and line, and what it accepts reads back the same when written one value per line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<std::vector<int64_t>> values = gpool::ParseValueLines(in, "fuzz.txt");
  if (!values.ok()) {
    if (!absl::StrContains(values.status().message(), "fuzz.txt")) std::abort();
    return 0;
  }
  std::istringstream written(absl::StrJoin(*values, "\n"));
  absl::StatusOr<std::vector<int64_t>> again = gpool::ParseValueLines(written, "written");
  if (!again.ok() || *again != *values) std::abort();
  return 0;
}
