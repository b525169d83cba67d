#include "server/worker_registry.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace gpool {

void RegisteredWorker::CallStarted(uint64_t job_sequence, const std::vector<ChunkTask>& tasks) {
  ++calls_in_flight;
  for (const ChunkTask& task : tasks) {
    in_flight.insert({job_sequence, task.chunk_index, task.attempt});
  }
}

void RegisteredWorker::CallEnded(uint64_t job_sequence,
                                 const std::vector<std::pair<uint64_t, int>>& chunks) {
  --calls_in_flight;
  for (const auto& [chunk_index, attempt] : chunks) {
    in_flight.erase({job_sequence, chunk_index, attempt});
  }
}

bool RegisteredWorker::Offers(const std::string& function) const {
  return Signature(function) != nullptr;
}

const FunctionSignature* RegisteredWorker::Signature(const std::string& function) const {
  for (const FunctionSignature& signature : registration.functions) {
    if (signature.name == function) return &signature;
  }
  return nullptr;
}

std::string RegisteredWorker::Label() const {
  return absl::StrCat(worker_id, " (", registration.host, "/", registration.pid, ")");
}

WorkerRegistry::WorkerRegistry(HeartbeatPolicy policy)
    : policy_(std::move(policy)), granted_interval_(policy_.min_interval()) {}

std::vector<std::string> WorkerRegistry::AtAddress(const std::string& address) const {
  std::vector<std::string> ids;
  for (const auto& [id, worker] : workers_) {
    if (worker.registration.address == address) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::variant<AddressReplacement, AddressHolder>> WorkerRegistry::ClaimAddress(
    const WorkerRegistration& registration, const std::optional<HolderAnswer>& answer,
    int max_workers) const {
  const std::vector<std::string> holders = AtAddress(registration.address);
  if (workers_.size() >= static_cast<size_t>(max_workers) && holders.empty()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the coordinator holds ", workers_.size(), " workers, its limit (",
        "--max_workers); register again later, or raise the limit"));
  }
  AddressReplacement claim;
  for (const std::string& id : holders) {
    const RegisteredWorker& holder = workers_.at(id);
    if (holder.registration.incarnation == registration.incarnation) {
      claim.replaced.emplace_back(id, "it registered again (lost its lease or the answer)");
      continue;
    }
    if (!answer.has_value() || answer->worker_id != id) {
      return AddressHolder{id, holder.registration.incarnation, holder.connection};
    }
    if (answer->confirmed.ok() && *answer->confirmed) {
      const std::string refusal = absl::StrCat(
          registration.address, " is the address of live worker ", holder.Label(),
          ", which still answers there with its registered incarnation; a worker "
          "registering as ",
          registration.host, "/", registration.pid,
          " cannot take it over: give each worker its own address (--listen port, "
          "--advertise_host)");
      return absl::AlreadyExistsError(refusal);
    }
    claim.replaced.emplace_back(
        id, answer->confirmed.ok()
                ? "a new process registered at its address, which no longer answers with "
                  "its incarnation (it restarted)"
                : absl::StrCat("a new registration claimed its address, and nothing "
                               "answered there (",
                               answer->confirmed.status().ToString(), ")"));
  }
  return claim;
}

RegisteredWorker& WorkerRegistry::Add(const WorkerRegistration& registration,
                                      std::shared_ptr<WorkerConnection> connection,
                                      absl::Time now) {
  RegisteredWorker worker;
  worker.sequence = next_sequence_++;
  worker.worker_id = absl::StrCat("w", worker.sequence);
  worker.registration = registration;
  worker.connection = std::move(connection);
  worker.last_heartbeat = now;
  LogInfo(absl::StrCat("worker ", worker.worker_id, " registered: ", registration.address,
                       " host=", registration.host, " pid=", registration.pid,
                       " slots=", registration.slots, " functions=",
                       absl::StrJoin(registration.functions, ",",
                                     [](std::string* out, const FunctionSignature& function) {
                                       out->append(function.Describe());
                                     })));
  auto [it, inserted] = workers_.emplace(worker.worker_id, std::move(worker));
  Regrant();
  it->second.heartbeat_interval = granted_interval_;
  it->second.lease_timeout = policy_.LeaseFor(granted_interval_);
  return it->second;
}

void WorkerRegistry::Remove(const std::string& worker_id) {
  if (workers_.erase(worker_id) > 0) Regrant();
}

RegisteredWorker* WorkerRegistry::Find(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? nullptr : &it->second;
}

const RegisteredWorker* WorkerRegistry::Find(const std::string& worker_id) const {
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? nullptr : &it->second;
}

RegisteredWorker* WorkerRegistry::Find(const std::string& worker_id, uint64_t incarnation) {
  RegisteredWorker* worker = Find(worker_id);
  if (worker == nullptr || worker->registration.incarnation != incarnation) return nullptr;
  return worker;
}

absl::StatusOr<HeartbeatGrant> WorkerRegistry::Heartbeat(const std::string& worker_id,
                                                         uint64_t incarnation,
                                                         absl::Duration reported_interval,
                                                         absl::Time now) {
  if (reported_interval < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a heartbeat must report the interval the worker beats at (heartbeat_interval_ms >= "
        "1, the last one granted), got ",
        absl::FormatDuration(reported_interval)));
  }
  RegisteredWorker* worker = Find(worker_id, incarnation);
  if (worker == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered here; register again"));
  }
  worker->last_heartbeat = now;
  // The lease follows what the worker says it does, not what it was asked to do: a new,
  // shorter grant shortens the lease only once the worker reports beating faster, and a
  // longer one lengthens it from the beat that announces it, before the worker slows down.
  worker->heartbeat_interval = policy_.Clamp(reported_interval);
  worker->lease_timeout = policy_.LeaseFor(worker->heartbeat_interval);
  return CurrentGrant();
}

absl::Status WorkerRegistry::Drain(const std::string& worker_id, uint64_t incarnation) {
  RegisteredWorker* worker = Find(worker_id, incarnation);
  if (worker == nullptr) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not registered here"));
  }
  worker->draining = true;
  LogInfo(absl::StrCat("worker ", worker->Label(), " is draining; it holds ",
                       worker->in_flight.size(), " chunk(s)"));
  return absl::OkStatus();
}

RegisteredWorker* WorkerRegistry::Quarantine(const std::string& worker_id,
                                             const std::string& reason) {
  RegisteredWorker* worker = Find(worker_id);
  if (worker == nullptr || worker->quarantined) return nullptr;
  worker->quarantined = true;
  worker->quarantine_reason = reason;
  LogWarning(absl::StrCat("worker ", worker->Label(), " quarantined: ", reason,
                          "; re-queueing its ", worker->in_flight.size(), " chunk(s)"));
  return worker;
}

std::vector<std::string> WorkerRegistry::Expired(absl::Time now) const {
  std::vector<std::string> ids;
  for (const auto& [id, worker] : workers_) {
    if (now - worker.last_heartbeat > worker.lease_timeout) ids.push_back(id);
  }
  return ids;
}

void WorkerRegistry::ExcuseSilence(absl::Duration gap, absl::Time now) {
  for (auto& [id, worker] : workers_) {
    worker.last_heartbeat = std::min(now, worker.last_heartbeat + gap);
  }
}

bool WorkerRegistry::AnyAccepts(const std::string& function) const {
  for (const auto& [id, worker] : workers_) {
    if (worker.Accepts(function)) return true;
  }
  return false;
}

std::vector<std::string> WorkerRegistry::AvailableFunctions() const {
  std::set<std::string> names;
  for (const auto& [id, worker] : workers_) {
    for (const FunctionSignature& function : worker.registration.functions) {
      names.insert(function.name);
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

std::optional<FunctionSignature> WorkerRegistry::SignatureOf(const std::string& function) const {
  for (const auto& [id, worker] : workers_) {
    if (const FunctionSignature* signature = worker.Signature(function)) return *signature;
  }
  return std::nullopt;
}

absl::Status WorkerRegistry::CheckSignatures(const WorkerRegistration& registration) const {
  for (const FunctionSignature& function : registration.functions) {
    for (const auto& [id, worker] : workers_) {
      // A worker registering again at its own address replaces itself.
      if (worker.registration.address == registration.address) continue;
      const FunctionSignature* registered = worker.Signature(function.name);
      if (registered != nullptr && *registered != function) {
        return absl::FailedPreconditionError(absl::StrCat(
            "this worker offers ", function.Describe(), ", but worker ", worker.Label(),
            " offers ", registered->Describe(),
            "; every worker of a cluster must offer a function with the same types"));
      }
    }
  }
  return absl::OkStatus();
}

int WorkerRegistry::TotalSlots() const {
  int slots = 0;
  for (const auto& [id, worker] : workers_) slots += worker.registration.slots;
  return slots;
}

HeartbeatGrant WorkerRegistry::CurrentGrant() const {
  return HeartbeatGrant{granted_interval_, policy_.LeaseFor(granted_interval_)};
}

std::vector<WorkerInfo> WorkerRegistry::Snapshot(absl::Time now, size_t byte_budget) const {
  std::vector<const RegisteredWorker*> ordered;
  for (const auto& [id, worker] : workers_) ordered.push_back(&worker);
  std::sort(ordered.begin(), ordered.end(),
            [](const RegisteredWorker* a, const RegisteredWorker* b) {
              return a->sequence < b->sequence;
            });
  std::vector<WorkerInfo> snapshots;
  size_t bytes = 0;
  for (const RegisteredWorker* worker : ordered) {
    WorkerInfo& w = snapshots.emplace_back();
    w.ref = WorkerIdentity{worker->worker_id, worker->registration.host,
                           worker->registration.pid};
    w.address = worker->registration.address;
    w.slots = worker->registration.slots;
    w.functions = worker->registration.functions;
    w.chunks_in_flight = static_cast<int>(worker->in_flight.size());
    w.chunks_done = worker->chunks_done;
    w.draining = worker->draining;
    w.faults = worker->faults;
    w.quarantined = worker->quarantined;
    w.quarantine_reason = worker->quarantine_reason;
    w.heartbeat_age = now - worker->last_heartbeat;
    w.heartbeat_interval = worker->heartbeat_interval;
    w.lease_timeout = worker->lease_timeout;
    const size_t size = EncodedSizeBound(w);
    if (size > byte_budget - bytes) {
      snapshots.pop_back();
      break;
    }
    bytes += size;
  }
  return snapshots;
}

void WorkerRegistry::Regrant() {
  const absl::Duration next =
      policy_.NextInterval(granted_interval_, static_cast<int>(workers_.size()));
  if (next == granted_interval_) return;
  LogInfo(absl::StrCat("heartbeat interval now ", absl::FormatDuration(next), " (was ",
                       absl::FormatDuration(granted_interval_), ") for ", workers_.size(),
                       " worker(s) within ", policy_.budget(), " beats/s; lease ",
                       absl::FormatDuration(policy_.LeaseFor(next))));
  granted_interval_ = next;
}

}  // namespace gpool
