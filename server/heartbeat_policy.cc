#include "server/heartbeat_policy.h"

#include <algorithm>

namespace gpool {

HeartbeatPolicy::HeartbeatPolicy(absl::Duration min_interval, absl::Duration min_lease,
                                 double budget, absl::Duration max_interval)
    // Whole milliseconds, the protocol's unit: a worker reports back exactly what it was
    // granted, so the coordinator can tell by equality whether it follows its grant.
    : min_interval_(absl::Ceil(min_interval, absl::Milliseconds(1))),
      min_lease_(min_lease),
      budget_(budget),
      max_interval_(std::max(absl::Ceil(max_interval, absl::Milliseconds(1)), min_interval_)) {}

absl::Duration HeartbeatPolicy::NextInterval(absl::Duration current, int workers) const {
  if (budget_ <= 0) return min_interval_;
  const absl::Duration ideal = absl::Seconds(std::max(workers, 0) / budget_);
  absl::Duration next = current;
  if (ideal > current) {
    next = std::max(ideal, current * kStep);
  } else if (ideal * (kStep * kStep) < current) {
    next = ideal * kStep;
  }
  return Clamp(absl::Ceil(next, absl::Milliseconds(1)));
}

absl::Duration HeartbeatPolicy::Clamp(absl::Duration reported) const {
  return std::clamp(reported, min_interval_, max_interval_);
}

absl::Duration HeartbeatPolicy::LeaseFor(absl::Duration interval) const {
  return min_lease_ * absl::FDivDuration(Clamp(interval), min_interval_);
}

}  // namespace gpool
