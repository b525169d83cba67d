// The MapStream adapter: one MapStream call of CoordinatorService, served on its
// CompletionQueueLoop. Private to the service (coordinator_service.cc and
// map_stream_call.cc). What the messages mean, the segments and the flow-control bound are
// its InputStream's (server/input_stream.h); this file only moves them.
#ifndef GPOOL_SERVER_MAP_STREAM_CALL_H_
#define GPOOL_SERVER_MAP_STREAM_CALL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gpool.pb.h"
#include "rpc/loop_call.h"
#include "rpc/raw_messages.h"
#include "server/coordinator_service.h"
#include "server/input_stream.h"
#include "server/job_stream.h"

namespace gpool {

// One MapStream call. Reads the input one message at a time, and only while its
// InputStream wants more: a client that sends faster than the segments run waits in gRPC's
// flow control. Submits each segment as a job, listens to the segments' event streams, and
// writes their results (renumbered as the stream's) one write at a time; a write completes
// once the client's window took it, and only then is the scheduler told the results were
// delivered, as for Map.
//
// Scheduler calls (submitting a segment, cancelling the others when one fails) run on the
// loop's thread, in Step: a notification from a segment's stream (which must not call back
// into the scheduler) only posts a Step with an alarm.
//
// Owned by itself while gRPC has the call (self_, dropped at OnDone) and weakly by the
// segments' streams. Lock order as MapCall's: CoordinatorService::map_mu_, then
// map_calls_mu_, then mu_, then the JobStreams'. The scheduler is never called with mu_ held.
class CoordinatorService::MapStreamCall final
    : public LoopReadWriteCall<v1::MapStreamRequest, RawMessage>,
      public JobEventListener,
      public std::enable_shared_from_this<MapStreamCall> {
 public:
  // Requests a call; the call owns itself from now on.
  static void Accept(CoordinatorService* service);

  explicit MapStreamCall(CoordinatorService* service);

  // For StopMapCalls (which holds map_mu_ and map_calls_mu_): the call ends with UNAVAILABLE
  // (not final) and uses the scheduler no more.
  void End();

  void OnJobEvents() override;

  // For CancelStalledMapCalls (which holds map_calls_mu_): cancels the call when its write
  // has waited `timeout` for the client by `now`, as MapCall does. True if it cancelled.
  bool CancelIfStalled(absl::Time now, absl::Duration timeout);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  // The client cancelled the call or its deadline passed.
  void OnCancel() override;
  void OnDone() override;

 private:
  // A segment in flight: its job and its events.
  struct Segment {
    std::string job_id;
    std::shared_ptr<JobStream> stream;
  };
  // What a write carries, to tell the scheduler once it is delivered: job id -> (chunks,
  // values).
  using Deliveries = std::map<std::string, std::pair<int64_t, int64_t>>;

  void OnRequest(bool ok) override;

  // Submits the segments ready, cancels what a failure left, then writes and reads as the
  // state allows. Loop thread only.
  void Step() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs Step on the loop's thread soon (once, however often asked).
  void PostStepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the segments' events: results queued for writing, segments finished; a failure
  // ends the call.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next write if none is in flight and something is ready; with the job's end
  // once every result is written.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether results waiting for the client are as many as the call holds: no more input is
  // read, and no segment submitted, until the client takes some.
  bool BacklogFullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next read if the input wants it and none is pending.
  void ReadNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call with `status` unless it has ended; the segments in flight are to cancel.
  void FinishLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);


  CoordinatorService* const service_;
  // The call's own reference: set by Accept, dropped at OnDone (or when no call comes).
  std::shared_ptr<MapStreamCall> self_;
  v1::MapStreamRequest request_;  // Written by gRPC while a read is pending.

  absl::Mutex mu_;
  InputStream input_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);  // of the write in flight
  bool stall_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool step_posted_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  // Segments in flight by index.
  std::map<uint64_t, Segment> segments_ ABSL_GUARDED_BY(mu_);
  // Jobs to cancel (a segment failed, or the call ended).
  std::vector<std::string> to_cancel_ ABSL_GUARDED_BY(mu_);
  // What waits to be written: the stream's JobStarted, results with their segment's job id.
  std::optional<JobPlanInfo> started_ ABSL_GUARDED_BY(mu_);
  bool started_sent_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<std::string, ChunkDelivery>> results_ ABSL_GUARDED_BY(mu_);
  int64_t backlog_values_ ABSL_GUARDED_BY(mu_) = 0;  // values in results_
  Deliveries in_write_ ABSL_GUARDED_BY(mu_);
  // The message gRPC is sending: it must live until the write completes.
  RawMessage message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_MAP_STREAM_CALL_H_
