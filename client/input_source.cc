#include "client/input_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/input.h"

namespace gpool {
namespace {

// Bytes read at a time: large enough that system calls cost nothing next to parsing.
constexpr size_t kReadBytes = size_t{1} << 20;

class FileSource final : public InputSource {
 public:
  FileSource(int fd, std::string name, bool rewindable)
      : fd_(fd), name_(std::move(name)), rewindable_(rewindable) {
    buffer_.resize(kReadBytes);
  }
  ~FileSource() override {
    if (fd_ != STDIN_FILENO) close(fd_);
  }

  absl::Status Next(size_t max, std::vector<int64_t>& batch) override {
    size_t added = 0;
    while (added < max) {
      const char* begin = buffer_.data() + start_;
      const char* end = buffer_.data() + end_;
      const char* newline =
          static_cast<const char*>(memchr(begin, '\n', static_cast<size_t>(end - begin)));
      if (newline == nullptr && !eof_) {
        if (absl::Status read = Fill(); !read.ok()) return read;
        continue;
      }
      if (newline == nullptr && begin == end) break;  // the end, no partial line left
      // The last line may lack its newline.
      const char* line_end = newline != nullptr ? newline : end;
      absl::string_view line(begin, static_cast<size_t>(line_end - begin));
      start_ = static_cast<size_t>(line_end - buffer_.data()) + (newline != nullptr ? 1 : 0);
      ++line_number_;
      absl::string_view trimmed = absl::StripAsciiWhitespace(line);
      if (trimmed.empty()) continue;
      absl::string_view digits = trimmed;
      if (digits.front() == '+') digits.remove_prefix(1);
      int64_t value = 0;
      const auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) {
        // ParseInt64 words the error as the whole-file reader does.
        absl::StatusOr<int64_t> parsed =
            ParseInt64(line, absl::StrCat(name_, " line ", line_number_));
        return parsed.ok() ? absl::InternalError("a value parsed twice differently")
                           : parsed.status();
      }
      batch.push_back(value);
      ++added;
    }
    return absl::OkStatus();
  }

  absl::Status Rewind() override {
    if (!rewindable_) {
      return absl::FailedPreconditionError(
          absl::StrCat(name_, " cannot be read again from its start"));
    }
    if (lseek(fd_, 0, SEEK_SET) != 0) {
      return absl::DataLossError(
          absl::StrCat("cannot read ", name_, " again: ", std::strerror(errno)));
    }
    start_ = end_ = 0;
    eof_ = false;
    line_number_ = 0;
    return absl::OkStatus();
  }

  std::string Name() const override { return name_; }

 private:
  // Moves the partial line to the front and reads more after it.
  absl::Status Fill() {
    const size_t partial = end_ - start_;
    if (partial == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a very long line
    memmove(buffer_.data(), buffer_.data() + start_, partial);
    start_ = 0;
    end_ = partial;
    while (true) {
      const ssize_t got = read(fd_, buffer_.data() + end_, buffer_.size() - end_);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return absl::DataLossError(
            absl::StrCat("error while reading ", name_, ": ", std::strerror(errno)));
      }
      if (got == 0) eof_ = true;
      end_ += static_cast<size_t>(got);
      return absl::OkStatus();
    }
  }

  const int fd_;
  const std::string name_;
  const bool rewindable_;
  std::vector<char> buffer_;
  size_t start_ = 0;  // the unparsed bytes are [start_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

class GeneratedSource final : public InputSource {
 public:
  explicit GeneratedSource(ValueGenerator next) : next_(std::move(next)) {}
  absl::Status Next(size_t max, std::vector<int64_t>& batch) override {
    const size_t before = batch.size();
    absl::Status status = next_(max, batch);
    if (status.ok() && batch.size() - before > max) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the generator yielded ", batch.size() - before, " values when asked for ", max));
    }
    return status;
  }
  absl::Status Rewind() override {
    return absl::FailedPreconditionError(
        "a generator's values cannot be produced again from the start");
  }
  std::string Name() const override { return "a generator"; }

 private:
  ValueGenerator next_;
};

class HeldSource final : public InputSource {
 public:
  explicit HeldSource(std::vector<int64_t> values) : values_(std::move(values)) {}
  absl::Status Next(size_t max, std::vector<int64_t>& batch) override {
    const size_t n = std::min(max, values_.size() - next_);
    batch.insert(batch.end(), values_.begin() + static_cast<std::ptrdiff_t>(next_),
                 values_.begin() + static_cast<std::ptrdiff_t>(next_ + n));
    next_ += n;
    return absl::OkStatus();
  }
  absl::Status Rewind() override {
    next_ = 0;
    return absl::OkStatus();
  }
  std::string Name() const override { return absl::StrCat(values_.size(), " values"); }

 private:
  std::vector<int64_t> values_;
  size_t next_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InputSource>> OpenValueFile(const std::string& path) {
  if (path == "-") {
    return std::make_unique<FileSource>(STDIN_FILENO, "stdin", /*rewindable=*/false);
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open input file '", path, "': ", std::strerror(errno)));
  }
  // A pipe or a FIFO is read once.
  struct stat info = {};
  const bool rewindable = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  return std::make_unique<FileSource>(fd, path, rewindable);
}

std::unique_ptr<InputSource> GeneratorSource(ValueGenerator next) {
  return std::make_unique<GeneratedSource>(std::move(next));
}

std::unique_ptr<InputSource> VectorSource(std::vector<int64_t> values) {
  return std::make_unique<HeldSource>(std::move(values));
}

}  // namespace gpool
