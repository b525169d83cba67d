// Unit tests of the worker's transport-free parts: the chunk executor and the registration
// loop (driven through a fake CoordinatorLink).
#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "common/clock.h"
#include "worker/chunk_executor.h"
#include "worker/inline_policy.h"
#include "worker/registration.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- ChunkExecutor ----------------------------------------------------------------------

TEST(ChunkExecutorTest, Execute_ValuesMode_ReturnsValuesAndSum) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  ASSERT_OK_AND_ASSIGN(ChunkOutput output,
                       executor.Execute("square", Input::Range(-2, 2), ResultMode::kValues, {}));
  EXPECT_THAT(output.values.int64s(), ElementsAre(4, 1, 0, 1, 4));
  EXPECT_EQ(output.sum, 10);
  EXPECT_EQ(executor.chunks_completed(), 1);
}

TEST(ChunkExecutorTest, Execute_UnknownFunction_IsNotFound) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  EXPECT_THAT(executor.Execute("nope", Input::Range(1, 2), ResultMode::kSum, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(ChunkExecutorTest, Execute_AtMostSlotsRunAtOnce) {
  FunctionRegistry registry;
  absl::Mutex mu;
  int running = 0;
  int peak = 0;
  absl::Notification release;
  ASSERT_OK(registry.Register("block", [&](int64_t x) -> absl::StatusOr<int64_t> {
    {
      absl::MutexLock lock(&mu);
      peak = std::max(peak, ++running);
    }
    release.WaitForNotification();
    absl::MutexLock lock(&mu);
    --running;
    return x;
  }));
  ChunkExecutor executor(std::move(registry), 2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      EXPECT_OK(executor.Execute("block", Input::Range(1, 1), ResultMode::kSum, {}));
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto two_running = [&]() { return running == 2; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&two_running), absl::Seconds(10)));
  }
  release.Notify();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(peak, 2);
  EXPECT_EQ(executor.chunks_completed(), 4);
}

TEST(ChunkExecutorTest, Execute_CancelledWhileWaitingForSlot_IsCancelled) {
  FunctionRegistry registry;
  absl::Notification started, release;
  ASSERT_OK(registry.Register("block", [&](int64_t x) -> absl::StatusOr<int64_t> {
    started.Notify();
    release.WaitForNotification();
    return x;
  }));
  ChunkExecutor executor(std::move(registry), 1);
  std::thread holder([&] {
    EXPECT_OK(executor.Execute("block", Input::Range(1, 1), ResultMode::kSum, {}));
  });
  started.WaitForNotification();
  EXPECT_THAT(executor.Execute("block", Input::Range(1, 1), ResultMode::kSum,
                               [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("free slot")));
  release.Notify();
  holder.join();
}

TEST(ChunkExecutorTest, ExecuteBatch_ComputesEachChunkInOrder) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  std::vector<Input> inputs = {Input::Range(1, 3), Input::List({-4}), Input::Range(10, 10)};
  std::vector<std::pair<size_t, ChunkOutput>> outputs;
  ASSERT_OK(executor.ExecuteBatch("square", inputs, ResultMode::kValues, {},
                                  [&](size_t i, ChunkOutput output) {
                                    outputs.emplace_back(i, std::move(output));
                                  }));
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].first, 0u);
  EXPECT_THAT(outputs[0].second.values.int64s(), ElementsAre(1, 4, 9));
  EXPECT_EQ(outputs[1].first, 1u);
  EXPECT_THAT(outputs[1].second.values.int64s(), ElementsAre(16));
  EXPECT_EQ(outputs[2].second.sum, 100);
  EXPECT_EQ(executor.chunks_completed(), 3);
}

TEST(ChunkExecutorTest, ExecuteBatch_StopsAtFirstErrorNamingTheValue) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  std::vector<Input> inputs = {Input::Range(1, 2), Input::List({3037000500}),
                               Input::Range(3, 4)};
  std::vector<size_t> done;
  EXPECT_THAT(executor.ExecuteBatch("square", inputs, ResultMode::kSum, {},
                                    [&](size_t i, ChunkOutput) { done.push_back(i); }),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("3037000500")));
  EXPECT_THAT(done, ElementsAre(0u));
  // The slot was given back.
  EXPECT_OK(executor.Execute("square", Input::Range(1, 1), ResultMode::kSum, {}));
}

TEST(ChunkExecutorTest, ExecuteBatch_UnknownFunction_IsNotFound) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  EXPECT_THAT(executor.ExecuteBatch("nope", {Input::Range(1, 2)}, ResultMode::kSum, {},
                                    [](size_t, ChunkOutput) {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(ChunkExecutorTest, ExecuteBatch_Cancelled_IsCancelled) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1, absl::Seconds(30));
  EXPECT_THAT(executor.ExecuteBatch("square", {Input::Range(1, 2), Input::Range(3, 4)},
                                    ResultMode::kSum, [] { return true; },
                                    [](size_t, ChunkOutput) {}),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancel")));
}

TEST(ChunkExecutorTest, TryAcquireSlot_TakesOnlyFreeSlots) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 2);
  EXPECT_TRUE(executor.TryAcquireSlot());
  EXPECT_TRUE(executor.TryAcquireSlot());
  EXPECT_FALSE(executor.TryAcquireSlot());
  // ExecuteBatchInSlot gives its slot back, errors included.
  std::vector<int64_t> values;
  ASSERT_OK(executor.ExecuteBatchInSlot("square", {Input::Range(2, 3)}, ResultMode::kValues, {},
                                        [&](size_t, ChunkOutput output) {
                                          values = output.values.int64s();
                                        }));
  EXPECT_THAT(values, ElementsAre(4, 9));
  EXPECT_THAT(executor.ExecuteBatchInSlot("nope", {Input::Range(1, 2)}, ResultMode::kSum, {},
                                          [](size_t, ChunkOutput) {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_TRUE(executor.TryAcquireSlot());
  EXPECT_TRUE(executor.TryAcquireSlot());
  EXPECT_FALSE(executor.TryAcquireSlot());
  EXPECT_EQ(executor.chunks_completed(), 1);
}

TEST(ChunkExecutorTest, AcquireSlot_CancelledWhileAllBusy_IsCancelled) {
  ChunkExecutor executor(FunctionRegistry::WithBuiltins(), 1);
  ASSERT_TRUE(executor.TryAcquireSlot());
  EXPECT_THAT(executor.AcquireSlot([] { return true; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("slot")));
}

// ---- InlinePolicy -----------------------------------------------------------------------

TEST(InlinePolicyTest, UnmeasuredFunction_NotInlined) {
  InlinePolicy policy(absl::Microseconds(50));
  EXPECT_FALSE(policy.ShouldInline("square", 1));
  policy.Record("square", 1000, absl::Microseconds(1));
  EXPECT_FALSE(policy.ShouldInline("cube", 1));
}

TEST(InlinePolicyTest, InlinesWhatIsPredictedWithinTheBudget) {
  InlinePolicy policy(absl::Microseconds(50));
  policy.Record("square", 1000, absl::Microseconds(1));  // 1 ns an element
  EXPECT_TRUE(policy.ShouldInline("square", 50'000));
  EXPECT_FALSE(policy.ShouldInline("square", 50'001));
  // A call of no element costs what one does.
  EXPECT_TRUE(policy.ShouldInline("square", 0));
}

TEST(InlinePolicyTest, NeverBeyondMaxElements_HoweverCheap) {
  InlinePolicy policy(absl::Seconds(1));
  policy.Record("square/sum/range", 1'000'000, absl::Nanoseconds(1));
  EXPECT_TRUE(policy.ShouldInline("square/sum/range", InlinePolicy::kMaxElements));
  EXPECT_FALSE(policy.ShouldInline("square/sum/range", InlinePolicy::kMaxElements + 1));
}

TEST(InlinePolicyTest, KindsAreMeasuredApart) {
  InlinePolicy policy(absl::Microseconds(50));
  policy.Record("square/sum/range", 10'000, absl::Microseconds(1));
  policy.Record("square/values/list", 10'000, absl::Milliseconds(1));
  EXPECT_TRUE(policy.ShouldInline("square/sum/range", 10'000));
  EXPECT_FALSE(policy.ShouldInline("square/values/list", 10'000));
}

TEST(InlinePolicyTest, SlowerCall_CountsAtOnce_FasterOnesWinBackGradually) {
  InlinePolicy policy(absl::Microseconds(50));
  policy.Record("f", 100, absl::Microseconds(1));  // 10 ns an element
  EXPECT_TRUE(policy.ShouldInline("f", 5000));
  // One call at 1 µs an element: 100 elements are now predicted at 100 µs.
  policy.Record("f", 100, absl::Microseconds(100));
  EXPECT_FALSE(policy.ShouldInline("f", 100));
  EXPECT_TRUE(policy.ShouldInline("f", 50));
  // Fast calls again halve the estimate each: 1000 → 505 → 257.5 → 133.8 → 71.9 → 40.9 ns.
  for (int i = 0; i < 4; ++i) policy.Record("f", 100, absl::Microseconds(1));
  EXPECT_FALSE(policy.ShouldInline("f", 1000));
  policy.Record("f", 100, absl::Microseconds(1));
  EXPECT_TRUE(policy.ShouldInline("f", 1000));
}

// ---- Backoff ----------------------------------------------------------------------------

TEST(BackoffDelayTest, GrowsExponentiallyWithinJitterAndCaps) {
  BackoffPolicy policy;
  std::mt19937_64 random(42);
  for (int failures = 0; failures < 12; ++failures) {
    const double base = std::min(0.1 * std::pow(2.0, failures), 5.0);
    const double seconds = absl::ToDoubleSeconds(BackoffDelay(policy, failures, random));
    EXPECT_GE(seconds, base * 0.8 - 1e-9) << failures;
    EXPECT_LE(seconds, base * 1.2 + 1e-9) << failures;
  }
}

TEST(BackoffDelayTest, Jitter_SpreadsWorkersApart) {
  BackoffPolicy policy;
  std::mt19937_64 a(1), b(2);
  EXPECT_NE(BackoffDelay(policy, 3, a), BackoffDelay(policy, 3, b));
}

TEST(RegistrationRetryDelayTest, CoordinatorUnreachable_CappedAtUnreachableMax) {
  BackoffPolicy policy;  // unreachable_max 500 ms, max 5 s
  std::mt19937_64 random(7);
  for (int failures = 0; failures < 20; ++failures) {
    for (const absl::Status& failure :
         {absl::UnavailableError("connection refused"), absl::DeadlineExceededError("slow")}) {
      const absl::Duration delay = RegistrationRetryDelay(policy, failures, failure, random);
      EXPECT_LE(delay, absl::Milliseconds(600)) << failures << " " << failure;
    }
  }
}

TEST(RegistrationRetryDelayTest, CoordinatorRefuses_GrowsToTheFullMax) {
  BackoffPolicy policy;
  std::mt19937_64 random(7);
  const absl::Duration delay = RegistrationRetryDelay(
      policy, 10, absl::ResourceExhaustedError("--max_workers"), random);
  EXPECT_GE(delay, absl::Seconds(4));
}

TEST(MustRegisterAgainTest, NotFound_RegistersAgain) {
  EXPECT_TRUE(MustRegisterAgain(absl::NotFoundError("unknown worker"), 5));
}

TEST(MustRegisterAgainTest, AnswerFromAnotherCoordinatorIncarnation_RegistersAgain) {
  HeartbeatGrant beat{absl::Milliseconds(500), absl::Seconds(3), /*coordinator_incarnation=*/6};
  EXPECT_TRUE(MustRegisterAgain(beat, 5));
}

TEST(MustRegisterAgainTest, AnswerFromTheSameIncarnation_KeepsTheRegistration) {
  HeartbeatGrant beat{absl::Milliseconds(500), absl::Seconds(3), 5};
  EXPECT_FALSE(MustRegisterAgain(beat, 5));
}

// A coordinator that does not send the field (0) tells nothing either way.
TEST(MustRegisterAgainTest, IncarnationNotSent_KeepsTheRegistration) {
  EXPECT_FALSE(MustRegisterAgain(HeartbeatGrant{absl::Milliseconds(500), absl::Seconds(3), 0}, 5));
  EXPECT_FALSE(MustRegisterAgain(HeartbeatGrant{absl::Milliseconds(500), absl::Seconds(3), 6}, 0));
}

// The beat did not arrive: beat again, the registration may well be alive.
TEST(MustRegisterAgainTest, Unreachable_KeepsTheRegistration) {
  EXPECT_FALSE(MustRegisterAgain(absl::UnavailableError("connection refused"), 5));
  EXPECT_FALSE(MustRegisterAgain(absl::DeadlineExceededError("slow"), 5));
}

// ---- RegistrationLoop -------------------------------------------------------------------

// Fails the first `register_failures` registrations, then grants; heartbeats answer
// NOT_FOUND while `forget` is set (as a restarted coordinator would). Every other beat gets the
// current grant back, as from the coordinator: the registration's, or Grant's once called.
class FakeLink final : public CoordinatorLink {
 public:
  explicit FakeLink(int register_failures) : register_failures_(register_failures) {}

  absl::StatusOr<RegistrationGrant> Register(const WorkerRegistration& registration) override {
    absl::MutexLock lock(&mu_);
    ++register_calls_;
    if (refuse_) {
      return absl::AlreadyExistsError("127.0.0.1:1234 is the address of live worker w1");
    }
    if (register_failures_ > 0) {
      --register_failures_;
      return absl::UnavailableError("coordinator not up yet");
    }
    forget_ = false;
    RegistrationGrant grant;
    grant.worker_id = "w" + std::to_string(register_calls_);
    grant.heartbeat_interval = absl::Milliseconds(1);
    grant.lease_timeout = absl::Seconds(1);
    grant.coordinator_incarnation = coordinator_incarnation_;
    last_registration_ = registration;
    return grant;
  }

  absl::StatusOr<HeartbeatGrant> Heartbeat(const std::string& worker_id, uint64_t incarnation,
                                           absl::Duration interval) override {
    absl::MutexLock lock(&mu_);
    ++heartbeats_;
    reported_.push_back(interval);
    if (forget_) return absl::NotFoundError("unknown worker");
    // The current grant: the registration's 1 ms until Grant.
    const absl::Duration current = granted_.value_or(absl::Milliseconds(1));
    return HeartbeatGrant{current, current * 6, coordinator_incarnation_};
  }

  absl::Status Drain(const std::string& worker_id, uint64_t incarnation) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("drain " + worker_id);
    return absl::OkStatus();
  }
  absl::Status Deregister(const std::string& worker_id, uint64_t incarnation) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("deregister " + worker_id);
    return absl::OkStatus();
  }
  std::vector<std::string> leave_calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  void Forget() {
    absl::MutexLock lock(&mu_);
    forget_ = true;
  }
  // Answers from now on as another coordinator process that still accepts the old
  // registration's beats (what a worker must not rely on a restarted coordinator to refuse).
  void BecomeIncarnation(uint64_t coordinator_incarnation) {
    absl::MutexLock lock(&mu_);
    coordinator_incarnation_ = coordinator_incarnation;
  }
  // Registrations are refused with ALREADY_EXISTS from now on.
  void Refuse() {
    absl::MutexLock lock(&mu_);
    refuse_ = true;
  }
  void Grant(absl::Duration interval) {
    absl::MutexLock lock(&mu_);
    granted_ = interval;
  }
  // The interval each beat reported, in order.
  std::vector<absl::Duration> reported() {
    absl::MutexLock lock(&mu_);
    return reported_;
  }
  // Waits until a beat has reported `interval`.
  bool AwaitReported(absl::Duration interval) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(reported_.begin(), reported_.end(), interval) != reported_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(10));
  }
  int register_calls() {
    absl::MutexLock lock(&mu_);
    return register_calls_;
  }
  bool AwaitHeartbeats(int count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return heartbeats_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  WorkerRegistration last_registration() {
    absl::MutexLock lock(&mu_);
    return last_registration_;
  }

 private:
  absl::Mutex mu_;
  int register_failures_ ABSL_GUARDED_BY(mu_);
  int register_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  bool forget_ ABSL_GUARDED_BY(mu_) = false;
  bool refuse_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t coordinator_incarnation_ ABSL_GUARDED_BY(mu_) = 1001;
  std::optional<absl::Duration> granted_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> reported_ ABSL_GUARDED_BY(mu_);
  WorkerRegistration last_registration_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

WorkerRegistration TestRegistration() {
  WorkerRegistration registration;
  registration.address = "127.0.0.1:1234";
  registration.pid = 42;
  registration.slots = 2;
  registration.functions = {"square"};
  registration.incarnation = 99;
  return registration;
}

BackoffPolicy FastBackoff() {
  BackoffPolicy policy;
  policy.initial = absl::Milliseconds(1);
  policy.max = absl::Milliseconds(5);
  return policy;
}

TEST(RegistrationLoopTest, CoordinatorNotUpYet_RetriesUntilRegistered) {
  FakeLink link(/*register_failures=*/3);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, absl::Seconds(10)));
  EXPECT_EQ(link.register_calls(), 4);
  EXPECT_EQ(loop.worker_id(), "w4");
  EXPECT_EQ(link.last_registration().address, "127.0.0.1:1234");
  EXPECT_EQ(link.last_registration().incarnation, 99u);
}

// Another live worker answers at this worker's address: retrying cannot help, so the loop
// reports the refusal once and ends instead of asking again and again.
TEST(RegistrationLoopTest, RegistrationAlreadyExists_ReportsOnceAndStopsRetrying) {
  FakeLink link(0);
  link.Refuse();
  absl::Notification refused;
  absl::Status refusal;
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff(), nullptr,
                        [&](const absl::Status& status) {
                          refusal = status;
                          refused.Notify();
                        });
  loop.Start();
  ASSERT_TRUE(refused.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(refusal, StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("w1")));
  loop.Stop();  // returns: the loop's thread has ended
  EXPECT_EQ(link.register_calls(), 1);
  EXPECT_EQ(loop.worker_id(), "");
}

TEST(RegistrationLoopTest, Registered_Heartbeats) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  EXPECT_TRUE(link.AwaitHeartbeats(5));
  EXPECT_EQ(loop.registrations(), 1);
}

TEST(RegistrationLoopTest, Registered_BeatsReportTheRegistrationInterval) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(link.AwaitHeartbeats(3));
  EXPECT_EQ(loop.heartbeat_interval(), absl::Milliseconds(1));
  for (absl::Duration reported : link.reported()) EXPECT_EQ(reported, absl::Milliseconds(1));
}

TEST(RegistrationLoopTest, HeartbeatGrant_AdoptsTheIntervalAndReportsItFromThenOn) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(link.AwaitHeartbeats(2));
  link.Grant(absl::Milliseconds(3));
  ASSERT_TRUE(link.AwaitReported(absl::Milliseconds(3)));
  const int before = static_cast<int>(link.reported().size());
  ASSERT_TRUE(link.AwaitHeartbeats(before + 3));
  loop.Stop();
  EXPECT_EQ(loop.heartbeat_interval(), absl::Milliseconds(3));
  // Once the worker reported the grant, it never went back to the old interval.
  const std::vector<absl::Duration> reported = link.reported();
  auto first_new = std::find(reported.begin(), reported.end(), absl::Milliseconds(3));
  for (auto it = first_new; it != reported.end(); ++it) EXPECT_EQ(*it, absl::Milliseconds(3));
  EXPECT_EQ(loop.registrations(), 1);
}

TEST(RegistrationLoopTest, HeartbeatNotFound_RegistersAgain) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, absl::Seconds(10)));
  link.Forget();
  ASSERT_TRUE(loop.AwaitRegistrations(2, absl::Seconds(10)));
  EXPECT_EQ(loop.worker_id(), "w2");
}

TEST(RegistrationLoopTest, HeartbeatFromAnotherCoordinatorIncarnation_RegistersAgain) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, absl::Seconds(10)));
  EXPECT_EQ(loop.coordinator_incarnation(), 1001u);
  link.BecomeIncarnation(2002);
  ASSERT_TRUE(loop.AwaitRegistrations(2, absl::Seconds(10)));
  EXPECT_EQ(loop.coordinator_incarnation(), 2002u);
  EXPECT_EQ(loop.worker_id(), "w2");
  // The worker did not restart: it registers again as the same process.
  EXPECT_EQ(link.last_registration().incarnation, 99u);
}

TEST(RegistrationLoopTest, Leave_DrainsWaitsForIdleThenDeregisters) {
  FakeLink link(0);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  ASSERT_TRUE(loop.AwaitRegistrations(1, absl::Seconds(10)));
  std::vector<std::string> seen_while_waiting;
  ASSERT_OK(loop.Leave(absl::Seconds(5), [&](absl::Duration remaining) {
    seen_while_waiting = link.leave_calls();
    EXPECT_GT(remaining, absl::Seconds(4));
    return true;
  }));
  EXPECT_THAT(seen_while_waiting, ElementsAre("drain w1"));
  EXPECT_THAT(link.leave_calls(), ElementsAre("drain w1", "deregister w1"));
}

TEST(RegistrationLoopTest, Leave_Unregistered_OnlyStops) {
  FakeLink link(1'000'000);
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  bool waited = false;
  ASSERT_OK(loop.Leave(absl::Seconds(1), [&](absl::Duration) { return waited = true; }));
  EXPECT_FALSE(waited);
  EXPECT_TRUE(link.leave_calls().empty());
}

TEST(RegistrationLoopTest, Stop_EndsTheLoopPromptly) {
  FakeLink link(1'000'000);  // never registers
  RegistrationLoop loop(&link, TestRegistration(), FastBackoff());
  loop.Start();
  loop.Stop();
  const int calls = link.register_calls();
  EXPECT_EQ(link.register_calls(), calls);  // no call after Stop returned
  EXPECT_TRUE(loop.worker_id().empty());
}

}  // namespace
}  // namespace gpool
