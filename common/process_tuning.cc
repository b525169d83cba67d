#include "common/process_tuning.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

#include "absl/synchronization/mutex.h"

namespace gpool {

void TuneProcess() {
  // 32 MiB is glibc's ceiling for the mmap threshold (half its per-thread heap size); a
  // chunk's values are well below it unless chunks are huge.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void AdviseHugePages(void* data, size_t bytes) {
  constexpr uintptr_t kHugePage = 2 << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end <= begin) return;
  // Failure (no THP in this kernel) leaves ordinary pages, which work the same.
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace gpool
