// What a Map call writes to its client, and when: which of its job's events go into the next
// MapResponse, which wait, when the call ends, whether the client stopped reading, and what
// the scheduler is told once a write completes. Transport-free: the gRPC adapter (MapCall,
// server/map_call.h) only encodes the plans and writes them.
#ifndef GPOOL_SERVER_MAP_RESPONSE_PLANNER_H_
#define GPOOL_SERVER_MAP_RESPONSE_PLANNER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/job_stats.h"
#include "server/job_stream.h"

namespace gpool {

struct MapResponseLimits {
  // A bound on the bytes of one message's results (values, worker names and a generous
  // overhead each), within the message limit less room for the job's start and end and for
  // framing. Set by the adapter, which knows the transport's limit; a result alone always
  // leaves, so it must hold the largest one.
  int64_t max_result_bytes = 0;
  // Few enough results that the client starts placing values while the next message is on
  // the wire.
  int64_t max_results = 4096;
  // Values of tail results a call may hold back for the job's end: enough for a short job's
  // results, too few to matter to the result window.
  int64_t max_held_values = int64_t{1} << 16;
};

// One MapResponse to write, or the call's end. The chunk deliveries are moved out of their
// events: their values are the buffers the workers' responses arrived in.
struct MapResponsePlan {
  // At most one start per message, before its results.
  std::optional<JobPlanInfo> started;
  std::vector<ChunkDelivery> chunks;
  // The job succeeded: JobFinished with these stats ends the message, which leaves with the
  // call's OK status in one write. Nothing is delivered after it (the job is over).
  std::optional<JobStats> finished;
  // The call ends with this error, and no message (`started` and `chunks` are empty: what
  // was taken before the failure left in the messages before). `final`: the job itself
  // failed, so resubmitting the same request cannot help.
  std::optional<absl::Status> failure;
  bool final = false;

  bool ends_call() const { return finished.has_value() || failure.has_value(); }
};

// The results a completed write took to the client, as the scheduler counts them in the job's
// result window (Scheduler::OnChunksDelivered).
struct MapDelivery {
  int64_t chunks = 0;
  int64_t values = 0;  // relayed, or in the client's shared buffer
};

// Thread-compatible: the Map call serialises its use under its own mutex. Cheap on the hot
// path: events are moved in and out, values never copied.
class MapResponsePlanner {
 public:
  // `clock` must outlive the planner; it times the writes (Stalled).
  MapResponsePlanner(const Clock* clock, MapResponseLimits limits);

  // Queues events taken from the job's stream, after those queued before.
  void Take(std::vector<JobEvent> events);

  // False once the call ended or End was called: queue nothing more.
  bool open() const { return !finished_ && !ending_; }

  // The call ends with `status` (not final: the client may resubmit) after the events already
  // queued, whatever follows them in the job's stream. False (and nothing queued) if the call
  // ended or was ending already.
  bool End(absl::Status status);

  // From now on nothing is held back (see Next). False if it was so already.
  bool ReleaseHeld();

  // The next message, unless a write is in flight, the call ended, or nothing is to be sent
  // yet. Everything queued leaves in one message, the job's start and end included, within
  // the limits. Until ReleaseHeld, a JobStarted with nothing behind it waits for the first
  // results, and results of the job's tail (ChunkDelivery::tail) wait for its end, up to
  // max_held_values: a short job's start, results and end then take one message.
  //
  // A plan that does not end the call starts a write: no other plan comes before WriteDone.
  // One that ends it ends the planner (no plan comes after it).
  std::optional<MapResponsePlan> Next();

  // The write started by the last plan completed (or failed): what it took to the client.
  MapDelivery WriteDone();

  // The call ended otherwise than by a plan (cancelled, a write failed, refused before its
  // job started): drops what is queued. False if it had ended already.
  bool Finish();

  // True, once, when a write has been in flight for `timeout` or longer by `now`, and the
  // call has not ended: its client stopped reading.
  bool Stalled(absl::Time now, absl::Duration timeout);
  // Stalled said so.
  bool stalled() const { return stalled_; }

 private:
  bool Holding() const;

  const Clock* const clock_;
  const MapResponseLimits limits_;
  // Taken from the stream and not planned yet.
  std::deque<JobEvent> events_;
  bool write_in_flight_ = false;
  // When the write in flight started: how long it has waited for the client.
  absl::Time write_started_;
  // The results of the write in flight, delivered once it completes.
  MapDelivery writing_;
  bool stalled_ = false;
  // A plan ended the call, or Finish: nothing more is planned.
  bool finished_ = false;
  // End was called: the call ends once events_ is planned.
  bool ending_ = false;
  // ReleaseHeld was called.
  bool hold_released_ = false;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_MAP_RESPONSE_PLANNER_H_
