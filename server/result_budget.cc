#include "server/result_budget.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gpool {

void ReturnFreeMemory() {
#if defined(__GLIBC__)
  // Result buffers of 2 MiB are above malloc's initial mmap threshold, but glibc raises the
  // threshold each time such a block is freed, so later ones come from the heap and stay
  // there once freed: trimming releases those pages (in every arena, not only the top).
  malloc_trim(0);
#endif
}

}  // namespace gpool
