// One planned job's chunks and where each stands: fresh (never sent), active (sent and not
// done: its runs, attempts, the workers that lost or failed it), waiting in the retry queue,
// or done. It knows no workers beyond their ids and labels as strings: which worker takes a
// chunk, and what a worker's death means for it, is decided above it.
//
//     fresh ──TakeFresh──► active ──Complete──► done
//                          │  ▲
//              Lost (no    ▼  │ NextRetry/PopRetry + StartRun
//              run left)  retry queue ──lost max_attempts times──► kExhausted
//
// Under --verify a chunk stays active after its first result until a second worker agrees
// (server/quorum.h): RequestCopy queues its next copy without spending an attempt.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_CHUNK_TABLE_H_
#define GPOOL_SERVER_CHUNK_TABLE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "common/chunking.h"
#include "common/index_set.h"

namespace gpool {

// One copy of a chunk sent to a worker.
struct ChunkRun {
  std::string worker_id;
  int attempt = 0;
  uint64_t call_id = 0;
  absl::Time started;
};

// A chunk that has been dispatched at least once and is not done.
struct ActiveChunk {
  int dispatches = 0;  // the attempt number of the latest run
  absl::InlinedVector<ChunkRun, 1> runs;
  // "w3 (host/pid)" of every worker that was lost while running this chunk, with why when
  // it did not die; its size is what max_attempts limits.
  std::vector<std::string> lost_on;
  // Ids of the workers that failed this chunk without dying: its retries go elsewhere
  // when another worker may run it.
  std::vector<std::string> faulted_on;
};

class ChunkTable {
 public:
  // `already_done`: chunks the client held when it resubmitted the job, all below
  // plan.num_chunks (the caller checks); they start out done.
  ChunkTable(ChunkPlan plan, IndexSet already_done);

  const ChunkPlan& plan() const { return plan_; }
  uint64_t chunks_done() const { return chunks_done_; }
  bool AllDone() const { return chunks_done_ == plan_.num_chunks; }

  // Whether some chunk was never sent.
  bool HasFresh() const { return next_fresh_ < plan_.num_chunks; }
  // Whether the retry queue holds entries (some may be for chunks a late result completed).
  bool HasRetries() const { return !retry_queue_.empty(); }
  // Chunks not yet sent or waiting to be sent again.
  uint64_t UnsentCount() const;
  // The lowest chunk index that is not done (num_chunks when all are): the base of
  // MapRequest.max_chunks_ahead. Done chunks are neither active nor at or past next_fresh_
  // unless already done, which next_fresh_ skips, so this is O(1).
  uint64_t LowestNotDone() const;
  // The next chunk TakeFresh would take (num_chunks when none is fresh).
  uint64_t NextFresh() const { return next_fresh_; }

  // The oldest chunk waiting to be sent again, skipping those a late result completed
  // meanwhile; nullopt when none waits. PopRetry takes it off the queue.
  std::optional<uint64_t> NextRetry();
  void PopRetry();

  // The next fresh chunks in index order: at most `max_chunks`, all below `end`, and
  // together at most `max_elements` elements unless the first alone has more (a big chunk
  // travels alone). They are not active until StartRun.
  std::vector<uint64_t> TakeFresh(uint64_t max_chunks, int64_t max_elements,
                                  uint64_t end = UINT64_MAX);

  // Records a run of `chunk_index` on `worker_id` in call `call_id`; returns its attempt.
  int StartRun(uint64_t chunk_index, const std::string& worker_id, uint64_t call_id,
               absl::Time now);
  // Removes that run. False when the chunk is not active or has no such run (its worker was
  // already declared dead and the chunk handed back).
  bool EndRun(uint64_t chunk_index, const std::string& worker_id, int attempt);

  // nullptr when the chunk is not active (never sent, or done).
  const ActiveChunk* Active(uint64_t chunk_index) const;
  const absl::btree_map<uint64_t, ActiveChunk>& active() const { return active_; }

  // The chunk is done; returns what it was (its runs: the copies still running), or nullopt
  // when it was not active (a late copy of a done chunk).
  std::optional<ActiveChunk> Complete(uint64_t chunk_index);

  // `worker_id` failed the chunk without dying: its retries prefer other workers.
  void AddFault(uint64_t chunk_index, const std::string& worker_id);

  enum class Loss {
    kNotActive,     // done already, or never sent: nothing to do
    kStillRunning,  // another copy (a backup) still runs
    kRequeued,      // at the front of the retry queue
    kExhausted,     // lost max_attempts times: the job cannot finish
  };
  // A run of the chunk was lost on `worker_label` (its run already ended with EndRun).
  Loss Lost(uint64_t chunk_index, const std::string& worker_label, int max_attempts);
  // The chunk (active, with no run left) needs one more copy: a verification copy under
  // --verify. Queued behind the retries of lost chunks, or, `urgent` (a copy that settles a
  // disagreement, and with it a liar's fate), before them; spends no attempt.
  void RequestCopy(uint64_t chunk_index, bool urgent = false);
  // A worker that left gracefully handed the chunk back (its run already ended with EndRun):
  // re-queued like a loss, but not counted against max_attempts (never kExhausted).
  Loss HandBack(uint64_t chunk_index);

 private:
  void SkipDone();

  const ChunkPlan plan_;
  const IndexSet already_done_;
  // The lowest chunk index that was never sent and is not already done.
  uint64_t next_fresh_ = 0;
  // Ordered by chunk index: chunks go in and out in nearly that order, which a B-tree
  // handles with good locality (a hash map here degraded with tombstones at 10^4 chunks).
  absl::btree_map<uint64_t, ActiveChunk> active_;
  std::deque<uint64_t> retry_queue_;
  uint64_t chunks_done_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_CHUNK_TABLE_H_
