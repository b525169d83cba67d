// The Scheduler under --verify (JobSpec::verify_fraction): copies of sampled chunks on
// distinct workers, publication only on agreement, quarantine of an outvoted worker, the
// cost of --verify 0, and a job that cannot find a second worker.
#include <string>
#include <vector>

#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class SchedulerVerifyTest : public SchedulerTest {
 protected:
  std::pair<std::string, std::shared_ptr<JobStream>> SubmitVerified(int64_t start, int64_t end,
                                                                    int64_t chunk_size,
                                                                    double fraction) {
    JobSpec spec;
    spec.function = "square";
    spec.input = std::make_shared<const Input>(Input::Range(start, end));
    spec.chunk_size = chunk_size;
    spec.mode = ResultMode::kSum;
    spec.verify_fraction = fraction;
    auto submitted = scheduler_->SubmitJob(std::move(spec));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return *submitted;
  }

  // Completes the oldest call to `address` with a result that agrees with itself but is
  // wrong: one more than the true sum (a sum job carries no values to betray it).
  bool CompleteLying(const std::string& address) {
    std::optional<PendingCall> call = connector_.TakeOldest(address);
    if (!call.has_value()) return false;
    absl::StatusOr<ChunkReply> reply = FakeConnector::Compute(call->task);
    if (reply.ok()) reply->sum += 1;
    call->done(std::move(reply));
    return true;
  }

  // Completes calls round-robin (the liars' wrongly) and drains the stream, until nothing
  // moves.
  Drained RunWithLiars(const std::pair<std::string, std::shared_ptr<JobStream>>& job,
                       const std::vector<std::string>& honest,
                       const std::vector<std::string>& liars, Drained drained = {}) {
    bool progress = true;
    while (progress) {
      progress = false;
      for (const auto& address : honest) progress |= connector_.CompleteOldest(address);
      for (const auto& address : liars) progress |= CompleteLying(address);
      drained = Drain(job, std::move(drained));
    }
    return drained;
  }

  size_t CallsTo(const std::string& address) { return connector_.CallSizes(address).size(); }

  const WorkerInfo* Find(const ClusterInfo& view, const std::string& worker_id) {
    for (const WorkerInfo& worker : view.workers) {
      if (worker.ref.worker_id == worker_id) {
        found_ = worker;
        return &found_;
      }
    }
    return nullptr;
  }

  WorkerInfo found_;
};

// 1..100 in chunks of 10: sum of squares 338350.
constexpr absl::int128 kSum = 338350;

TEST_F(SchedulerVerifyTest, SubmitJob_VerifyZero_OneCallPerChunk) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = SubmitVerified(1, 100, 10, 0);
  Drained drained = RunJob(job, {"a:1", "b:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, kSum);
  EXPECT_EQ(CallsTo("a:1") + CallsTo("b:1"), 10u);
  EXPECT_EQ(drained.finished->stats.chunks_verified, 0);
}

TEST_F(SchedulerVerifyTest, SubmitJob_VerifyOneTwoHonestWorkers_EveryChunkTwiceOnBoth) {
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = SubmitVerified(1, 100, 10, 1);
  Drained drained = RunJob(job, {"a:1", "b:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, kSum);
  EXPECT_EQ(drained.chunks.size(), 10u);
  // Each chunk once on each worker: a copy never goes where the chunk ran.
  EXPECT_EQ(CallsTo("a:1"), 10u);
  EXPECT_EQ(CallsTo("b:1"), 10u);
  EXPECT_EQ(drained.finished->stats.chunks_verified, 10);
  EXPECT_EQ(drained.finished->stats.verification_mismatches, 0);
}

TEST_F(SchedulerVerifyTest, SubmitJob_VerifyOneWithALiar_SumExactLiarQuarantined) {
  AddWorker("a:1");
  AddWorker("b:1");
  AddWorker("c:1");
  const std::string liar = AddWorker("liar:1");
  auto job = SubmitVerified(1, 100, 10, 1);
  Drained drained = RunWithLiars(job, {"a:1", "b:1", "c:1"}, {"liar:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, kSum);
  EXPECT_EQ(drained.chunks.size(), 10u);
  EXPECT_GT(drained.finished->stats.verification_mismatches, 0);
  for (const ChunkDelivery& chunk : drained.chunks) EXPECT_NE(chunk.worker_id, liar);
  const WorkerInfo* quarantined = Find(scheduler_->Snapshot(), liar);
  ASSERT_NE(quarantined, nullptr);
  EXPECT_TRUE(quarantined->quarantined);
  EXPECT_THAT(quarantined->quarantine_reason, HasSubstr("which agree"));
}

TEST_F(SchedulerVerifyTest, Quarantine_LiarGetsNoChunksOfALaterJob) {
  AddWorker("a:1");
  AddWorker("b:1");
  AddWorker("c:1");
  AddWorker("liar:1");
  RunWithLiars(SubmitVerified(1, 100, 10, 1), {"a:1", "b:1", "c:1"}, {"liar:1"});
  const size_t calls_before = CallsTo("liar:1");
  Drained drained = RunJob(SubmitVerified(1, 100, 10, 0), {"a:1", "b:1", "c:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_EQ(drained.sum, kSum);
  EXPECT_EQ(CallsTo("liar:1"), calls_before);
}

TEST_F(SchedulerVerifyTest, Quarantine_LiarsOtherChunksInFlight_RunElsewhere) {
  AddWorker("liar:1", /*slots=*/4);
  AddWorker("a:1");
  AddWorker("b:1");
  auto job = SubmitVerified(1, 100, 10, 1);
  // The liar holds several chunks; its first lie is found once a and b agree on that chunk.
  ASSERT_GE(connector_.PendingFor("liar:1").size(), 2u);
  Drained drained = RunWithLiars(job, {"a:1", "b:1"}, {});
  while (!drained.finished.has_value() && CompleteLying("liar:1")) {
    drained = RunWithLiars(job, {"a:1", "b:1"}, {}, std::move(drained));
  }
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, kSum);
  EXPECT_GT(drained.finished->stats.workers_lost, 0);  // the liar, as if lost
}

TEST_F(SchedulerVerifyTest, SubmitJob_VerifyOneWorker_UnavailableAfterWorkerWait) {
  const std::string only = AddWorker("a:1");
  auto job = SubmitVerified(1, 100, 10, 1);
  Drained drained = RunJob(job, {"a:1"});
  EXPECT_FALSE(drained.finished.has_value());
  EXPECT_TRUE(drained.chunks.empty());  // nothing published unverified
  clock_.Advance(options_.worker_wait + absl::Milliseconds(1));
  ASSERT_OK(scheduler_->Heartbeat(only, 7, kBeat).status());
  scheduler_->Tick();
  drained = Drain(job, std::move(drained));
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_THAT(drained.finished->status,
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("to verify it"), HasSubstr(only))));
}

TEST_F(SchedulerVerifyTest, SubmitJob_VerifyOneSecondWorkerJoinsInTime_JobCompletes) {
  const std::string only = AddWorker("a:1");
  auto job = SubmitVerified(1, 100, 10, 1);
  RunJob(job, {"a:1"});
  clock_.Advance(options_.worker_wait / 2);
  ASSERT_OK(scheduler_->Heartbeat(only, 7, kBeat).status());
  scheduler_->Tick();
  AddWorker("b:1");
  Drained drained = RunJob(job, {"a:1", "b:1"});
  ASSERT_TRUE(drained.finished.has_value());
  EXPECT_OK(drained.finished->status);
  EXPECT_EQ(drained.sum, kSum);
}

}  // namespace
}  // namespace gpool
