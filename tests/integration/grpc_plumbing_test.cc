// The gRPC plumbing the daemons are built on, in one process on a loopback port:
// CompletionQueueLoop (driven with grpc::Alarm, no sockets needed), LoopWriteCall (a test-only
// service on the real generated grpc.health.v1.Health Watch method, called from a real client
// stub) and HealthService (through StartServer and a Health stub). Every wait is on a
// condition with a deadline; every client call has a deadline.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/client_context.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/health_service.h"
#include "rpc/loop_call.h"
#include "rpc/transport.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Generous, so that a slow machine fails on an assertion rather than on a timeout; the
// conditions waited for normally hold within milliseconds.
constexpr absl::Duration kWait = absl::Seconds(10);

std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// Polls often: what is waited for here happens within milliseconds, and the file must stay
// fast.
bool Eventually(const std::function<bool()>& condition) {
  return testing::WaitUntil(condition, kWait, absl::Milliseconds(1));
}

//
// CompletionQueueLoop
//

// A loop attached to a real server's queue (as the daemons get one), with nothing served on it
// but the alarms the tests set.
class CompletionQueueLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(started_, StartServer("127.0.0.1:0", {}, /*serving=*/true,
                                               /*port_file=*/"", &loop_));
  }

  // The daemons' order: the server first (it owns operations on the queue), then the queue.
  // Idempotent, so that a test can shut down and then look at what ran.
  void ShutDown() {
    if (started_.server != nullptr) started_.server->Shutdown(DeadlineIn(kWait));
    loop_.ShutdownWhenIdle();
  }
  void TearDown() override { ShutDown(); }

  CompletionQueueLoop loop_;
  // Destroyed before the loop, after the server's Shutdown (it owns the health service).
  StartedServer started_;
};

TEST_F(CompletionQueueLoopTest, Completion_RunsOnTheLoopThread) {
  EXPECT_FALSE(loop_.InLoopThread());
  grpc::Alarm alarm;
  absl::Notification ran;
  std::atomic<bool> ran_in_loop_thread{false};
  std::atomic<bool> ran_ok{false};
  alarm.Set(loop_.cq(), DeadlineIn(absl::ZeroDuration()), loop_.ArmOnce([&](bool ok) {
    ran_in_loop_thread = loop_.InLoopThread();
    ran_ok = ok;
    ran.Notify();
  }));
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  // Also on failure: no completion may outlive the locals it uses.
  ShutDown();
  EXPECT_TRUE(ran_in_loop_thread);
  EXPECT_TRUE(ran_ok);
}

TEST_F(CompletionQueueLoopTest, ShutdownWhenIdle_AlarmPending_ReturnsAfterItsCompletionRan) {
  grpc::Alarm alarm;
  std::atomic<bool> ran{false};
  alarm.Set(loop_.cq(), DeadlineIn(absl::Milliseconds(200)),
            loop_.ArmOnce([&](bool ok) { ran = true; }));
  ShutDown();
  EXPECT_TRUE(ran);
}

TEST_F(CompletionQueueLoopTest, CancelledAlarm_CompletesNotOk) {
  grpc::Alarm alarm;
  absl::Notification ran;
  std::atomic<bool> ran_ok{true};
  alarm.Set(loop_.cq(), DeadlineIn(absl::Hours(1)), loop_.ArmOnce([&](bool ok) {
    ran_ok = ok;
    ran.Notify();
  }));
  alarm.Cancel();
  // Well before the hour: the cancellation, not the deadline, completes it.
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  ShutDown();
  EXPECT_FALSE(ran_ok);
}

TEST_F(CompletionQueueLoopTest, ShutdownWhenIdle_CompletionArmsAnother_WaitsForTheWholeChain) {
  // One tag, re-armed by its own completion for each next alarm: ShutdownWhenIdle, called
  // while the first is pending, must neither shut the queue down under the later ones (setting
  // an alarm on a shut-down queue aborts) nor return before the last has run.
  constexpr int kLinks = 3;
  grpc::Alarm alarms[kLinks];
  std::atomic<int> completed{0};
  std::atomic<bool> all_ok{true};
  // A tag may be armed again once its operation has completed.
  class Link final : public CompletionQueueLoop::Tag {
   public:
    explicit Link(std::function<void(bool)> on_completion)
        : on_completion_(std::move(on_completion)) {}
    void Proceed(bool ok) override { on_completion_(ok); }

   private:
    std::function<void(bool)> on_completion_;
  };
  Link link([&](bool ok) {
    if (!ok) all_ok = false;
    const int next = ++completed;
    if (next < kLinks) {
      alarms[next].Set(loop_.cq(), DeadlineIn(absl::Milliseconds(30)), loop_.Arm(&link));
    }
  });
  alarms[0].Set(loop_.cq(), DeadlineIn(absl::Milliseconds(30)), loop_.Arm(&link));
  ShutDown();
  EXPECT_EQ(completed, kLinks);
  EXPECT_TRUE(all_ok);
}

//
// LoopCall: test-only services whose calls record their reactions.
//

// The reactions a call saw, in order, each marked if it did not run on the loop's thread.
// Thread-safe.
class EventLog {
 public:
  explicit EventLog(const CompletionQueueLoop* loop) : loop_(loop) {}

  void Add(const std::string& event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(loop_->InLoopThread() ? event : event + " (off the loop thread)");
  }
  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  bool Contains(const std::string& event) const {
    absl::MutexLock lock(&mu_);
    for (const std::string& seen : events_) {
      if (seen == event) return true;
    }
    return false;
  }

 private:
  const CompletionQueueLoop* const loop_;
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

// What each test call records: its reactions in order (EventLog).
class LoggedCall {
 public:
  explicit LoggedCall(CompletionQueueLoop* loop) : log_(loop) {}
  bool arrived() const { return log_.Contains("request"); }
  bool done() const { return log_.Contains("done"); }
  const EventLog& log() const { return log_; }

 protected:
  // Logs OnRequest's news; `ok` again.
  bool LogArrival(bool ok) {
    log_.Add(ok ? "request" : "request failed");
    return ok;
  }

  EventLog log_;
};

// Owns the calls it requests until it is destroyed (after the loop has stopped), instead of
// letting them delete themselves in OnDone, so that a second OnDone would show in a call's log
// rather than touch freed memory. `Call` is constructed from (loop, hooks) and has
// Request(AsyncService*), log() and arrived().
template <typename Call, typename AsyncService>
class TestService final : public AsyncService {
 public:
  using Behaviour = typename Call::Behaviour;

  explicit TestService(CompletionQueueLoop* loop) : loop_(loop) {}

  // For the calls that arrive from now on (one is requested before each test starts).
  void SetBehaviour(const Behaviour& behaviour) {
    absl::MutexLock lock(&mu_);
    behaviour_ = behaviour;
  }

  // Requests one call; each call that arrives requests the next, as the daemons' do.
  void Accept() {
    Call* call;
    {
      absl::MutexLock lock(&mu_);
      typename Call::Hooks hooks;
      hooks.behaviour = [this] {
        absl::MutexLock lock(&mu_);
        return behaviour_;
      };
      hooks.accept_next = [this] { Accept(); };
      calls_.push_back(std::make_unique<Call>(loop_, std::move(hooks)));
      call = calls_.back().get();
    }
    call->Request(this);
  }

  std::vector<Call*> AllCalls() {
    absl::MutexLock lock(&mu_);
    std::vector<Call*> calls;
    for (const auto& call : calls_) calls.push_back(call.get());
    return calls;
  }
  std::vector<Call*> ArrivedCalls() {
    std::vector<Call*> arrived;
    for (Call* call : AllCalls()) {
      if (call->arrived()) arrived.push_back(call);
    }
    return arrived;
  }

 private:
  CompletionQueueLoop* const loop_;
  absl::Mutex mu_;
  Behaviour behaviour_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
};

// The nth response of a Watch call: alternating statuses, so that the client can check order.
HealthCheckResponse::ServingStatus NthStatus(int n) {
  return n % 2 == 0 ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

std::vector<HealthCheckResponse::ServingStatus> FirstStatuses(int count) {
  std::vector<HealthCheckResponse::ServingStatus> statuses;
  for (int n = 0; n < count; ++n) statuses.push_back(NthStatus(n));
  return statuses;
}

// A server-streaming Watch call: writes `messages` responses, then finishes with OK. With
// `hold_after`, it holds the write after that many until Release.
class WatchCall final : public LoopWriteCall<HealthCheckResponse>, public LoggedCall {
 public:
  struct Behaviour {
    int messages = 5;
    int hold_after = -1;  // -1: never holds
    // OnCancel calls Finish, as a reactor must (so OnDone waits for the finish to complete).
    bool finish_on_cancel = false;
    // A failed write calls Finish instead (OnDone waits for it).
    bool finish_on_write_failure = false;
  };
  struct Hooks {
    std::function<Behaviour()> behaviour;  // read as the call arrives
    std::function<void()> accept_next;
  };

  WatchCall(CompletionQueueLoop* loop, Hooks hooks)
      : LoopWriteCall(loop), LoggedCall(loop), hooks_(std::move(hooks)) {}

  void Request(Health::WithAsyncMethod_Watch<Health::Service>* service) {
    service->RequestWatch(context(), &request_, writer(), loop()->cq(), loop()->cq(),
                          RequestTag());
  }

  // Starts the held write from the calling thread (not the loop's): operations may be
  // started from any thread.
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
    if (!holding_) return;
    holding_ = false;
    WriteNextLocked();
  }

  bool holding() {
    absl::MutexLock lock(&mu_);
    return holding_;
  }

 private:
  void OnRequest(bool ok) override {
    if (!LogArrival(ok)) return;
    hooks_.accept_next();
    absl::MutexLock lock(&mu_);
    behaviour_ = hooks_.behaviour();
    WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      // The call is broken: OnCancel follows or came, and OnDone once it is finished.
      log_.Add("write failed");
      if (behaviour_.finish_on_write_failure && !finished_) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      }
      return;
    }
    log_.Add("write");
    ++written_;
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    log_.Add("cancel");
    if (behaviour_.finish_on_cancel && !finished_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled"));
    }
  }

  void OnDone() override { log_.Add("done"); }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (written_ == behaviour_.messages) {
      finished_ = true;
      Finish(grpc::Status::OK);
      return;
    }
    if (written_ == behaviour_.hold_after && !released_) {
      holding_ = true;
      return;
    }
    response_.set_status(NthStatus(written_));
    StartWrite(&response_, grpc::WriteOptions());
  }

  const Hooks hooks_;
  HealthCheckRequest request_;  // Written by gRPC until the call arrives.
  absl::Mutex mu_;
  Behaviour behaviour_ ABSL_GUARDED_BY(mu_);
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);  // Read by gRPC while a write is pending.
  int written_ ABSL_GUARDED_BY(mu_) = 0;
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

using WatchService = TestService<WatchCall, Health::WithAsyncMethod_Watch<Health::Service>>;

// The test service on one loop. The server is built here rather than by StartServer, whose
// HealthService would clash with the test's Watch (one service per name and host).
class LoopCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", CreateServerCredentials(), &port_);
    builder.RegisterService(&watch_service_);
    loop_.Attach(builder.AddCompletionQueue());
    server_ = builder.BuildAndStart();
    // Even without a server: ShutdownWhenIdle then shuts the queue down and drains it.
    loop_.Start();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    watch_service_.Accept();
    channel_ = CreateChannel(absl::StrCat("127.0.0.1:", port_));
  }

  // The daemons' order. After it no reaction runs any more, so the logs are final.
  // Idempotent.
  void ShutDown() {
    if (server_ != nullptr) server_->Shutdown(DeadlineIn(kWait));
    loop_.ShutdownWhenIdle();
  }
  void TearDown() override { ShutDown(); }

  // The only call of `service` that arrived, once gRPC is done with it; null (and a failure)
  // if that does not happen.
  template <typename Call, typename AsyncService>
  static Call* OnlyCallOnceDone(TestService<Call, AsyncService>& service) {
    EXPECT_TRUE(Eventually([&] {
      std::vector<Call*> arrived = service.ArrivedCalls();
      return arrived.size() == 1 && arrived[0]->done();
    })) << "expected exactly one call, done";
    std::vector<Call*> arrived = service.ArrivedCalls();
    return arrived.size() == 1 ? arrived[0] : nullptr;
  }
  // Opens a Watch whose server holds its write after the first message, and cancels it from
  // the client while the write is held (no operation of the call pending: only gRPC's done
  // notification can tell the call). Returns the server's call; the client saw CANCELLED.
  WatchCall* CancelWatchWhileWriteHeld(WatchCall::Behaviour behaviour) {
    behaviour.messages = 5;
    behaviour.hold_after = 1;
    watch_service_.SetBehaviour(behaviour);
    std::unique_ptr<Health::Stub> stub = Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
        stub->Watch(&context, HealthCheckRequest());
    HealthCheckResponse response;
    EXPECT_TRUE(reader->Read(&response));
    EXPECT_TRUE(Eventually([&] {
      std::vector<WatchCall*> arrived = watch_service_.ArrivedCalls();
      return arrived.size() == 1 && arrived[0]->holding();
    }));
    std::vector<WatchCall*> arrived = watch_service_.ArrivedCalls();
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    return arrived.size() == 1 ? arrived[0] : nullptr;
  }


  // Destroyed in reverse: the channel, the server (after its Shutdown), the services and
  // their calls, and last the loop, which the calls point to.
  CompletionQueueLoop loop_;
  WatchService watch_service_{&loop_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(LoopCallTest, WriteCall_WritesEveryResponseThenOk_OnDoneOncePerCall) {
  constexpr int kCalls = 3;
  constexpr int kMessages = 5;
  WatchCall::Behaviour behaviour;
  behaviour.messages = kMessages;
  watch_service_.SetBehaviour(behaviour);
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel_);
  for (int call = 0; call < kCalls; ++call) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
        stub->Watch(&context, HealthCheckRequest());
    std::vector<HealthCheckResponse::ServingStatus> received;
    HealthCheckResponse response;
    while (reader->Read(&response)) received.push_back(response.status());
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << "call " << call << ": " << status.error_message();
    EXPECT_THAT(received, ElementsAreArray(FirstStatuses(kMessages))) << "call " << call;
  }
  ASSERT_TRUE(Eventually([&] {
    std::vector<WatchCall*> arrived = watch_service_.ArrivedCalls();
    if (arrived.size() != kCalls) return false;
    for (WatchCall* call : arrived) {
      if (!call->done()) return false;
    }
    return true;
  }));
  ShutDown();

  std::vector<WatchCall*> arrived = watch_service_.ArrivedCalls();
  ASSERT_EQ(arrived.size(), kCalls);
  for (WatchCall* call : arrived) {
    EXPECT_THAT(call->log().events(),
                ElementsAre("request", "write", "write", "write", "write", "write", "done"));
  }
}

TEST_F(LoopCallTest, WriteCall_HeldWriteStartedFromAnotherThread_StreamCompletes) {
  WatchCall::Behaviour behaviour;
  behaviour.messages = 4;
  behaviour.hold_after = 2;
  watch_service_.SetBehaviour(behaviour);
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kWait));
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
      stub->Watch(&context, HealthCheckRequest());
  std::vector<HealthCheckResponse::ServingStatus> received;
  HealthCheckResponse response;
  for (int n = 0; n < 2; ++n) {
    ASSERT_TRUE(reader->Read(&response));
    received.push_back(response.status());
  }
  ASSERT_TRUE(Eventually([&] {
    std::vector<WatchCall*> arrived = watch_service_.ArrivedCalls();
    return arrived.size() == 1 && arrived[0]->holding();
  }));
  watch_service_.ArrivedCalls()[0]->Release();
  while (reader->Read(&response)) received.push_back(response.status());
  const grpc::Status status = reader->Finish();

  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(received, ElementsAreArray(FirstStatuses(4)));
  WatchCall* call = OnlyCallOnceDone(watch_service_);
  ShutDown();
  ASSERT_NE(call, nullptr);
  // The write released from the test's thread completes on the loop's, like the others.
  EXPECT_THAT(call->log().events(),
              ElementsAre("request", "write", "write", "write", "write", "done"));
}

TEST_F(LoopCallTest, WriteCall_CancelledWhileWriteHeld_OnDoneOnlyAfterFinish) {
  WatchCall::Behaviour behaviour;
  behaviour.finish_on_write_failure = true;
  WatchCall* call = CancelWatchWhileWriteHeld(behaviour);
  ASSERT_NE(call, nullptr);
  ASSERT_TRUE(Eventually([&] { return call->log().Contains("cancel"); }));
  // As with a reactor, the call is not done until it finishes: here, once the held write
  // has failed.
  call->Release();

  EXPECT_EQ(OnlyCallOnceDone(watch_service_), call);
  ShutDown();
  EXPECT_THAT(call->log().events(),
              ElementsAre("request", "write", "cancel", "write failed", "done"));
}

TEST_F(LoopCallTest, WriteCall_FinishInOnCancel_OnDoneOnceAfterIt) {
  WatchCall::Behaviour behaviour;
  behaviour.finish_on_cancel = true;
  ASSERT_NE(CancelWatchWhileWriteHeld(behaviour), nullptr);

  // The Finish started in OnCancel is pending when gRPC says it is done with the call: OnDone
  // comes once that completes, and only once.
  WatchCall* call = OnlyCallOnceDone(watch_service_);
  ShutDown();
  ASSERT_NE(call, nullptr);
  EXPECT_THAT(call->log().events(), ElementsAre("request", "write", "cancel", "done"));
}

TEST_F(LoopCallTest, PendingRequestAtServerShutdown_OnRequestNotOk_NoOnDone) {
  ShutDown();
  // The call requested in SetUp never arrived. Were its done notification expected,
  // ShutdownWhenIdle would not have returned.
  std::vector<WatchCall*> watch_calls = watch_service_.AllCalls();
  ASSERT_EQ(watch_calls.size(), 1u);
  EXPECT_THAT(watch_calls[0]->log().events(), ElementsAre("request failed"));
}

//
// HealthService
//

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(started_, StartServer("127.0.0.1:0", {}, /*serving=*/false,
                                               /*port_file=*/""));
    stub_ = Health::NewStub(CreateChannel(absl::StrCat("127.0.0.1:", started_.port)));
  }

  void TearDown() override {
    // Ends the open Watch calls at once, so that the server's Shutdown need not wait for
    // them to notice their clients left.
    if (started_.health != nullptr) started_.health->Shutdown();
    if (started_.server != nullptr) started_.server->Shutdown(DeadlineIn(kWait));
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kWait));
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&context, request, response);
  }

  // The status Check("") reports, or UNKNOWN if the call failed.
  HealthCheckResponse::ServingStatus CheckedStatus() {
    HealthCheckResponse response;
    const grpc::Status status = Check("", &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
  }

  // An open Watch call; its context outlives its reader.
  struct WatchStream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;
  };
  std::unique_ptr<WatchStream> Watch(const std::string& service) {
    auto stream = std::make_unique<WatchStream>();
    stream->context.set_deadline(DeadlineIn(kWait));
    HealthCheckRequest request;
    request.set_service(service);
    stream->reader = stub_->Watch(&stream->context, request);
    return stream;
  }

  // The next status on `stream`, or UNKNOWN if the stream ended.
  static HealthCheckResponse::ServingStatus NextStatus(WatchStream& stream) {
    HealthCheckResponse response;
    if (!stream.reader->Read(&response)) return HealthCheckResponse::UNKNOWN;
    return response.status();
  }

  // Cancels the call and waits for its status.
  static grpc::Status Cancel(WatchStream& stream) {
    stream.context.TryCancel();
    HealthCheckResponse response;
    while (stream.reader->Read(&response)) {
    }
    return stream.reader->Finish();
  }

  StartedServer started_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, Check_WholeServer_ReportsWhatSetServingSet) {
  EXPECT_EQ(CheckedStatus(), HealthCheckResponse::NOT_SERVING);  // as StartServer was told
  started_.health->SetServing(true);
  EXPECT_EQ(CheckedStatus(), HealthCheckResponse::SERVING);
  started_.health->SetServing(false);
  EXPECT_EQ(CheckedStatus(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, Check_OtherService_NotFound) {
  started_.health->SetServing(true);
  HealthCheckResponse response;
  EXPECT_EQ(Check("gpool.v1.Coordinator", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, Watch_WholeServer_SendsCurrentStatusThenEachChange) {
  std::unique_ptr<WatchStream> stream = Watch("");
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::NOT_SERVING);
  // Changed only after the first status arrived: the next message must be the change.
  started_.health->SetServing(true);
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::SERVING);
  started_.health->SetServing(false);
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Cancel(*stream).error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, Watch_OtherService_SendsServiceUnknown) {
  std::unique_ptr<WatchStream> stream = Watch("gpool.v1.Coordinator");
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_EQ(Cancel(*stream).error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, Shutdown_OpenWatch_GetsNotServingThenEndsOk) {
  started_.health->SetServing(true);
  std::unique_ptr<WatchStream> stream = Watch("");
  ASSERT_EQ(NextStatus(*stream), HealthCheckResponse::SERVING);
  started_.health->Shutdown();
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::NOT_SERVING);
  HealthCheckResponse extra;
  EXPECT_FALSE(stream->reader->Read(&extra)) << "unexpected " << extra.DebugString();
  const grpc::Status status = stream->reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

TEST_F(HealthServiceTest, Shutdown_ThenSetServing_StaysNotServing) {
  started_.health->SetServing(true);
  started_.health->Shutdown();
  started_.health->SetServing(true);
  EXPECT_EQ(CheckedStatus(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, Shutdown_ThenWatch_EndsAtOnceWithNotServing) {
  started_.health->SetServing(true);
  started_.health->Shutdown();
  std::unique_ptr<WatchStream> stream = Watch("");
  EXPECT_EQ(NextStatus(*stream), HealthCheckResponse::NOT_SERVING);
  HealthCheckResponse extra;
  EXPECT_FALSE(stream->reader->Read(&extra)) << "unexpected " << extra.DebugString();
  const grpc::Status status = stream->reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

}  // namespace
}  // namespace gpool
