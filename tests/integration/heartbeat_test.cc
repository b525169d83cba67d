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
#include "common/grpc_status.h"
#include "common/completion_queue_loop.h"
#include "common/transport.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/coordinator_service.h"
#include "server/scheduler.h"
#include "server/worker_connection.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
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
    // As gpool-coordinator does: end the heartbeat streams, then shut the server down.
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

  std::optional<WorkerSnapshot> Worker(const std::string& worker_id) const {
    for (const WorkerSnapshot& worker : scheduler_->Snapshot().workers) {
      if (worker.worker_id == worker_id) return worker;
    }
    return std::nullopt;
  }

  // Waits until the coordinator holds `worker_id` to `interval` (the worker reported it).
  bool AwaitReportedInterval(const std::string& worker_id, absl::Duration interval) const {
    return WaitUntil(
        [&] {
          std::optional<WorkerSnapshot> worker = Worker(worker_id);
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
          for (const WorkerSnapshot& worker : scheduler_->Snapshot().workers) {
            if (worker.worker_id == worker_id) return worker.heartbeat_age == absl::ZeroDuration();
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

// A beat reporting `interval`; none (zero) by default, as a worker that predates adaptive
// intervals sends it.
v1::HeartbeatRequest Beat(const std::string& worker_id, uint64_t incarnation = 7,
                          absl::Duration interval = absl::ZeroDuration()) {
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
    request.add_functions("square");
    request.set_incarnation(7);
    request.set_max_chunks_per_call(1);
    v1::RegisterWorkerResponse response;
    grpc::Status status = stub_->RegisterWorker(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response.worker_id();
  }

  absl::Status UnaryHeartbeat(const std::string& worker_id) {
    return UnaryHeartbeat(Beat(worker_id)).status();
  }
  absl::StatusOr<v1::HeartbeatResponse> UnaryHeartbeat(const v1::HeartbeatRequest& beat) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    v1::HeartbeatResponse response;
    grpc::Status status = stub_->Heartbeat(&context, beat, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
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

  // One StreamHeartbeats call.
  struct Stream {
    grpc::ClientContext context;
    v1::HeartbeatResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::HeartbeatRequest>> writer;
    absl::Status Finish() { return FromGrpcStatus(writer->Finish()); }
  };
  std::unique_ptr<Stream> OpenStream() {
    auto stream = std::make_unique<Stream>();
    stream->context.set_deadline(DeadlineIn(kWait * 3));
    stream->writer = stub_->StreamHeartbeats(&stream->context, &stream->response);
    return stream;
  }

 private:
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

// ---- The coordinator's StreamHeartbeats and Heartbeat, through the raw protocol ----------

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_BeatEveryInterval_WorkerOutlivesManyLeases) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  // 10 fake seconds, a beat each second: more than three leases of 3 s.
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_TRUE(stream->writer->Write(Beat(id))) << "at second " << second;
    ASSERT_TRUE(coordinator.AwaitFreshBeat(id)) << "beat " << second << " never applied";
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(id)) << "declared dead at second " << second;
  }
  ASSERT_TRUE(stream->writer->WritesDone());
  EXPECT_OK(stream->Finish());
}

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_WorkerFallsSilent_DeclaredDeadAndCallEndsNotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(stream->writer->Write(Beat(id)));
  ASSERT_TRUE(coordinator.AwaitFreshBeat(id));

  coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
  EXPECT_FALSE(coordinator.Registered(id));
  // The worker comes back on the same call: its beat is refused and the call ends.
  stream->writer->Write(Beat(id));
  EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  // Registering again works, and the new registration can stream again.
  ASSERT_OK_AND_ASSIGN(std::string new_id, worker.Register());
  EXPECT_NE(new_id, id);
  std::unique_ptr<RawWorker::Stream> again = worker.OpenStream();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(again->writer->Write(Beat(new_id)));
  EXPECT_TRUE(coordinator.AwaitFreshBeat(new_id));
}

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_UnknownWorker_CallEndsNotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  stream->writer->Write(Beat("w999"));
  EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("w999")));
}

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_OtherIncarnation_CallEndsNotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  stream->writer->Write(Beat(id, /*incarnation=*/8));
  EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
}

TEST(CoordinatorHeartbeatTest, Heartbeat_Unary_KeepsLeaseAndUnknownIsNotFound) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_OK(worker.UnaryHeartbeat(id));
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(id)) << "declared dead at second " << second;
  }
  EXPECT_THAT(worker.UnaryHeartbeat("w999"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("w999")));
}

// With a budget of 2 beats/s, one worker keeps the 500 ms minimum and two get 1 s (6 s lease).
constexpr double kTinyBudget = 2;

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_BeatBehindTheGrant_CallEndsOkWithTheGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register("127.0.0.1:1"));  // at 500 ms
  ASSERT_OK(worker.Register("127.0.0.1:2"));                            // now 1 s
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(stream->writer->Write(Beat(id, 7, kInterval)));
  EXPECT_OK(stream->Finish());
  EXPECT_EQ(stream->response.heartbeat_interval_ms(), 1000);
  EXPECT_EQ(stream->response.lease_timeout_ms(), 6000);
  // The beat counted, at the interval it reported.
  ASSERT_TRUE(coordinator.AwaitFreshBeat(id));
  EXPECT_EQ(coordinator.Worker(id)->lease_timeout, kLease);

  // On a new call at the granted interval the beats are taken without an answer.
  std::unique_ptr<RawWorker::Stream> again = worker.OpenStream();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(again->writer->Write(Beat(id, 7, absl::Seconds(1))));
  ASSERT_TRUE(coordinator.AwaitFreshBeat(id));
  EXPECT_EQ(coordinator.Worker(id)->lease_timeout, absl::Seconds(6));
  ASSERT_TRUE(again->writer->WritesDone());
  EXPECT_OK(again->Finish());
  EXPECT_EQ(again->response.heartbeat_interval_ms(), 0);
}

TEST(CoordinatorHeartbeatTest, StreamHeartbeats_BeatWithoutInterval_NeverEndedForAGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register("127.0.0.1:1"));
  ASSERT_OK(worker.Register("127.0.0.1:2"));
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  for (int beat = 1; beat <= 3; ++beat) {
    coordinator.Advance(absl::Milliseconds(500));
    ASSERT_TRUE(stream->writer->Write(Beat(id))) << "beat " << beat;
    ASSERT_TRUE(coordinator.AwaitFreshBeat(id)) << "beat " << beat;
  }
  ASSERT_TRUE(stream->writer->WritesDone());
  EXPECT_OK(stream->Finish());
  EXPECT_EQ(stream->response.heartbeat_interval_ms(), 0);
}

TEST(CoordinatorHeartbeatTest, Heartbeat_Unary_AnswerCarriesTheGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register("127.0.0.1:1"));
  ASSERT_OK_AND_ASSIGN(v1::HeartbeatResponse alone, worker.UnaryHeartbeat(Beat(id, 7, kInterval)));
  EXPECT_EQ(alone.heartbeat_interval_ms(), 500);
  EXPECT_EQ(alone.lease_timeout_ms(), 3000);
  ASSERT_OK(worker.Register("127.0.0.1:2"));
  ASSERT_OK_AND_ASSIGN(v1::HeartbeatResponse two, worker.UnaryHeartbeat(Beat(id, 7, kInterval)));
  EXPECT_EQ(two.heartbeat_interval_ms(), 1000);
  EXPECT_EQ(two.lease_timeout_ms(), 6000);
}

TEST(CoordinatorHeartbeatTest, StopWorkerCalls_OpenStreamEndsUnavailableAndWorkerCallsRefused) {
  TestCoordinator coordinator;
  RawWorker worker(coordinator.address());
  ASSERT_OK_AND_ASSIGN(std::string id, worker.Register());
  std::unique_ptr<RawWorker::Stream> stream = worker.OpenStream();
  coordinator.Advance(absl::Seconds(1));
  ASSERT_TRUE(stream->writer->Write(Beat(id)));
  ASSERT_TRUE(coordinator.AwaitFreshBeat(id));

  coordinator.service().StopWorkerCalls();
  // The open call ends at once, without another beat.
  const auto shutting_down = StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down"));
  EXPECT_THAT(stream->Finish(), shutting_down);
  EXPECT_THAT(worker.UnaryHeartbeat(id), shutting_down);
  EXPECT_THAT(worker.Register(), shutting_down);
  std::unique_ptr<RawWorker::Stream> late = worker.OpenStream();
  EXPECT_THAT(late->Finish(), shutting_down);
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

// Ten fake seconds (more than three leases), one beat through `link` and one lease check per
// second; the worker must stay registered throughout. A streamed beat is not acknowledged,
// so with `await_each_beat` each second first waits until the coordinator has applied it.
void BeatForTenSeconds(TestCoordinator& coordinator, GrpcCoordinatorLink& link,
                       const std::string& worker_id, bool await_each_beat) {
  for (int second = 1; second <= 10; ++second) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_OK(link.Heartbeat(worker_id, 7, kInterval));
    if (await_each_beat) {
      ASSERT_TRUE(coordinator.AwaitFreshBeat(worker_id)) << "beat " << second;
    }
    coordinator.Tick();
    ASSERT_TRUE(coordinator.Registered(worker_id)) << "declared dead at second " << second;
  }
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_Streamed_WorkerOutlivesManyLeases) {
  TestCoordinator coordinator;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  EXPECT_EQ(grant.heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(grant.lease_timeout, kLease);
  BeatForTenSeconds(coordinator, link, grant.worker_id, /*await_each_beat=*/true);
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_AfterLeaseExpired_ReturnsNotFound) {
  TestCoordinator coordinator;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  coordinator.Advance(absl::Seconds(1));
  ASSERT_OK(link.Heartbeat(grant.worker_id, 7, kInterval));
  ASSERT_TRUE(coordinator.AwaitFreshBeat(grant.worker_id));
  coordinator.AdvanceAndTick(kLease + absl::Milliseconds(1));
  ASSERT_FALSE(coordinator.Registered(grant.worker_id));
  // A streamed beat is not acknowledged: the refusal surfaces at a following beat.
  absl::Status status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        status = link.Heartbeat(grant.worker_id, 7, kInterval).status();
        return absl::IsNotFound(status);
      },
      kWait, kPoll))
      << "last heartbeat: " << status;
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr(grant.worker_id)));
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_StreamLifetimeOver_NewCallsKeepTheLease) {
  TestCoordinator coordinator;
  GrpcCoordinatorLinkOptions options;
  options.stream_lifetime = absl::ZeroDuration();  // A new call for every beat.
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()), options);
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  BeatForTenSeconds(coordinator, link, grant.worker_id, /*await_each_beat=*/true);
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_Unary_WorkerOutlivesManyLeases) {
  TestCoordinator coordinator;
  GrpcCoordinatorLinkOptions options;
  options.stream_heartbeats = false;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()), options);
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration()));
  // A unary beat is applied before its call returns.
  BeatForTenSeconds(coordinator, link, grant.worker_id, /*await_each_beat=*/false);
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_CallEndedWithAGrant_ReturnsItAndReportsItOnANewCall) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()));
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration(1)));
  EXPECT_EQ(grant.heartbeat_interval, kInterval);
  ASSERT_OK(RawWorker(coordinator.address()).Register("127.0.0.1:2"));  // The grant is 1 s now.
  // The coordinator takes this beat and ends the call with the grant; a following beat
  // learns of it.
  std::optional<HeartbeatGrant> granted;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<std::optional<HeartbeatGrant>> reply =
            link.Heartbeat(grant.worker_id, 7, kInterval);
        if (reply.ok() && reply->has_value()) granted = **reply;
        return granted.has_value();
      },
      kWait, kPoll));
  EXPECT_EQ(granted->interval, absl::Seconds(1));
  EXPECT_EQ(granted->lease_timeout, absl::Seconds(6));
  // That beat already went out on a new call, reporting the granted interval.
  EXPECT_TRUE(coordinator.AwaitReportedInterval(grant.worker_id, absl::Seconds(1)));
  EXPECT_EQ(coordinator.Worker(grant.worker_id)->lease_timeout, absl::Seconds(6));
  // From then on the beats are taken without an answer.
  for (int beat = 1; beat <= 3; ++beat) {
    coordinator.Advance(absl::Seconds(1));
    ASSERT_OK_AND_ASSIGN(std::optional<HeartbeatGrant> reply,
                         link.Heartbeat(grant.worker_id, 7, absl::Seconds(1)));
    EXPECT_FALSE(reply.has_value()) << "beat " << beat;
    ASSERT_TRUE(coordinator.AwaitFreshBeat(grant.worker_id)) << "beat " << beat;
  }
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_Unary_ReturnsTheGrant) {
  TestCoordinator coordinator(kInterval, kTinyBudget);
  GrpcCoordinatorLinkOptions options;
  options.stream_heartbeats = false;
  GrpcCoordinatorLink link(CreateChannel(coordinator.address()), options);
  ASSERT_OK_AND_ASSIGN(RegistrationGrant grant, link.Register(TestRegistration(1)));
  ASSERT_OK(RawWorker(coordinator.address()).Register("127.0.0.1:2"));
  ASSERT_OK_AND_ASSIGN(std::optional<HeartbeatGrant> reply,
                       link.Heartbeat(grant.worker_id, 7, kInterval));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->interval, absl::Seconds(1));
  EXPECT_EQ(reply->lease_timeout, absl::Seconds(6));
}

// A coordinator that counts how heartbeats arrive. Every beat is accepted.
class CountingCoordinator final : public v1::Coordinator::CallbackService {
 public:
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      ++unary_beats_;
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerReadReactor<v1::HeartbeatRequest>* StreamHeartbeats(
      grpc::CallbackServerContext* context, v1::HeartbeatResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      ++calls_opened_;
    }
    return new Stream(this);
  }

  int calls_opened() {
    absl::MutexLock lock(&mu_);
    return calls_opened_;
  }
  int unary_beats() {
    absl::MutexLock lock(&mu_);
    return unary_beats_;
  }
  bool AwaitStreamedBeats(int count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streamed_beats_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  bool AwaitCallsEndedOk(int count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_half_closed_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }

 private:
  class Stream final : public grpc::ServerReadReactor<v1::HeartbeatRequest> {
   public:
    explicit Stream(CountingCoordinator* owner) : owner_(owner) { StartRead(&beat_); }
    void OnReadDone(bool ok) override {
      absl::MutexLock lock(&owner_->mu_);
      if (!ok) {
        ++owner_->calls_half_closed_;
        Finish(grpc::Status::OK);
        return;
      }
      ++owner_->streamed_beats_;
      StartRead(&beat_);
    }
    void OnDone() override { delete this; }

   private:
    CountingCoordinator* const owner_;
    v1::HeartbeatRequest beat_;
  };

  absl::Mutex mu_;
  int calls_opened_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_half_closed_ ABSL_GUARDED_BY(mu_) = 0;
  int streamed_beats_ ABSL_GUARDED_BY(mu_) = 0;
  int unary_beats_ ABSL_GUARDED_BY(mu_) = 0;
};

// A coordinator from before StreamHeartbeats: only the unary Heartbeat.
class LegacyCoordinator final : public v1::Coordinator::Service {
 public:
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++unary_beats_;
    return grpc::Status::OK;
  }
  int unary_beats() {
    absl::MutexLock lock(&mu_);
    return unary_beats_;
  }

 private:
  absl::Mutex mu_;
  int unary_beats_ ABSL_GUARDED_BY(mu_) = 0;
};

// The server's health service lives as long as the returned StartedServer.
StartedServer Serve(grpc::Service* service, std::string* address) {
  absl::StatusOr<StartedServer> started = StartServer("127.0.0.1:0", {service}, true, "");
  EXPECT_OK(started);
  if (!started.ok()) return StartedServer();
  *address = absl::StrCat("127.0.0.1:", started->port);
  return std::move(*started);
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_ManyBeats_SentOnOneCall) {
  CountingCoordinator coordinator;
  std::string address;
  StartedServer started = Serve(&coordinator, &address);
  grpc::Server* server = started.server.get();
  ASSERT_NE(server, nullptr);
  {
    GrpcCoordinatorLink link(CreateChannel(address));
    for (int beat = 1; beat <= 20; ++beat) {
      ASSERT_OK(link.Heartbeat("w1", 7, kInterval));
      // The next beat may leave once this one has; a worker beats an interval apart.
      ASSERT_TRUE(coordinator.AwaitStreamedBeats(beat)) << "beat " << beat;
    }
    EXPECT_EQ(coordinator.calls_opened(), 1);
    EXPECT_EQ(coordinator.unary_beats(), 0);
  }
  // Destroying the link half-closes its call, which then ends normally.
  EXPECT_TRUE(coordinator.AwaitCallsEndedOk(1));
  server->Shutdown(DeadlineIn(absl::Seconds(5)));
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_StreamLifetimeOver_OldCallHalfClosedNewOneOpened) {
  CountingCoordinator coordinator;
  std::string address;
  StartedServer started = Serve(&coordinator, &address);
  grpc::Server* server = started.server.get();
  ASSERT_NE(server, nullptr);
  GrpcCoordinatorLinkOptions options;
  options.stream_lifetime = absl::ZeroDuration();
  {
    GrpcCoordinatorLink link(CreateChannel(address), options);
    for (int beat = 1; beat <= 5; ++beat) {
      ASSERT_OK(link.Heartbeat("w1", 7, kInterval));
      ASSERT_TRUE(coordinator.AwaitStreamedBeats(beat)) << "beat " << beat;
    }
    EXPECT_EQ(coordinator.calls_opened(), 5);
    EXPECT_TRUE(coordinator.AwaitCallsEndedOk(4));  // All but the one in use.
  }
  EXPECT_TRUE(coordinator.AwaitCallsEndedOk(5));
  server->Shutdown(DeadlineIn(absl::Seconds(5)));
}

TEST(GrpcCoordinatorLinkTest, Heartbeat_CoordinatorWithoutStreamHeartbeats_FallsBackToUnary) {
  LegacyCoordinator coordinator;
  std::string address;
  StartedServer started = Serve(&coordinator, &address);
  grpc::Server* server = started.server.get();
  ASSERT_NE(server, nullptr);
  GrpcCoordinatorLink link(CreateChannel(address));
  // The first beat goes out on a stream the coordinator refuses (UNIMPLEMENTED); from then
  // on every beat is a unary call, each one answered.
  absl::Status status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        status = link.Heartbeat("w1", 7, kInterval).status();
        return coordinator.unary_beats() >= 1;
      },
      kWait, kPoll));
  for (int beat = 2; beat <= 5; ++beat) {
    ASSERT_OK(link.Heartbeat("w1", 7, kInterval));
    EXPECT_EQ(coordinator.unary_beats(), beat);
  }
  server->Shutdown(DeadlineIn(absl::Seconds(5)));
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

  // The coordinator forgets the worker, as after a lease expiry or a restart: the streamed
  // beats are answered NOT_FOUND and the worker registers again.
  ASSERT_OK(RawWorker(coordinator.address()).Deregister(first_id));
  ASSERT_TRUE(loop.AwaitRegistrations(2, kWait));
  const std::string second_id = loop.worker_id();
  EXPECT_NE(second_id, first_id);
  coordinator.Advance(absl::Seconds(1));
  EXPECT_TRUE(coordinator.AwaitFreshBeat(second_id));
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
  loop.Stop();  // No more beats (the call stays open: the link still exists).

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
