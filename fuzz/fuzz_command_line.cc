// The gpool CLI's command line, from any bytes split into arguments at NUL bytes, against one
// flag of each type: the parser never crashes, and a refusal always says why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/command_line.h"

// One flag of each kind the binaries define, so values are parsed too, not only names.
ABSL_FLAG(int64_t, chunk_size, 0, "an integer flag");
ABSL_FLAG(int32_t, workers, 4, "a 32-bit flag");
ABSL_FLAG(std::string, coordinator, "", "a string flag");
ABSL_FLAG(bool, json, false, "a bool flag");
ABSL_FLAG(double, verify, 0.0, "a double flag");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "a duration flag");

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"gpool"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  absl::StatusOr<gpool::CommandLine> parsed =
      gpool::ParseCommandLine(static_cast<int>(args.size()), argv.data());
  if (!parsed.ok() && parsed.status().message().empty()) std::abort();
  return 0;
}
