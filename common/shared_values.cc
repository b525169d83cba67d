#include "common/shared_values.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/value_stats.h"

namespace gpool {
namespace {

// The layout of proto SharedValues.
constexpr char kMagic[8] = {'G', 'P', 'O', 'O', 'L', 'S', 'V', '1'};
constexpr char kMemfdName[] = "gpool-values";
constexpr off_t kValuesOffset = 4096;
constexpr uint64_t kMaxCapacity = uint64_t{1} << 40;

struct Header {
  char magic[8];
  uint64_t token_high;
  uint64_t token_low;
  uint64_t capacity;
};

off_t OffsetOf(uint64_t value_index) {
  return kValuesOffset + static_cast<off_t>(value_index * sizeof(int64_t));
}

std::string ErrnoText(int error) { return std::strerror(error); }

// pread/pwrite until every byte is moved (they may move fewer, and EINTR interrupts them).
template <typename TransferFn>
bool TransferAll(TransferFn transfer, char* data, size_t bytes, off_t offset) {
  while (bytes > 0) {
    const ssize_t moved = transfer(data, bytes, offset);
    if (moved < 0 && errno == EINTR) continue;
    if (moved <= 0) return false;
    data += moved;
    bytes -= static_cast<size_t>(moved);
    offset += moved;
  }
  return true;
}

absl::Status OpenError(const std::string& path, int error) {
  if (error == EACCES || error == EPERM) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", ErrnoText(error)));
  }
  return absl::NotFoundError(absl::StrCat(path, ": ", ErrnoText(error)));
}

bool CheckedEnd(uint64_t first, uint64_t count, uint64_t capacity) {
  return first <= capacity && count <= capacity - first;
}

}  // namespace

absl::Status ValidateSharedValuesRef(const SharedValuesRef& ref) {
  if (ref.pid < 1 || ref.fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shared_values must name the client's pid (>= 1) and a file descriptor (>= 0), got pid ",
        ref.pid, " and fd ", ref.fd));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SharedValuesBuffer>> SharedValuesBuffer::Create(
    uint64_t capacity) {
  const int fd = memfd_create(kMemfdName, MFD_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("memfd_create: ", ErrnoText(errno)));
  }
  std::unique_ptr<SharedValuesBuffer> buffer(new SharedValuesBuffer(fd));
  buffer->ref_.pid = getpid();
  buffer->ref_.fd = fd;
  if (absl::Status status = buffer->WriteHeader(capacity); !status.ok()) return status;
  return buffer;
}

SharedValuesBuffer::~SharedValuesBuffer() {
  if (mapping_ != nullptr) munmap(const_cast<char*>(mapping_), mapped_bytes_);
  close(fd_);
}

absl::Status SharedValuesBuffer::WriteHeader(uint64_t capacity) {
  if (capacity > kMaxCapacity) {
    return absl::OutOfRangeError(absl::StrCat("no shared values buffer for ", capacity,
                                              " values (at most 2^40)"));
  }
  Header header;
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  uint64_t token[2];
  if (getrandom(token, sizeof(token), 0) != static_cast<ssize_t>(sizeof(token))) {
    return absl::UnavailableError(absl::StrCat("getrandom: ", ErrnoText(errno)));
  }
  header.token_high = token[0];
  header.token_low = token[1];
  header.capacity = capacity;
  // Growing only: a sparse file takes memory only where values were written (and kept).
  const size_t bytes = static_cast<size_t>(OffsetOf(capacity));
  if (bytes > mapped_bytes_) {
    if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
      return absl::UnavailableError(absl::StrCat("sizing the shared values file: ",
                                                 ErrnoText(errno)));
    }
    void* mapping = mapping_ == nullptr
                        ? mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd_, 0)
                        : mremap(const_cast<char*>(mapping_), mapped_bytes_, bytes, MREMAP_MAYMOVE);
    if (mapping == MAP_FAILED) {
      return absl::UnavailableError(absl::StrCat("mapping the shared values file: ",
                                                 ErrnoText(errno)));
    }
    mapping_ = static_cast<const char*>(mapping);
    mapped_bytes_ = bytes;
  }
  // Workers hold a shared lock from their token check to the end of their write: once the
  // exclusive lock is ours, no write of the previous job is under way, and none can start.
  flock(fd_, LOCK_EX);
  const bool written =
      TransferAll([this](char* data, size_t n, off_t at) { return pwrite(fd_, data, n, at); },
                  reinterpret_cast<char*>(&header), sizeof(header), 0);
  const int error = errno;
  flock(fd_, LOCK_UN);
  if (!written) {
    return absl::UnavailableError(absl::StrCat("writing the shared values header: ",
                                               ErrnoText(error)));
  }
  capacity_ = capacity;
  ref_.token_high = header.token_high;
  ref_.token_low = header.token_low;
  return absl::OkStatus();
}

absl::Status SharedValuesBuffer::Renew(uint64_t capacity) { return WriteHeader(capacity); }

absl::StatusOr<ValueStats> SharedValuesBuffer::Take(uint64_t first, uint64_t count,
                                                    int64_t* out) {
  if (!CheckedEnd(first, count, capacity_)) {
    return absl::OutOfRangeError(absl::StrCat("values ", first, "+", count,
                                              " are beyond the shared buffer's ", capacity_));
  }
  const size_t bytes = count * sizeof(int64_t);
  const int64_t* values = reinterpret_cast<const int64_t*>(mapping_ + OffsetOf(first));
  const ValueStats stats =
      out != nullptr ? CopyAndSummarize(values, count, out) : Summarize(values, count);
  if (release_taken_) {
    // What is taken is never read again (a late copy of the chunk may write it again; that
    // memory lasts until the buffer is closed). Only whole pages are freed; the bytes of a
    // page shared with a neighbouring chunk are zeroed, and only ours.
    fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, OffsetOf(first),
              static_cast<off_t>(bytes));
  }
  return stats;
}

absl::StatusOr<SharedValuesWriter> SharedValuesWriter::Open(const SharedValuesRef& ref) {
  if (absl::Status status = ValidateSharedValuesRef(ref); !status.ok()) return status;
  const std::string path = absl::StrCat("/proc/", ref.pid, "/fd/", ref.fd);
  // Only a gpool memfd is ever opened: the name comes from a remote request, and opening some
  // files (devices) has effects of its own.
  char target[64] = {};
  const ssize_t length = readlink(path.c_str(), target, sizeof(target) - 1);
  if (length < 0) return OpenError(path, errno);
  if (!absl::StartsWith(absl::string_view(target, static_cast<size_t>(length)),
                        absl::StrCat("/memfd:", kMemfdName))) {
    return absl::NotFoundError(absl::StrCat(path, " is not a gpool values buffer"));
  }
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return OpenError(path, errno);
  SharedValuesWriter writer(fd, ref);
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return absl::NotFoundError(absl::StrCat(path, " is not a gpool values buffer"));
  }
  absl::StatusOr<uint64_t> capacity = writer.CheckHeader();
  if (!capacity.ok()) return capacity.status();
  writer.capacity_ = *capacity;
  return writer;
}

absl::StatusOr<uint64_t> SharedValuesWriter::CheckHeader() const {
  Header header;
  if (!TransferAll([this](char* data, size_t n, off_t at) { return pread(fd_, data, n, at); },
                   reinterpret_cast<char*>(&header), sizeof(header), 0) ||
      std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0 ||
      header.token_high != ref_.token_high || header.token_low != ref_.token_low) {
    return absl::FailedPreconditionError(absl::StrCat(
        "/proc/", ref_.pid, "/fd/", ref_.fd,
        " is not the values buffer named (its token differs: another file, or another job)"));
  }
  return header.capacity;
}

SharedValuesWriter::SharedValuesWriter(SharedValuesWriter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), ref_(other.ref_), capacity_(other.capacity_) {}

SharedValuesWriter& SharedValuesWriter::operator=(SharedValuesWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    ref_ = other.ref_;
    capacity_ = other.capacity_;
  }
  return *this;
}

SharedValuesWriter::~SharedValuesWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status SharedValuesWriter::Write(const std::vector<Span>& spans) {
  for (const Span& span : spans) {
    if (!CheckedEnd(span.first, span.count, capacity_)) {
      return absl::OutOfRangeError(absl::StrCat("values ", span.first, "+", span.count,
                                                " are beyond the shared buffer's ", capacity_));
    }
  }
  // The token is checked again under the lock the client renews it under: the buffer may have
  // passed to the client's next job since Open.
  flock(fd_, LOCK_SH);
  absl::Status status = CheckHeader().status();
  for (size_t i = 0; status.ok() && i < spans.size();) {
    // One mapping per run of spans that follow each other in the file.
    const size_t run_begin = i;
    uint64_t run_end = spans[i].first;
    for (; i < spans.size() && spans[i].first == run_end; ++i) run_end += spans[i].count;
    status = WriteRun(&spans[run_begin], i - run_begin);
  }
  flock(fd_, LOCK_UN);
  return status;
}

absl::Status SharedValuesWriter::WriteRun(const Span* spans, size_t count) const {
  // Through a mapping rather than pwrite: tmpfs writes take the file's inode lock, so the
  // workers of one host would copy their values one at a time; page faults do not. The
  // mapping is populated at once, rather than by a fault per page as the copy touches it.
  const off_t page = static_cast<off_t>(sysconf(_SC_PAGESIZE));
  const off_t begin = OffsetOf(spans[0].first);
  const off_t end = OffsetOf(spans[count - 1].first + spans[count - 1].count);
  if (end == begin) return absl::OkStatus();
  const off_t map_begin = begin / page * page;
  const size_t map_bytes = static_cast<size_t>(end - map_begin);
  void* mapping = mmap(nullptr, map_bytes, PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, map_begin);
  if (mapping == MAP_FAILED) {
    return absl::UnavailableError(absl::StrCat("mapping the shared values buffer: ",
                                               ErrnoText(errno)));
  }
  char* out = static_cast<char*>(mapping) + (begin - map_begin);
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(out, spans[i].values, spans[i].count * sizeof(int64_t));
    out += spans[i].count * sizeof(int64_t);
  }
  munmap(mapping, map_bytes);
  return absl::OkStatus();
}

}  // namespace gpool
