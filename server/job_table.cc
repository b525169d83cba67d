#include "server/job_table.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace gpool {

absl::Status JobTable::RoomFor(const std::string& client) const {
  int jobs = 0;
  int from_client = 0;
  for (const auto& [sequence, job] : jobs_) {
    if (job.finished) continue;
    ++jobs;
    if (!client.empty() && job.spec.client == client) ++from_client;
  }
  if (jobs >= max_jobs_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the coordinator runs ", jobs, " jobs, its limit (--max_jobs); submit again later"));
  }
  if (from_client >= max_jobs_per_client_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this connection runs ", from_client, " jobs, the limit per client connection "
        "(--max_jobs_per_client); submit again when one ends"));
  }
  return absl::OkStatus();
}

Job& JobTable::Add(JobSpec spec, ResultWindow window, absl::Time now) {
  const uint64_t sequence = next_sequence_++;
  return jobs_.try_emplace(sequence, sequence, std::move(spec), std::move(window), now)
      .first->second;
}

Job* JobTable::Find(const std::string& job_id) {
  for (auto& [sequence, job] : jobs_) {
    if (!job.finished && job.job_id == job_id) return &job;
  }
  return nullptr;
}

Job* JobTable::Find(uint64_t sequence) {
  auto it = jobs_.find(sequence);
  return it == jobs_.end() || it->second.finished ? nullptr : &it->second;
}

std::vector<Job*> JobTable::WaitedLongerThan(absl::Duration wait, absl::Time now) {
  std::vector<Job*> waited;
  for (auto& [sequence, job] : jobs_) {
    if (!job.finished && job.waiting_for_workers_since.has_value() &&
        now - *job.waiting_for_workers_since > wait) {
      waited.push_back(&job);
    }
  }
  return waited;
}

std::vector<JobInfo> JobTable::Snapshot(absl::Time now) const {
  std::vector<JobInfo> snapshots;
  for (const auto& [sequence, job] : jobs_) {
    if (!job.finished) snapshots.push_back(job.Snapshot(now));
  }
  return snapshots;
}

void JobTable::EraseFinished() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.finished) {
      erased_stats_ += it->second.stats;
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

JobStats JobTable::EndedStats() const {
  JobStats ended = erased_stats_;
  for (const auto& [sequence, job] : jobs_) {
    if (job.finished) ended += job.stats;
  }
  return ended;
}

}  // namespace gpool
