#include "client/line_writer.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/cli_output.h"

namespace gpool {

LineWriter::LineWriter(int fd, size_t buffer_bytes) : fd_(fd), buffer_bytes_(buffer_bytes) {
  buffer_.reserve(buffer_bytes_ + 64);
}

absl::Status LineWriter::Write(absl::string_view text) {
  if (!failed_.ok()) return failed_;
  buffer_.append(text.data(), text.size());
  if (buffer_.size() >= buffer_bytes_) return Flush();
  return absl::OkStatus();
}

absl::Status LineWriter::WriteValues(absl::Span<const int64_t> values) {
  if (!failed_.ok()) return failed_;
  // A line is at most 20 characters and a newline: format in place, in the buffer's spare
  // room, without a stream or a temporary string per value.
  constexpr size_t kMaxLine = 21;
  for (int64_t value : values) {
    size_t size = buffer_.size();
    buffer_.resize(size + kMaxLine);
    char* begin = buffer_.data() + size;
    char* end = std::to_chars(begin, begin + kMaxLine, value).ptr;
    *end++ = '\n';
    buffer_.resize(static_cast<size_t>(end - buffer_.data()));
    if (buffer_.size() >= buffer_bytes_) {
      if (absl::Status status = Flush(); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::Status LineWriter::WriteElements(const Elements& values) {
  if (values.type() == ElementType::kInt64) return WriteValues(values.int64s());
  if (!failed_.ok()) return failed_;
  for (size_t i = 0; i < values.size(); ++i) {
    buffer_ += FormatElement(values, i);
    buffer_ += '\n';
    if (buffer_.size() >= buffer_bytes_) {
      if (absl::Status status = Flush(); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::Status LineWriter::Flush() {
  if (!failed_.ok()) return failed_;
  size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n >= 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    broken_pipe_ = errno == EPIPE;
    failed_ = absl::AbortedError(
        broken_pipe_ ? "the output was closed (broken pipe)"
                     : absl::StrCat("cannot write the output: ", std::strerror(errno)));
    buffer_.clear();
    return failed_;
  }
  buffer_.clear();
  return absl::OkStatus();
}

}  // namespace gpool
