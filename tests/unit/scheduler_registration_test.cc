// Scheduler unit tests: registration, heartbeats and leases (fixed and adaptive intervals),
// the job stream, and the cluster snapshot.
#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

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
  registration.pid = 100;
  registration.host = "host-a";
  registration.slots = 1;
  registration.functions = {"square"};
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("address")));
  registration.address = "a:1";
  registration.slots = 0;
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("slots")));
  registration.slots = 1;
  registration.functions.clear();
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("function")));
}

TEST_F(SchedulerTest, RegisterWorker_AtTheWorkerLimit_ResourceExhaustedUntilOneLeaves) {
  SchedulerOptions options;
  options.max_workers = 2;
  Reset(options);
  const std::string a = AddWorker("a:1");
  AddWorker("b:1");
  WorkerRegistration third;
  third.address = "c:1";
  third.pid = 100;
  third.host = "host-c";
  third.functions = {"square"};
  third.incarnation = 7;  // AddWorker's: at b:1 below, b registering again, asked nothing
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(third),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_workers")));
  // A worker registering again at its own address is not one more.
  third.address = "b:1";
  EXPECT_OK(scheduler_->RegisterWorkerAndWait(third).status());
  ASSERT_OK(scheduler_->DeregisterWorker(a, 7));
  third.address = "c:1";
  EXPECT_OK(scheduler_->RegisterWorkerAndWait(third).status());
}

TEST_F(SchedulerTest, SubmitJob_AtTheJobLimits_ResourceExhaustedNamingThem) {
  SchedulerOptions options;
  options.max_jobs = 3;
  options.max_jobs_per_client = 2;
  Reset(options);
  auto spec = [](const std::string& client) {
    JobSpec job;
    job.function = "square";
    job.client = client;
    job.input = std::make_shared<const Input>(Input::Range(1, 10));
    job.mode = ResultMode::kSum;
    return job;
  };
  ASSERT_OK(scheduler_->SubmitJob(spec("ipv4:127.0.0.1:1000")).status());
  auto second = scheduler_->SubmitJob(spec("ipv4:127.0.0.1:1000"));
  ASSERT_OK(second.status());
  EXPECT_THAT(scheduler_->SubmitJob(spec("ipv4:127.0.0.1:1000")),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_jobs_per_client")));
  ASSERT_OK(scheduler_->SubmitJob(spec("ipv4:127.0.0.1:2000")).status());
  EXPECT_THAT(scheduler_->SubmitJob(spec("ipv4:127.0.0.1:3000")),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_jobs)")));
  // A job that ends makes room.
  scheduler_->CancelJob(second->first, absl::CancelledError("done"));
  EXPECT_OK(scheduler_->SubmitJob(spec("ipv4:127.0.0.1:3000")).status());
}

TEST_F(SchedulerTest, RegisterWorker_TheCoordinatorsOwnAddress_IsInvalidArgument) {
  scheduler_->SetCoordinatorAddress("127.0.0.1:50051");
  WorkerRegistration registration;
  registration.address = "localhost:50051";
  registration.pid = 100;
  registration.host = "host-a";
  registration.functions = {"square"};
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is this coordinator's own address (127.0.0.1:50051)")));
  EXPECT_TRUE(scheduler_->Snapshot().workers.empty());
  registration.address = "localhost:50052";
  EXPECT_OK(scheduler_->RegisterWorkerAndWait(registration).status());
}

TEST_F(SchedulerTest, RegisterWorker_MaxChunksPerCallZero_IsInvalidArgument) {
  WorkerRegistration registration;
  registration.address = "a:1";
  registration.pid = 100;
  registration.host = "host-a";
  registration.slots = 1;
  registration.functions = {"square"};
  registration.max_chunks_per_call = 0;
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_chunks_per_call")));
  EXPECT_TRUE(scheduler_->Snapshot().workers.empty());
}

TEST_F(SchedulerTest, RegisterWorker_MaxChunksPerCallAboveTheBound_IsInvalidArgument) {
  WorkerRegistration registration;
  registration.address = "a:1";
  registration.pid = 100;
  registration.host = "host-a";
  registration.slots = 1;
  registration.functions = {"square"};
  registration.max_chunks_per_call = kMaxChunksPerCall + 1;
  EXPECT_THAT(scheduler_->RegisterWorkerAndWait(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16384")));
  registration.max_chunks_per_call = kMaxChunksPerCall;
  EXPECT_OK(scheduler_->RegisterWorkerAndWait(registration).status());
}

// ---- A registration cannot evict a live worker -------------------------------------------

// Workers at `address` in the scheduler's snapshot.
int WorkersAt(const Scheduler& scheduler, const std::string& address) {
  int count = 0;
  for (const WorkerInfo& worker : scheduler.Snapshot().workers) count += worker.address == address;
  return count;
}

TEST_F(SchedulerTest, RegisterWorker_HolderStillConfirmsItsIncarnation_IsAlreadyExists) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  auto job = Submit(1, 10, 10);
  ASSERT_EQ(connector_.PendingFor("a:1").size(), 1u);
  AsyncRegistration impostor = RegisterAsync(Registration("a:1", 1, {"square"}, 2));
  ASSERT_FALSE(impostor.answered());
  std::optional<PendingConfirm> confirm = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(confirm.has_value());
  // The registered incarnation is asked about, never the newcomer's; within a second.
  EXPECT_EQ(confirm->incarnation, 1u);
  EXPECT_EQ(confirm->timeout, absl::Seconds(1));
  confirm->done(true);
  ASSERT_TRUE(impostor.answered());
  EXPECT_THAT(impostor.grant(),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr(old_id), HasSubstr("host-a/100"), HasSubstr("a:1"))));
  // The live worker keeps its registration and its chunk: nothing was cancelled.
  EXPECT_OK(scheduler_->Heartbeat(old_id, 1, kBeat).status());
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
  EXPECT_TRUE(connector_.cancelled_addresses().empty());
  ASSERT_TRUE(connector_.CompleteOldest("a:1"));
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
  EXPECT_EQ(drained.finished->stats.workers_lost, 0);
  EXPECT_EQ(drained.finished->stats.retries, 0);
}

TEST_F(SchedulerTest, RegisterWorker_HolderAnswersNo_ReplacesItAndRequeuesItsChunks) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  auto job = Submit(1, 10, 10);
  AsyncRegistration restarted = RegisterAsync(Registration("a:1", 1, {"square"}, 2));
  std::optional<PendingConfirm> confirm = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(confirm.has_value());
  // The process at the address is another incarnation: the old one restarted.
  confirm->done(false);
  ASSERT_TRUE(restarted.answered());
  ASSERT_OK(restarted.grant().status());
  EXPECT_NE(restarted.grant()->worker_id, old_id);
  EXPECT_THAT(scheduler_->Heartbeat(old_id, 1, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(old_id)));
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
  // The chunk went to the new registration too; the old call's CANCELLED answer is ignored.
  ASSERT_TRUE(connector_.CompleteOldest("a:1", absl::CancelledError("cancelled")));
  CompleteAll({"a:1"});
  Drained drained = Drain(job);
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, 385);
}

TEST_F(SchedulerTest, RegisterWorker_NothingAnswersAtTheAddress_ReplacesTheHolder) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  AsyncRegistration restarted = RegisterAsync(Registration("a:1", 1, {"square"}, 2));
  std::optional<PendingConfirm> confirm = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(confirm.has_value());
  confirm->done(absl::DeadlineExceededError("no answer within 1 s"));
  ASSERT_TRUE(restarted.answered());
  ASSERT_OK(restarted.grant().status());
  EXPECT_NE(restarted.grant()->worker_id, old_id);
  EXPECT_THAT(scheduler_->Heartbeat(old_id, 1, kBeat),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(old_id)));
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
}

// The same process registering again (its first answer was lost, or its lease expired):
// replaced at once, as before this check existed, without asking anybody.
TEST_F(SchedulerTest, RegisterWorker_SameIncarnation_ReplacesAtOnceWithoutAsking) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/5);
  const std::string new_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/5);
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(connector_.pending_confirm_count(), 0u);
  EXPECT_THAT(scheduler_->Heartbeat(old_id, 5, kBeat), StatusIs(absl::StatusCode::kNotFound, HasSubstr(old_id)));
  EXPECT_OK(scheduler_->Heartbeat(new_id, 5, kBeat).status());
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
}

// Two newcomers ask about the same holder at once. The first to hear "no" replaces it; the
// second must then ask about the first, and the process at the address (the first) says yes.
TEST_F(SchedulerTest, RegisterWorker_TwoNewcomersAtOnce_OneRegistrationPerAddress) {
  AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  AsyncRegistration first = RegisterAsync(Registration("a:1", 1, {"square"}, 2));
  AsyncRegistration second = RegisterAsync(Registration("a:1", 1, {"square"}, 3));
  std::optional<PendingConfirm> first_ask = connector_.TakeConfirm("a:1");
  std::optional<PendingConfirm> second_ask = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(first_ask.has_value() && second_ask.has_value());
  first_ask->done(false);
  ASSERT_TRUE(first.answered());
  ASSERT_OK(first.grant().status());
  second_ask->done(false);
  ASSERT_FALSE(second.answered());
  std::optional<PendingConfirm> again = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->incarnation, 2u);
  again->done(true);
  ASSERT_TRUE(second.answered());
  EXPECT_THAT(second.grant(), StatusIs(absl::StatusCode::kAlreadyExists,
                                       HasSubstr(first.grant()->worker_id)));
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
}

// The holder left while it was asked: the address is free, whatever it answered.
TEST_F(SchedulerTest, RegisterWorker_HolderLeftWhileAsked_Registers) {
  const std::string old_id = AddWorker("a:1", 1, {"square"}, /*incarnation=*/1);
  AsyncRegistration newcomer = RegisterAsync(Registration("a:1", 1, {"square"}, 2));
  std::optional<PendingConfirm> confirm = connector_.TakeConfirm("a:1");
  ASSERT_TRUE(confirm.has_value());
  ASSERT_OK(scheduler_->DeregisterWorker(old_id, 1));
  confirm->done(true);
  ASSERT_TRUE(newcomer.answered());
  ASSERT_OK(newcomer.grant().status());
  EXPECT_EQ(WorkersAt(*scheduler_, "a:1"), 1);
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

// The coordinator's own stall (SIGSTOP, a paused VM): its ticks stop, and so does its hearing
// of beats. Workers that beat all along are not declared dead when it resumes.
TEST_F(SchedulerTest, Tick_AfterTheCoordinatorsOwnStall_LeasesExtendedNotExpired) {
  detect_stalls_ = true;
  Reset(SchedulerOptions{});
  const std::string id = AddWorker("a:1");
  scheduler_->Tick();
  clock_.Advance(absl::Seconds(15));  // five leases without a tick or a heard beat
  scheduler_->Tick();
  ASSERT_EQ(scheduler_->Snapshot().workers.size(), 1u);
  // The excuse covers the stall only: silence after it still ends the lease, on time.
  for (absl::Duration waited; waited < options_.lease_timeout; waited += absl::Milliseconds(100)) {
    clock_.Advance(absl::Milliseconds(100));
    scheduler_->Tick();
  }
  clock_.Advance(absl::Milliseconds(100));
  scheduler_->Tick();
  EXPECT_TRUE(scheduler_->Snapshot().workers.empty());
  EXPECT_THAT(scheduler_->Heartbeat(id, 7, kBeat), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
}

TEST_F(SchedulerTest, Tick_RegularTicksWithoutBeats_WorkerDeclaredDeadAtItsLease) {
  detect_stalls_ = true;
  Reset(SchedulerOptions{});
  AddWorker("a:1");
  absl::Duration waited;
  while (!scheduler_->Snapshot().workers.empty() && waited < absl::Seconds(10)) {
    clock_.Advance(absl::Milliseconds(100));
    waited += absl::Milliseconds(100);
    scheduler_->Tick();
  }
  EXPECT_GT(waited, options_.lease_timeout);
  EXPECT_LE(waited, options_.lease_timeout + absl::Milliseconds(100));
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
    registration.host = "host";
    registration.slots = 1;
    registration.functions = {"square"};
    registration.incarnation = 7;
    absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorkerAndWait(registration);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? *grant : RegistrationGrant{};
  }

  bool Registered(const std::string& worker_id) {
    for (const WorkerInfo& worker : scheduler_->Snapshot().workers) {
      if (worker.ref.worker_id == worker_id) return true;
    }
    return false;
  }

  std::optional<WorkerInfo> Find(const std::string& worker_id) {
    for (const WorkerInfo& worker : scheduler_->Snapshot().workers) {
      if (worker.ref.worker_id == worker_id) return worker;
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
  const ClusterInfo snapshot = scheduler_->Snapshot();
  EXPECT_EQ(snapshot.total_slots, 5);
  ASSERT_EQ(snapshot.workers.size(), 2u);
  EXPECT_EQ(snapshot.workers[0].ref.worker_id, "w1");
  EXPECT_EQ(snapshot.workers[1].address, "b:1");
}

}  // namespace
}  // namespace gpool
