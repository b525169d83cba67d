// The coordinator's registry of workers: who is registered, under which incarnation, the
// lease each holds (the interval it beats at and the silence after which it is dead), the
// interval every worker is asked to beat at (it grows with the cluster, HeartbeatPolicy),
// whether it is draining, and what it holds: its calls and chunks in flight, its chunks done
// and its faults.
//
// It knows no jobs: a chunk in flight is a (job sequence, chunk index, attempt) triple to it,
// and deciding what a dead worker's chunks mean is the Scheduler's business. Time is given,
// never read: every method that needs "now" takes it, so tests need no clock at all.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_WORKER_REGISTRY_H_
#define GPOOL_SERVER_WORKER_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cluster_info.h"
#include "common/worker_registration.h"
#include "server/heartbeat_policy.h"
#include "server/worker_connection.h"

namespace gpool {

// One registered worker. The registry hands out references to it; they stay valid until the
// worker is removed.
struct RegisteredWorker {
  WorkerRegistration registration;
  std::string worker_id;
  uint64_t sequence = 0;  // registration order
  std::shared_ptr<WorkerConnection> connection;
  absl::Time last_heartbeat;
  // The interval the worker beats at: granted at registration, then as its beats report
  // it (clamped to what the policy allows). Its lease follows from it.
  absl::Duration heartbeat_interval;
  absl::Duration lease_timeout;
  // (job sequence, chunk index, attempt) of every chunk sent and not answered.
  absl::btree_set<std::tuple<uint64_t, uint64_t, int>> in_flight;
  // RunChunks calls sent and not answered: what capacity is counted in.
  int calls_in_flight = 0;
  int64_t chunks_done = 0;
  // Chunks it failed other than by dying: see WorkerInfo::faults.
  int64_t faults = 0;
  // Leaving gracefully: gets no new chunks.
  bool draining = false;
  // Outvoted under --verify: gets no new chunks of any job (WorkerInfo::quarantined).
  bool quarantined = false;
  std::string quarantine_reason;

  // A call of job `job_sequence` carrying `tasks` was sent to it: it holds them.
  void CallStarted(uint64_t job_sequence, const std::vector<ChunkTask>& tasks);
  // That call ended; `chunks` are its (chunk index, attempt) pairs.
  void CallEnded(uint64_t job_sequence, const std::vector<std::pair<uint64_t, int>>& chunks);

  bool Offers(const std::string& function) const;
  // The worker's signature of `function`; null when it does not offer it.
  const FunctionSignature* Signature(const std::string& function) const;
  // May take new chunks of `function`: offers it, is not draining and not quarantined.
  bool Accepts(const std::string& function) const {
    return !draining && !quarantined && Offers(function);
  }
  // "w3 (host/pid)", for logs and error messages.
  std::string Label() const;
};

// A registered worker that holds the address a registration claims: the registration may
// complete only once the worker serving at the address says whether it is still this one.
struct AddressHolder {
  std::string worker_id;
  uint64_t incarnation = 0;
  std::shared_ptr<WorkerConnection> connection;
};

// What the worker at the address answered about `worker_id`'s incarnation: true when it
// still is that worker, false when it is another process, an error when nothing answered.
struct HolderAnswer {
  std::string worker_id;
  absl::StatusOr<bool> confirmed;
};

// A registration may take its address once these holders are gone: (worker id, why it is
// replaced), for the caller to remove after handing back their chunks.
struct AddressReplacement {
  std::vector<std::pair<std::string, std::string>> replaced;
};

class WorkerRegistry {
 public:
  explicit WorkerRegistry(HeartbeatPolicy policy);

  // Ids of the workers registered from `address`: a newcomer from there replaces them (the
  // caller removes them first, after handing back their chunks).
  std::vector<std::string> AtAddress(const std::string& address) const;

  // Whether `registration` may take its address now, and on what terms; it changes nothing.
  // The replacement (possibly of nobody) when the address is free, held by the same
  // incarnation (the worker registering again, as after a lost answer), or held by the
  // worker `answer` is about and that answer is not "still alive". The holder to ask first
  // when another incarnation holds the address and `answer` is not about it (no answer yet,
  // or another registration replaced the one asked about meanwhile). ALREADY_EXISTS when
  // the holder confirmed its incarnation: nobody evicts a live worker. RESOURCE_EXHAUSTED
  // when `max_workers` are registered and none of them holds the address.
  absl::StatusOr<std::variant<AddressReplacement, AddressHolder>> ClaimAddress(
      const WorkerRegistration& registration, const std::optional<HolderAnswer>& answer,
      int max_workers) const;

  // Adds a validated registration under a new worker id ("w1", "w2", ...) and returns it with
  // its grant. The newcomer counts in its own grant.
  RegisteredWorker& Add(const WorkerRegistration& registration,
                        std::shared_ptr<WorkerConnection> connection, absl::Time now);

  // Forgets the worker (no-op when unknown) and regrants for the smaller cluster.
  void Remove(const std::string& worker_id);

  // nullptr when unknown; with an incarnation, also when it differs.
  RegisteredWorker* Find(const std::string& worker_id);
  const RegisteredWorker* Find(const std::string& worker_id) const;
  RegisteredWorker* Find(const std::string& worker_id, uint64_t incarnation);

  // Renews the worker's lease, which follows `reported_interval` (clamped), and returns the
  // grant every worker should beat at now. INVALID_ARGUMENT when `reported_interval` is under
  // 1 ms; NOT_FOUND for an unknown worker or another incarnation.
  absl::StatusOr<HeartbeatGrant> Heartbeat(const std::string& worker_id, uint64_t incarnation,
                                           absl::Duration reported_interval, absl::Time now);

  // The worker gets no new chunks from now on. NOT_FOUND like Heartbeat.
  absl::Status Drain(const std::string& worker_id, uint64_t incarnation);

  // The worker gets no new chunks of any job from now on, shown quarantined with `reason`.
  // nullptr when unknown or quarantined already.
  RegisteredWorker* Quarantine(const std::string& worker_id, const std::string& reason);

  // Ids of the workers silent for longer than their lease at `now`.
  std::vector<std::string> Expired(absl::Time now) const;
  // The coordinator did not run for `gap` until `now`: every worker's silence is shortened by
  // it (its last beat moves `gap` later, never past `now`).
  void ExcuseSilence(absl::Duration gap, absl::Time now);

  // Whether some worker accepts chunks of `function`.
  bool AnyAccepts(const std::string& function) const;
  // Every function some registered worker offers, sorted, without repeats.
  std::vector<std::string> AvailableFunctions() const;
  // The types of `function`, as the registered workers offer it (all alike: see
  // CheckSignatures); nullopt when none offers it.
  std::optional<FunctionSignature> SignatureOf(const std::string& function) const;
  // FAILED_PRECONDITION when `registration` offers a function with other types than a
  // registered worker (at another address) does, naming both signatures and that worker.
  absl::Status CheckSignatures(const WorkerRegistration& registration) const;
  int TotalSlots() const;

  HeartbeatGrant CurrentGrant() const;
  // By registration order, as many as fit `byte_budget` encoded (EncodedSizeBound): the
  // first workers, up to the first that does not fit.
  std::vector<WorkerInfo> Snapshot(absl::Time now, size_t byte_budget = SIZE_MAX) const;

  size_t size() const { return workers_.size(); }
  // By worker id; for the dispatch policy's scans.
  std::map<std::string, RegisteredWorker>& workers() { return workers_; }
  const std::map<std::string, RegisteredWorker>& workers() const { return workers_; }

 private:
  // The number of workers changed: updates the interval granted to every worker. Workers
  // learn of it at their next beat.
  void Regrant();

  const HeartbeatPolicy policy_;
  std::map<std::string, RegisteredWorker> workers_;
  // The heartbeat interval every worker is asked to beat at now.
  absl::Duration granted_interval_;
  uint64_t next_sequence_ = 1;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_WORKER_REGISTRY_H_
