// The streamed `--input` reader (client/input_source.cc), from any file contents: it never
// crashes, and it agrees with the whole-file parser (common/input.cc) that --values files and
// the documentation describe: the same values in the same order whenever that parser accepts
// the file, whatever batch size the reader is asked for.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "client/input_source.h"
#include "common/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string contents(reinterpret_cast<const char*>(data), size);
  std::istringstream in(contents);
  absl::StatusOr<std::vector<int64_t>> whole = gpool::ParseValueLines(in, "fuzz.txt");

  // The reader takes a path: an anonymous file holds the bytes, reached through /proc.
  const int fd = memfd_create("fuzz-input", 0);
  if (fd < 0) std::abort();
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  absl::StatusOr<std::unique_ptr<gpool::InputSource>> source =
      gpool::OpenValueFile("/proc/self/fd/" + std::to_string(fd));
  if (!source.ok()) std::abort();
  // Small batches cut the input at every kind of place; the size comes from the input.
  const size_t batch_max = 1 + size % 7;
  std::vector<int64_t> streamed;
  absl::Status status = absl::OkStatus();
  while (true) {
    const size_t before = streamed.size();
    status = (*source)->Next(batch_max, streamed);
    if (!status.ok()) break;
    if (streamed.size() - before > batch_max) std::abort();
    if (streamed.size() == before) break;
  }
  close(fd);
  if (!status.ok() && status.message().empty()) std::abort();
  if (whole.ok() && (!status.ok() || streamed != *whole)) std::abort();
  // A file the whole-file parser refuses is refused by the reader too, unless it holds no
  // value at all (the parser's "empty" is the caller's to say for a stream).
  if (!whole.ok() && status.ok() && !streamed.empty()) std::abort();
  return 0;
}
