// The hand-off between the scheduler (producer) and the RPC that streams one job's results
// to its client (consumer). The scheduler bounds how much may wait here (its result window);
// the consumer tells the scheduler each time it has written a chunk.
#ifndef GPOOL_SERVER_JOB_STREAM_H_
#define GPOOL_SERVER_JOB_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/elements.h"
#include "common/exact_sum.h"
#include "common/job_stats.h"
#include "common/value_stats.h"
#include "server/worker_connection.h"

namespace gpool {

struct JobPlanInfo {
  std::string job_id;
  uint64_t total_elements = 0;
  uint64_t chunk_size = 0;
  uint64_t num_chunks = 0;
  int cluster_slots = 0;
  int job_slots = 0;
  // The function's types.
  ElementType input_type = ElementType::kInt64;
  ElementType output_type = ElementType::kInt64;
};

struct ChunkDelivery {
  uint64_t chunk_index = 0;
  uint64_t first_element = 0;
  uint64_t element_count = 0;
  Values values;
  bool values_shared = false;  // the values are in the client's shared-memory buffer
  // When this result came, every chunk of the job not yet done was running (none waited for
  // dispatch or retry): the job's end is near, and the stream may hold this result for it.
  bool tail = false;
  // The values' reductions: int64 outputs in sum, min and max, double outputs in doubles.
  SummaryKind summary = SummaryKind::kNone;
  absl::int128 sum = 0;
  int64_t min = 0;
  int64_t max = 0;
  DoubleStats doubles;
  std::string worker_id;
  std::string worker_host;
  int64_t worker_pid = 0;
  int attempt = 0;
};

struct JobEvent {
  enum class Kind { kStarted, kChunk, kFinished };
  Kind kind = Kind::kStarted;
  JobPlanInfo plan;        // kStarted
  ChunkDelivery chunk;     // kChunk
  absl::Status status;     // kFinished: OK or why the job failed
  // kFinished with an error: true when the job itself failed (resubmitting cannot help),
  // false when the coordinator is going away (a client may resubmit elsewhere or later).
  bool final = true;
  JobStats stats;          // kFinished
};

// Told that events wait in a JobStream: how the RPC streaming a job learns of them without a
// thread of its own waiting in TakeAll.
class JobEventListener {
 public:
  virtual ~JobEventListener() = default;
  // Events were pushed since the last call (or since the listener was set). Runs on the
  // producer's thread, without the producer's locks held, possibly on several threads at
  // once; it must not block, and must not call back into the producer.
  virtual void OnJobEvents() = 0;
};

// Thread-safe single-producer / single-consumer queue of events. After a kFinished event
// nothing more is pushed. The consumer either waits in TakeAll or sets a listener and takes
// the events with TakeReady when told.
//
// The producer pushes events, then publishes them: the consumer takes only published events,
// so the events of one step of the producer (a job's last result and its end) are taken
// together, whatever the consumer's timing.
class JobStream {
 public:
  // Queues the event, unpublished. Does not call the listener, so that the producer may push
  // under its own lock: it calls NotifyListener once that lock is released.
  void Push(JobEvent event) {
    absl::MutexLock lock(&mu_);
    unpublished_.push_back(std::move(event));
  }

  // Makes the events pushed so far available to the consumer.
  void Publish() {
    absl::MutexLock lock(&mu_);
    for (JobEvent& event : unpublished_) events_.push_back(std::move(event));
    unpublished_.clear();
  }

  // Calls the listener, if one is set and still alive.
  void NotifyListener() {
    std::shared_ptr<JobEventListener> listener;
    {
      absl::MutexLock lock(&mu_);
      listener = listener_.lock();
    }
    // Outside mu_: the listener takes the events (TakeReady), which locks mu_.
    if (listener != nullptr) listener->OnJobEvents();
  }

  // From now on NotifyListener tells `listener`, until it is destroyed. Events pushed before
  // are not announced: the consumer takes them with TakeReady after setting the listener.
  void SetListener(std::weak_ptr<JobEventListener> listener) {
    absl::MutexLock lock(&mu_);
    listener_ = std::move(listener);
  }

  // Every event waiting, after waiting up to `max_wait` for the first; empty if none came.
  // Taking them all at once is what lets the consumer pack small chunk results together.
  std::vector<JobEvent> TakeAll(absl::Duration max_wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &JobStream::HasEventsLocked), max_wait);
    return TakeLocked();
  }

  // Every event waiting, without waiting.
  std::vector<JobEvent> TakeReady() {
    absl::MutexLock lock(&mu_);
    return TakeLocked();
  }

 private:
  bool HasEventsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty(); }

  std::vector<JobEvent> TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<JobEvent> events;
    events.reserve(events_.size());
    for (JobEvent& event : events_) events.push_back(std::move(event));
    events_.clear();
    return events;
  }

  absl::Mutex mu_;
  std::deque<JobEvent> unpublished_ ABSL_GUARDED_BY(mu_);
  std::deque<JobEvent> events_ ABSL_GUARDED_BY(mu_);  // Published.
  std::weak_ptr<JobEventListener> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_JOB_STREAM_H_
