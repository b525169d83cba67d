// What the cluster looks like, as the coordinator reports it (GetClusterInfo) and clients
// show it (`gpool info`, `gpool status`): plain data shared by the server, the client and
// their one conversion to and from the protocol (rpc/proto_convert.h).
#ifndef GPOOL_COMMON_CLUSTER_INFO_H_
#define GPOOL_COMMON_CLUSTER_INFO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/job_stats.h"

#include "common/elements.h"

namespace gpool {

// Which worker: the coordinator's id for it, and the host and pid of its process.
struct WorkerIdentity {
  std::string worker_id;
  std::string host;
  int64_t pid = 0;
};

// One registered worker (v1::WorkerStatus).
struct WorkerInfo {
  WorkerIdentity ref;
  std::string address;
  int slots = 0;
  std::vector<FunctionSignature> functions;
  int chunks_in_flight = 0;
  int64_t chunks_done = 0;
  // Leaving gracefully: no new chunks, the ones in hand finish.
  bool draining = false;
  // Chunks the worker failed without dying: an error that was not the function's own, or a
  // result that contradicts itself or the plan (values that do not add up to the count, sum,
  // min and max it reported, a wrong element count). Each such chunk ran again elsewhere.
  int64_t faults = 0;
  // --verify found its result of a chunk in the minority (two other workers agreed on
  // another): it gets no more chunks of any job until it registers again. Why, naming the
  // chunk, the job and the workers that outvoted it; empty when not quarantined.
  bool quarantined = false;
  std::string quarantine_reason;
  absl::Duration heartbeat_age;
  // The interval the worker beats at, as far as the coordinator knows (what it last reported,
  // or was granted at registration; it grows with the cluster), and the lease that follows
  // from it.
  absl::Duration heartbeat_interval;
  absl::Duration lease_timeout;
};

// One job that has not finished (v1::JobStatus).
struct JobInfo {
  std::string job_id;
  std::string function;
  uint64_t total_elements = 0;
  uint64_t num_chunks = 0;  // 0 while waiting for workers
  uint64_t chunks_done = 0;
  absl::Duration elapsed;
  JobStats stats;
};

// v1::ClusterInfo.
struct ClusterInfo {
  // The answering coordinator process (ClusterInfo.coordinator_incarnation): another value
  // in a later answer means the coordinator restarted in between. 0: not sent.
  uint64_t coordinator_incarnation = 0;
  int total_slots = 0;  // of every registered worker, listed or not
  std::vector<WorkerInfo> workers;  // by order of registration, the first that fit
  std::vector<JobInfo> jobs;        // by order of submission
  // Registered workers left out of `workers` (kMaxWorkerListBytes).
  int workers_omitted = 0;
  // The statistics of every job that ended since the coordinator started, summed: with the
  // running jobs' own, the coordinator's totals (its metrics' counters).
  JobStats ended_jobs;
};

// How many bytes of ClusterInfo.workers the coordinator sends at most. A full registry
// (--max_workers 10,000 workers, each with 1024 function names of 128 bytes) is over 1 GiB,
// far past the 4 MiB message limit; the list stops before this budget and the rest are
// counted in workers_omitted. 3 MiB leaves 1 MiB for the jobs (at most --max_jobs 1,000 of
// a few hundred bytes each) and the other fields.
inline constexpr size_t kMaxWorkerListBytes = 3 * 1024 * 1024;

// At least the bytes `worker` takes encoded as one element of v1::ClusterInfo.workers
// (tag, length and the v1::WorkerStatus), counting every field at its widest. No generated
// code here: the scheduler, which knows no protocol, bounds its snapshot with it.
size_t EncodedSizeBound(const WorkerInfo& worker);

}  // namespace gpool

#endif  // GPOOL_COMMON_CLUSTER_INFO_H_
