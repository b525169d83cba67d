// The conversions between gpool's plain types and the protocol messages, alone.
#include "rpc/proto_convert.h"

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

ClusterInfo OneWorkerOneJob() {
  ClusterInfo info;
  info.total_slots = 4;
  WorkerInfo& worker = info.workers.emplace_back();
  worker.ref = WorkerIdentity{"w2", "node-b", 4242};
  worker.address = "10.0.0.2:7000";
  worker.slots = 4;
  worker.functions = {"cube", "square"};
  worker.chunks_in_flight = 3;
  worker.chunks_done = 17;
  worker.faults = 1;
  worker.heartbeat_age = absl::Milliseconds(250);
  worker.heartbeat_interval = absl::Milliseconds(500);
  worker.lease_timeout = absl::Seconds(3);
  JobInfo& job = info.jobs.emplace_back();
  job.job_id = "job-7";
  job.function = "square";
  job.total_elements = 1000;
  job.num_chunks = 10;
  job.chunks_done = 4;
  job.elapsed = absl::Milliseconds(1500);
  job.stats.retries = 2;
  job.stats.backups = 1;
  return info;
}

TEST(ProtoConvertTest, ClusterInfo_RoundTrip_EveryFieldKept) {
  v1::ClusterInfo proto;
  ToProto(OneWorkerOneJob(), &proto);
  const ClusterInfo back = FromProto(proto);
  EXPECT_EQ(back.total_slots, 4);
  ASSERT_EQ(back.workers.size(), 1u);
  const WorkerInfo& worker = back.workers[0];
  EXPECT_EQ(worker.ref.worker_id, "w2");
  EXPECT_EQ(worker.ref.host, "node-b");
  EXPECT_EQ(worker.ref.pid, 4242);
  EXPECT_EQ(worker.address, "10.0.0.2:7000");
  EXPECT_EQ(worker.slots, 4);
  EXPECT_THAT(worker.functions, ::testing::ElementsAre("cube", "square"));
  EXPECT_EQ(worker.chunks_in_flight, 3);
  EXPECT_EQ(worker.chunks_done, 17);
  EXPECT_EQ(worker.faults, 1);
  EXPECT_EQ(worker.heartbeat_age, absl::Milliseconds(250));
  EXPECT_EQ(worker.heartbeat_interval, absl::Milliseconds(500));
  EXPECT_EQ(worker.lease_timeout, absl::Seconds(3));
  ASSERT_EQ(back.jobs.size(), 1u);
  const JobInfo& job = back.jobs[0];
  EXPECT_EQ(job.job_id, "job-7");
  EXPECT_EQ(job.function, "square");
  EXPECT_EQ(job.total_elements, 1000u);
  EXPECT_EQ(job.num_chunks, 10u);
  EXPECT_EQ(job.chunks_done, 4u);
  EXPECT_EQ(job.elapsed, absl::Milliseconds(1500));
  EXPECT_EQ(job.stats.retries, 2);
  EXPECT_EQ(job.stats.backups, 1);
}

TEST(ProtoConvertTest, ClusterInfo_SubMillisecondDurations_TruncatedToMilliseconds) {
  ClusterInfo info = OneWorkerOneJob();
  info.workers[0].heartbeat_age = absl::Microseconds(1999);
  v1::ClusterInfo proto;
  ToProto(info, &proto);
  EXPECT_EQ(proto.workers(0).last_heartbeat_age_ms(), 1);
  EXPECT_EQ(FromProto(proto).workers[0].heartbeat_age, absl::Milliseconds(1));
}

}  // namespace
}  // namespace gpool
