#include "common/process_tuning.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace gpool {

void TuneProcess() {
  // 32 MiB is glibc's ceiling for the mmap threshold (half its per-thread heap size); a
  // chunk's values are well below it unless chunks are huge.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace gpool
