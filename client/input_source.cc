#include "client/input_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/input.h"

namespace gpool {
namespace {

// Bytes read at a time: large enough that system calls cost nothing next to parsing.
constexpr size_t kReadBytes = size_t{1} << 20;

class FileSource final : public InputSource {
 public:
  FileSource(int fd, std::string name, bool rewindable, ElementType type = ElementType::kInt64)
      : fd_(fd), name_(std::move(name)), rewindable_(rewindable), type_(type) {
    buffer_.resize(kReadBytes);
  }

  ElementType type() const override { return type_; }
  bool CanRewind() const override { return rewindable_; }

  absl::Status NextElements(size_t max, uint64_t max_bytes, Elements& batch) override {
    if (type_ == ElementType::kInt64) return InputSource::NextElements(max, max_bytes, batch);
    size_t added = 0;
    uint64_t bytes = 0;
    absl::string_view line;
    while (added < max && (added == 0 || bytes < max_bytes)) {
      bool got = false;
      if (absl::Status read = NextLine(line, got); !read.ok()) return read;
      if (!got) break;
      const std::string where = absl::StrCat(name_, " line ", line_number_);
      switch (type_) {
        case ElementType::kDouble: {
          absl::string_view trimmed = absl::StripAsciiWhitespace(line);
          if (trimmed.empty()) continue;
          double value = 0;
          if (!absl::SimpleAtod(trimmed, &value)) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ": '", trimmed, "' is not a number"));
          }
          batch.mutable_doubles().push_back(value);
          bytes += sizeof(double);
          break;
        }
        case ElementType::kString: {
          size_t offset = 0;
          if (!IsUtf8(line, &offset)) {
            return absl::InvalidArgumentError(absl::StrCat(
                where, " is not UTF-8 (byte ", offset, "); map the file's lines as bytes"));
          }
          if (line.size() > kMaxElementBytes) {
            return absl::InvalidArgumentError(absl::StrCat(
                where, " takes ", line.size(), " bytes, over the limit of ", kMaxElementBytes,
                " bytes (1 MiB) per element"));
          }
          batch.mutable_texts().emplace_back(line);
          bytes += line.size();
          break;
        }
        default: {
          absl::string_view path = absl::StripAsciiWhitespace(line);
          if (path.empty()) continue;
          absl::StatusOr<std::string> contents = ReadWholeFile(std::string(path), where);
          if (!contents.ok()) return contents.status();
          bytes += contents->size();
          batch.mutable_texts().push_back(*std::move(contents));
          break;
        }
      }
      ++added;
    }
    return absl::OkStatus();
  }
  ~FileSource() override {
    if (fd_ != STDIN_FILENO) close(fd_);
  }

  absl::Status Next(size_t max, std::vector<int64_t>& batch) override {
    size_t added = 0;
    absl::string_view line;
    while (added < max) {
      bool got = false;
      if (absl::Status read = NextLine(line, got); !read.ok()) return read;
      if (!got) break;
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
  // The next line, without its newline (the last may lack one), valid until the next call;
  // `got` false at the end.
  absl::Status NextLine(absl::string_view& line, bool& got) {
    while (true) {
      const char* begin = buffer_.data() + start_;
      const char* end = buffer_.data() + end_;
      const char* newline =
          static_cast<const char*>(memchr(begin, '\n', static_cast<size_t>(end - begin)));
      if (newline == nullptr && !eof_) {
        if (absl::Status read = Fill(); !read.ok()) return read;
        continue;
      }
      if (newline == nullptr && begin == end) {  // the end, no partial line left
        got = false;
        return absl::OkStatus();
      }
      const char* line_end = newline != nullptr ? newline : end;
      line = absl::string_view(begin, static_cast<size_t>(line_end - begin));
      start_ = static_cast<size_t>(line_end - buffer_.data()) + (newline != nullptr ? 1 : 0);
      ++line_number_;
      got = true;
      return absl::OkStatus();
    }
  }

  // A bytes element: the whole file at `path`, named by `where` in errors.
  static absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                                   const std::string& where) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(
          absl::StrCat(where, ": cannot open ", path, ": ", std::strerror(errno)));
    }
    std::string contents;
    char buffer[1 << 16];
    while (true) {
      const ssize_t got = read(fd, buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        close(fd);
        return absl::DataLossError(
            absl::StrCat(where, ": error while reading ", path, ": ", std::strerror(errno)));
      }
      if (got == 0) break;
      contents.append(buffer, static_cast<size_t>(got));
      if (contents.size() > kMaxElementBytes) {
        close(fd);
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": ", path, " is over the limit of ", kMaxElementBytes,
            " bytes (1 MiB) per element"));
      }
    }
    close(fd);
    return contents;
  }

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
  const ElementType type_;
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
  bool CanRewind() const override { return true; }

 private:
  std::vector<int64_t> values_;
  size_t next_ = 0;
};

}  // namespace

absl::Status InputSource::NextElements(size_t max, uint64_t max_bytes, Elements& batch) {
  if (type() != ElementType::kInt64) {
    return absl::UnimplementedError(absl::StrCat(Name(), " yields ", ElementTypeName(type()),
                                                 " values but does not say how"));
  }
  return Next(max, batch.mutable_int64s());
}

absl::StatusOr<std::unique_ptr<InputSource>> OpenValueFile(const std::string& path) {
  return OpenElementFile(path, ElementType::kInt64);
}

absl::StatusOr<std::unique_ptr<InputSource>> OpenElementFile(const std::string& path,
                                                             ElementType type) {
  if (path == "-") {
    return std::make_unique<FileSource>(STDIN_FILENO, "stdin", /*rewindable=*/false, type);
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open input file '", path, "': ", std::strerror(errno)));
  }
  // A pipe or a FIFO is read once.
  struct stat info = {};
  const bool rewindable = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  return std::make_unique<FileSource>(fd, path, rewindable, type);
}

std::unique_ptr<InputSource> GeneratorSource(ValueGenerator next) {
  return std::make_unique<GeneratedSource>(std::move(next));
}

std::unique_ptr<InputSource> VectorSource(std::vector<int64_t> values) {
  return std::make_unique<HeldSource>(std::move(values));
}

}  // namespace gpool
