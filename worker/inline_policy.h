// Which calls a worker computes on its I/O thread. Transport-free.
#ifndef GPOOL_WORKER_INLINE_POLICY_H_
#define GPOOL_WORKER_INLINE_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace gpool {

// A call computed on the thread that received it saves handing it to a compute thread: on
// a small job that hand-off (a wakeup, often of an idle CPU) costs more than the work. But
// while that thread computes, the worker's other calls wait for it, so only calls predicted
// to be short are computed there: by the function's measured time per element, once it has
// one. Thread-safe.
class InlinePolicy {
 public:
  // `budget`: the longest a call may be predicted to take and still be computed inline.
  explicit InlinePolicy(absl::Duration budget = kDefaultBudget) : budget_(budget) {}

  static constexpr absl::Duration kDefaultBudget = absl::Microseconds(50);

  // True when `elements` of `function` are predicted to take at most the budget. False for
  // a function not measured yet.
  bool ShouldInline(const std::string& function, uint64_t elements) const;

  // A call computed `elements` of `function` in `took` (inline or not).
  void Record(const std::string& function, uint64_t elements, absl::Duration took);

 private:
  const absl::Duration budget_;
  mutable absl::Mutex mu_;
  // Nanoseconds per element, a moving average that leans on recent calls.
  absl::flat_hash_map<std::string, double> ns_per_element_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_WORKER_INLINE_POLICY_H_
