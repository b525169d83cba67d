// Warnings that a peer can cause at will (a flood of refused registrations), logged without
// letting the peer grow the log without bound.
#ifndef GPOOL_COMMON_RATE_LIMITED_LOG_H_
#define GPOOL_COMMON_RATE_LIMITED_LOG_H_

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace gpool {

// Thread-safe. Per reason, at most `max_lines` lines in each `period` (a period starts with
// the first line of its reason after the last one ended); what comes beyond that is counted,
// and once the period is over one line says how many were suppressed. That line is written
// at the next warning of any reason after the period, or when the log is destroyed (at
// shutdown): nothing waits on a timer. Reasons must come from a small fixed set (they are
// kept for the log's life): never a string a peer chose.
class RateLimitedLog {
 public:
  using Sink = std::function<void(absl::string_view line)>;

  // `clock` must outlive the log. `sink` writes a line (null: LogWarning).
  RateLimitedLog(const Clock* clock, int max_lines, absl::Duration period, Sink sink = nullptr);
  ~RateLimitedLog();

  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;

  // Writes `line` unless `reason` has had max_lines lines in its current period.
  void Warn(absl::string_view reason, absl::string_view line);

 private:
  struct Window {
    absl::Time start;
    int lines = 0;
    int64_t suppressed = 0;
  };

  // Writes the suppressed count of every window over by `now` and forgets those windows.
  void FlushEndedLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string SuppressedLine(absl::string_view reason, const Window& window) const;

  const Clock* const clock_;
  const int max_lines_;
  const absl::Duration period_;
  const Sink sink_;
  absl::Mutex mu_;
  std::map<std::string, Window, std::less<>> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_COMMON_RATE_LIMITED_LOG_H_
