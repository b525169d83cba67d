// A cheap answer to "was this call cancelled?" for code that asks it between small pieces of
// work. Transport-free.
#ifndef GPOOL_WORKER_CANCELLATION_CHECK_H_
#define GPOOL_WORKER_CANCELLATION_CHECK_H_

#include <functional>
#include <utility>

#include "absl/time/time.h"
#include "common/clock.h"

namespace gpool {

// Asks `ask` at most once per `period` and repeats the last answer in between; once the
// answer is "cancelled" it stays so. It exists because gRPC's sync
// ServerContext::IsCancelled() polls the call's completion queue (a futex wait, ~8 µs): asked
// once per one-element chunk, it cost the worker more than the chunks themselves, and most of
// W3's time. Noticing a cancellation up to `period` late only lets a doomed chunk run that
// much longer. Not thread-safe: one per call.
class CancellationCheck {
 public:
  CancellationCheck(std::function<bool()> ask, absl::Duration period, const Clock* clock)
      : ask_(std::move(ask)), period_(period), clock_(clock) {}

  bool operator()() {
    if (cancelled_) return true;
    const absl::Time now = clock_->Now();
    if (now < next_ask_) return false;
    next_ask_ = now + period_;
    cancelled_ = ask_();
    return cancelled_;
  }

  // For callers that take a std::function<bool()>; `this` must outlive it.
  std::function<bool()> AsFunction() {
    return [this] { return (*this)(); };
  }

 private:
  const std::function<bool()> ask_;
  const absl::Duration period_;
  const Clock* const clock_;
  absl::Time next_ask_ = absl::InfinitePast();
  bool cancelled_ = false;
};

}  // namespace gpool

#endif  // GPOOL_WORKER_CANCELLATION_CHECK_H_
