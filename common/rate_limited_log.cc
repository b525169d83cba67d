#include "common/rate_limited_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace gpool {

RateLimitedLog::RateLimitedLog(const Clock* clock, int max_lines, absl::Duration period,
                               Sink sink)
    : clock_(clock),
      max_lines_(max_lines),
      period_(period),
      sink_(sink != nullptr ? std::move(sink) : Sink([](absl::string_view line) {
        LogWarning(line);
      })) {}

RateLimitedLog::~RateLimitedLog() {
  absl::MutexLock lock(&mu_);
  FlushEndedLocked(absl::InfiniteFuture());
}

void RateLimitedLog::Warn(absl::string_view reason, absl::string_view line) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  FlushEndedLocked(now);
  auto it = windows_.find(reason);
  if (it == windows_.end()) it = windows_.emplace(std::string(reason), Window{now}).first;
  Window& window = it->second;
  if (window.lines >= max_lines_) {
    ++window.suppressed;
    return;
  }
  ++window.lines;
  // Under mu_, so that a window's lines and its suppressed count come out in order.
  sink_(line);
}

void RateLimitedLog::FlushEndedLocked(absl::Time now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < period_) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0) sink_(SuppressedLine(it->first, it->second));
    it = windows_.erase(it);
  }
}

std::string RateLimitedLog::SuppressedLine(absl::string_view reason, const Window& window) const {
  return absl::StrCat("suppressed ", window.suppressed, " similar warnings (", reason,
                      ") after ", window.lines, " in ", absl::FormatDuration(period_));
}

}  // namespace gpool
