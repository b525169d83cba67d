// The table of jobs alone: lookups, limits and erasure of finished jobs. No workers, no
// scheduler; time is given.
#include "server/job_table.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(24);

JobSpec Spec(const std::string& client) {
  JobSpec spec;
  spec.function = "square";
  spec.client = client;
  spec.input = std::make_shared<const Input>(Input::Range(1, 10));
  return spec;
}

Job& AddJob(JobTable& table, const std::string& client) {
  return table.Add(Spec(client), ResultWindow(16, 1000), kStart);
}

TEST(JobTableTest, Add_TwoJobs_SequencesInSubmissionOrder) {
  JobTable table(/*max_jobs=*/10, /*max_jobs_per_client=*/10);
  const Job& first = AddJob(table, "a");
  const Job& second = AddJob(table, "a");
  EXPECT_EQ(first.sequence, 1u);
  EXPECT_EQ(second.sequence, 2u);
  EXPECT_EQ(table.Find(second.job_id), &second);
  EXPECT_EQ(table.Find(uint64_t{1}), &first);
}

TEST(JobTableTest, RoomFor_MaxJobsRunning_ResourceExhaustedNamingTheFlag) {
  JobTable table(/*max_jobs=*/2, /*max_jobs_per_client=*/10);
  AddJob(table, "a");
  AddJob(table, "b");
  EXPECT_THAT(table.RoomFor("c"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_jobs")));
}

TEST(JobTableTest, RoomFor_ClientAtItsLimit_OnlyThatClientRefused) {
  JobTable table(/*max_jobs=*/10, /*max_jobs_per_client=*/1);
  AddJob(table, "a");
  EXPECT_THAT(table.RoomFor("a"), StatusIs(absl::StatusCode::kResourceExhausted,
                                           HasSubstr("--max_jobs_per_client")));
  EXPECT_TRUE(table.RoomFor("b").ok());
}

TEST(JobTableTest, RoomFor_FinishedJobNotYetErased_DoesNotCount) {
  JobTable table(/*max_jobs=*/1, /*max_jobs_per_client=*/1);
  Job& job = AddJob(table, "a");
  job.finished = true;
  EXPECT_TRUE(table.RoomFor("a").ok());
  // Lookups skip it too, while the table still holds it for the step.
  EXPECT_EQ(table.Find(job.job_id), nullptr);
  EXPECT_EQ(table.jobs().size(), 1u);
}

TEST(JobTableTest, WaitedLongerThan_OneWaitedPastTheWait_OnlyThatOne) {
  JobTable table(/*max_jobs=*/10, /*max_jobs_per_client=*/10);
  Job& old = AddJob(table, "a");
  old.waiting_for_workers_since = kStart;
  AddJob(table, "a").waiting_for_workers_since = kStart + absl::Seconds(5);
  AddJob(table, "a");  // has workers: not waiting
  EXPECT_THAT(table.WaitedLongerThan(absl::Seconds(10), kStart + absl::Seconds(10)),
              ::testing::IsEmpty());
  EXPECT_THAT(table.WaitedLongerThan(absl::Seconds(10),
                                     kStart + absl::Seconds(10) + absl::Milliseconds(1)),
              ::testing::ElementsAre(&old));
}

TEST(JobTableTest, EraseFinished_OneOfTwoFinished_KeepsTheOther) {
  JobTable table(/*max_jobs=*/10, /*max_jobs_per_client=*/10);
  AddJob(table, "a").finished = true;
  const Job& running = AddJob(table, "a");
  table.EraseFinished();
  ASSERT_EQ(table.jobs().size(), 1u);
  EXPECT_EQ(&table.jobs().begin()->second, &running);
  EXPECT_EQ(table.Snapshot(kStart).size(), 1u);
}

}  // namespace
}  // namespace gpool
