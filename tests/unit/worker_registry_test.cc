// The worker registry alone: no Scheduler, no jobs, no clock (time is given to it).
#include "server/worker_registry.h"

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::gpool::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(24);

// 500 ms / 3 s leases; a budget of 10 beats/s, so past 5 workers the grant grows.
HeartbeatPolicy TestPolicy() {
  return HeartbeatPolicy(absl::Milliseconds(500), absl::Seconds(3), /*budget=*/10,
                         /*max_interval=*/absl::Seconds(10));
}

WorkerRegistration Registration(const std::string& address, uint64_t incarnation = 7) {
  WorkerRegistration registration;
  registration.address = address;
  registration.host = "host";
  registration.pid = 42;
  registration.slots = 2;
  registration.functions = {"square"};
  registration.incarnation = incarnation;
  registration.max_chunks_per_call = 4;
  return registration;
}

TEST(WorkerRegistryTest, Add_TwoWorkers_IdsInRegistrationOrderWithMinimumGrant) {
  WorkerRegistry registry(TestPolicy());
  const RegisteredWorker& first = registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  EXPECT_EQ(first.worker_id, "w1");
  EXPECT_EQ(first.heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(first.lease_timeout, absl::Seconds(3));
  EXPECT_EQ(registry.Add(Registration("127.0.0.1:2"), nullptr, kStart).worker_id, "w2");
  EXPECT_EQ(registry.TotalSlots(), 4);
}

TEST(WorkerRegistryTest, AtAddress_ReRegistrationWithNewIncarnation_FindsTheOldOne) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  // The restarted worker's registration names the old one for the caller to remove.
  ASSERT_THAT(registry.AtAddress("127.0.0.1:1"), ElementsAre("w1"));
  registry.Remove("w1");
  const RegisteredWorker& again =
      registry.Add(Registration("127.0.0.1:1", /*incarnation=*/8), nullptr, kStart);
  EXPECT_EQ(again.worker_id, "w2");
  EXPECT_EQ(registry.Find("w1"), nullptr);
  EXPECT_NE(registry.Find("w2", /*incarnation=*/8), nullptr);
}

TEST(WorkerRegistryTest, Heartbeat_WrongIncarnation_NotFound) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  EXPECT_EQ(registry.Heartbeat("w1", /*incarnation=*/8, absl::Milliseconds(500), kStart)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(WorkerRegistryTest, Heartbeat_UnknownWorker_NotFound) {
  WorkerRegistry registry(TestPolicy());
  EXPECT_EQ(registry.Heartbeat("w9", 7, absl::Milliseconds(500), kStart).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(WorkerRegistryTest, Heartbeat_ZeroInterval_InvalidArgument) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  EXPECT_EQ(registry.Heartbeat("w1", 7, absl::ZeroDuration(), kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WorkerRegistryTest, Expired_SilentPastLease_ListsOnlyTheSilentWorker) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  registry.Add(Registration("127.0.0.1:2"), nullptr, kStart);
  ASSERT_TRUE(registry.Heartbeat("w2", 7, absl::Milliseconds(500), kStart + absl::Seconds(2))
                  .ok());
  EXPECT_THAT(registry.Expired(kStart + absl::Seconds(3)), IsEmpty());
  EXPECT_THAT(registry.Expired(kStart + absl::Seconds(3) + absl::Milliseconds(1)),
              ElementsAre("w1"));
}

TEST(WorkerRegistryTest, Heartbeat_LongerReportedInterval_LeaseFollowsIt) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  ASSERT_TRUE(registry.Heartbeat("w1", 7, absl::Seconds(1), kStart).ok());
  EXPECT_EQ(registry.Find("w1")->lease_timeout, absl::Seconds(6));
  EXPECT_THAT(registry.Expired(kStart + absl::Seconds(5)), IsEmpty());
}

TEST(WorkerRegistryTest, CurrentGrant_ClusterPastBudget_IntervalGrows) {
  WorkerRegistry registry(TestPolicy());
  for (int i = 1; i <= 5; ++i) {
    registry.Add(Registration(absl::StrCat("127.0.0.1:", i)), nullptr, kStart);
  }
  // 5 workers at 500 ms are 10 beats/s: within the budget.
  EXPECT_EQ(registry.CurrentGrant().interval, absl::Milliseconds(500));
  for (int i = 6; i <= 20; ++i) {
    registry.Add(Registration(absl::StrCat("127.0.0.1:", i)), nullptr, kStart);
  }
  // 20 workers within 10 beats/s beat every 2 s at least, with leases in proportion.
  const HeartbeatGrant grant = registry.CurrentGrant();
  EXPECT_GE(grant.interval, absl::Seconds(2));
  EXPECT_EQ(grant.lease_timeout, grant.interval * 6);
  // The newest worker got the grown grant at registration.
  EXPECT_EQ(registry.Find("w20")->heartbeat_interval, grant.interval);
}

TEST(WorkerRegistryTest, CallEnded_AfterCallStarted_HoldsNothingOfIt) {
  WorkerRegistry registry(TestPolicy());
  RegisteredWorker& worker = registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  ChunkTask first;
  first.chunk_index = 3;
  first.attempt = 1;
  ChunkTask second = first;
  second.chunk_index = 4;
  worker.CallStarted(/*job_sequence=*/9, {first, second});
  EXPECT_EQ(worker.calls_in_flight, 1);
  EXPECT_EQ(worker.in_flight.size(), 2u);
  EXPECT_EQ(registry.Snapshot(kStart)[0].chunks_in_flight, 2);
  worker.CallEnded(/*job_sequence=*/9, {{3, 1}, {4, 1}});
  EXPECT_EQ(worker.calls_in_flight, 0);
  EXPECT_TRUE(worker.in_flight.empty());
}

TEST(WorkerRegistryTest, Drain_KnownWorker_NoLongerAccepts) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  ASSERT_TRUE(registry.AnyAccepts("square"));
  ASSERT_TRUE(registry.Drain("w1", 7).ok());
  EXPECT_FALSE(registry.AnyAccepts("square"));
  // Draining still offers it: the list of functions is what is registered.
  EXPECT_THAT(registry.AvailableFunctions(), ElementsAre("square"));
}

TEST(WorkerRegistryTest, Snapshot_TenWorkers_InRegistrationOrderNotIdOrder) {
  WorkerRegistry registry(TestPolicy());
  for (int i = 1; i <= 10; ++i) {
    registry.Add(Registration(absl::StrCat("127.0.0.1:", i)), nullptr, kStart);
  }
  const std::vector<WorkerInfo> snapshot = registry.Snapshot(kStart + absl::Seconds(1));
  ASSERT_EQ(snapshot.size(), 10u);
  // "w10" sorts before "w2" by id.
  EXPECT_EQ(snapshot[1].ref.worker_id, "w2");
  EXPECT_EQ(snapshot[9].ref.worker_id, "w10");
  EXPECT_EQ(snapshot[0].heartbeat_age, absl::Seconds(1));
}

TEST(WorkerRegistryTest, Snapshot_ByteBudget_ListsTheFirstWorkersThatFit) {
  WorkerRegistry registry(TestPolicy());
  for (int i = 1; i <= 3; ++i) {
    registry.Add(Registration(absl::StrCat("127.0.0.1:", i)), nullptr, kStart);
  }
  const std::vector<WorkerInfo> all = registry.Snapshot(kStart);
  ASSERT_EQ(all.size(), 3u);
  // Room for two and most of a third.
  const size_t budget = EncodedSizeBound(all[0]) + EncodedSizeBound(all[1]) +
                        EncodedSizeBound(all[2]) - 1;
  const std::vector<WorkerInfo> listed = registry.Snapshot(kStart, budget);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].ref.worker_id, "w1");
  EXPECT_EQ(listed[1].ref.worker_id, "w2");
}

TEST(WorkerRegistryTest, Snapshot_BudgetSmallerThanOneWorker_ListsNone) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  EXPECT_THAT(registry.Snapshot(kStart, /*byte_budget=*/10), IsEmpty());
}

// ClaimAddress decides alone; the registry is unchanged by it.
const AddressReplacement* Replacement(
    const absl::StatusOr<std::variant<AddressReplacement, AddressHolder>>& claim) {
  if (!claim.ok()) return nullptr;
  return std::get_if<AddressReplacement>(&*claim);
}

TEST(WorkerRegistryTest, ClaimAddress_FreeAddress_ReplacesNobody) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  const auto claim = registry.ClaimAddress(Registration("127.0.0.1:2"), std::nullopt, 10);
  ASSERT_NE(Replacement(claim), nullptr);
  EXPECT_THAT(Replacement(claim)->replaced, IsEmpty());
}

TEST(WorkerRegistryTest, ClaimAddress_SameIncarnation_ReplacesItWithoutAsking) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  const auto claim =
      registry.ClaimAddress(Registration("127.0.0.1:1", /*incarnation=*/7), std::nullopt, 10);
  ASSERT_NE(Replacement(claim), nullptr);
  ASSERT_EQ(Replacement(claim)->replaced.size(), 1u);
  EXPECT_EQ(Replacement(claim)->replaced[0].first, "w1");
  EXPECT_THAT(Replacement(claim)->replaced[0].second, HasSubstr("registered again"));
  EXPECT_NE(registry.Find("w1"), nullptr);
}

TEST(WorkerRegistryTest, ClaimAddress_OtherIncarnationNoAnswer_AsksTheHolder) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  const auto claim =
      registry.ClaimAddress(Registration("127.0.0.1:1", /*incarnation=*/8), std::nullopt, 10);
  ASSERT_TRUE(claim.ok()) << claim.status();
  const AddressHolder* holder = std::get_if<AddressHolder>(&*claim);
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->worker_id, "w1");
  EXPECT_EQ(holder->incarnation, 7u);
}

TEST(WorkerRegistryTest, ClaimAddress_AnswerAboutAnotherHolder_AsksTheCurrentOne) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  // The holder asked about ("w9") was replaced meanwhile: w1 must be asked in turn.
  const auto claim = registry.ClaimAddress(Registration("127.0.0.1:1", /*incarnation=*/8),
                                           HolderAnswer{"w9", false}, 10);
  ASSERT_TRUE(claim.ok()) << claim.status();
  const AddressHolder* holder = std::get_if<AddressHolder>(&*claim);
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->worker_id, "w1");
}

TEST(WorkerRegistryTest, ClaimAddress_HolderConfirms_AlreadyExists) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  const auto claim = registry.ClaimAddress(Registration("127.0.0.1:1", /*incarnation=*/8),
                                           HolderAnswer{"w1", true}, 10);
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(claim.status().message(), HasSubstr("live worker w1 (host/42)"));
}

TEST(WorkerRegistryTest, ClaimAddress_HolderDenies_ReplacesItAsRestarted) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  const auto claim = registry.ClaimAddress(Registration("127.0.0.1:1", /*incarnation=*/8),
                                           HolderAnswer{"w1", false}, 10);
  ASSERT_NE(Replacement(claim), nullptr);
  ASSERT_EQ(Replacement(claim)->replaced.size(), 1u);
  EXPECT_EQ(Replacement(claim)->replaced[0].first, "w1");
  EXPECT_THAT(Replacement(claim)->replaced[0].second, HasSubstr("it restarted"));
}

TEST(WorkerRegistryTest, ClaimAddress_NothingAnswered_ReplacesItNamingTheError) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1", /*incarnation=*/7), nullptr, kStart);
  const auto claim = registry.ClaimAddress(
      Registration("127.0.0.1:1", /*incarnation=*/8),
      HolderAnswer{"w1", absl::DeadlineExceededError("no answer in 1s")}, 10);
  ASSERT_NE(Replacement(claim), nullptr);
  ASSERT_EQ(Replacement(claim)->replaced.size(), 1u);
  EXPECT_EQ(Replacement(claim)->replaced[0].first, "w1");
  EXPECT_THAT(Replacement(claim)->replaced[0].second, HasSubstr("no answer in 1s"));
}

TEST(WorkerRegistryTest, ClaimAddress_LimitReachedNewAddress_ResourceExhausted) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  registry.Add(Registration("127.0.0.1:2"), nullptr, kStart);
  const auto claim =
      registry.ClaimAddress(Registration("127.0.0.1:3"), std::nullopt, /*max_workers=*/2);
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(claim.status().message(), HasSubstr("--max_workers"));
}

TEST(WorkerRegistryTest, ClaimAddress_LimitReachedHeldAddress_StillReplaces) {
  WorkerRegistry registry(TestPolicy());
  registry.Add(Registration("127.0.0.1:1"), nullptr, kStart);
  registry.Add(Registration("127.0.0.1:2"), nullptr, kStart);
  // A worker registering again at its own address does not grow the cluster.
  const auto claim =
      registry.ClaimAddress(Registration("127.0.0.1:2"), std::nullopt, /*max_workers=*/2);
  ASSERT_NE(Replacement(claim), nullptr);
  ASSERT_EQ(Replacement(claim)->replaced.size(), 1u);
  EXPECT_EQ(Replacement(claim)->replaced[0].first, "w2");
}

TEST(WorkerRegistryTest, CheckSignatures_SameNameOtherTypes_FailedPreconditionNamingBoth) {
  WorkerRegistry registry(TestPolicy());
  WorkerRegistration first = Registration("127.0.0.1:1");
  first.functions = {FunctionSignature("upper", ElementType::kString, ElementType::kString)};
  registry.Add(first, nullptr, kStart);
  WorkerRegistration other = Registration("127.0.0.1:2");
  other.functions = {FunctionSignature("upper", ElementType::kBytes, ElementType::kBytes)};
  EXPECT_THAT(registry.CheckSignatures(other),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("upper(bytes) -> bytes"),
                             HasSubstr("upper(string) -> string"), HasSubstr("w1"))));
  // The same types are fine, and so is the worker registering again at its own address.
  other.functions = first.functions;
  EXPECT_OK(registry.CheckSignatures(other));
  WorkerRegistration again = Registration("127.0.0.1:1");
  again.functions = {FunctionSignature("upper", ElementType::kBytes, ElementType::kBytes)};
  EXPECT_OK(registry.CheckSignatures(again));
  EXPECT_EQ(registry.SignatureOf("upper")->Describe(), "upper(string) -> string");
  EXPECT_FALSE(registry.SignatureOf("lower").has_value());
}

}  // namespace
}  // namespace gpool
