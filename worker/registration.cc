#include "worker/registration.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace gpool {

absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures,
                            std::mt19937_64& random) {
  const double base_seconds =
      std::min(absl::ToDoubleSeconds(policy.initial) *
                   std::pow(policy.multiplier, static_cast<double>(std::max(failures, 0))),
               absl::ToDoubleSeconds(policy.max));
  std::uniform_real_distribution<double> spread(1.0 - policy.jitter, 1.0 + policy.jitter);
  return absl::Seconds(base_seconds * spread(random));
}

absl::Duration RegistrationRetryDelay(const BackoffPolicy& policy, int failures,
                                      const absl::Status& failure, std::mt19937_64& random) {
  if (!absl::IsUnavailable(failure) && !absl::IsDeadlineExceeded(failure)) {
    return BackoffDelay(policy, failures, random);
  }
  BackoffPolicy unreachable = policy;
  unreachable.max = std::min(policy.max, policy.unreachable_max);
  return BackoffDelay(unreachable, failures, random);
}

bool MustRegisterAgain(const absl::StatusOr<HeartbeatGrant>& beat, uint64_t registered_with) {
  if (absl::IsNotFound(beat.status())) return true;
  if (!beat.ok()) return false;
  return registered_with != 0 && beat->coordinator_incarnation != 0 &&
         beat->coordinator_incarnation != registered_with;
}

RegistrationLoop::RegistrationLoop(CoordinatorLink* link, WorkerRegistration registration,
                                   BackoffPolicy backoff, StateCallback on_state_change,
                                   RefusedCallback on_refused)
    : link_(link),
      registration_(std::move(registration)),
      backoff_(backoff),
      on_state_change_(std::move(on_state_change)),
      on_refused_(std::move(on_refused)) {}

RegistrationLoop::~RegistrationLoop() { Stop(); }

void RegistrationLoop::Start() { thread_ = std::thread([this] { Loop(); }); }

void RegistrationLoop::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::Status RegistrationLoop::Leave(absl::Duration timeout,
                                     const std::function<bool(absl::Duration)>& await_idle) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string id = worker_id();
  absl::Status status = absl::OkStatus();
  if (!id.empty()) {
    status = link_->Drain(id, registration_.incarnation);
    if (status.ok()) {
      LogInfo(absl::StrCat("draining: waiting up to ", absl::FormatDuration(timeout),
                           " for the chunks in hand"));
      if (!await_idle(deadline - absl::Now())) {
        LogWarning("drain timed out; handing the remaining chunks back");
      }
    }
  }
  Stop();
  if (!id.empty()) {
    absl::Status deregistered = link_->Deregister(id, registration_.incarnation);
    if (status.ok()) status = deregistered;
    if (deregistered.ok()) LogInfo(absl::StrCat("deregistered ", id));
  }
  return status;
}

std::string RegistrationLoop::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

bool RegistrationLoop::AwaitRegistrations(int count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return registrations_ >= count && !worker_id_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

int RegistrationLoop::registrations() const {
  absl::MutexLock lock(&mu_);
  return registrations_;
}

absl::Duration RegistrationLoop::heartbeat_interval() const {
  absl::MutexLock lock(&mu_);
  return heartbeat_interval_;
}

uint64_t RegistrationLoop::coordinator_incarnation() const {
  absl::MutexLock lock(&mu_);
  return coordinator_incarnation_;
}

void RegistrationLoop::Loop() {
  std::mt19937_64 random(registration_.incarnation);
  int failures = 0;
  std::string worker_id;
  // The coordinator process that granted the registration (0: it did not say).
  uint64_t registered_with = 0;
  // The interval granted last (at registration, then by heartbeats).
  absl::Duration heartbeat_interval;
  // Until the next beat: the interval, except right after a new grant.
  absl::Duration wait;
  while (!stop_.HasBeenNotified()) {
    if (worker_id.empty()) {
      absl::StatusOr<RegistrationGrant> grant = link_->Register(registration_);
      if (absl::IsAlreadyExists(grant.status())) {
        // Our address reaches another worker that is alive: two workers advertise the same
        // address. Retrying would only ask that worker again and again.
        LogError(absl::StrCat("registration refused: ", grant.status().message()));
        if (on_refused_) on_refused_(grant.status());
        return;
      }
      if (!grant.ok()) {
        const absl::Duration delay =
            RegistrationRetryDelay(backoff_, failures++, grant.status(), random);
        // The first failure is normal while a coordinator starts; say more as it goes on.
        (failures > 3 ? LogWarning : LogDebug)(
            absl::StrCat("registration failed (", grant.status().ToString(), "); retrying in ",
                         absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1)))));
        stop_.WaitForNotificationWithTimeout(delay);
        continue;
      }
      failures = 0;
      worker_id = grant->worker_id;
      registered_with = grant->coordinator_incarnation;
      heartbeat_interval = grant->heartbeat_interval;
      wait = heartbeat_interval;
      LogInfo(absl::StrCat("registered as ", worker_id, " (heartbeat every ",
                           absl::FormatDuration(heartbeat_interval), ", lease ",
                           absl::FormatDuration(grant->lease_timeout), "; coordinator ",
                           absl::Hex(registered_with, absl::kZeroPad16), ")"));
      {
        absl::MutexLock lock(&mu_);
        worker_id_ = worker_id;
        heartbeat_interval_ = heartbeat_interval;
        coordinator_incarnation_ = registered_with;
        ++registrations_;
      }
      if (on_state_change_) on_state_change_(true);
      continue;
    }
    if (stop_.WaitForNotificationWithTimeout(wait)) break;
    wait = heartbeat_interval;
    absl::StatusOr<HeartbeatGrant> grant =
        link_->Heartbeat(worker_id, registration_.incarnation, heartbeat_interval);
    if (MustRegisterAgain(grant, registered_with)) {
      LogWarning(grant.ok()
                     ? absl::StrCat("the coordinator restarted (incarnation ",
                                    absl::Hex(registered_with, absl::kZeroPad16), " is now ",
                                    absl::Hex(grant->coordinator_incarnation, absl::kZeroPad16),
                                    "); registering ", worker_id, " again")
                     : absl::StrCat("the coordinator no longer knows ", worker_id,
                                    "; registering again"));
      // At once: the coordinator answers, so nothing is gained by waiting, and every moment
      // unregistered is a moment this worker's slots are idle.
      worker_id.clear();
      registered_with = 0;
      {
        absl::MutexLock lock(&mu_);
        worker_id_.clear();
        heartbeat_interval_ = absl::ZeroDuration();
        coordinator_incarnation_ = 0;
      }
      if (on_state_change_) on_state_change_(false);
    } else if (!grant.ok()) {
      // Keep heartbeating: if the silence outlasts the lease, the coordinator answers
      // NOT_FOUND once it is reachable again, and we register anew.
      LogDebug(absl::StrCat("heartbeat failed: ", grant.status().ToString()));
    } else if (grant->interval != heartbeat_interval) {
      LogInfo(absl::StrCat("the coordinator asks for a heartbeat every ",
                           absl::FormatDuration(grant->interval), " (was ",
                           absl::FormatDuration(heartbeat_interval), "; lease ",
                           absl::FormatDuration(grant->lease_timeout), ")"));
      // The coordinator keeps the lease of the old interval until a beat reports the new
      // one. That beat comes no later than the old interval would have brought it, so a
      // longer interval never outruns the old lease, and no later than the new one.
      wait = std::min(heartbeat_interval, grant->interval);
      heartbeat_interval = grant->interval;
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = heartbeat_interval;
    }
  }
}

}  // namespace gpool
