// The Map adapter: one Map call of CoordinatorService, served on its CompletionQueueLoop.
// Private to the service (coordinator_service.cc and map_call.cc).
#ifndef GPOOL_SERVER_MAP_CALL_H_
#define GPOOL_SERVER_MAP_CALL_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gpool.pb.h"
#include "rpc/loop_call.h"
#include "rpc/raw_messages.h"
#include "server/coordinator_service.h"
#include "server/job_stream.h"
#include "server/map_response_planner.h"

namespace gpool {

// One Map call: submits the job, then writes its events to the client as they come, one
// write at a time; what goes into each message, and when, is its MapResponsePlanner's to
// decide. Events are taken from the job's stream whenever no write is in flight, so chunk
// results that arrive while one is on its way leave together in the next. A write completes
// once the client's flow-control window took it, and only then is the scheduler told the
// results were delivered: a slow client pauses the job's dispatch through its result window
// instead of growing the coordinator's memory.
//
// The job is cancelled on the scheduler when the client cancels the call, its deadline passes
// (OnCancel) or a write fails. JobFinished (with the results ready with it) leaves with the
// call's status, in one write.
//
// Owned by itself while gRPC has the call (self_, dropped at OnDone) and, while a
// notification runs, by the job stream's listener, which holds it weakly: a notification
// never reaches a deleted call. Notifications come from the scheduler's callers' threads
// (mostly the loop's), reactions from the loop's, End from the thread shutting down; mu_
// serialises them, and nothing here blocks. The scheduler is never called with mu_ held: its
// calls notify the listeners of other Map calls.
//
// Lock order: CoordinatorService::map_mu_, then map_calls_mu_, then MapCall::mu_, then the
// JobStream's.
class CoordinatorService::MapCall final : public LoopWriteCall<RawMessage>,
                                          public JobEventListener,
                                          public std::enable_shared_from_this<MapCall> {
 public:
  // Requests a call; the call owns itself from now on.
  static void Accept(CoordinatorService* service);

  explicit MapCall(CoordinatorService* service);

  // For StopMapCalls (which holds map_mu_ and map_calls_mu_): the call ends with UNAVAILABLE
  // after the events already queued, and takes no more from the job's stream.
  void End();

  void OnJobEvents() override;

  // For ReleaseHeldEvents (which holds map_calls_mu_): what the planner holds back leaves
  // now, and nothing is held from now on.
  void ReleaseHeld();

  // For CancelStalledMapCalls (which holds map_calls_mu_): cancels the call when its write
  // has waited `timeout` for the client by `now`. OnCancel then ends the call and the job.
  // True if it cancelled the call.
  bool CancelIfStalled(absl::Time now, absl::Duration timeout);

  void OnWriteDone(bool ok) override;
  // The client cancelled the call or its deadline passed.
  void OnCancel() override;
  void OnDone() override;

 private:
  void OnRequest(bool ok) override;

  // Validates the request and submits the job, or finishes the call. Runs on the loop's
  // thread, so no reaction runs meanwhile (notifications and End may).
  void Submit(const v1::MapRequest& request);

  void TakeReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the write of the planner's next message, or ends the call as it says.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call with `status` unless it has ended already. `final`: the job itself failed,
  // so resubmitting the same request cannot help; the client is told so.
  void FinishLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The call's Finish, once the planner has ended.
  void EndCallLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);


  CoordinatorService* const service_;
  v1::MapRequest request_;  // Written by gRPC until the call arrives.
  // The call's own reference: set by Accept, dropped at OnDone (or when no call comes).
  std::shared_ptr<MapCall> self_;

  absl::Mutex mu_;
  std::string job_id_ ABSL_GUARDED_BY(mu_);  // Empty until the job is submitted.
  std::shared_ptr<JobStream> stream_ ABSL_GUARDED_BY(mu_);
  MapResponsePlanner planner_ ABSL_GUARDED_BY(mu_);
  // The message gRPC is sending: it must live until the write completes.
  RawMessage message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_MAP_CALL_H_
