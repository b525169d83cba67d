// Unit tests of the coordinator's Scheduler, driven without sockets: a fake connector queues
// every RunChunks call so each test decides when and how it completes, and a FakeClock drives
// leases and waits.
#include "server/scheduler.h"

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
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

// The interval the workers of these tests report beating at: the default grant.
constexpr absl::Duration kBeat = absl::Milliseconds(500);

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
    {
      absl::MutexLock lock(&mu_);
      calls.swap(pending_);
      batches.swap(pending_batches_);
    }
    for (auto& call : calls) call.done(status);
    for (auto& batch : batches) batch.done(status);
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
    for (const JobSnapshot& job : scheduler_->Snapshot().jobs) {
      scheduler_->CancelJob(job.job_id, absl::CancelledError("test over"));
    }
    connector_.FailAll(absl::CancelledError("test over"));
    scheduler_.reset();
  }

  void Reset(SchedulerOptions options) {
    if (scheduler_) TearDown();
    connector_.FailAll(absl::CancelledError("reset"));
    options_ = options;
    scheduler_ = std::make_unique<Scheduler>(options, &clock_, &connector_);
  }

  std::string AddWorker(const std::string& address, int slots = 1,
                        std::vector<std::string> functions = {"square", "cube", "identity"},
                        uint64_t incarnation = 7, int max_chunks_per_call = 1) {
    WorkerRegistration registration;
    registration.max_chunks_per_call = max_chunks_per_call;
    registration.address = address;
    registration.pid = 100;
    registration.host = "host-" + address;
    registration.slots = slots;
    registration.functions = std::move(functions);
    registration.incarnation = incarnation;
    absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorker(registration);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? grant->worker_id : "";
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
  std::unique_ptr<Scheduler> scheduler_;
};

// ---- Registration and leases ------------------------------------------------------------

// ---- JobStream --------------------------------------------------------------------------

// The consumer's timing cannot split a step of the producer: a job's last result and its end
// are taken together.
TEST(JobStreamTest, PushedEventsAreTakenOnlyOncePublished_AllTogether) {
  JobStream stream;
  JobEvent result;
  result.kind = JobEvent::Kind::kChunk;
  stream.Push(result);
  EXPECT_TRUE(stream.TakeReady().empty());
  JobEvent end;
  end.kind = JobEvent::Kind::kFinished;
  stream.Push(end);
  stream.Publish();
  std::vector<JobEvent> taken = stream.TakeReady();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].kind, JobEvent::Kind::kChunk);
  EXPECT_EQ(taken[1].kind, JobEvent::Kind::kFinished);
  EXPECT_TRUE(stream.TakeAll(absl::ZeroDuration()).empty());
}

TEST_F(SchedulerTest, RegisterWorker_InvalidRegistration_IsInvalidArgument) {
  WorkerRegistration registration;
  registration.slots = 1;
  registration.functions = {"square"};
  EXPECT_THAT(scheduler_->RegisterWorker(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("address")));
  registration.address = "a:1";
  registration.slots = 0;
  EXPECT_THAT(scheduler_->RegisterWorker(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("slots")));
  registration.slots = 1;
  registration.functions.clear();
  EXPECT_THAT(scheduler_->RegisterWorker(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("function")));
}

TEST_F(SchedulerTest, RegisterWorker_MaxChunksPerCallZero_IsInvalidArgument) {
  WorkerRegistration registration;
  registration.address = "a:1";
  registration.slots = 1;
  registration.functions = {"square"};
  registration.max_chunks_per_call = 0;
  EXPECT_THAT(scheduler_->RegisterWorker(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_chunks_per_call")));
  EXPECT_TRUE(scheduler_->Snapshot().workers.empty());
}

TEST_F(SchedulerTest, RegisterWorker_MaxChunksPerCallAboveTheBound_IsInvalidArgument) {
  WorkerRegistration registration;
  registration.address = "a:1";
  registration.slots = 1;
  registration.functions = {"square"};
  registration.max_chunks_per_call = kMaxChunksPerCall + 1;
  EXPECT_THAT(scheduler_->RegisterWorker(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16384")));
  registration.max_chunks_per_call = kMaxChunksPerCall;
  EXPECT_OK(scheduler_->RegisterWorker(registration).status());
}

TEST_F(SchedulerTest, Heartbeat_UnknownWorkerOrIncarnation_IsNotFound) {
  const std::string id = AddWorker("a:1");
  EXPECT_OK(scheduler_->Heartbeat(id, 7, kBeat));
  EXPECT_THAT(scheduler_->Heartbeat(id, 8, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("register again")));
  EXPECT_THAT(scheduler_->Heartbeat("w999", 7, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("w999")));
}

TEST_F(SchedulerTest, Tick_SilentPastLease_DeclaresWorkerDead) {
  const std::string id = AddWorker("a:1");
  clock_.Advance(options_.lease_timeout - absl::Milliseconds(1));
  scheduler_->Tick();
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
  clock_.Advance(absl::Milliseconds(2));
  scheduler_->Tick();
  EXPECT_TRUE(scheduler_->Snapshot().workers.empty());
  EXPECT_THAT(scheduler_->Heartbeat(id, 7, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
}

TEST_F(SchedulerTest, Heartbeat_RenewsLease) {
  const std::string id = AddWorker("a:1");
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(options_.heartbeat_interval);
    ASSERT_OK(scheduler_->Heartbeat(id, 7, kBeat));
    scheduler_->Tick();
  }
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
}

// ---- Heartbeat intervals that grow with the cluster ---------------------------------------

// The defaults: 500 ms minimum with a 3 s lease, 400 beats/s, 10 s maximum.
HeartbeatPolicy DefaultPolicy() {
  const SchedulerOptions defaults;
  return HeartbeatPolicy(defaults.heartbeat_interval, defaults.lease_timeout,
                         defaults.heartbeat_budget, defaults.max_heartbeat_interval);
}

TEST(HeartbeatPolicyTest, NextInterval_BudgetOff_AlwaysTheMinimum) {
  const HeartbeatPolicy policy(absl::Milliseconds(500), absl::Seconds(3), 0, absl::Seconds(10));
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(500), 100'000), absl::Milliseconds(500));
}

TEST(HeartbeatPolicyTest, NextInterval_WithinBudget_KeepsTheMinimum) {
  const HeartbeatPolicy policy = DefaultPolicy();
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(500), 1), absl::Milliseconds(500));
  // 200 workers every 500 ms are exactly 400 beats/s.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(500), 200), absl::Milliseconds(500));
}

TEST(HeartbeatPolicyTest, NextInterval_OverBudget_GrowsByAtLeastAStep) {
  const HeartbeatPolicy policy = DefaultPolicy();
  // One worker over: a whole step (625 ms), not 502.5 ms, so the next 49 joins change nothing.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(500), 201), absl::Milliseconds(625));
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(625), 250), absl::Milliseconds(625));
  // A jump beyond a step goes straight to what the budget needs: 1,000 / 400 per second.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(500), 1000), absl::Milliseconds(2500));
}

TEST(HeartbeatPolicyTest, NextInterval_RampToThousandWorkers_FewGrantsAndWithinBudget) {
  const HeartbeatPolicy policy = DefaultPolicy();
  absl::Duration interval = policy.min_interval();
  int changes = 0;
  for (int workers = 1; workers <= 1000; ++workers) {
    const absl::Duration next = policy.NextInterval(interval, workers);
    if (next != interval) ++changes;
    interval = next;
    ASSERT_LE(workers / absl::ToDoubleSeconds(interval), 400.0) << workers << " workers";
  }
  EXPECT_LE(changes, 8);
  // Never more than a step above what the budget needs (2.5 s).
  EXPECT_GE(interval, absl::Milliseconds(2500));
  EXPECT_LE(interval, absl::Milliseconds(2500) * HeartbeatPolicy::kStep);
}

TEST(HeartbeatPolicyTest, NextInterval_ClusterShrinks_ShortensOnlyPastTheHysteresis) {
  const HeartbeatPolicy policy = DefaultPolicy();
  // Granted 625 ms at 201 workers; back at 200, and down to 160, it stays.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(625), 200), absl::Milliseconds(625));
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(625), 160), absl::Milliseconds(625));
  // 159 workers need 397.5 ms, and 1.25² × that is below 625 ms: down (to the minimum).
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(625), 159), absl::Milliseconds(500));
  // From 1,000 workers' 2.5 s to 500: 1.25 × 1.25 s.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(2500), 500), absl::Milliseconds(1563));
  // A cluster gone back to one worker is back at the minimum.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(2500), 1), absl::Milliseconds(500));
}

TEST(HeartbeatPolicyTest, NextInterval_HugeCluster_CappedAtTheMaximum) {
  EXPECT_EQ(DefaultPolicy().NextInterval(absl::Seconds(8), 100'000), absl::Seconds(10));
}

TEST(HeartbeatPolicyTest, LeaseFor_SameMultipleOfTheIntervalClamped) {
  const HeartbeatPolicy policy = DefaultPolicy();
  EXPECT_EQ(policy.LeaseFor(absl::Milliseconds(500)), absl::Seconds(3));
  EXPECT_EQ(policy.LeaseFor(absl::Milliseconds(2500)), absl::Seconds(15));
  // Faster than the minimum earns no shorter lease; slower than the maximum no longer one.
  EXPECT_EQ(policy.LeaseFor(absl::Milliseconds(100)), absl::Seconds(3));
  EXPECT_EQ(policy.LeaseFor(absl::Minutes(5)), absl::Seconds(60));
}

TEST(HeartbeatPolicyTest, Intervals_AreWholeMilliseconds) {
  const HeartbeatPolicy policy(absl::Microseconds(1500), absl::Seconds(1), 1000, absl::Seconds(1));
  EXPECT_EQ(policy.min_interval(), absl::Milliseconds(2));
  // 3 workers at 1000/s need 3 ms, at least a step up from 2 ms: 3 ms; 7 need 7 ms.
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(2), 3), absl::Milliseconds(3));
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(3), 7), absl::Milliseconds(7));
  EXPECT_EQ(policy.NextInterval(absl::Milliseconds(7), 8), absl::Milliseconds(9));  // 8.75
}

// A scheduler whose budget is 2 beats/s: one worker keeps the 500 ms minimum, two get 1 s,
// three 1.5 s (leases 3 s, 6 s, 9 s).
class AdaptiveHeartbeatTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerOptions options;
    options.heartbeat_budget = 2;
    Reset(options);
  }

  RegistrationGrant Register(const std::string& address) {
    WorkerRegistration registration;
    registration.address = address;
    registration.pid = 100;
    registration.slots = 1;
    registration.functions = {"square"};
    registration.incarnation = 7;
    absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorker(registration);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? *grant : RegistrationGrant{};
  }

  bool Registered(const std::string& worker_id) {
    for (const WorkerSnapshot& worker : scheduler_->Snapshot().workers) {
      if (worker.worker_id == worker_id) return true;
    }
    return false;
  }

  std::optional<WorkerSnapshot> Find(const std::string& worker_id) {
    for (const WorkerSnapshot& worker : scheduler_->Snapshot().workers) {
      if (worker.worker_id == worker_id) return worker;
    }
    return std::nullopt;
  }
};

TEST_F(AdaptiveHeartbeatTest, RegisterWorker_GrantGrowsWithTheCluster) {
  const RegistrationGrant a = Register("a:1");
  EXPECT_EQ(a.heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(a.lease_timeout, absl::Seconds(3));
  const RegistrationGrant b = Register("b:1");
  EXPECT_EQ(b.heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(b.lease_timeout, absl::Seconds(6));
  const RegistrationGrant c = Register("c:1");
  EXPECT_EQ(c.heartbeat_interval, absl::Milliseconds(1500));
  EXPECT_EQ(c.lease_timeout, absl::Seconds(9));
}

TEST_F(AdaptiveHeartbeatTest, Heartbeat_WorkerBehindTheGrant_IsToldAndKeepsItsLease) {
  const std::string a = Register("a:1").worker_id;
  Register("b:1");  // The grant is 1 s now; a registered at 500 ms.
  ASSERT_OK_AND_ASSIGN(HeartbeatGrant grant,
                       scheduler_->Heartbeat(a, 7, absl::Milliseconds(500)));
  EXPECT_EQ(grant.interval, absl::Seconds(1));
  EXPECT_EQ(grant.lease_timeout, absl::Seconds(6));
  // Until it reports the new interval, its lease is the old one.
  EXPECT_EQ(Find(a)->lease_timeout, absl::Seconds(3));
  ASSERT_OK_AND_ASSIGN(grant, scheduler_->Heartbeat(a, 7, absl::Seconds(1)));
  EXPECT_EQ(grant.interval, absl::Seconds(1));
  EXPECT_EQ(Find(a)->heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(Find(a)->lease_timeout, absl::Seconds(6));
}

TEST_F(AdaptiveHeartbeatTest, Tick_LeaseFollowsTheReportedInterval) {
  Reset(SchedulerOptions{});  // The default budget: both keep 500 ms.
  const std::string slow = AddWorker("slow:1");
  const std::string fast = AddWorker("fast:1");
  ASSERT_OK(scheduler_->Heartbeat(slow, 7, absl::Milliseconds(2500)));
  ASSERT_OK(scheduler_->Heartbeat(fast, 7, absl::Milliseconds(500)));
  clock_.Advance(absl::Milliseconds(3100));
  scheduler_->Tick();
  // 2.5 s earns a 15 s lease; 500 ms the 3 s one.
  EXPECT_TRUE(Registered(slow));
  EXPECT_FALSE(Registered(fast));
  clock_.Advance(absl::Seconds(12));
  scheduler_->Tick();
  EXPECT_FALSE(Registered(slow));
}

TEST_F(AdaptiveHeartbeatTest, Heartbeat_NoInterval_InvalidArgumentAndLeaseNotRenewed) {
  const std::string a = Register("a:1").worker_id;  // 500 ms: a 3 s lease
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(scheduler_->Heartbeat(a, 7, absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heartbeat_interval_ms")));
  EXPECT_THAT(scheduler_->Heartbeat(a, 7, absl::Microseconds(999)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heartbeat_interval_ms")));
  // Neither beat counted: the lease runs from the registration.
  clock_.Advance(absl::Milliseconds(1001));
  scheduler_->Tick();
  EXPECT_FALSE(Registered(a));
}

TEST_F(AdaptiveHeartbeatTest, Heartbeat_ReportsLongerThanTheMaximum_LeaseCapped) {
  const std::string a = Register("a:1").worker_id;
  ASSERT_OK_AND_ASSIGN(HeartbeatGrant grant, scheduler_->Heartbeat(a, 7, absl::Minutes(10)));
  EXPECT_EQ(grant.interval, absl::Milliseconds(500));
  EXPECT_EQ(Find(a)->heartbeat_interval, absl::Seconds(10));
  EXPECT_EQ(Find(a)->lease_timeout, absl::Seconds(60));
}

TEST_F(AdaptiveHeartbeatTest, ClusterShrinks_ShorterGrantAndLeaseShortensOnceReported) {
  const std::string a = Register("a:1").worker_id;
  const std::string b = Register("b:1").worker_id;
  const std::string c = Register("c:1").worker_id;
  ASSERT_OK(scheduler_->Heartbeat(a, 7, absl::Milliseconds(1500)));
  ASSERT_OK(scheduler_->DeregisterWorker(b, 7));
  ASSERT_OK(scheduler_->DeregisterWorker(c, 7));
  // One worker needs 500 ms; the grant shrinks to a step above that, 625 ms, leaving room
  // for the cluster to grow by a step before it changes again.
  ASSERT_OK_AND_ASSIGN(HeartbeatGrant grant,
                       scheduler_->Heartbeat(a, 7, absl::Milliseconds(1500)));
  EXPECT_EQ(grant.interval, absl::Milliseconds(625));
  // The worker has not sped up yet: it keeps the 9 s lease of its 1.5 s.
  clock_.Advance(absl::Seconds(8));
  scheduler_->Tick();
  EXPECT_TRUE(Registered(a));
  ASSERT_OK_AND_ASSIGN(grant, scheduler_->Heartbeat(a, 7, absl::Milliseconds(625)));
  EXPECT_EQ(grant.interval, absl::Milliseconds(625));
  clock_.Advance(absl::Milliseconds(3700));
  scheduler_->Tick();
  EXPECT_TRUE(Registered(a));  // 6 × 625 ms = 3.75 s
  clock_.Advance(absl::Milliseconds(100));
  scheduler_->Tick();
  EXPECT_FALSE(Registered(a));
}

TEST_F(AdaptiveHeartbeatTest, Tick_DeadWorkersShrinkTheGrant) {
  const std::string a = Register("a:1").worker_id;
  Register("b:1");
  Register("c:1");
  // a keeps beating at the 1.5 s grant; b and c fall silent past their 9 s leases.
  for (int i = 0; i < 7; ++i) {
    clock_.Advance(absl::Milliseconds(1500));
    ASSERT_OK(scheduler_->Heartbeat(a, 7, absl::Milliseconds(1500)));
    scheduler_->Tick();
  }
  ASSERT_EQ(scheduler_->Snapshot().workers.size(), 1u);
  ASSERT_OK_AND_ASSIGN(HeartbeatGrant grant,
                       scheduler_->Heartbeat(a, 7, absl::Milliseconds(1500)));
  EXPECT_EQ(grant.interval, absl::Milliseconds(625));
}

TEST_F(AdaptiveHeartbeatTest, Snapshot_ReportsIntervalAndLeasePerWorker) {
  const std::string a = Register("a:1").worker_id;
  const std::string b = Register("b:1").worker_id;
  EXPECT_EQ(Find(a)->heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(Find(a)->lease_timeout, absl::Seconds(3));
  EXPECT_EQ(Find(b)->heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(Find(b)->lease_timeout, absl::Seconds(6));
}

TEST_F(SchedulerTest, Snapshot_ReportsTotalSlotsAndWorkers) {
  AddWorker("a:1", 2);
  AddWorker("b:1", 3);
  const ClusterSnapshot snapshot = scheduler_->Snapshot();
  EXPECT_EQ(snapshot.total_slots, 5);
  ASSERT_EQ(snapshot.workers.size(), 2u);
  EXPECT_EQ(snapshot.workers[0].worker_id, "w1");
  EXPECT_EQ(snapshot.workers[1].address, "b:1");
}

// ---- Submission -------------------------------------------------------------------------

TEST_F(SchedulerTest, SubmitJob_BadSpec_IsInvalidArgument) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(5, 1));
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5..1")));
  spec.input = std::make_shared<const Input>(Input::Range(1, 5));
  spec.chunk_size = -1;
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk size")));
  spec.chunk_size = 0;
  spec.max_workers = -2;
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max workers")));
  spec.max_workers = 0;
  spec.function = "";
  EXPECT_THAT(scheduler_->SubmitJob(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("function")));
}

// A chunk's values travel in one 4 MiB message: a larger chunk size is lowered, not refused,
// and the plan (JobStarted.chunk_size) says so.
TEST_F(SchedulerTest, Plan_ValuesJobAsksForHugeChunks_LoweredTo2To18) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 20'000'000));
  spec.chunk_size = 10'000'000;
  spec.mode = ResultMode::kValues;
  auto values_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(values_job.status());
  Drained drained = Drain(*values_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, uint64_t{1} << 18);
  spec.mode = ResultMode::kSum;
  auto sum_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(sum_job.status());
  drained = Drain(*sum_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, 10'000'000u);
}

TEST_F(SchedulerTest, Plan_ValuesJobsGetChunksOfAtMost2To18ByDefault) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 10'000'000));
  spec.mode = ResultMode::kValues;
  auto values_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(values_job.status());
  Drained drained = Drain(*values_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, uint64_t{1} << 18);
  spec.mode = ResultMode::kSum;  // Pool's rule: ceil(10^7 / 4)
  auto sum_job = scheduler_->SubmitJob(spec);
  ASSERT_OK(sum_job.status());
  drained = Drain(*sum_job);
  ASSERT_TRUE(drained.plan.has_value());
  EXPECT_EQ(drained.plan->chunk_size, 2'500'000u);
}

// Other workers registered change nothing: the job waits for one that offers its function,
// then fails UNAVAILABLE (not final) naming it and listing what is offered.
TEST_F(SchedulerTest, SubmitJob_FunctionNobodyOffers_WaitsThenUnavailableListingOffered) {
  const std::string worker = AddWorker("a:1", 1, {"square", "cube"});
  JobSpec spec;
  spec.function = "sqare";
  spec.input = std::make_shared<const Input>(Input::Range(1, 5));
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  scheduler_->Tick();
  EXPECT_FALSE(Drain(job).finished.has_value());
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  ASSERT_OK(scheduler_->Heartbeat(worker, 7, kBeat).status());  // the worker stays registered
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr("no worker offering 'sqare'"),
                                        HasSubstr("the registered workers offer: cube, square"))));
  EXPECT_FALSE(drained.finished->final);
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
}

TEST_F(SchedulerTest, SubmitJob_NoWorkers_FailsUnavailableAfterWorkerWait) {
  auto job = Submit(1, 10);
  scheduler_->Tick();
  EXPECT_FALSE(Drain(job).finished.has_value());
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr("no worker is registered"),
                                        HasSubstr("gpool-worker --coordinator"))));
  EXPECT_FALSE(drained.finished->final);
}

TEST_F(SchedulerTest, SubmitJob_WorkerOfferingTheFunctionJoinsWhileOthersServe_JobRuns) {
  const std::string plain = AddWorker("plain:1", 1, {"square"});
  auto job = Submit(1, 10, 5, 0, "cube");
  clock_.Advance(options_.worker_wait / 2);
  ASSERT_OK(scheduler_->Heartbeat(plain, 7, kBeat).status());
  scheduler_->Tick();
  AddWorker("cubes:1", 1, {"cube"});
  CompleteAll({"cubes:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 3025);  // 1^3 + ... + 10^3
}

TEST_F(SchedulerTest, SubmitJob_NoWorkersAndAddressKnown_HintNamesTheAddress) {
  scheduler_->SetCoordinatorAddress("vm:50051");
  auto job = Submit(1, 10);
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  scheduler_->Tick();
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("start workers with: gpool-worker --coordinator vm:50051")));
}

TEST_F(SchedulerTest, SubmitJob_WorkerRegistersWhileWaiting_JobRuns) {
  auto job = Submit(1, 10, 5);
  clock_.Advance(options_.worker_wait / 2);
  scheduler_->Tick();
  AddWorker("a:1");
  CompleteAll({"a:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

// ---- Dispatch ---------------------------------------------------------------------------

TEST_F(SchedulerTest, Run_SeedJob_StreamsPlanChunksAndExactSum) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 5000);
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.plan.has_value());
  // Pool's default over 2 slots: ceil(5000 / 8) = 625 per chunk.
  EXPECT_EQ(drained.plan->chunk_size, 625u);
  EXPECT_EQ(drained.plan->num_chunks, 8u);
  EXPECT_EQ(drained.plan->cluster_slots, 2);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(FormatInt128(drained.sum), "41679167500");
  std::set<uint64_t> indices;
  for (const auto& chunk : drained.chunks) EXPECT_TRUE(indices.insert(chunk.chunk_index).second);
  EXPECT_EQ(indices.size(), 8u);
}

// A result is marked tail once no chunk of its job waits for dispatch: what lets the Map
// stream hold the last results for the job's end.
TEST_F(SchedulerTest, ChunkResult_TailOnceEveryRemainingChunkRuns) {
  AddWorker("a:1");  // one slot plus the pipeline: fewer calls than the job's chunks
  auto job = Submit(1, 100, 1);
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_EQ(drained.chunks.size(), 100u);
  const size_t in_flight_at_most = static_cast<size_t>(1 + options_.pipeline_depth);
  for (size_t i = 0; i < drained.chunks.size(); ++i) {
    const bool near_end = i + in_flight_at_most >= drained.chunks.size();
    if (!near_end) {
      EXPECT_FALSE(drained.chunks[i].tail) << "result " << i;
    }
  }
  EXPECT_FALSE(drained.chunks.front().tail);
  EXPECT_TRUE(drained.chunks.back().tail);
}

TEST_F(SchedulerTest, Dispatch_WorkerHoldsAtMostSlotsPlusPipelineDepth) {
  AddWorker("a:1", 2);
  Submit(1, 100, 1);
  EXPECT_EQ(connector_.PendingFor("a:1").size(),
            static_cast<size_t>(2 + options_.pipeline_depth));
}

TEST_F(SchedulerTest, Dispatch_FreeSlotPullsNextChunk_FastWorkerDoesMore) {
  AddWorker("fast:1");
  AddWorker("slow:1");
  auto job = Submit(1, 100, 1);
  // The slow worker never answers; the fast one answers as soon as asked.
  Drained drained = RunJob(job, {"fast:1"});
  int fast = 0;
  for (const auto& chunk : drained.chunks) fast += chunk.worker_id == "w1";
  EXPECT_EQ(fast, 100 - static_cast<int>(connector_.PendingFor("slow:1").size()));
  EXPECT_GE(fast, 98);
}

TEST_F(SchedulerTest, Dispatch_MaxWorkers_UsesOnlyThatMany) {
  AddWorker("a:1");
  AddWorker("b:1");
  AddWorker("c:1");
  auto job = Submit(1, 60, 1, /*max_workers=*/1);
  int with_calls = 0;
  for (const char* address : {"a:1", "b:1", "c:1"}) {
    with_calls += !connector_.PendingFor(address).empty();
  }
  EXPECT_EQ(with_calls, 1);
  Drained drained = RunJob(job, {"a:1", "b:1", "c:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.chunks.size(), 60u);
  std::set<std::string> workers;
  for (const auto& chunk : drained.chunks) workers.insert(chunk.worker_id);
  EXPECT_EQ(workers.size(), 1u);
  EXPECT_EQ(drained.plan->job_slots, 1);
}

TEST_F(SchedulerTest, Dispatch_OnlyToWorkersWithTheFunction) {
  AddWorker("a:1", 1, {"cube"});
  AddWorker("b:1", 1, {"square"});
  Submit(1, 10, 1);
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
  EXPECT_FALSE(connector_.PendingFor("b:1").empty());
}

TEST_F(SchedulerTest, ResultWindow_PausesDispatchUntilClientTakesResults) {
  SchedulerOptions options;
  options.result_window = 2;
  Reset(options);
  AddWorker("a:1");
  auto job = Submit(1, 10, 1);
  while (connector_.CompleteOldest("a:1")) {
  }
  // Nothing more is dispatched while two results wait for the client. The chunk that was
  // already running when the window filled still landed: 2 + 1 buffered.
  EXPECT_EQ(connector_.pending_count(), 0u);
  Drained drained = Drain(job);  // the client takes them
  EXPECT_EQ(drained.chunks.size(), 3u);
  EXPECT_GT(connector_.pending_count(), 0u);
}

TEST_F(SchedulerTest, TwoJobs_ShareWorkersRoundRobin) {
  // Both jobs queue before any capacity exists, so dispatch has to choose between them.
  auto first = Submit(1, 100, 1);
  auto second = Submit(1, 100, 1);
  AddWorker("a:1", 2);
  std::set<std::string> jobs;
  for (PendingCall* call : connector_.PendingFor("a:1")) jobs.insert(call->task.job_id);
  EXPECT_EQ(jobs.size(), 2u);
}

// ---- Failures ---------------------------------------------------------------------------

TEST_F(SchedulerTest, WorkerUnavailable_ChunkRedispatchedAndCountedOnce) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 100, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::UnavailableError("connection refused")));
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, absl::int128(100) * 101 * 201 / 6);
  EXPECT_EQ(drained.chunks.size(), 10u);
  EXPECT_EQ(drained.finished->stats.retries, 2);  // both chunks a:1 held
  EXPECT_EQ(drained.finished->stats.workers_lost, 1);
  EXPECT_THAT(connector_.cancelled_addresses(), ::testing::ElementsAre("a:1"));
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
}

TEST_F(SchedulerTest, LeaseExpiry_RequeuesChunksAndDropsLateDuplicate) {
  const std::string silent = AddWorker("silent:1");
  auto job = Submit(1, 20, 10);  // two chunks, both to the only worker
  ASSERT_EQ(connector_.PendingFor("silent:1").size(), 2u);
  const std::string live = AddWorker("live:1");
  clock_.Advance(options_.lease_timeout + absl::Milliseconds(1));
  ASSERT_OK(scheduler_->Heartbeat(live, 7, kBeat));
  scheduler_->Tick();
  // Re-dispatched to the live worker, which answers first.
  CompleteAll({"live:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, 2870);
  // The silent worker comes back and answers: the job is gone, nothing changes.
  CompleteAll({"silent:1"});
  EXPECT_TRUE(job.second->TakeAll(absl::ZeroDuration()).empty());
}

TEST_F(SchedulerTest, LateResultFromDeadWorker_WinsWhenChunkNotYetRedone) {
  AddWorker("a:1");
  auto job = Submit(1, 10, 10);
  clock_.Advance(options_.lease_timeout + absl::Milliseconds(1));
  scheduler_->Tick();  // declared dead; the chunk waits in the retry queue
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));  // its answer arrives after all
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

TEST_F(SchedulerTest, ChunkLostFourTimes_AbortsNamingChunkAndWorkers) {
  auto job = Submit(1, 10, 10);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    const std::string address = "w" + std::to_string(attempt) + ":1";
    AddWorker(address);
    ASSERT_TRUE(connector_.CompleteOldest(address, absl::UnavailableError("crashed")));
  }
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::AllOf(HasSubstr("chunk 0 (elements 1..10)"),
                                        HasSubstr("lost 4 times"), HasSubstr("w1 (host-w1:1/100)"),
                                        HasSubstr("w4"))));
  EXPECT_TRUE(drained.finished->final);
}

TEST_F(SchedulerTest, DeterministicFailure_FailsJobAtOnceWithoutRetry) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(3037000490, 3037000509, 10);
  CompleteAll({"a:1", "b:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("square(3037000500)")));
  EXPECT_TRUE(drained.finished->final);
  EXPECT_EQ(drained.finished->stats.retries, 0);
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 2u);  // nobody declared dead
}

// An error that is not the function's own (here a worker lacking a function it registered)
// says nothing about the input: the chunk is retried, and the job finishes.
TEST_F(SchedulerTest, WorkerErrorNotTheFunctions_ChunkRetriedJobSucceeds) {
  AddWorker("a:1");
  auto job = Submit(1, 10, 10);
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::NotFoundError("no function 'square'")));
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.retries, 1);
}

TEST_F(SchedulerTest, CancelJob_StopsDispatchAndEndsStream) {
  AddWorker("a:1");
  auto job = Submit(1, 100, 1);
  std::vector<uint64_t> running;
  for (PendingCall* call : connector_.PendingFor("a:1")) running.push_back(call->task.call_id);
  scheduler_->CancelJob(job.first, absl::CancelledError("client went away"));
  // The calls already running are cancelled too, so the worker goes idle.
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::UnorderedElementsAreArray(running));
  CompleteAll({"a:1"});
  EXPECT_EQ(connector_.pending_count(), 0u);
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("went away")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
  EXPECT_EQ(scheduler_->Snapshot().workers[0].chunks_in_flight, 0);
}

TEST_F(SchedulerTest, ReRegistrationFromSameAddress_ReplacesAndRequeues) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  auto job = Submit(1, 10, 10);
  const std::string new_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/2);
  EXPECT_NE(old_id, new_id);
  EXPECT_THAT(scheduler_->Heartbeat(old_id, 1, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(old_id)));
  // The chunk went to the new registration too; the old call's CANCELLED answer is ignored.
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::CancelledError("cancelled")));
  CompleteAll({"a:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

// ---- Graceful leave ---------------------------------------------------------------------

TEST_F(SchedulerTest, DrainWorker_GetsNoNewChunksButItsResultsCount) {
  const std::string leaving = AddWorker("leaving:1");
  auto job = Submit(1, 100, 10);
  ASSERT_EQ(connector_.PendingFor("leaving:1").size(), 2u);
  ASSERT_OK(scheduler_->DrainWorker(leaving, 7));
  AddWorker("staying:1");
  Drained drained = RunJob(job, {"leaving:1", "staying:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 338350);
  int by_leaving = 0;
  for (const auto& chunk : drained.chunks) by_leaving += chunk.worker_id == leaving;
  EXPECT_EQ(by_leaving, 2);  // only the two it held when it started draining
  ASSERT_OK(scheduler_->DeregisterWorker(leaving, 7));
  EXPECT_EQ(scheduler_->Snapshot().workers.size(), 1u);
  EXPECT_THAT(scheduler_->DrainWorker(leaving, 7), StatusIs(absl::StatusCode::kNotFound, HasSubstr(leaving)));
}

TEST_F(SchedulerTest, DeregisterWithChunksInHand_HandsThemBackWithoutCountingALoss) {
  const std::string leaving = AddWorker("leaving:1");
  auto job = Submit(1, 20, 10);
  ASSERT_OK(scheduler_->DeregisterWorker(leaving, 7));
  AddWorker("staying:1");
  Drained drained = RunJob(job, {"staying:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);
  EXPECT_EQ(drained.finished->stats.workers_lost, 0);
  EXPECT_EQ(drained.finished->stats.retries, 2);
}

// ---- Speculative execution --------------------------------------------------------------

TEST_F(SchedulerTest, Straggler_GetsBackupOnIdleWorker_FirstResultWinsLoserCancelled) {
  AddWorker("slow:1");
  AddWorker("fast:1");
  auto job = Submit(1, 40, 10);  // 4 chunks: slow holds 0 and 2, fast holds 1 and 3
  // The fast worker finishes its chunks quickly: the median chunk takes 10 ms.
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  Drained drained = Drain(job);
  EXPECT_EQ(drained.chunks.size(), 2u);
  // Below the threshold (max(3 × 10 ms, 1 s)) nothing is copied.
  clock_.Advance(absl::Milliseconds(500));
  scheduler_->Tick();
  EXPECT_TRUE(connector_.PendingFor("fast:1").empty());
  // Past it, the idle fast worker gets backups of the slow worker's chunks.
  clock_.Advance(absl::Milliseconds(600));
  scheduler_->Tick();
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);  // one idle slot
  const uint64_t backed_up = connector_.PendingFor("fast:1")[0]->task.chunk_index;
  const uint64_t losing_call = [&] {
    for (PendingCall* call : connector_.PendingFor("slow:1")) {
      if (call->task.chunk_index == backed_up) return call->task.call_id;
    }
    return uint64_t{0};
  }();
  CompleteAll({"fast:1"});
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Contains(losing_call));
  // The slow worker answers anyway: the late copy is dropped, the sum is exact.
  CompleteAll({"slow:1", "fast:1"});
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 22140);
  EXPECT_EQ(drained.chunks.size(), 4u);
  EXPECT_GE(drained.finished->stats.backups, 1);
}

TEST_F(SchedulerTest, Straggler_NoBackupWhileFreshChunksWait) {
  AddWorker("slow:1");
  AddWorker("fast:1");
  Submit(1, 1000, 10);  // 100 chunks: plenty of fresh work for the fast worker
  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(connector_.CompleteOldest("fast:1"));
  clock_.Advance(absl::Seconds(30));
  scheduler_->Tick();
  for (PendingCall* call : connector_.PendingFor("fast:1")) {
    EXPECT_EQ(call->task.attempt, 1) << "chunk " << call->task.chunk_index;
  }
}

TEST_F(SchedulerTest, Backup_DoesNotCountAsLoss) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("slow:1");
  AddWorker("fast:1");
  auto job = Submit(1, 20, 10);
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  clock_.Advance(absl::Seconds(2));
  scheduler_->Tick();  // backup of chunk 0 on fast
  // The backup fails like a crashed worker would; the original still runs, so the job
  // lives on (one loss is not "lost max_attempts times" while a copy is running).
  ASSERT_TRUE(connector_.CompleteOldest("fast:1", absl::InternalError("boom")));
  CompleteAll({"slow:1"});
  Drained drained = RunJob(job, {"slow:1", "fast:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);
}

// ---- Resubmission after a lost coordinator ----------------------------------------------

TEST_F(SchedulerTest, Resume_RunsOnlyMissingChunks) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kSum;
  spec.completed_chunks = {{0, 3}, {5, 5}, {9, 9}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  std::set<uint64_t> indices;
  for (const auto& chunk : drained.chunks) indices.insert(chunk.chunk_index);
  EXPECT_EQ(indices, (std::set<uint64_t>{4, 6, 7, 8}));
  EXPECT_EQ(drained.plan->num_chunks, 10u);
}

TEST_F(SchedulerTest, Resume_WithoutChunkSizeOrBeyondPlan_IsInvalidArgument) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.completed_chunks = {{0, 1}};
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("original chunk size")));
  spec.chunk_size = 10;
  spec.completed_chunks = {{5, 12}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the 10 chunks")));
}

TEST_F(SchedulerTest, Resume_EverythingAlreadyHeld_FinishesAtOnce) {
  AddWorker("a:1");
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 100));
  spec.chunk_size = 50;
  spec.completed_chunks = {{0, 1}};
  ASSERT_OK_AND_ASSIGN(auto job, scheduler_->SubmitJob(spec));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(connector_.pending_count(), 0u);
}

TEST_F(SchedulerTest, Shutdown_EndsStreamsWithRetryableStatus) {
  AddWorker("a:1");
  auto job = Submit(1, 100, 10);
  connector_.set_complete_on_cancel_all(true);
  scheduler_.reset();  // cancels the calls in flight and waits for them
  Drained drained;
  for (JobEvent& event : job.second->TakeAll(absl::ZeroDuration())) {
    if (event.kind == JobEvent::Kind::kFinished) drained.finished = event;
  }
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  EXPECT_FALSE(drained.finished->final);
  Reset(SchedulerOptions{});
}

// ---- Results no worker can garble unseen -------------------------------------------------

// The squares of 1..10 in one chunk, in RESULT_MODE_VALUES.
std::pair<std::string, std::shared_ptr<JobStream>> SubmitValues(Scheduler& scheduler) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(1, 10));
  spec.chunk_size = 10;
  spec.mode = ResultMode::kValues;
  absl::StatusOr<std::pair<std::string, std::shared_ptr<JobStream>>> submitted =
      scheduler.SubmitJob(std::move(spec));
  EXPECT_TRUE(submitted.ok()) << submitted.status();
  return *submitted;
}

// An honest reply for the call's task, then `garble` applied to it.
template <typename Garble>
void AnswerGarbled(PendingCall& call, Garble garble) {
  absl::StatusOr<ChunkReply> reply = FakeConnector::Compute(call.task);
  ASSERT_TRUE(reply.ok()) << reply.status();
  garble(*reply);
  call.done(*std::move(reply));
}

int64_t FaultsOf(const Scheduler& scheduler, const std::string& worker_id) {
  for (const WorkerSnapshot& worker : scheduler.Snapshot().workers) {
    if (worker.worker_id == worker_id) return worker.faults;
  }
  return -1;
}

// A worker whose values do not add up to the sum it reports: the result is refused, counted
// against that worker, and the chunk runs on the other worker, although the faulty one is
// idle and first in line; the job's answer is exact.
TEST_F(SchedulerTest, ValuesDisagreeWithPartialSum_RefusedAndRedoneOnAnotherWorker) {
  const std::string liar = AddWorker("a:1");
  const std::string honest = AddWorker("b:1");
  auto job = SubmitValues(*scheduler_);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) {
    std::vector<int64_t> values = reply.values.ToVector();
    values[3] += 1;  // the sum, min and max stay as computed from the true values
    reply.values = EncodedValues::Own(std::move(values));
  });
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_EQ(drained.chunks[0].worker_id, honest);
  EXPECT_EQ(drained.finished->stats.retries, 1);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
  EXPECT_EQ(FaultsOf(*scheduler_, honest), 0);
}

TEST_F(SchedulerTest, ValuesDisagreeWithMinOrMax_Refused) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  auto job = SubmitValues(*scheduler_);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.max = 99; });
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.chunks[0].max, 100);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

// An element count other than the chunk's (0 here) is the worker's fault, not the job's.
TEST_F(SchedulerTest, ElementCountZero_WorkerFaultedAndChunkRedoneElsewhere) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 10, 10);
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.count = 0; });
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

// With nobody else to run it, the chunk goes back to the faulty worker, and when it keeps
// garbling, the job is aborted after max_attempts, saying why: never a wrong answer with OK.
TEST_F(SchedulerTest, OnlyWorkerKeepsGarbling_AbortedNamingTheContradiction) {
  const std::string liar = AddWorker("a:1");
  auto job = SubmitValues(*scheduler_);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    std::optional<PendingCall> call = connector_.TakeOldest("a:1");
    ASSERT_TRUE(call.has_value()) << "attempt " << attempt;
    EXPECT_EQ(call->task.attempt, attempt);
    AnswerGarbled(*call, [](ChunkReply& reply) { reply.sum += 1; });
  }
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::AllOf(HasSubstr("chunk 0"), HasSubstr(liar),
                                        HasSubstr("contradicts itself"),
                                        HasSubstr("values sum to 385, not 386"))));
  EXPECT_TRUE(drained.chunks.empty());
  EXPECT_EQ(FaultsOf(*scheduler_, liar), options_.max_attempts);
}

// A faulty worker does not get the chunk back while another worker may run it: the retry
// waits for that worker's free slot.
TEST_F(SchedulerTest, RetryAfterFault_WaitsForAnotherWorkersSlot) {
  SchedulerOptions options;
  options.pipeline_depth = 0;
  Reset(options);
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = Submit(1, 20, 10);  // two chunks: one on each worker
  std::optional<PendingCall> call = connector_.TakeOldest("a:1");
  ASSERT_TRUE(call.has_value());
  ASSERT_EQ(connector_.PendingFor("b:1").size(), 1u);
  AnswerGarbled(*call, [](ChunkReply& reply) { reply.count = 3; });
  EXPECT_TRUE(connector_.PendingFor("a:1").empty());  // a is idle, and gets nothing
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  ASSERT_EQ(connector_.PendingFor("b:1").size(), 1u);  // the retry
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 2870);  // 1^2 + ... + 20^2
}

// ---- Small chunks travel together (RunChunks) -------------------------------------------

// Sum of squares 1..n.
absl::int128 SquareSum(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

TEST_F(SchedulerTest, Batch_SmallChunksShareCallsSplitFairlyOverWorkers) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, /*max_chunks_per_call=*/64);
  AddWorker("b:1", 1, {"square"}, 7, /*max_chunks_per_call=*/64);
  auto job = Submit(1, 100, 1);  // 100 one-element chunks over 2 slots
  // Each worker's first call carries its fair share (50 chunks, capped at 64), not 1 chunk
  // and not the whole job; the pipeline call gets nothing because nothing is left.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 1u);
  ASSERT_EQ(connector_.PendingBatchesFor("b:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 50u);
  EXPECT_EQ(connector_.PendingBatchesFor("b:1")[0]->tasks.size(), 50u);
  EXPECT_EQ(connector_.pending_count(), 0u);  // no call of a single chunk
  const uint64_t call_id = connector_.PendingBatchesFor("a:1")[0]->tasks.front().call_id;
  for (const ChunkTask& task : connector_.PendingBatchesFor("a:1")[0]->tasks) {
    EXPECT_EQ(task.call_id, call_id);
  }
  EXPECT_TRUE(connector_.CompleteOldestBatch("a:1"));
  EXPECT_TRUE(connector_.CompleteOldestBatch("b:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(100));
  std::set<uint64_t> indices;
  for (const ChunkDelivery& chunk : drained.chunks) indices.insert(chunk.chunk_index);
  EXPECT_EQ(drained.chunks.size(), 100u);
  EXPECT_EQ(indices.size(), 100u);
}

TEST_F(SchedulerTest, Batch_WholeJob_NoCallCarriesMoreThanTheWorkersMax) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  // Fair share and timing alone would put 100 chunks in a call; the workers take 1 and 3.
  AddWorker("one:1", 1, {"square"}, 7, /*max_chunks_per_call=*/1);
  AddWorker("three:1", 2, {"square"}, 7, /*max_chunks_per_call=*/3);
  auto job = Submit(1, 300, 1);
  Drained drained = RunJob(job, {"one:1", "three:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(300));
  const std::vector<size_t> one = connector_.CallSizes("one:1");
  const std::vector<size_t> three = connector_.CallSizes("three:1");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(three.empty());
  for (size_t size : one) EXPECT_EQ(size, 1u);
  for (size_t size : three) {
    EXPECT_GE(size, 1u);
    EXPECT_LE(size, 3u);
  }
  EXPECT_NE(std::find(three.begin(), three.end(), 3u), three.end());  // the max is used
}

TEST_F(SchedulerTest, Batch_SeedShape_OneCallPerWorker) {
  // W1's shape: 8 chunks of 625 over 2 one-slot workers → one call of 4 chunks each.
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  AddWorker("b:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 5000);
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 1u);
  ASSERT_EQ(connector_.PendingBatchesFor("b:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 4u);
  EXPECT_EQ(connector_.PendingBatchesFor("b:1")[0]->tasks.size(), 4u);
  connector_.CompleteOldestBatch("a:1");
  connector_.CompleteOldestBatch("b:1");
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, SquareSum(5000));
}

TEST_F(SchedulerTest, Batch_ChunksAboveElementBudgetGoAlone) {
  SchedulerOptions options;
  options.max_elements_per_call = 90;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 1000, 60);  // 17 chunks of 60 (the last of 40)
  // 60 + 60 > 90 and 60 + 40 > 90: every call carries one chunk.
  EXPECT_EQ(connector_.PendingBatchesFor("a:1").size(), 0u);
  EXPECT_EQ(connector_.PendingFor("a:1").size(), 2u);  // slot + pipeline
  Drained drained = RunJob(job, {"a:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, SquareSum(1000));
}

TEST_F(SchedulerTest, Batch_ResultWindowCapsCallSize) {
  SchedulerOptions options;
  options.result_window = 5;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 100, 1);
  // The slot's call and the pipeline's each carry what the window has room for.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 2u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 5u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[1]->tasks.size(), 5u);
}

TEST_F(SchedulerTest, Batch_LostWithWorker_EveryChunkRedoneOnceElsewhere) {
  SchedulerOptions options;
  options.initial_chunks_per_call = 1000;
  Reset(options);
  AddWorker("dies:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 40, 1);  // one worker: fair share is everything, capped at 64
  ASSERT_EQ(connector_.PendingBatchesFor("dies:1").size(), 1u);
  EXPECT_EQ(connector_.PendingBatchesFor("dies:1")[0]->tasks.size(), 40u);
  AddWorker("lives:1", 1, {"square"}, 7, 64);
  ASSERT_TRUE(connector_.CompleteOldestBatch("dies:1", absl::UnavailableError("gone")));
  // All 40 chunks come back to the queue and go to the survivor, one per call: one of them
  // may be what killed the worker, and the others must not share its fate again.
  EXPECT_TRUE(connector_.PendingBatchesFor("lives:1").empty());
  ASSERT_EQ(connector_.PendingFor("lives:1").size(), 2u);
  EXPECT_EQ(connector_.PendingFor("lives:1")[0]->task.attempt, 2);
  Drained drained = RunJob(job, {"lives:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(40));
  EXPECT_EQ(drained.chunks.size(), 40u);
  EXPECT_EQ(drained.finished->stats.retries, 40);
  EXPECT_EQ(drained.finished->stats.workers_lost, 1);
}

TEST_F(SchedulerTest, Batch_DeterministicErrorFailsJobAtOnce) {
  AddWorker("a:1", 1, {"square"}, 7, 64);
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(3037000490, 3037000510));
  spec.chunk_size = 1;
  spec.mode = ResultMode::kSum;
  auto job = scheduler_->SubmitJob(std::move(spec));
  ASSERT_OK(job.status());
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));
  Drained drained = Drain(*job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("3037000500")));
  EXPECT_EQ(drained.finished->stats.retries, 0);
}

TEST_F(SchedulerTest, Batch_BackupWinsOneChunk_BatchKeepsRunningForTheOthers) {
  AddWorker("slow:1", 1, {"square"}, 7, 64);
  AddWorker("fast:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 3, 1);  // 3 chunks over 2 slots: slow gets {0, 1}, fast gets {2}
  ASSERT_EQ(connector_.PendingBatchesFor("slow:1").size(), 1u);
  const uint64_t batch_call = connector_.PendingBatchesFor("slow:1")[0]->tasks.front().call_id;
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  clock_.Advance(absl::Milliseconds(10));
  CompleteAll({"fast:1"});
  Drained drained = Drain(job);
  // Past the threshold, the idle fast worker backs up one of the batch's chunks.
  clock_.Advance(absl::Milliseconds(1100));
  scheduler_->Tick();
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  ASSERT_TRUE(connector_.CompleteOldest("fast:1"));
  // One chunk of the batch is done elsewhere, the other is not: the batch is not cancelled.
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Not(::testing::Contains(batch_call)));
  // Meanwhile the other chunk got its own backup; the batch answers first and wins it, so
  // that backup is cancelled.
  ASSERT_EQ(connector_.PendingFor("fast:1").size(), 1u);
  const uint64_t second_backup = connector_.PendingFor("fast:1")[0]->task.call_id;
  ASSERT_TRUE(connector_.CompleteOldestBatch("slow:1"));
  EXPECT_THAT(connector_.cancelled_calls(), ::testing::Contains(second_backup));
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, SquareSum(3));
  EXPECT_EQ(drained.chunks.size(), 3u);
  EXPECT_EQ(drained.finished->stats.duplicates_dropped, 1);
  EXPECT_EQ(drained.finished->stats.backups, 2);
  EXPECT_EQ(drained.finished->stats.retries, 0);
}

TEST_F(SchedulerTest, Batch_CallsFollowMeasuredTimePerChunk) {
  AddWorker("a:1", 1, {"square"}, 7, 1024);
  auto job = Submit(1, 10000, 1);
  // Untimed: the first calls carry initial_chunks_per_call.
  ASSERT_EQ(connector_.PendingBatchesFor("a:1").size(), 2u);
  EXPECT_EQ(connector_.PendingBatchesFor("a:1")[0]->tasks.size(), 16u);
  // 16 chunks in 1.6 s: 100 ms per chunk, so a 20 ms call holds one chunk.
  clock_.Advance(absl::Milliseconds(1600));
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));
  ASSERT_EQ(connector_.PendingFor("a:1").size(), 1u);
  ASSERT_TRUE(connector_.CompleteOldestBatch("a:1"));  // the pipeline's 16, also slow
  // Chunks now take 100-200 µs (the pipelined call waited one step longer): once that is the
  // median, a call grows to 20 ms / (100..200 µs) = 100..200 chunks.
  for (int i = 0; i < 20 && connector_.PendingBatchesFor("a:1").empty(); ++i) {
    std::optional<PendingCall> call = connector_.TakeOldest("a:1");
    ASSERT_TRUE(call.has_value());
    clock_.Advance(absl::Microseconds(100));
    call->done(FakeConnector::Compute(call->task));
    Drain(job);
  }
  std::vector<PendingBatch*> batches = connector_.PendingBatchesFor("a:1");
  ASSERT_FALSE(batches.empty());
  EXPECT_GE(batches.back()->tasks.size(), 100u);
  EXPECT_LE(batches.back()->tasks.size(), 200u);
}

// Which reply is for which chunk is unknown: every chunk of the call runs again, and the
// worker is faulted once per chunk.
TEST_F(SchedulerTest, Batch_WrongReplyCount_EveryChunkRedoneAndWorkerFaulted) {
  const std::string liar = AddWorker("a:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 10, 1);
  std::optional<PendingBatch> batch = connector_.TakeOldestBatch("a:1");
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->tasks.size(), 10u);
  batch->done(std::vector<ChunkReply>(3));
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 10);
  // Nobody else may run the job: the retries come back to this worker, one per call.
  Drained drained;
  while (connector_.CompleteOldest("a:1")) drained = Drain(job, std::move(drained));
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.retries, 10);
}

// ---- Values in the client's shared-memory buffer ----------------------------------------

JobSpec SharedValuesJob(int64_t start, int64_t end, int64_t chunk_size) {
  JobSpec spec;
  spec.function = "square";
  spec.input = std::make_shared<const Input>(Input::Range(start, end));
  spec.chunk_size = chunk_size;
  spec.mode = ResultMode::kValues;
  spec.shared_values = SharedValuesRef{/*pid=*/4242, /*fd=*/7, /*token_high=*/1, /*token_low=*/2};
  return spec;
}

// What a worker that wrote the chunk's values to the buffer answers.
ChunkReply SharedReply(const ChunkTask& task) {
  ChunkReply reply = *FakeConnector::Compute(task);
  reply.values = Values();
  reply.values_shared = true;
  return reply;
}

TEST_F(SchedulerTest, SubmitJob_SharedValuesOnSumJobOrMalformed_IsInvalidArgument) {
  AddWorker("a:1");
  JobSpec spec = SharedValuesJob(1, 10, 5);
  spec.mode = ResultMode::kSum;
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("return values")));
  spec = SharedValuesJob(1, 10, 5);
  spec.shared_values->pid = 0;
  EXPECT_THAT(scheduler_->SubmitJob(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pid")));
}

TEST_F(SchedulerTest, SharedValues_TasksNameTheBufferAndSharedRepliesAreDelivered) {
  AddWorker("a:1");
  auto submitted = scheduler_->SubmitJob(SharedValuesJob(1, 10, 5));
  ASSERT_OK(submitted.status());
  for (int call = 0; call < 2; ++call) {
    std::optional<PendingCall> pending = connector_.TakeOldest("a:1");
    ASSERT_TRUE(pending.has_value());
    const ChunkTask& task = pending->task;
    ASSERT_TRUE(task.shared_values.has_value());
    EXPECT_EQ(task.shared_values->pid, 4242);
    EXPECT_EQ(task.shared_values->fd, 7);
    EXPECT_EQ(task.shared_values->token_high, 1u);
    EXPECT_EQ(task.shared_values->token_low, 2u);
    EXPECT_EQ(task.first_element, task.chunk_index * 5);
    pending->done(SharedReply(task));
  }
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 2u);
  for (const ChunkDelivery& chunk : drained.chunks) {
    EXPECT_TRUE(chunk.values_shared);
    EXPECT_TRUE(chunk.values.empty());
  }
  EXPECT_EQ(drained.sum, 385);
}

TEST_F(SchedulerTest, SharedValues_ReplyWithValuesToo_IsAcceptedOverTheWire) {
  // A worker that could not reach the buffer sends the values as usual.
  AddWorker("a:1");
  auto submitted = scheduler_->SubmitJob(SharedValuesJob(1, 10, 10));
  ASSERT_OK(submitted.status());
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_FALSE(drained.chunks[0].values_shared);
  EXPECT_EQ(drained.chunks[0].values.size(), 10u);
}

TEST_F(SchedulerTest, SharedValues_SharedReplyToJobWithoutBuffer_WorkerFaultedChunkRedone) {
  const std::string liar = AddWorker("a:1");
  AddWorker("b:1");
  JobSpec spec = SharedValuesJob(1, 10, 10);
  spec.shared_values.reset();
  auto submitted = scheduler_->SubmitJob(spec);
  ASSERT_OK(submitted.status());
  std::optional<PendingCall> pending = connector_.TakeOldest("a:1");
  ASSERT_TRUE(pending.has_value());
  EXPECT_FALSE(pending->task.shared_values.has_value());
  pending->done(SharedReply(pending->task));
  ASSERT_TRUE(connector_.CompleteOldest("b:1"));
  Drained drained = Drain(*submitted);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  ASSERT_EQ(drained.chunks.size(), 1u);
  EXPECT_FALSE(drained.chunks[0].values_shared);
  EXPECT_EQ(FaultsOf(*scheduler_, liar), 1);
}

// ---- A job that finishes in the middle of a step ----------------------------------------
// Finishing a job does not destroy it under its callers: the rest of the step (the other
// chunks of the same call, the other chunks of the same dead worker) sees a finished job and
// leaves it alone, and the job ends exactly once.

int FinishedEvents(const std::vector<JobEvent>& events) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [](const JobEvent& e) {
    return e.kind == JobEvent::Kind::kFinished;
  }));
}

TEST_F(SchedulerTest, Batch_FirstChunkExhaustsAttempts_JobEndsOnceAndRestOfCallIgnored) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("a:1", 1, {"square"}, 7, 64);
  auto job = Submit(1, 10, 1);
  std::optional<PendingBatch> batch = connector_.TakeOldestBatch("a:1");
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->tasks.size(), 10u);
  // The first chunk's loss aborts the job; nine chunks of the call are still to be handled.
  batch->done(std::vector<ChunkReply>(3));
  const std::vector<JobEvent> events = job.second->TakeAll(absl::ZeroDuration());
  ASSERT_EQ(FinishedEvents(events), 1);
  EXPECT_THAT(events.back().status, StatusIs(absl::StatusCode::kAborted, HasSubstr("chunk 0")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
}

TEST_F(SchedulerTest, DeclareDead_WorkerHeldEveryChunkAtLastAttempt_JobEndsOnce) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Reset(options);
  AddWorker("a:1", 4);
  auto job = Submit(1, 40, 10);
  ASSERT_EQ(connector_.PendingFor("a:1").size(), 4u);
  clock_.Advance(options.lease_timeout + absl::Milliseconds(1));
  // The lease expires: four chunks are lost with the worker, the first loss ends the job.
  scheduler_->Tick();
  const std::vector<JobEvent> events = job.second->TakeAll(absl::ZeroDuration());
  ASSERT_EQ(FinishedEvents(events), 1);
  EXPECT_THAT(events.back().status, StatusIs(absl::StatusCode::kAborted, HasSubstr("lost 1")));
  EXPECT_TRUE(scheduler_->Snapshot().jobs.empty());
}

}  // namespace
}  // namespace gpool
