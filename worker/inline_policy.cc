#include "worker/inline_policy.h"

#include <algorithm>

namespace gpool {
namespace {

// Weight of the newest call in the average: a function that turns slow (new inputs) stops
// being inlined within a few calls.
constexpr double kNewestWeight = 0.5;

}  // namespace

bool InlinePolicy::ShouldInline(const std::string& kind, uint64_t elements) const {
  if (elements > kMaxElements) return false;
  absl::MutexLock lock(&mu_);
  auto it = ns_per_element_.find(kind);
  if (it == ns_per_element_.end()) return false;
  // A call of no element still costs what one does.
  const double predicted_ns = it->second * static_cast<double>(std::max<uint64_t>(elements, 1));
  return predicted_ns <= absl::ToDoubleNanoseconds(budget_);
}

void InlinePolicy::Record(const std::string& kind, uint64_t elements, absl::Duration took) {
  const double ns = absl::ToDoubleNanoseconds(std::max(took, absl::ZeroDuration())) /
                    static_cast<double>(std::max<uint64_t>(elements, 1));
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = ns_per_element_.try_emplace(kind, ns);
  // Slower news counts in full: the cost of inlining a slow call is the other calls' wait.
  if (!inserted) it->second = std::max(ns, kNewestWeight * ns + (1 - kNewestWeight) * it->second);
}

}  // namespace gpool
