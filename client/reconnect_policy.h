// What a client does once its coordinator went away mid-job (crash, restart, network), apart
// from any transport: how often it looks whether the coordinator is back, and what the
// resubmitted job's start says about the submission that was lost.
#ifndef GPOOL_CLIENT_RECONNECT_POLICY_H_
#define GPOOL_CLIENT_RECONNECT_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace gpool {

// Paces the attempts to reach a coordinator again until `deadline` (ClientOptions::
// reconnect_timeout): each attempt dials at once and waits for a connection at most
// NextWait, which starts at first_wait and doubles up to max_wait. So a coordinator that is
// back is reached within about max_wait of answering, instead of after the channel's own
// reconnect backoff (up to 2 s), while a coordinator that stays away costs one refused dial
// per max_wait.
class ReconnectPolicy {
 public:
  struct Options {
    absl::Duration first_wait = absl::Milliseconds(20);
    absl::Duration max_wait = absl::Milliseconds(250);
  };

  explicit ReconnectPolicy(absl::Time deadline) : ReconnectPolicy(deadline, Options()) {}
  ReconnectPolicy(absl::Time deadline, Options options);

  // How long the next attempt, made at `now`, may wait for a connection; never past the
  // deadline. nullopt once the deadline has passed: give up.
  std::optional<absl::Duration> NextWait(absl::Time now);

  int attempts() const { return attempts_; }

 private:
  const absl::Time deadline_;
  const Options options_;
  int attempts_ = 0;
};

// What a resubmission's JobStarted says about the submission whose stream was lost, from the
// coordinator incarnations of the two (JobStarted.coordinator_incarnation; 0: not sent).
enum class LostSubmission {
  // A coordinator that does not say: nothing can be told.
  kUnknown,
  // The same coordinator process: only the connection broke, and the first submission was
  // cancelled with its call.
  kCancelledWithItsCall,
  // Another coordinator process (a restart): the first submission is gone with the old one.
  kGoneWithItsCoordinator,
};
LostSubmission JudgeLostSubmission(uint64_t lost_incarnation, uint64_t resumed_incarnation);

// The client's notice for a resubmission's start, e.g. "the coordinator at A restarted
// (incarnation 00..01 -> 00..02): the job's first submission is gone with it; ..."; empty for
// kUnknown.
std::string ResumptionNotice(const std::string& address, uint64_t lost_incarnation,
                             uint64_t resumed_incarnation);

}  // namespace gpool

#endif  // GPOOL_CLIENT_RECONNECT_POLICY_H_
