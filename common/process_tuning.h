// Process-wide settings every gpool binary makes first thing in main.
#ifndef GPOOL_COMMON_PROCESS_TUNING_H_
#define GPOOL_COMMON_PROCESS_TUNING_H_

namespace gpool {

// - Keeps freed memory of large messages for reuse. glibc serves big blocks (a chunk's
//   values are megabytes) with fresh mmap'd pages and returns them on free, so every message
//   paid a page fault per 4 KiB and the kernel's zeroing of it: a third of the coordinator's
//   time when streaming values.
// - Turns off Abseil's mutex lock-cycle detection. Debian builds Abseil without NDEBUG, so
//   it runs on every lock in production binaries; the tests keep it on.
void TuneProcess();

}  // namespace gpool

#endif  // GPOOL_COMMON_PROCESS_TUNING_H_
