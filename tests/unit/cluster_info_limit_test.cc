// GetClusterInfo's answer stays under the 4 MiB message limit whatever the registry holds:
// the scheduler's snapshot lists the workers that fit kMaxWorkerListBytes and counts the
// rest, and the protocol message built from it is measured. No sockets.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/cluster_info.h"
#include "common/worker_registration.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "tests/unit/scheduler_test_fixture.h"

namespace gpool {
namespace {

// kMaxFunctionsPerWorker distinct names of kMaxFunctionNameBytes each.
std::vector<std::string> LongestFunctionList() {
  std::vector<std::string> functions;
  for (int i = 0; i < kMaxFunctionsPerWorker; ++i) {
    std::string name = absl::StrCat("f", i, "_");
    name.resize(kMaxFunctionNameBytes, 'x');
    functions.push_back(std::move(name));
  }
  return functions;
}

// A worker with every field at its widest: what EncodedSizeBound must not undercount.
WorkerInfo WidestWorker() {
  WorkerInfo worker;
  worker.ref = WorkerIdentity{"w2147483647", std::string(253, 'h'), INT64_MAX};
  worker.address = std::string(253, 'h') + ":65535";
  worker.slots = -1;  // a negative int32 takes 10 bytes
  for (const std::string& name : LongestFunctionList()) worker.functions.push_back(name);
  worker.chunks_in_flight = -1;
  worker.chunks_done = INT64_MIN;
  worker.faults = INT64_MIN;
  worker.quarantined = true;
  worker.quarantine_reason = std::string(20'000, 'r');
  worker.heartbeat_age = absl::Milliseconds(-1);
  worker.heartbeat_interval = absl::Milliseconds(-1);
  worker.lease_timeout = absl::Milliseconds(-1);
  return worker;
}

size_t EncodedSizeAlone(const WorkerInfo& worker) {
  ClusterInfo info;
  info.workers = {worker};
  v1::ClusterInfo proto;
  ToProto(info, &proto);
  return proto.ByteSizeLong();
}

TEST(EncodedSizeBoundTest, WidestWorker_AtLeastItsEncodedSize) {
  const WorkerInfo worker = WidestWorker();
  EXPECT_GE(EncodedSizeBound(worker), EncodedSizeAlone(worker));
}

TEST(EncodedSizeBoundTest, EmptyWorker_AtLeastItsEncodedSize) {
  EXPECT_GE(EncodedSizeBound(WorkerInfo{}), EncodedSizeAlone(WorkerInfo{}));
}

class ClusterInfoLimitTest : public SchedulerTest {};

// 40 workers of 1024 function names of 128 bytes: over 5 MiB of workers, and 1,000 running
// jobs (--max_jobs) with the longest names and the largest statistics beside them.
TEST_F(ClusterInfoLimitTest, Snapshot_WorkersPastTheBudget_AnswerUnderTheMessageLimit) {
  constexpr int kWorkers = 40;
  for (int i = 0; i < kWorkers; ++i) {
    ASSERT_NE(AddWorker(absl::StrCat("10.0.0.", i, ":5000"), kMaxSlots, LongestFunctionList()),
              "");
  }
  ClusterInfo info = scheduler_->Snapshot();
  for (int i = 0; i < 1000; ++i) {
    JobInfo& job = info.jobs.emplace_back();
    job.job_id = absl::StrCat("job-", UINT64_MAX);
    job.function = std::string(kMaxFunctionNameBytes, 'f');
    job.total_elements = job.num_chunks = job.chunks_done = UINT64_MAX;
    job.elapsed = absl::Milliseconds(INT64_MAX);
    job.stats = JobStats{INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
  }
  v1::ClusterInfo proto;
  ToProto(info, &proto);

  EXPECT_LT(proto.ByteSizeLong(), static_cast<size_t>(kMaxMessageBytes));
  EXPECT_GT(proto.workers_size(), 0);
  EXPECT_EQ(proto.workers_size() + proto.workers_omitted(), kWorkers);
  EXPECT_GT(proto.workers_omitted(), 0);
  EXPECT_EQ(proto.total_slots(), kWorkers * kMaxSlots);  // every worker's, listed or not
  // The first registered are the ones listed.
  EXPECT_EQ(proto.workers(0).address(), "10.0.0.0:5000");
}

TEST_F(ClusterInfoLimitTest, Snapshot_FewWorkers_ListsAllAndOmitsNone) {
  AddWorker("10.0.0.1:5000");
  AddWorker("10.0.0.2:5000");
  const ClusterInfo info = scheduler_->Snapshot();
  EXPECT_EQ(info.workers.size(), 2u);
  EXPECT_EQ(info.workers_omitted, 0);
}

}  // namespace
}  // namespace gpool
