// What a worker tells the coordinator about itself, and what it gets back. Shared by the
// coordinator's scheduler and the worker's registration loop.
#ifndef GPOOL_COMMON_WORKER_REGISTRATION_H_
#define GPOOL_COMMON_WORKER_REGISTRATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/elements.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gpool {

// The most chunks a worker may accept in one RunChunks call (proto/gpool.proto,
// RegisterWorkerRequest.max_chunks_per_call).
inline constexpr int kMaxChunksPerCall = 16384;
// The most slots one worker may register (RegisterWorkerRequest.slots): more cores than any
// machine has, and small enough that the cluster's slots add up in an int32 (ClusterInfo's
// total_slots) for half a million such workers.
inline constexpr int kMaxSlots = 4096;

// The most functions one worker may offer, and the longest function name: a registration is
// kept for the worker's life and shown by `gpool info`.
inline constexpr int kMaxFunctionsPerWorker = 1024;
inline constexpr size_t kMaxFunctionNameBytes = 128;

struct WorkerRegistration {
  std::string address;  // host:port the coordinator dials
  int64_t pid = 0;
  std::string host;
  int slots = 1;
  std::vector<FunctionSignature> functions;
  uint64_t incarnation = 0;  // random per process start
  // The most chunks the worker accepts in one RunChunks call: 1 to kMaxChunksPerCall.
  int max_chunks_per_call = 1;
};

// OK when `name` can name a function: 1 to kMaxFunctionNameBytes bytes of printable ASCII
// without spaces (so that a name never forges a log line or a row of `gpool info`).
// INVALID_ARGUMENT naming `field`, the limit and the (escaped) name otherwise.
absl::Status ValidateFunctionName(absl::string_view name, absl::string_view field);

// Every limit of RegisterWorkerRequest (proto/gpool.proto): a dialable HOST:PORT address,
// pid >= 1, a valid host, slots and max_chunks_per_call in range, 1 to
// kMaxFunctionsPerWorker valid function names without repeats. INVALID_ARGUMENT naming the
// field, its limit and the value given.
absl::Status ValidateRegistration(const WorkerRegistration& registration);

struct RegistrationGrant {
  std::string worker_id;
  absl::Duration heartbeat_interval;
  // Silence longer than this and the worker is declared dead; it follows the interval.
  absl::Duration lease_timeout;
  // The coordinator process that made the registration (proto/gpool.proto,
  // RegisterWorkerResponse.coordinator_incarnation); 0 when it did not say.
  uint64_t coordinator_incarnation = 0;
};

// What the coordinator asks of one worker's heartbeats once it is registered. The coordinator
// lengthens the interval as the cluster grows, so that the beats of all workers together stay
// within its budget, and the lease follows the interval a worker reports beating at.
struct HeartbeatGrant {
  absl::Duration interval;
  absl::Duration lease_timeout;
  // The coordinator process that answered the beat; 0 when it did not say. Another value than
  // the registration's means the registration is gone: register again.
  uint64_t coordinator_incarnation = 0;
};

}  // namespace gpool

#endif  // GPOOL_COMMON_WORKER_REGISTRATION_H_
