// The coordinator's table of jobs in submission order, and the bounds on it: how many jobs
// may run at once, overall and from one client connection (--max_jobs,
// --max_jobs_per_client). It knows no workers: running the jobs is the Scheduler's business.
//
// A job that finishes (Job::finished) stays in the table until EraseFinished, so references
// handed out stay valid for the Scheduler's whole step; lookups and limits skip it.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_JOB_TABLE_H_
#define GPOOL_SERVER_JOB_TABLE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/cluster_info.h"
#include "server/job.h"
#include "server/result_window.h"

namespace gpool {

class JobTable {
 public:
  JobTable(int max_jobs, int max_jobs_per_client)
      : max_jobs_(max_jobs), max_jobs_per_client_(max_jobs_per_client) {}

  // OK when a job from `client` may start now; RESOURCE_EXHAUSTED naming the limit when
  // max_jobs, or max_jobs_per_client from `client` (empty: none), are running.
  absl::Status RoomFor(const std::string& client) const;
  // Adds a job under the next sequence number; the reference stays valid until it is erased.
  Job& Add(JobSpec spec, ResultWindow window, absl::Time now);

  // The unfinished job, or nullptr.
  Job* Find(const std::string& job_id);
  Job* Find(uint64_t sequence);

  // The unfinished jobs that have waited longer than `wait` at `now` for a worker that may
  // run them (Job::waiting_for_workers_since), in submission order.
  std::vector<Job*> WaitedLongerThan(absl::Duration wait, absl::Time now);

  // The unfinished jobs', in submission order.
  std::vector<JobInfo> Snapshot(absl::Time now) const;

  // Forgets the finished jobs: call when no reference to them is held any more.
  void EraseFinished();
  // The statistics of the jobs that finished, summed: those erased and those not erased yet.
  JobStats EndedStats() const;
  void Clear() { jobs_.clear(); }

  // By sequence number, so iteration is submission order (fair round-robin); finished jobs
  // included.
  std::map<uint64_t, Job>& jobs() { return jobs_; }

 private:
  const int max_jobs_;
  const int max_jobs_per_client_;
  std::map<uint64_t, Job> jobs_;
  // Of the jobs erased.
  JobStats erased_stats_;
  uint64_t next_sequence_ = 1;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_JOB_TABLE_H_
