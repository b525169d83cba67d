// Mapped values handed from workers to a client of the same host through shared memory
// instead of sockets (proto: SharedValues). Transport-free; Linux only (memfd_create, /proc).
//
// Why: a value that travels worker -> coordinator -> client over loopback gRPC is copied into
// and out of the kernel twice, and framed, buffered and woken for on the way. Written in place
// into a file the client owns, it costs one copy in (the worker's pwrite) and one copy out
// (the client's pread), and the coordinator relays only the chunk's partial results. Ray's
// object store does the same for objects that stay on one node.
//
// The client creates a SharedValuesBuffer per job and names it in its request; each worker
// opens it with SharedValuesWriter::Open, which fails (and the worker sends its values over
// the wire as before) whenever the file is not reachable or not the one named: another host,
// another PID namespace, another user, or a stale name.
#ifndef GPOOL_COMMON_SHARED_VALUES_H_
#define GPOOL_COMMON_SHARED_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/value_stats.h"

namespace gpool {

// How a worker finds a client's buffer: /proc/<pid>/fd/<fd>, and the token its header holds.
struct SharedValuesRef {
  int64_t pid = 0;
  int fd = -1;
  uint64_t token_high = 0;
  uint64_t token_low = 0;
};

// INVALID_ARGUMENT unless pid >= 1 and fd >= 0: what the coordinator checks in a request.
absl::Status ValidateSharedValuesRef(const SharedValuesRef& ref);

// The client's side: a memfd holding one job's values by position, which the client takes out
// chunk by chunk as the results arrive. Taking a chunk's values may also free their memory, so
// that the file holds only values written and not yet taken, not the whole job; or the memory
// may be kept, for the next job to reuse (Renew), so that workers write into pages that
// exist instead of having the kernel allocate and zero a page every 4 KiB.
//
// Thread-compatible: one job at a time, one reader (the thread that reads the job's stream).
class SharedValuesBuffer {
 public:
  // A buffer for values 0 .. capacity-1. UNAVAILABLE when the kernel refuses the memfd (the
  // caller then lets values travel over the wire).
  static absl::StatusOr<std::unique_ptr<SharedValuesBuffer>> Create(uint64_t capacity);
  ~SharedValuesBuffer();

  SharedValuesBuffer(const SharedValuesBuffer&) = delete;
  SharedValuesBuffer& operator=(const SharedValuesBuffer&) = delete;

  const SharedValuesRef& ref() const { return ref_; }
  uint64_t capacity() const { return capacity_; }

  // Makes the buffer ready for another job of `capacity` values: a new token, so that a
  // worker still busy with the previous job can no longer write to it (workers check the
  // token under a shared file lock, and this changes it under an exclusive one).
  // UNAVAILABLE when the file cannot be resized or written.
  absl::Status Renew(uint64_t capacity);

  // Whether Take frees the memory of the values it takes (false by default: the memory stays
  // for the next job). For jobs too big to keep.
  void set_release_taken(bool release) { release_taken_ = release; }

  // Copies values [first, first + count) to `out` (unless it is null) and returns what they
  // add up to (so that the caller can check them without reading them again). OUT_OF_RANGE
  // beyond the capacity.
  absl::StatusOr<ValueStats> Take(uint64_t first, uint64_t count, int64_t* out);

 private:
  explicit SharedValuesBuffer(int fd) : fd_(fd) {}
  // A new token and `capacity` in the header; the file and its mapping at least that long.
  absl::Status WriteHeader(uint64_t capacity);

  const int fd_;
  // The file mapped read-only: values are copied out with memcpy, not a system call per
  // chunk, and pages the previous job mapped stay mapped.
  const char* mapping_ = nullptr;
  size_t mapped_bytes_ = 0;
  uint64_t capacity_ = 0;
  bool release_taken_ = false;
  SharedValuesRef ref_;
};

// The worker's side: one client's buffer, opened for writing. Move-only; closes the file.
class SharedValuesWriter {
 public:
  // Opens the buffer `ref` names. NOT_FOUND when /proc/<pid>/fd/<fd> does not exist or is not
  // a gpool values memfd; PERMISSION_DENIED when this process may not open it (another user);
  // FAILED_PRECONDITION when its header does not hold the token (another process's file under
  // that name, e.g. on another host or in another PID namespace).
  static absl::StatusOr<SharedValuesWriter> Open(const SharedValuesRef& ref);

  SharedValuesWriter(SharedValuesWriter&& other) noexcept;
  SharedValuesWriter& operator=(SharedValuesWriter&& other) noexcept;
  ~SharedValuesWriter();

  // Values to write: the job's values first .. first + count - 1.
  struct Span {
    uint64_t first = 0;
    const int64_t* values = nullptr;
    uint64_t count = 0;
  };

  // Writes every span, checking the token once, through one mapping for spans that follow
  // each other (the chunks of one call usually do). OUT_OF_RANGE beyond the buffer's capacity
  // (nothing is written then); FAILED_PRECONDITION when the client has since renewed the
  // buffer for another job (nothing is written then); UNAVAILABLE when a write fails.
  absl::Status Write(const std::vector<Span>& spans);

 private:
  SharedValuesWriter(int fd, const SharedValuesRef& ref) : fd_(fd), ref_(ref) {}
  // The capacity in the file's header; FAILED_PRECONDITION unless it holds ref_'s token.
  absl::StatusOr<uint64_t> CheckHeader() const;
  // Writes `count` spans that follow each other in the file.
  absl::Status WriteRun(const Span* spans, size_t count) const;

  int fd_ = -1;
  SharedValuesRef ref_;
  uint64_t capacity_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_COMMON_SHARED_VALUES_H_
