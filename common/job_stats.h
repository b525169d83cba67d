// What a job survived, reported to its client at the end.
#ifndef GPOOL_COMMON_JOB_STATS_H_
#define GPOOL_COMMON_JOB_STATS_H_

#include <cstdint>

namespace gpool {

struct JobStats {
  int64_t retries = 0;             // chunks dispatched again after their worker was lost
  int64_t workers_lost = 0;        // workers declared dead while holding the job's chunks
  int64_t backups = 0;             // backup copies of straggling chunks
  int64_t duplicates_dropped = 0;  // late results for chunks already complete
  // --verify: chunks published once two workers agreed on them, and results that disagreed
  // with every result held for their chunk (each one asked a further worker to decide).
  int64_t chunks_verified = 0;
  int64_t verification_mismatches = 0;

  JobStats& operator+=(const JobStats& other) {
    retries += other.retries;
    workers_lost += other.workers_lost;
    backups += other.backups;
    duplicates_dropped += other.duplicates_dropped;
    chunks_verified += other.chunks_verified;
    verification_mismatches += other.verification_mismatches;
    return *this;
  }
};

}  // namespace gpool

#endif  // GPOOL_COMMON_JOB_STATS_H_
