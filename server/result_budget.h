// The coordinator's budget for result bytes, across all its jobs (--result_buffer_bytes).
// A values-mode chunk reserves its bytes (element_count × 8) when it is first dispatched,
// not when its result lands, so chunks in flight are inside the budget and can never
// overshoot it; the bytes are released when the result has been written to the client, or
// when the job ends. While the budget is taken, dispatch of values-mode chunks pauses.
//
// Progress: a job that holds no reservation may always take one chunk (MayReserve), so a
// job is never starved by others whose clients read slowly, and a budget smaller than one
// chunk cannot deadlock. The bound is therefore the budget plus at most one chunk per job
// that went past it (at most 2 MiB each: MapRequest.chunk_size).
//
// A job may have a limit of its own (DispatchOptions::max_job_result_bytes); the
// coordinator sets none: counted from dispatch, a per-job limit of 32 MiB would cap a job at
// 16 chunks of 2 MiB in flight, idling the slots of a larger cluster. Its result window
// still bounds the results that landed and wait for its client.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_RESULT_BUDGET_H_
#define GPOOL_SERVER_RESULT_BUDGET_H_

#include <algorithm>
#include <cstdint>

namespace gpool {

class ResultBudget {
 public:
  // `max_bytes` for all jobs together; at least 1.
  explicit ResultBudget(int64_t max_bytes) : max_bytes_(std::max<int64_t>(1, max_bytes)) {}

  // How many more bytes a job holding `job_reserved` bytes, with its own limit `job_limit`,
  // may reserve now (0 or less: none). A job that holds nothing may always reserve one
  // chunk, whatever this says: see AllowsChunk.
  int64_t Room(int64_t job_reserved, int64_t job_limit) const {
    return std::min(max_bytes_ - reserved_, job_limit - job_reserved);
  }

  // Whether a job holding `job_reserved` bytes may reserve a chunk of `bytes`: within both
  // limits, or the job holds nothing (so that every job makes progress).
  bool AllowsChunk(int64_t job_reserved, int64_t job_limit, int64_t bytes) const {
    return job_reserved == 0 || bytes <= Room(job_reserved, job_limit);
  }

  void Reserve(int64_t bytes) { reserved_ += bytes; }
  // Releasing more than was reserved cannot drive the count below zero.
  void Release(int64_t bytes) { reserved_ = std::max<int64_t>(0, reserved_ - bytes); }

  int64_t reserved() const { return reserved_; }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  const int64_t max_bytes_;
  int64_t reserved_ = 0;
};

// Gives the memory malloc holds free back to the operating system (glibc's malloc_trim):
// after a job whose results were large has ended, so that the coordinator's RSS falls back
// instead of keeping its peak. A no-op where the C library has no such call.
void ReturnFreeMemory();

}  // namespace gpool

#endif  // GPOOL_SERVER_RESULT_BUDGET_H_
