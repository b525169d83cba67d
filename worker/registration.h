// Keeps a worker registered with its coordinator: registers, heartbeats at the interval the
// coordinator asks for (adopting each new grant: the interval grows with the cluster), and
// registers again at once whenever the coordinator no longer knows it (a lease expiry) or
// answers as another coordinator process (a restart: another coordinator_incarnation), retrying
// a failed registration with exponential backoff and jitter; stops for good when the
// coordinator says another live worker holds its address. Transport-free: the RPCs go
// through a CoordinatorLink.
#ifndef GPOOL_WORKER_REGISTRATION_H_
#define GPOOL_WORKER_REGISTRATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/worker_registration.h"

namespace gpool {

// The coordinator's worker-facing RPCs. Implementations set their own deadlines.
class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  virtual absl::StatusOr<RegistrationGrant> Register(const WorkerRegistration& registration) = 0;
  // One beat, telling the coordinator the worker beats every `interval` from now on. Returns
  // the coordinator's current grant. When its interval differs from `interval`, the caller
  // must adopt it at once: its next beat comes no later than min(interval, granted interval)
  // and reports the granted one (proto/gpool.proto, Heartbeat). NOT_FOUND means "register
  // again"; any other error, that the beat did not count.
  virtual absl::StatusOr<HeartbeatGrant> Heartbeat(const std::string& worker_id,
                                                   uint64_t incarnation,
                                                   absl::Duration interval) = 0;
  // Graceful leave: no new chunks, then forget this worker (see proto/gpool.proto).
  virtual absl::Status Drain(const std::string& worker_id, uint64_t incarnation) = 0;
  virtual absl::Status Deregister(const std::string& worker_id, uint64_t incarnation) = 0;
};

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  // Each delay is scaled by a random factor in [1 - jitter, 1 + jitter], so workers that
  // lost the same coordinator do not come back in lock-step.
  double jitter = 0.2;
  // The cap (before jitter) while the coordinator cannot be reached at all: a restarted
  // coordinator is then found within about this long of its start. Dialling a coordinator
  // that is down costs it nothing; the longer `max` is for a coordinator that answers and
  // refuses (e.g. RESOURCE_EXHAUSTED), where a fleet retrying fast would add to its load.
  absl::Duration unreachable_max = absl::Milliseconds(500);
};

// The delay before registration attempt `failures + 1`, given `failures` failures so far.
absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures, std::mt19937_64& random);

// The delay before registering again after `failures` failures, the last being `failure`:
// BackoffDelay, capped at policy.unreachable_max while the coordinator cannot be reached
// (UNAVAILABLE, DEADLINE_EXCEEDED).
absl::Duration RegistrationRetryDelay(const BackoffPolicy& policy, int failures,
                                      const absl::Status& failure, std::mt19937_64& random);

// Whether a registered worker must register again after this heartbeat outcome: NOT_FOUND
// (the coordinator does not know the registration), or an answer from another coordinator
// process than the one that made it (`registered_with`, RegistrationGrant's
// coordinator_incarnation; an incarnation of 0 is "not said" and compares with nothing).
// Other failures are not: the beat did not arrive, and the worker beats again.
bool MustRegisterAgain(const absl::StatusOr<HeartbeatGrant>& beat, uint64_t registered_with);

// Runs its loop on a background thread between Start and Stop. Thread-safe.
class RegistrationLoop {
 public:
  // Called (on the loop's thread) with true when the worker becomes registered and with false
  // when the coordinator no longer knows it; the worker's health status follows it.
  using StateCallback = std::function<void(bool registered)>;
  // Called (on the loop's thread) when the coordinator refuses the registration for good:
  // ALREADY_EXISTS, another live worker answers at this worker's address. The loop has ended
  // then; retrying cannot help while that worker lives, so the worker should exit.
  using RefusedCallback = std::function<void(const absl::Status& refusal)>;

  // `link` must outlive the loop.
  RegistrationLoop(CoordinatorLink* link, WorkerRegistration registration,
                   BackoffPolicy backoff = {}, StateCallback on_state_change = nullptr,
                   RefusedCallback on_refused = nullptr);
  ~RegistrationLoop();

  void Start();
  // Stops heartbeating; returns once the loop thread has exited.
  void Stop();

  // Graceful shutdown: asks the coordinator for no new chunks, waits (heartbeating on) until
  // `await_idle(remaining time)` says the chunks in hand are done or `timeout` passes, then
  // deregisters, handing back whatever is left, and stops. Without a registration it only
  // stops. Returns the first error from the coordinator (the worker exits anyway).
  absl::Status Leave(absl::Duration timeout,
                     const std::function<bool(absl::Duration)>& await_idle);

  // The current worker id; empty while unregistered.
  std::string worker_id() const;
  // Waits until the worker has registered at least `count` times and is registered now;
  // false on timeout.
  bool AwaitRegistrations(int count, absl::Duration timeout) const;
  // How many times the worker registered (1 after the first success).
  int registrations() const;
  // The interval the worker beats at now (the last one granted); zero while unregistered.
  absl::Duration heartbeat_interval() const;
  // The incarnation of the coordinator the worker is registered with; 0 while unregistered
  // (or when the coordinator does not say).
  uint64_t coordinator_incarnation() const;

 private:
  void Loop();

  CoordinatorLink* const link_;
  const WorkerRegistration registration_;
  const BackoffPolicy backoff_;
  const StateCallback on_state_change_;
  const RefusedCallback on_refused_;
  absl::Notification stop_;

  mutable absl::Mutex mu_;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  uint64_t coordinator_incarnation_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;  // Last: started after every other member is ready.
};

}  // namespace gpool

#endif  // GPOOL_WORKER_REGISTRATION_H_
