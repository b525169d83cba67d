// Buffered lines to a file descriptor (the CLI's stdout under --print), with the write errors
// reported instead of lost: a reader that closed the pipe (`gpool map ... --print | head`)
// shows as broken_pipe(), so the job can be cancelled and the process end quietly, as Unix
// tools do. SIGPIPE must be ignored for that (else the process dies in write(2)).
//
// Not thread-safe.
#ifndef GPOOL_CLIENT_LINE_WRITER_H_
#define GPOOL_CLIENT_LINE_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/elements.h"

namespace gpool {

class LineWriter {
 public:
  // Writes to `fd` (not owned) whenever `buffer_bytes` have gathered, and on Flush.
  explicit LineWriter(int fd, size_t buffer_bytes = size_t{64} << 10);

  // Appends `text` as it is. The errors of Flush.
  absl::Status Write(absl::string_view text);
  // Appends each value in decimal on a line of its own.
  absl::Status WriteValues(absl::Span<const int64_t> values);
  // Values of any type, one per line: int64 as WriteValues, doubles in shortest round-trip
  // form, strings as they are, bytes in lowercase hex.
  absl::Status WriteElements(const Elements& values);
  // Writes what is buffered. ABORTED naming the error when the write fails; after EPIPE
  // (the reader closed the pipe) broken_pipe() is true. Once failed, it stays failed.
  absl::Status Flush();

  bool broken_pipe() const { return broken_pipe_; }

 private:
  const int fd_;
  const size_t buffer_bytes_;
  std::string buffer_;
  absl::Status failed_;
  bool broken_pipe_ = false;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_LINE_WRITER_H_
