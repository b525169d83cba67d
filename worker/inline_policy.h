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
// to be short are computed there: by the measured time per element of calls of the same
// kind (the caller's key: calls of one function cost alike per element only in one result
// mode and input form), once there is one, and never more than kMaxElements. Thread-safe.
class InlinePolicy {
 public:
  static constexpr absl::Duration kDefaultBudget = absl::Microseconds(50);
  static constexpr uint64_t kMaxElements = uint64_t{1} << 16;

  // `budget`: the longest a call may be predicted to take and still be computed inline.
  explicit InlinePolicy(absl::Duration budget = kDefaultBudget) : budget_(budget) {}

  // True when `elements` of calls of `kind` are predicted to take at most the budget. False
  // for a kind not measured yet, and beyond kMaxElements.
  bool ShouldInline(const std::string& kind, uint64_t elements) const;

  // A call of `kind` computed `elements` in `took` (inline or not).
  void Record(const std::string& kind, uint64_t elements, absl::Duration took);

 private:
  const absl::Duration budget_;
  mutable absl::Mutex mu_;
  // Nanoseconds per element, a moving average that leans on recent calls.
  absl::flat_hash_map<std::string, double> ns_per_element_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_WORKER_INLINE_POLICY_H_
