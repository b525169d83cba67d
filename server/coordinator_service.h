// The Coordinator gRPC service: a thin adapter from RPCs to Scheduler calls.
#ifndef GPOOL_SERVER_COORDINATOR_SERVICE_H_
#define GPOOL_SERVER_COORDINATOR_SERVICE_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/rate_limited_log.h"
#include "gpool.grpc.pb.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/raw_messages.h"
#include "server/scheduler.h"

namespace gpool {

// Thread-safe.
//
// Map and Heartbeat run on a CompletionQueueLoop: one thread waits for their events and
// handles them, and the scheduler's calls to workers complete on the same thread
// (GrpcWorkerConnector). Map is on the critical path of every job; the heartbeats are nearly
// all the calls a coordinator of 1,000 workers serves. Their handlers never block (they update
// the scheduler under its lock and start writes). gRPC's callback API would do the same with
// less code, but in gRPC 1.51 it adds two threads that pass the poller role back and forth
// with the rest, which cost a fifth of a small job's time here (docs/performance.md, "W1
// warm"). The other methods are rare (or wait, as GetClusterInfo may) and stay synchronous.
//
// Map is served with RawMessage responses: the values a job streams are relayed as the bytes
// the workers sent, never parsed or re-encoded (see EncodedValues). MapCall (server/map_call.h)
// starts the write to the client from the thread that hands the scheduler a worker's
// response, instead of waking a server thread that waits for the job's events; what it writes,
// and when, is decided by a transport-free MapResponsePlanner (server/map_response_planner.h).
class CoordinatorService final
    : public v1::Coordinator::WithAsyncMethod_Heartbeat<v1::Coordinator::Service> {
 public:
  // `scheduler` and `loop` must outlive the service, and the service the server it is
  // registered with. The loop is the one the server was started with (StartServer).
  // A Map call whose write has waited `client_stall_timeout` for the client to read is
  // cancelled, and its job with it (CancelStalledMapCalls). `clock` times those writes
  // (null: the real clock); it must outlive the service.
  // `incarnation` identifies this coordinator process in every answer (proto/gpool.proto,
  // RegisterWorkerResponse.coordinator_incarnation); 0 draws a random one.
  CoordinatorService(Scheduler* scheduler, CompletionQueueLoop* loop,
                     absl::Duration client_stall_timeout = absl::Seconds(60),
                     const Clock* clock = nullptr, uint64_t incarnation = 0);

  // Never 0; random per process unless given.
  uint64_t incarnation() const { return incarnation_; }

  // Starts accepting the loop's calls (Map, MapStream, Heartbeat). Call once, after the server started.
  void AcceptCalls();

  // For shutdown, before the scheduler goes away: from now on the worker-facing methods
  // (registration, heartbeats, drain, deregistration) and GetClusterInfo answer UNAVAILABLE
  // without touching the scheduler. Returns once none of those methods uses the scheduler any
  // more (a GetClusterInfo waiting for workers within 100 ms). Idempotent.
  void StopWorkerCalls();

  // For shutdown, before the scheduler goes away: every open Map call ends with UNAVAILABLE
  // (not final: the client may resubmit) once the results already queued for it are
  // written, new Map calls are refused the same way, and no Map call uses the scheduler
  // after this returns. Idempotent.
  void StopMapCalls();

  // Every open Map call sends what it holds back (a JobStarted waiting for the first
  // results, results waiting for the job's end) now, and holds nothing back for the rest of
  // its job. gpool-coordinator calls it every 100 ms, which bounds how late a client hears
  // of a job's start or results.
  void ReleaseHeldEvents();

  // Cancels every open Map call whose write has been pending for the client stall timeout
  // or longer, as of `now`, and its job, logging the job and the time. A client that reads
  // slowly only slows its job (the result window pauses dispatch); one that stopped reading
  // would hold the job's window, and its share of the workers, forever. gpool-coordinator
  // calls it every 100 ms. Returns how many calls it cancelled.
  int CancelStalledMapCalls(absl::Time now);

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status DrainWorker(grpc::ServerContext* context, const v1::WorkerLeaveRequest* request,
                           v1::WorkerLeaveResponse* response) override;
  grpc::Status DeregisterWorker(grpc::ServerContext* context,
                                const v1::WorkerLeaveRequest* request,
                                v1::WorkerLeaveResponse* response) override;
  grpc::Status GetClusterInfo(grpc::ServerContext* context,
                              const v1::GetClusterInfoRequest* request,
                              v1::ClusterInfo* response) override;

 private:
  class HeartbeatCall;
  class MapCall;  // server/map_call.h
  class MapStreamCall;  // server/map_stream_call.h

  // Each has one request for a new call pending at a time, and requests the next as a call
  // arrives.
  void AcceptHeartbeat();
  void AcceptMap();
  void AcceptMapStream();

  // The answer of the worker-facing methods after StopWorkerCalls.
  static grpc::Status Stopped();
  // How a Map or MapStream call ends when the coordinator stops under it.
  static absl::Status ShuttingDown() {
    return absl::UnavailableError("the coordinator is shutting down");
  }
  // For Map and MapStream calls: runs `use` on the scheduler, unless Map calls were stopped
  // (the scheduler may be gone).
  template <typename Use>
  void WithScheduler(Use use) ABSL_LOCKS_EXCLUDED(map_mu_) {
    absl::ReaderMutexLock lock(&map_mu_);
    if (!map_calls_stopped_) use(*scheduler_);
  }

  Scheduler* const scheduler_;
  CompletionQueueLoop* const loop_;
  const absl::Duration client_stall_timeout_;
  const Clock* const clock_;
  const uint64_t incarnation_;
  // Refused registrations, one warning each, as many as a flood of them allows: a peer that
  // registers badly in a loop must not grow the log without bound.
  RateLimitedLog refusals_;
  // Map's method index (Map is registered by hand: its responses are RawMessage).
  const int map_method_;
  // MapStream's, registered by hand for the same reason.
  const int map_stream_method_;

  // Readers: the worker-facing methods, while they use the scheduler. Writer: StopWorkerCalls.
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  // Readers: Map calls, while they use the scheduler, and while one registers itself. Writer:
  // StopMapCalls. Apart from mu_ so that jobs and heartbeats do not contend.
  absl::Mutex map_mu_ ABSL_ACQUIRED_BEFORE(map_calls_mu_);
  bool map_calls_stopped_ ABSL_GUARDED_BY(map_mu_) = false;
  // Apart from map_mu_ so that a call ending (OnDone) never waits for others using the
  // scheduler.
  absl::Mutex map_calls_mu_;
  // Open Map calls; each removes itself when gRPC is done with it.
  absl::flat_hash_set<MapCall*> map_calls_ ABSL_GUARDED_BY(map_calls_mu_);
  // Open MapStream calls, the same way.
  absl::flat_hash_set<MapStreamCall*> map_stream_calls_ ABSL_GUARDED_BY(map_calls_mu_);
};

}  // namespace gpool

#endif  // GPOOL_SERVER_COORDINATOR_SERVICE_H_
