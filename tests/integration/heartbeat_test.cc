// Heartbeats over gRPC, in one process: the coordinator's service over a real Scheduler on a
// loopback port, reached through the worker's GrpcCoordinatorLink or a raw stub. The
// scheduler's clock is fake and nothing ticks on its own, so a lease expires exactly when a
// test advances the clock and calls Tick; every wait is on a condition with a deadline.
#include <memory>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/server.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/grpc_status.h"
#include "rpc/transport.h"
#include "server/coordinator_service.h"
#include "server/scheduler.h"
#include "server/worker_connection.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
#include "tests/support/wire_signature.h"
#include "worker/grpc_coordinator_link.h"
#include "worker/registration.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::gpool::testing::WaitUntil;
using ::testing::HasSubstr;

constexpr absl::Duration kLease = absl::Seconds(3);
// The interval the test coordinator grants (its minimum), which the links report.
constexpr absl::Duration kInterval = absl::Milliseconds(500);
constexpr absl::Duration kWait = absl::Seconds(10);
constexpr absl::Duration kPoll = absl::Milliseconds(1);

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// No job is submitted in these tests, so no chunk is ever sent.
class UnusedConnector final : public WorkerConnector {
 public:
  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override {
    return std::make_shared<Connection>();
  }

 private:
  class Connection final : public WorkerConnection {
   public:
    void RunChunks(std::vector<ChunkTask> tasks, Done done) override {
      done(absl::UnavailableError("no chunks in this test"));
    }
    void Cancel(uint64_t call_id) override {}
    void CancelAll() override {}
    // Nothing serves at the workers' addresses: a registration replaces its address's holder.
    void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                            ConfirmDone done) override {
      done(absl::UnavailableError("no worker serves in this test"));
    }
  };
};

// A coordinator (Scheduler + CoordinatorService) serving on 127.0.0.1 with a fake clock.
class TestCoordinator {
 public:
  explicit TestCoordinator(absl::Duration heartbeat_interval = kInterval,
                           double heartbeat_budget = SchedulerOptions{}.heartbeat_budget) {
    SchedulerOptions options;
    options.heartbeat_interval = heartbeat_interval;
    options.lease_timeout = kLease;
    options.heartbeat_budget = heartbeat_budget;
    // The fake clock jumps between Ticks, which the scheduler would read as its own stalls.
    options.stall_threshold = absl::InfiniteDuration();
    scheduler_ = std::make_unique<Scheduler>(options, &clock_, &connector_);
    service_ = std::make_unique<CoordinatorService>(scheduler_.get(), &loop_);
    absl::StatusOr<StartedServer> started = StartServer(
        "127.0.0.1:0", {service_.get()}, /*serving=*/true, /*port_file=*/"", &loop_);
    EXPECT_OK(started);
    if (started.ok()) {
      service_->AcceptCalls();
      server_ = std::move(*started);
      address_ = absl::StrCat("127.0.0.1:", started->port);
    }
  }

  ~TestCoordinator() {
    // As gpool-coordinator does: refuse worker calls, then shut the server down.
    service_->StopWorkerCalls();
    if (server_.server != nullptr) server_.server->Shutdown(DeadlineIn(absl::Seconds(5)));
    loop_.ShutdownWhenIdle();
  }

  const std::string& address() const { return address_; }
  CoordinatorService& service() { return *service_; }

  // Moves the clock forward and lets the scheduler expire leases.
  void AdvanceAndTick(absl::Duration d) {
    clock_.Advance(d);
    scheduler_->Tick();
  }
  void Advance(absl::Duration d) { clock_.Advance(d); }
  void Tick() { scheduler_->Tick(); }

  bool Registered(const std::string& worker_id) const { return Worker(worker_id).has_value(); }

  std::optional<WorkerInfo> Worker(const std::string& worker_id) const {
    for (const WorkerInfo& worker : scheduler_->Snapshot().workers) {
      if (worker.ref.worker_id == worker_id) return worker;
    }
    return std::nullopt;
  }

  // Waits until the coordinator holds `worker_id` to `interval` (the worker reported it).
  bool AwaitReportedInterval(const std::string& worker_id, absl::Duration interval) const {
    return WaitUntil(
        [&] {
          std::optional<WorkerInfo> worker = Worker(worker_id);
          return worker.has_value() && worker->heartbeat_interval == interval;
        },
        kWait, kPoll);
  }

  // Waits until the scheduler has applied a heartbeat (or registration) of `worker_id` at
  // the current fake time. Advance the clock before the beat, so that an older one does not
  // count.
  bool AwaitFreshBeat(const std::string& worker_id) const {
    return WaitUntil(
        [&] {
          for (const WorkerInfo& worker : scheduler_->Snapshot().workers) {
            if (worker.ref.worker_id == worker_id) {
              return worker.heartbeat_age == absl::ZeroDuration();
            }
          }
          return false;
        },
        kWait, kPoll);
  }

 private:
  FakeClock clock_;
  UnusedConnector connector_;
  std::unique_ptr<Scheduler> scheduler_;
  CompletionQueueLoop loop_;
  std::unique_ptr<CoordinatorService> service_;
  StartedServer server_;  // Destroyed before the service and the loop.
  std::string address_;
};

WorkerRegistration TestRegistration(int port = 1) {
  WorkerRegistration registration;
  registration.address = absl::StrCat("127.0.0.1:", port);
  registration.pid = 42;
  registration.host = "test-host";
  registration.slots = 1;
  registration.functions = {"square"};
  registration.incarnation = 7;
  return registration;
}

BackoffPolicy FastBackoff() {
  BackoffPolicy policy;
  policy.initial = absl::Milliseconds(1);
  policy.max = absl::Milliseconds(5);
  return policy;
}

// A beat reporting `interval`: by default the interval the test coordinator grants.
v1::HeartbeatRequest Beat(const std::string& worker_id, uint64_t incarnation = 7,
                          absl::Duration interval = kInterval) {
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker_id);
  beat.set_incarnation(incarnation);
  beat.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(interval));
  return beat;
}

// The raw protocol, as a worker in another language would speak it.
class RawWorker {
 public:
  explicit RawWorker(const std::string& address)
      : stub_(v1::Coordinator::NewStub(CreateChannel(address))) {}

  absl::StatusOr<std::string> Register(const std::string& address = "127.0.0.1:1") {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    v1::RegisterWorkerRequest request;
    request.set_address(address);
    request.set_pid(42);
    request.set_host("test-host");
    request.set_slots(1);
    ::gpool::testing::SetSignature(request.add_functions(), "square");
    request.set_incarnation(7);
    request.set_max_chunks_per_call(1);
    v1::RegisterWorkerResponse response;
    grpc::Status status = stub_->RegisterWorker(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response.worker_id();
  }

  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& beat) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    v1::HeartbeatResponse response;
    grpc::Status status = stub_->Heartbeat(&context, beat, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }
  absl::Status Heartbeat(const std::string& worker_id) {
    return Heartbeat(Beat(worker_id)).status();
  }

  absl::Status Deregister(const std::string& worker_id) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    v1::WorkerLeaveRequest request;
    request.set_worker_id(worker_id);
    request.set_incarnation(7);
    v1::WorkerLeaveResponse response;
    return FromGrpcStatus(stub_->DeregisterWorker(&context, request, &response));
  }

 private:
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

// ---- The coordinator's Heartbeat, through the raw protocol ------------------------------

TEST(CoordinatorHeartbeatTest, Heartbeat_BeatEveryInterval_WorkerOutlivesManyLeases) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  // 10 fake seconds, a beat each second: more than three leases of 3 s. A beat is applied
  // before its call returns.
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_OK(worker.Heartbeat(id)) << "at second " << second;
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(id)) << "declared dead at second " << second;
  }
}

TEST(CoordinatorHeartbeatTest, Heartbeat_WorkerFallsSilent_DeclaredDeadThenNotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  coordinator.Advance(absl::Seconds(1));
  ASSERT_OK(worker.Heartbeat(id));

  coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
  EXPECT_FALSE(coordinator.Registered(id));
  // The worker comes back: its beat is refused, and it registers anew.
  EXPECT_THAT(worker.Heartbeat(id), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  ASSERT_OK_AND_ASSIGN(std::string new_id, worker.Register());
  EXPECT_NE(new_id, id);
  coordinator.Advance(absl::Seconds(1));
  EXPECT_OK(worker.Heartbeat(new_id));
  EXPECT_TRUE(coordinator.AwaitFreshBeat(new_id));
}

TEST(CoordinatorHeartbeatTest, Heartbeat_UnknownWorker_NotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  EXPECT_THAT(worker.Heartbeat("w999"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("w999")));
}

TEST(CoordinatorHeartbeatTest, Heartbeat_OtherIncarnation_NotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  EXPECT_THAT(worker.Heartbeat(Beat(id, /*incarnation=*/8)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
}

TEST(CoordinatorHeartbeatTest, Heartbeat_NoInterval_InvalidArgumentAndLeaseNotRenewed) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  coordinator.Advance(absl::Seconds(2));
  EXPECT_THAT(worker.Heartbeat(Beat(id, 7, absl::ZeroDuration())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heartbeat_interval_ms")));
  // The refused beat did not count: the lease runs from the registration.
  coordinator.AdvanceAndTick(kLease - absl::Seconds(2) + absl::Milliseconds(1));
  EXPECT_FALSE(coordinator.Registered(id));
}

// With a budget of 2 beats/s, one worker keeps the 500 ms minimum and two get 1 s (6 s lease).
constexpr double kTinyBudget = 2;

TEST(CoordinatorHeartbeatTest, Heartbeat_AnswerCarriesTheGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register("127.0.0.1:1"));
  ASSERT_OK_AND_ASSIGN(v1::HeartbeatResponse alone, worker.Heartbeat(Beat(id)));
  EXPECT_EQ(alone.heartbeat_interval_ms(), 500);
  EXPECT_EQ(alone.lease_timeout_ms(), 3000);
  ASSERT_OK(worker.Register("127.0.0.1:2"));
  ASSERT_OK_AND_ASSIGN(v1::HeartbeatResponse two, worker.Heartbeat(Beat(id)));
  EXPECT_EQ(two.heartbeat_interval_ms(), 1000);
  EXPECT_EQ(two.lease_timeout_ms(), 6000);
}

TEST(CoordinatorHeartbeatTest, Heartbeat_BeatBehindTheGrant_LeaseFollowsTheReportedInterval) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register("127.0.0.1:1"));  // at 500 ms
  ASSERT_OK(worker.Register("127.0.0.1:2"));                            // now 1 s
  // The worker still reports 500 ms: told the grant, it keeps the lease of 500 ms.
  ASSERT_OK_AND_ASSIGN(v1::HeartbeatResponse behind, worker.Heartbeat(Beat(id, 7, kInterval)));
  EXPECT_EQ(behind.heartbeat_interval_ms(), 1000);
  EXPECT_EQ(coordinator.Worker(id)->lease_timeout, kLease);
  // From the beat that reports the granted interval on, the longer lease.
  ASSERT_OK(worker.Heartbeat(Beat(id, 7, absl::Seconds(1))).status());
  EXPECT_EQ(coordinator.Worker(id)->heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(coordinator.Worker(id)->lease_timeout, absl::Seconds(6));
}

TEST(CoordinatorHeartbeatTest, StopWorkerCalls_WorkerCallsRefusedUnavailable) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  ASSERT_OK(worker.Heartbeat(id));

  coordinator.service().StopWorkerCalls();
  const auto shutting_down = StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down"));
  EXPECT_THAT(worker.Heartbeat(id), shutting_down);
  EXPECT_THAT(worker.Register(), shutting_down);
  EXPECT_THAT(worker.Deregister(id), shutting_down);
}

TEST(CoordinatorHeartbeatTest, StopWorkerCalls_GetClusterInfoWaitingForWorkers_EndsUnavailable) {
  TestCoordinator coordinator;
  std::unique_ptr<v1::Coordinator::Stub> stub =
      v1::Coordinator::NewStub(CreateChannel(coordinator.address()));
  grpc::Status status;
  std::thread waiting([&] {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    v1::GetClusterInfoRequest request;
    request.set_min_workers(5);  // none will come
    v1::ClusterInfo info;
    status = stub->GetClusterInfo(&context, request, &info);
  });
  // Whether the call is waiting or not there yet, it must not outlive the scheduler's use:
  // it ends UNAVAILABLE, long before its deadline.
  coordinator.service().StopWorkerCalls();
  waiting.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

// ---- The worker's GrpcCoordinatorLink against the real coordinator -----------------------

TEST(GrpcCoordinatorLinkTest, Heartbeat_EverySecond_WorkerOutlivesManyLeases) {
  TestCoordinator coordinator;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  EXPECT_EQ(grant.heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(grant.lease_timeout, kLease);
  // Ten fake seconds (more than three leases), one beat and one lease check per second.
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_OK_AND_ASSIGN(HeartbeatGrant beat, link.Heartbeat(grant.worker_id, 7, kInterval));
    EXPECT_EQ(beat.interval, kInterval);
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(grant.worker_id)) << "declared dead at second " << second;
  }
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_AfterLeaseExpired_ReturnsNotFound) {
  TestCoordinator coordinator;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  coordinator.Advance(absl::Seconds(1));
  ASSERT_OK(link.Heartbeat(grant.worker_id, 7, kInterval).status());
  coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
  ASSERT_FALSE(coordinator.Registered(grant.worker_id));
  EXPECT_THAT(link.Heartbeat(grant.worker_id, 7, kInterval),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(grant.worker_id)));
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_ClusterGrew_ReturnsTheNewGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration(1)));
  EXPECT_EQ(grant.heartbeat_interval, kInterval);
  ASSERT_OK(RawWorker(coordinator.address()).Register("127.0.0.1:2"));
  ASSERT_OK_AND_ASSIGN(HeartbeatGrant beat, link.Heartbeat(grant.worker_id, 7, kInterval));
  EXPECT_EQ(beat.interval, absl::Seconds(1));
  EXPECT_EQ(beat.lease_timeout, absl::Seconds(6));
}

// A coordinator that answers every call OK and empty, against the protocol.
class EmptyAnswersCoordinator final : public v1::Coordinator::Service {
 public:
  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override {
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    return grpc::Status::OK;
  }
};

TEST(GrpcCoordinatorLinkTest, AnswersWithoutAGrant_Internal) {
  EmptyAnswersCoordinator coordinator;
  absl::StatusOr<StartedServer> started = StartServer("127.0.0.1:0", {&coordinator}, true, "");
  ASSERT_OK(started);
  GrpcCoordinatorLink link(CreateChannel(absl::StrCat("127.0.0.1:", started->port)));
  EXPECT_THAT(link.Register(TestRegistration()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("without a grant")));
  EXPECT_THAT(link.Heartbeat("w1", 7, kInterval),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("without a grant")));
  started->server->Shutdown(DeadlineIn(absl::Seconds(5)));
}

// ---- RegistrationLoop over the link: the worker's whole heartbeat path -------------------

TEST(RegistrationLoopOverGrpcTest, Heartbeating_WorkerOutlivesManyLeases) {
  // Real-time beats every 10 ms; the lease runs on the fake clock.
  TestCoordinator coordinator(/*heartbeat_interval=*/absl::Milliseconds(10));
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, kWait));
  const std::string id = loop.worker_id();
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_TRUE(coordinator.AwaitFreshBeat(id)) << "beat " << second;
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(id)) << "declared dead at second " << second;
  }
  EXPECT_EQ(loop.registrations(), 1);
  loop.Stop();
}

TEST(RegistrationLoopOverGrpcTest, CoordinatorForgetsWorker_RegistersAgainAndHeartbeats) {
  TestCoordinator coordinator(/*heartbeat_interval=*/absl::Milliseconds(10));
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, kWait));
  const std::string first_id = loop.worker_id();

  // The coordinator forgets the worker, as after a restart: the next beat is answered
  // NOT_FOUND and the worker registers again.
  ASSERT_OK(RawWorker(coordinator.address()).Deregister(first_id));
  ASSERT_TRUE(loop.AwaitRegistrations(2, kWait));
  const std::string second_id = loop.worker_id();
  EXPECT_NE(second_id, first_id);
  coordinator.Advance(absl::Seconds(1));
  EXPECT_TRUE(coordinator.AwaitFreshBeat(second_id));
  loop.Stop();
}

TEST(RegistrationLoopOverGrpcTest, LeaseExpired_RegistersAgainAndKeepsTheNewLease) {
  TestCoordinator coordinator(/*heartbeat_interval=*/absl::Milliseconds(10));
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, kWait));
  const std::string first_id = loop.worker_id();

  // A silence past the lease, as when the worker was frozen or cut off: on the fake clock a
  // lease passes between two real-time beats, and the coordinator declares the worker dead.
  // (A beat landing between the advance and the check renews the lease; then again.)
  ASSERT_TRUE(WaitUntil(
      [&] {
        coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
        return !coordinator.Registered(first_id);
      },
      kWait, kPoll));
  // Its next beat is answered NOT_FOUND, and it registers anew.
  ASSERT_TRUE(loop.AwaitRegistrations(2, kWait));
  const std::string second_id = loop.worker_id();
  EXPECT_NE(second_id, first_id);
  // And its beats keep the new registration's lease.
  for (int second = 1; second <= 5; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_TRUE(coordinator.AwaitFreshBeat(second_id)) << "beat " << second;
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(second_id)) << "declared dead at second " << second;
  }
  loop.Stop();
}

TEST(RegistrationLoopOverGrpcTest, ClusterGrows_WorkerAdoptsTheLongerIntervalAndItsLease) {
  // Real-time beats every 10 ms while alone; 100 beats/s make it 20 ms for two workers, with
  // a lease of 2 × 3 s.
  TestCoordinator coordinator(/*heartbeat_interval=*/absl::Milliseconds(10),
                              /*heartbeat_budget=*/100);
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  RegistrationLoop loop(&link, TestRegistration(1), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, kWait));
  const std::string id = loop.worker_id();
  EXPECT_EQ(loop.heartbeat_interval(), absl::Milliseconds(10));
  ASSERT_OK(RawWorker(coordinator.address()).Register("127.0.0.1:2"));

  EXPECT_TRUE(WaitUntil([&] { return loop.heartbeat_interval() == absl::Milliseconds(20); },
                        kWait, kPoll));
  EXPECT_TRUE(coordinator.AwaitReportedInterval(id, absl::Milliseconds(20)));
  EXPECT_EQ(coordinator.Worker(id)->lease_timeout, 2 * kLease);
  // And it keeps beating: the lease holds over fake seconds.
  for (int second = 1; second <= 5; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_TRUE(coordinator.AwaitFreshBeat(id)) << "beat " << second;
  }
  EXPECT_EQ(loop.registrations(), 1);
  loop.Stop();
}

TEST(RegistrationLoopOverGrpcTest, WorkerStopsHeartbeating_DeclaredDead) {
  TestCoordinator coordinator(/*heartbeat_interval=*/absl::Milliseconds(10));
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, kWait));
  const std::string id = loop.worker_id();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(coordinator.AwaitFreshBeat(id));
  loop.Stop();  // No more beats.

  // A beat still in flight may land after one advance; none can after that.
  EXPECT_TRUE(WaitUntil(
      [&] {
        coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
        return !coordinator.Registered(id);
      },
      kWait, kPoll));
}

}  // namespace
}  // namespace gpool
