// How often the coordinator asks workers to heartbeat, and how long their leases last, as the
// cluster grows.
//
// Each beat costs the coordinator about 100 µs of CPU inside gRPC 1.51 (docs/performance.md,
// "Scale"), so at a fixed interval its idle load grows with the cluster: 20 % of a core for
// 1,000 workers beating every 500 ms. As Dask's scheduler does (its heartbeat interval grows
// with the number of workers), the coordinator instead grants a longer interval as workers
// join, so that all their beats together stay within a budget (beats per second), and keeps
// the minimum interval while the cluster is small enough for it.
//
// A worker's lease is the same multiple of the interval it beats at as the minimum lease is of
// the minimum interval (3 s / 500 ms = 6 by default), so every worker may miss as many beats
// in a row before it is declared dead. The price: the bound for noticing a silent worker
// (frozen, cut off) grows with the interval. A crashed worker is still noticed at once, by
// the failure of the calls it holds.
//
// Grants move in steps, with hysteresis, so that one worker joining or leaving does not send
// the whole cluster a new interval each time. With `ideal` = workers / budget:
//   * ideal above the grant (the budget would be exceeded): the grant grows to
//     max(ideal, 1.25 × grant), so the beat rate stays within the budget and a cluster
//     ramping up to 1,000 workers is re-granted about eight times, not 800;
//   * ideal × 1.25² below the grant (the cluster shrank by more than a step): the grant
//     shrinks to 1.25 × ideal, leaving room to grow by a step before the next change;
//   * otherwise the grant stays.
// Always clamped to [min_interval, max_interval] and rounded up to whole milliseconds (the
// protocol's unit), so the rate never exceeds the budget by rounding either.
//
// Thread-safe: immutable after construction.
#ifndef GPOOL_SERVER_HEARTBEAT_POLICY_H_
#define GPOOL_SERVER_HEARTBEAT_POLICY_H_

#include "absl/time/time.h"

namespace gpool {

class HeartbeatPolicy {
 public:
  // Growth (and shrink) step of a grant.
  static constexpr double kStep = 1.25;

  // `budget`: beats per second of all workers together; 0 turns adaptation off (every worker
  // gets `min_interval`). Requires 0 < min_interval <= max_interval, min_lease > min_interval,
  // budget >= 0 (the coordinator daemon checks its flags).
  HeartbeatPolicy(absl::Duration min_interval, absl::Duration min_lease, double budget,
                  absl::Duration max_interval);

  // The shortest interval granted, rounded up to whole milliseconds like every grant.
  absl::Duration min_interval() const { return min_interval_; }
  double budget() const { return budget_; }

  // The interval to grant with `workers` registered, given the interval granted now.
  absl::Duration NextInterval(absl::Duration current, int workers) const;

  // The interval the coordinator holds a worker to when it reports beating every `reported`:
  // no shorter than the minimum (a lease never shorter than --lease_timeout) and no longer
  // than the maximum (a worker cannot choose to go silent for longer than allowed).
  absl::Duration Clamp(absl::Duration reported) const;

  // The lease of a worker that beats every `interval` (clamped as above): the minimum lease
  // scaled by interval / min_interval.
  absl::Duration LeaseFor(absl::Duration interval) const;

 private:
  const absl::Duration min_interval_;
  const absl::Duration min_lease_;
  const double budget_;
  const absl::Duration max_interval_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_HEARTBEAT_POLICY_H_
