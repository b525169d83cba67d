// The worker registry alone: no Scheduler, no jobs, no clock (time is given to it).
#include "server/worker_registry.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
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

}  // namespace
}  // namespace gpool
