// Process-wide settings every gpool binary makes first thing in main.
#ifndef GPOOL_COMMON_PROCESS_TUNING_H_
#define GPOOL_COMMON_PROCESS_TUNING_H_

#include <cstddef>

namespace gpool {

// - Keeps freed memory of large messages for reuse. glibc serves big blocks (a chunk's
//   values are megabytes) with fresh mmap'd pages and returns them on free, so every message
//   paid a page fault per 4 KiB and the kernel's zeroing of it: a third of the coordinator's
//   time when streaming values.
// - Turns off Abseil's mutex lock-cycle detection. Debian builds Abseil without NDEBUG, so
//   it runs on every lock in production binaries; the tests keep it on.
void TuneProcess();

// Asks the kernel to back [data, data + bytes) with transparent huge pages where it can (the
// 2 MiB-aligned part of it), before the memory is first touched. For big result buffers: a
// 10^7-value result is 20,000 page faults with 4 KiB pages and 40 with 2 MiB ones. Advice
// only: without THP (or with THP off) nothing changes.
void AdviseHugePages(void* data, size_t bytes);

}  // namespace gpool

#endif  // GPOOL_COMMON_PROCESS_TUNING_H_
