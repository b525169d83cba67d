#include "client/reconnect_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gpool {

ReconnectPolicy::ReconnectPolicy(absl::Time deadline, Options options)
    : deadline_(deadline), options_(options) {}

std::optional<absl::Duration> ReconnectPolicy::NextWait(absl::Time now) {
  if (now >= deadline_) return std::nullopt;
  absl::Duration wait = options_.first_wait;
  // Doubling, but not beyond max_wait (and without overflowing however many attempts).
  for (int i = 0; i < attempts_ && wait < options_.max_wait; ++i) wait *= 2;
  ++attempts_;
  return std::min({wait, options_.max_wait, deadline_ - now});
}

LostSubmission JudgeLostSubmission(uint64_t lost_incarnation, uint64_t resumed_incarnation) {
  if (lost_incarnation == 0 || resumed_incarnation == 0) return LostSubmission::kUnknown;
  return lost_incarnation == resumed_incarnation ? LostSubmission::kCancelledWithItsCall
                                                 : LostSubmission::kGoneWithItsCoordinator;
}

std::string ResumptionNotice(const std::string& address, uint64_t lost_incarnation,
                             uint64_t resumed_incarnation) {
  switch (JudgeLostSubmission(lost_incarnation, resumed_incarnation)) {
    case LostSubmission::kUnknown:
      return "";
    case LostSubmission::kCancelledWithItsCall:
      return absl::StrCat("the coordinator at ", address,
                          " did not restart; the job's first submission ended with its call");
    case LostSubmission::kGoneWithItsCoordinator:
      return absl::StrCat("the coordinator at ", address, " restarted (incarnation ",
                          absl::Hex(lost_incarnation, absl::kZeroPad16), " -> ",
                          absl::Hex(resumed_incarnation, absl::kZeroPad16),
                          "): the job's first submission is gone with it; the resubmission "
                          "runs the missing chunks");
  }
  return "";
}

}  // namespace gpool
