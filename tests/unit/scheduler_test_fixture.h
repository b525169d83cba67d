// The fixture of the Scheduler unit tests (scheduler_*_test.cc), driven without sockets: a
// fake connector queues every RunChunks call so each test decides when and how it completes,
// and a FakeClock drives leases and waits.
#ifndef GPOOL_TESTS_UNIT_SCHEDULER_TEST_FIXTURE_H_
#define GPOOL_TESTS_UNIT_SCHEDULER_TEST_FIXTURE_H_

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/functions.h"
#include "common/int128.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/heartbeat_policy.h"
#include "server/scheduler.h"
#include "tests/support/status_matchers.h"

namespace gpool {

// The interval the workers of these tests report beating at: the default grant.
inline constexpr absl::Duration kBeat = absl::Milliseconds(500);

// A RunChunks call of one chunk: most tests complete chunks one at a time.
struct PendingCall {
  std::string address;
  ChunkTask task;
  std::function<void(absl::StatusOr<ChunkReply>)> done;
};

// A RunChunks call of several chunks.
struct PendingBatch {
  std::string address;
  std::vector<ChunkTask> tasks;
  WorkerConnection::Done done;
};

// A ConfirmIncarnation call: the scheduler asks the worker at `address` whether it is still
// `incarnation`.
struct PendingConfirm {
  std::string address;
  uint64_t incarnation = 0;
  absl::Duration timeout;
  WorkerConnection::ConfirmDone done;
};

// Records calls; the test completes them. Thread-safe.
class FakeConnector final : public WorkerConnector {
 public:
  class Connection final : public WorkerConnection {
   public:
    Connection(FakeConnector* owner, std::string address)
        : owner_(owner), address_(std::move(address)) {}
    void RunChunks(std::vector<ChunkTask> tasks, Done done) override {
      absl::MutexLock lock(&owner_->mu_);
      owner_->call_sizes_[address_].push_back(tasks.size());
      if (tasks.size() == 1) {
        owner_->pending_.push_back(PendingCall{
            address_, std::move(tasks.front()),
            [done = std::move(done)](absl::StatusOr<ChunkReply> reply) {
              if (!reply.ok()) return done(reply.status());
              std::vector<ChunkReply> replies;
              replies.push_back(*std::move(reply));
              done(std::move(replies));
            }});
        return;
      }
      owner_->pending_batches_.push_back(
          PendingBatch{address_, std::move(tasks), std::move(done)});
    }
    void Cancel(uint64_t call_id) override {
      absl::MutexLock lock(&owner_->mu_);
      owner_->cancelled_calls_.push_back(call_id);
    }
    void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                            ConfirmDone done) override {
      absl::MutexLock lock(&owner_->mu_);
      owner_->pending_confirms_.push_back(
          PendingConfirm{address_, incarnation, timeout, std::move(done)});
    }
    void CancelAll() override {
      bool complete;
      {
        absl::MutexLock lock(&owner_->mu_);
        owner_->cancelled_addresses_.push_back(address_);
        complete = owner_->complete_on_cancel_all_;
      }
      // Like real calls, end them with CANCELLED (outside the fake's lock: `done` re-enters
      // the scheduler).
      if (complete) {
        while (owner_->CompleteOldest(address_, absl::CancelledError("cancelled"))) {
        }
      }
    }

   private:
    FakeConnector* owner_;
    std::string address_;
  };

  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override {
    return std::make_shared<Connection>(this, address);
  }

  // The number of chunks of every call sent to `address`, in order.
  std::vector<size_t> CallSizes(const std::string& address) {
    absl::MutexLock lock(&mu_);
    return call_sizes_[address];
  }

  // Calls of one chunk sent to `address` and not yet completed.
  std::vector<PendingCall*> PendingFor(const std::string& address) {
    absl::MutexLock lock(&mu_);
    std::vector<PendingCall*> calls;
    for (auto& call : pending_) {
      if (call.address == address) calls.push_back(&call);
    }
    return calls;
  }
  size_t pending_count() {
    absl::MutexLock lock(&mu_);
    return pending_.size();
  }

  // Completes the oldest pending call to `address` with an honest result (or `status`).
  // Returns false when there is none.
  bool CompleteOldest(const std::string& address, absl::Status status = absl::OkStatus()) {
    std::optional<PendingCall> call = TakeOldest(address);
    if (!call.has_value()) return false;
    call->done(status.ok() ? Compute(call->task) : absl::StatusOr<ChunkReply>(status));
    return true;
  }

  // Removes the oldest pending call to `address`; the test completes it.
  std::optional<PendingCall> TakeOldest(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const PendingCall& c) { return c.address == address; });
    if (it == pending_.end()) return std::nullopt;
    PendingCall call = std::move(*it);
    pending_.erase(it);
    return call;
  }

  // Completes every pending call with `status` (used before destroying the scheduler).
  void FailAll(absl::Status status) {
    std::deque<PendingCall> calls;
    std::deque<PendingBatch> batches;
    std::deque<PendingConfirm> confirms;
    {
      absl::MutexLock lock(&mu_);
      calls.swap(pending_);
      batches.swap(pending_batches_);
      confirms.swap(pending_confirms_);
    }
    for (auto& call : calls) call.done(status);
    for (auto& batch : batches) batch.done(status);
    for (auto& confirm : confirms) confirm.done(status);
  }

  // Removes the oldest pending ConfirmIncarnation call to `address`; the test answers it.
  std::optional<PendingConfirm> TakeConfirm(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(pending_confirms_.begin(), pending_confirms_.end(),
                           [&](const PendingConfirm& c) { return c.address == address; });
    if (it == pending_confirms_.end()) return std::nullopt;
    PendingConfirm confirm = std::move(*it);
    pending_confirms_.erase(it);
    return confirm;
  }
  size_t pending_confirm_count() {
    absl::MutexLock lock(&mu_);
    return pending_confirms_.size();
  }

  // Removes the oldest pending RunChunks call to `address`; the test completes it.
  std::optional<PendingBatch> TakeOldestBatch(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(pending_batches_.begin(), pending_batches_.end(),
                           [&](const PendingBatch& b) { return b.address == address; });
    if (it == pending_batches_.end()) return std::nullopt;
    PendingBatch batch = std::move(*it);
    pending_batches_.erase(it);
    return batch;
  }

  // Completes the oldest pending RunChunks call to `address` honestly (or with `status`).
  bool CompleteOldestBatch(const std::string& address, absl::Status status = absl::OkStatus()) {
    std::optional<PendingBatch> batch = TakeOldestBatch(address);
    if (!batch.has_value()) return false;
    if (!status.ok()) {
      batch->done(status);
      return true;
    }
    std::vector<ChunkReply> replies;
    for (const ChunkTask& task : batch->tasks) {
      absl::StatusOr<ChunkReply> reply = Compute(task);
      if (!reply.ok()) {
        batch->done(reply.status());
        return true;
      }
      replies.push_back(*std::move(reply));
    }
    batch->done(std::move(replies));
    return true;
  }

  std::vector<PendingBatch*> PendingBatchesFor(const std::string& address) {
    absl::MutexLock lock(&mu_);
    std::vector<PendingBatch*> batches;
    for (auto& batch : pending_batches_) {
      if (batch.address == address) batches.push_back(&batch);
    }
    return batches;
  }

  std::vector<std::string> cancelled_addresses() {
    absl::MutexLock lock(&mu_);
    return cancelled_addresses_;
  }
  // By default cancelled calls stay pending, so a test can deliver late results.
  void set_complete_on_cancel_all(bool complete) {
    absl::MutexLock lock(&mu_);
    complete_on_cancel_all_ = complete;
  }
  std::vector<uint64_t> cancelled_calls() {
    absl::MutexLock lock(&mu_);
    return cancelled_calls_;
  }

  static absl::StatusOr<ChunkReply> Compute(const ChunkTask& task) {
    static const FunctionRegistry* registry = new FunctionRegistry(FunctionRegistry::WithBuiltins());
    absl::StatusOr<ChunkOutput> output = registry->Run(
        task.function, task.job_input->Slice(task.first_element, task.element_count), task.mode);
    if (!output.ok()) return output.status();
    ChunkReply reply;
    reply.summary = SummaryKind::kInt64;
    reply.values = EncodedValues::Own(std::move(output->values));
    reply.sum = output->sum;
    reply.count = output->count;
    reply.min = output->min;
    reply.max = output->max;
    reply.pid = 1000;
    return reply;
  }

 private:
  absl::Mutex mu_;
  std::deque<PendingCall> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<PendingBatch> pending_batches_ ABSL_GUARDED_BY(mu_);
  std::deque<PendingConfirm> pending_confirms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<size_t>> call_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cancelled_addresses_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> cancelled_calls_ ABSL_GUARDED_BY(mu_);
  bool complete_on_cancel_all_ ABSL_GUARDED_BY(mu_) = false;
};

// Drains a job stream without waiting.
struct Drained {
  std::vector<JobEvent> events;
  std::optional<JobPlanInfo> plan;
  std::vector<ChunkDelivery> chunks;
  std::optional<JobEvent> finished;
  absl::int128 sum = 0;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(SchedulerOptions{}); }
  void TearDown() override {
    // Jobs first: with no job left, failing the pending calls dispatches nothing new, and the
    // scheduler's destructor (which waits for every callback) can finish.
    for (const JobInfo& job : scheduler_->Snapshot().jobs) {
      scheduler_->CancelJob(job.job_id, absl::CancelledError("test over"));
    }
    connector_.FailAll(absl::CancelledError("test over"));
    scheduler_.reset();
  }

  // Tests move the fake clock in jumps between Ticks, which the scheduler would read as
  // stalls of the coordinator itself (SchedulerOptions::stall_threshold): unless a test sets
  // `detect_stalls_` to test exactly that, stall detection is off.
  void Reset(SchedulerOptions options) {
    if (scheduler_) TearDown();
    connector_.FailAll(absl::CancelledError("reset"));
    if (!detect_stalls_) options.stall_threshold = absl::InfiniteDuration();
    options_ = options;
    scheduler_ = std::make_unique<Scheduler>(options, &clock_, &connector_);
  }

  static WorkerRegistration Registration(const std::string& address, int slots = 1,
                                         std::vector<std::string> functions = {"square", "cube",
                                                                               "identity"},
                                         uint64_t incarnation = 7, int max_chunks_per_call = 1) {
    WorkerRegistration registration;
    registration.max_chunks_per_call = max_chunks_per_call;
    registration.address = address;
    registration.pid = 100;
    registration.host = "host-" + address.substr(0, address.find(':'));
    registration.slots = slots;
    registration.functions.assign(functions.begin(), functions.end());
    registration.incarnation = incarnation;
    return registration;
  }

  // The answer of a RegisterWorker call, once it has come.
  struct AsyncRegistration {
    std::shared_ptr<std::optional<absl::StatusOr<RegistrationGrant>>> result =
        std::make_shared<std::optional<absl::StatusOr<RegistrationGrant>>>();
    bool answered() const { return result->has_value(); }
    const absl::StatusOr<RegistrationGrant>& grant() const { return **result; }
  };
  // Starts a registration that may wait for a ConfirmIncarnation answer (the test gives it).
  AsyncRegistration RegisterAsync(const WorkerRegistration& registration) {
    AsyncRegistration registering;
    scheduler_->RegisterWorker(registration,
                               [result = registering.result](
                                   absl::StatusOr<RegistrationGrant> grant) {
                                 *result = std::move(grant);
                               });
    return registering;
  }

  // Registers a worker whose address nobody else holds (or with the holder's incarnation).
  std::string AddWorker(const std::string& address, int slots = 1,
                        std::vector<std::string> functions = {"square", "cube", "identity"},
                        uint64_t incarnation = 7, int max_chunks_per_call = 1) {
    AsyncRegistration registering = RegisterAsync(
        Registration(address, slots, std::move(functions), incarnation, max_chunks_per_call));
    // Waiting would hang: the fake answers no ConfirmIncarnation by itself.
    EXPECT_TRUE(registering.answered())
        << "the registration asks the holder of " << address << " first: use RegisterAsync";
    if (!registering.answered()) return "";
    EXPECT_TRUE(registering.grant().ok()) << registering.grant().status();
    return registering.grant().ok() ? registering.grant()->worker_id : "";
  }

  std::pair<std::string, std::shared_ptr<JobStream>> Submit(int64_t start, int64_t end,
                                                             int64_t chunk_size = 0,
                                                             int max_workers = 0,
                                                             std::string function = "square") {
    JobSpec spec;
    spec.function = std::move(function);
    spec.input = std::make_shared<const Input>(Input::Range(start, end));
    spec.chunk_size = chunk_size;
    spec.max_workers = max_workers;
    spec.mode = ResultMode::kSum;
    auto submitted = scheduler_->SubmitJob(std::move(spec));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return *submitted;
  }

  // Takes every event available now, acknowledging chunks like the RPC adapter does.
  Drained Drain(const std::pair<std::string, std::shared_ptr<JobStream>>& job,
                Drained previous = {}) {
    Drained drained = std::move(previous);
    for (JobEvent& event : job.second->TakeAll(absl::ZeroDuration())) {
      switch (event.kind) {
        case JobEvent::Kind::kStarted:
          drained.plan = event.plan;
          break;
        case JobEvent::Kind::kChunk:
          drained.sum += event.chunk.sum;
          drained.chunks.push_back(event.chunk);
          scheduler_->OnChunksDelivered(job.first, 1,
                                        static_cast<int64_t>(event.chunk.values.size()));
          break;
        case JobEvent::Kind::kFinished:
          drained.finished = event;
          break;
      }
    }
    return drained;
  }

  // Completes calls round-robin over `addresses` until none is pending.
  void CompleteAll(const std::vector<std::string>& addresses) {
    bool progress = true;
    while (progress) {
      progress = false;
      for (const auto& address : addresses) progress |= connector_.CompleteOldest(address);
    }
  }

  // Like a client reading its stream while the workers answer: completes calls round-robin
  // and drains the stream in between (which frees the result window), until nothing moves.
  Drained RunJob(const std::pair<std::string, std::shared_ptr<JobStream>>& job,
                 const std::vector<std::string>& addresses) {
    Drained drained;
    bool progress = true;
    while (progress) {
      progress = false;
      for (const auto& address : addresses) {
        progress |= connector_.CompleteOldest(address);
        progress |= connector_.CompleteOldestBatch(address);
      }
      drained = Drain(job, std::move(drained));
    }
    return drained;
  }

  FakeClock clock_;
  FakeConnector connector_;
  SchedulerOptions options_;
  bool detect_stalls_ = false;
  std::unique_ptr<Scheduler> scheduler_;
};

// The faults counted against `worker_id`, or -1 when the scheduler does not know it.
inline int64_t FaultsOf(const Scheduler& scheduler, const std::string& worker_id) {
  for (const WorkerInfo& worker : scheduler.Snapshot().workers) {
    if (worker.ref.worker_id == worker_id) return worker.faults;
  }
  return -1;
}

}  // namespace gpool

#endif  // GPOOL_TESTS_UNIT_SCHEDULER_TEST_FIXTURE_H_
