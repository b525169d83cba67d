#include "server/coordinator_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "rpc/grpc_status.h"
#include "rpc/loop_call.h"
#include "rpc/message_limits.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "server/map_request.h"
#include "server/map_response_planner.h"

namespace gpool {
namespace {

// GetClusterInfo never waits for workers longer than this, whatever the deadline.
constexpr absl::Duration kMaxWorkerWait = absl::Minutes(5);
// ... and looks whether the coordinator is stopping, or the call cancelled, this often.
constexpr absl::Duration kWorkerWaitSlice = absl::Milliseconds(100);

// Moves the values (no copy) and copies the rest.
RawChunkResult ToOutgoing(ChunkDelivery& delivery) {
  RawChunkResult outgoing;
  v1::ChunkResult& chunk = outgoing.fields;
  chunk.set_chunk_index(static_cast<int64_t>(delivery.chunk_index));
  chunk.set_first_element(static_cast<int64_t>(delivery.first_element));
  chunk.set_element_count(static_cast<int64_t>(delivery.element_count));
  gpool::ToProto(delivery.sum, chunk.mutable_partial_sum());
  chunk.set_partial_min(delivery.min);
  chunk.set_partial_max(delivery.max);
  chunk.mutable_worker()->set_worker_id(delivery.worker_id);
  chunk.mutable_worker()->set_host(delivery.worker_host);
  chunk.mutable_worker()->set_pid(delivery.worker_pid);
  chunk.set_attempt(delivery.attempt);
  chunk.set_values_shared(delivery.values_shared);
  outgoing.values = std::move(delivery.values);
  return outgoing;
}

v1::JobStarted StartedOf(const JobPlanInfo& plan) {
  v1::JobStarted started;
  started.set_job_id(plan.job_id);
  started.set_total_elements(static_cast<int64_t>(plan.total_elements));
  started.set_chunk_size(static_cast<int64_t>(plan.chunk_size));
  started.set_num_chunks(static_cast<int64_t>(plan.num_chunks));
  started.set_cluster_slots(plan.cluster_slots);
  started.set_job_slots(plan.job_slots);
  return started;
}

// The MapResponse of a plan that has one (not a failure); moves the values (no copy).
RawMessage EncodePlan(MapResponsePlan& plan) {
  std::optional<v1::JobStarted> started;
  if (plan.started.has_value()) started = StartedOf(*plan.started);
  std::vector<RawChunkResult> results;
  results.reserve(plan.chunks.size());
  for (ChunkDelivery& chunk : plan.chunks) results.push_back(ToOutgoing(chunk));
  std::optional<v1::JobFinished> finished;
  if (plan.finished.has_value()) ToProto(*plan.finished, finished.emplace().mutable_stats());
  return EncodeMapResponse(started.has_value() ? &*started : nullptr, results,
                           finished.has_value() ? &*finished : nullptr);
}

// What a Map call's message may hold, within the transport's message limit.
MapResponseLimits MapLimits() {
  MapResponseLimits limits;
  limits.max_result_bytes = kMaxMessageBytes - kMessageHeadroomBytes;
  return limits;
}

absl::Status ShuttingDown() {
  return absl::UnavailableError("the coordinator is shutting down");
}

absl::Duration TimeUntil(std::chrono::system_clock::time_point deadline) {
  return absl::FromChrono(deadline - std::chrono::system_clock::now());
}

const Clock* RealTime() {
  static const RealClock* const clock = new RealClock;
  return clock;
}

}  // namespace

// One Heartbeat call: applies the beat and answers with the current grant.
class CoordinatorService::HeartbeatCall final {
 public:
  // Requests a call; the call frees itself.
  static void Accept(CoordinatorService* service) {
    auto* call = new HeartbeatCall(service);
    CompletionQueueLoop* loop = service->loop_;
    service->RequestHeartbeat(&call->context_, &call->request_, &call->responder_, loop->cq(),
                              loop->cq(), loop->ArmOnce([call](bool ok) { call->Serve(ok); }));
  }

 private:
  explicit HeartbeatCall(CoordinatorService* service)
      : service_(service), responder_(&context_) {}

  void Serve(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    service_->AcceptHeartbeat();
    grpc::Status status;
    {
      absl::ReaderMutexLock lock(&service_->mu_);
      if (service_->stopped_) {
        status = Stopped();
      } else {
        absl::StatusOr<HeartbeatGrant> grant = service_->scheduler_->Heartbeat(
            request_.worker_id(), request_.incarnation(),
            absl::Milliseconds(request_.heartbeat_interval_ms()));
        if (grant.ok()) {
          response_.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant->interval));
          response_.set_lease_timeout_ms(absl::ToInt64Milliseconds(grant->lease_timeout));
        }
        status = ToGrpcStatus(grant.status());
      }
    }
    responder_.Finish(response_, status,
                      service_->loop_->ArmOnce([this](bool) { delete this; }));
  }

  CoordinatorService* const service_;
  grpc::ServerContext context_;
  v1::HeartbeatRequest request_;
  v1::HeartbeatResponse response_;
  grpc::ServerAsyncResponseWriter<v1::HeartbeatResponse> responder_;
};

void CoordinatorService::AcceptHeartbeat() { HeartbeatCall::Accept(this); }

void CoordinatorService::StopWorkerCalls() {
  absl::MutexLock lock(&mu_);
  // Holding mu_ as a writer also waits for the methods that are using the scheduler.
  stopped_ = true;
}

grpc::Status CoordinatorService::Stopped() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the coordinator is shutting down; register again when it is back");
}

grpc::Status CoordinatorService::RegisterWorker(grpc::ServerContext* context,
                                                const v1::RegisterWorkerRequest* request,
                                                v1::RegisterWorkerResponse* response) {
  absl::ReaderMutexLock lock(&mu_);
  if (stopped_) return Stopped();
  WorkerRegistration registration;
  registration.address = request->address();
  registration.pid = request->pid();
  registration.host = request->host();
  registration.slots = request->slots();
  registration.functions.assign(request->functions().begin(), request->functions().end());
  registration.incarnation = request->incarnation();
  registration.max_chunks_per_call = request->max_chunks_per_call();
  absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorker(registration);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  response->set_worker_id(grant->worker_id);
  response->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant->heartbeat_interval));
  response->set_lease_timeout_ms(absl::ToInt64Milliseconds(grant->lease_timeout));
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DrainWorker(grpc::ServerContext* context,
                                             const v1::WorkerLeaveRequest* request,
                                             v1::WorkerLeaveResponse* response) {
  absl::ReaderMutexLock lock(&mu_);
  if (stopped_) return Stopped();
  return ToGrpcStatus(scheduler_->DrainWorker(request->worker_id(), request->incarnation()));
}

grpc::Status CoordinatorService::DeregisterWorker(grpc::ServerContext* context,
                                                  const v1::WorkerLeaveRequest* request,
                                                  v1::WorkerLeaveResponse* response) {
  absl::ReaderMutexLock lock(&mu_);
  if (stopped_) return Stopped();
  return ToGrpcStatus(
      scheduler_->DeregisterWorker(request->worker_id(), request->incarnation()));
}

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
  static void Accept(CoordinatorService* service) {
    auto call = std::make_shared<MapCall>(service);
    call->self_ = call;
    service->RequestAsyncServerStreaming(service->map_method_, call->context(), &call->request_,
                                         call->writer(), service->loop_->cq(),
                                         service->loop_->cq(), call->RequestTag());
  }

  explicit MapCall(CoordinatorService* service)
      : LoopWriteCall(service->loop_),
        service_(service),
        planner_(service->clock_, MapLimits()) {}

  // For StopMapCalls (which holds map_mu_ and map_calls_mu_): the call ends with UNAVAILABLE
  // after the events already queued, and takes no more from the job's stream.
  void End() {
    absl::MutexLock lock(&mu_);
    if (!planner_.open()) return;
    TakeReadyLocked();
    planner_.End(ShuttingDown());
    WriteNextLocked();
  }

  void OnJobEvents() override {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  // For ReleaseHeldEvents (which holds map_calls_mu_): what the planner holds back leaves
  // now, and nothing is held from now on.
  void ReleaseHeld() {
    absl::MutexLock lock(&mu_);
    if (planner_.ReleaseHeld()) WriteNextLocked();
  }

  // For CancelStalledMapCalls (which holds map_calls_mu_): cancels the call when its write
  // has waited `timeout` for the client by `now`. OnCancel then ends the call and the job.
  // True if it cancelled the call.
  bool CancelIfStalled(absl::Time now, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!planner_.Stalled(now, timeout)) return false;
    LogWarning(absl::StrCat(job_id_.empty() ? "a job not yet started" : job_id_,
                            ": its client has not read its results for ",
                            absl::FormatDuration(timeout),
                            " (--client_stall_timeout); cancelling the call and the job"));
    context()->TryCancel();
    return true;
  }

  void OnWriteDone(bool ok) override {
    MapDelivery delivered;
    std::string job_id;
    {
      absl::MutexLock lock(&mu_);
      delivered = planner_.WriteDone();
      job_id = job_id_;
      // The next write starts before the scheduler hears of this one: it is what the
      // client waits for.
      if (ok) {
        WriteNextLocked();
      } else {
        FinishLocked(absl::CancelledError("the client went away"), /*final=*/false);
      }
    }
    if (!ok) {
      WithScheduler([&](Scheduler& scheduler) {
        scheduler.CancelJob(job_id, absl::CancelledError("the client went away"));
      });
    } else if (delivered.chunks > 0) {
      WithScheduler([&](Scheduler& scheduler) {
        scheduler.OnChunksDelivered(job_id, delivered.chunks, delivered.values);
      });
    }
  }

  // The client cancelled the call or its deadline passed.
  void OnCancel() override {
    absl::Status reason =
        absl::CancelledError("the client cancelled the call or its deadline passed");
    std::string job_id;
    {
      absl::MutexLock lock(&mu_);
      if (planner_.stalled()) {
        reason = absl::CancelledError(
            "the client stopped reading the results (--client_stall_timeout)");
      }
      FinishLocked(reason, /*final=*/false);
      job_id = job_id_;
    }
    if (job_id.empty()) return;
    WithScheduler([&](Scheduler& scheduler) { scheduler.CancelJob(job_id, reason); });
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&service_->map_calls_mu_);
      service_->map_calls_.erase(this);
    }
    // Deletes this call unless a notification holds it; then that notification does, and
    // finds it finished.
    std::shared_ptr<MapCall> self = std::move(self_);
  }

 private:
  void OnRequest(bool ok) override {
    if (!ok) {
      std::shared_ptr<MapCall> self = std::move(self_);
      return;
    }
    service_->AcceptMap();
    Submit(request_);
  }

  // Validates the request and submits the job, or finishes the call. Runs on the loop's
  // thread, so no reaction runs meanwhile (notifications and End may).
  void Submit(const v1::MapRequest& request) {
    // gRPC refuses requests over kMaxMessageBytes; this refuses those that fit it but not
    // the room a chunk of their list needs on its way to a worker.
    if (absl::Status too_big = CheckMapRequestSize(request, absl::StatusCode::kResourceExhausted);
        !too_big.ok()) {
      absl::MutexLock lock(&mu_);
      return FinishLocked(too_big, /*final=*/true);
    }
    absl::StatusOr<JobSpec> spec = ToJobSpec(request);
    if (!spec.ok()) {
      absl::MutexLock lock(&mu_);
      return FinishLocked(spec.status(), /*final=*/true);
    }
    absl::ReaderMutexLock service_lock(&service_->map_mu_);
    if (service_->map_calls_stopped_) {
      absl::MutexLock lock(&mu_);
      return FinishLocked(ShuttingDown(), /*final=*/false);
    }
    {
      absl::MutexLock calls_lock(&service_->map_calls_mu_);
      service_->map_calls_.insert(this);
    }
    auto submitted = service_->scheduler_->SubmitJob(*std::move(spec));
    absl::MutexLock lock(&mu_);
    if (!submitted.ok()) return FinishLocked(submitted.status(), /*final=*/true);
    job_id_ = submitted->first;
    stream_ = std::move(submitted->second);
    stream_->SetListener(weak_from_this());
    // The events pushed before the listener was set (JobStarted, at least) were announced
    // to nobody.
    WriteNextLocked();
  }

  void TakeReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stream_ != nullptr && planner_.open()) planner_.Take(stream_->TakeReady());
  }

  // Starts the write of the planner's next message, or ends the call as it says.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    TakeReadyLocked();
    std::optional<MapResponsePlan> plan = planner_.Next();
    if (!plan.has_value()) return;
    if (plan->failure.has_value()) return EndCallLocked(*plan->failure, plan->final);
    message_ = EncodePlan(*plan);
    if (plan->finished.has_value()) {
      // OnWriteDone does not run for this write.
      return StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
    }
    // Never with a buffer hint: gRPC may hold a hinted first message, headers included, and
    // not complete its write until something else flushes the connection (seconds later).
    StartWrite(&message_, grpc::WriteOptions());
  }

  // Ends the call with `status` unless it has ended already. `final`: the job itself failed,
  // so resubmitting the same request cannot help; the client is told so.
  void FinishLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (planner_.Finish()) EndCallLocked(status, final);
  }

  // The call's Finish, once the planner has ended.
  void EndCallLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (final) context()->AddTrailingMetadata("gpool-final", "1");
    // A write still in flight completes (with ok = false if the call is broken); OnDone
    // follows both, on a gRPC thread.
    Finish(ToGrpcStatus(status));
  }

  // Runs `use` on the scheduler, unless Map calls were stopped (the scheduler may be gone).
  template <typename Use>
  void WithScheduler(Use use) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::ReaderMutexLock lock(&service_->map_mu_);
    if (!service_->map_calls_stopped_) use(*service_->scheduler_);
  }

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

namespace {

int MapMethodIndex() {
  return v1::MapRequest::descriptor()
      ->file()
      ->FindServiceByName("Coordinator")
      ->FindMethodByName("Map")
      ->index();
}

}  // namespace

CoordinatorService::CoordinatorService(Scheduler* scheduler, CompletionQueueLoop* loop,
                                       absl::Duration client_stall_timeout,
                                       const Clock* clock)
    : scheduler_(scheduler),
      loop_(loop),
      client_stall_timeout_(client_stall_timeout),
      clock_(clock != nullptr ? clock : RealTime()),
      map_method_(MapMethodIndex()) {
  // Map is served with RawMessage responses, which the generated WithAsyncMethod_Map would
  // fix to MapResponse. On the wire the call is the same server-streaming Map.
  MarkMethodAsync(map_method_);
}

void CoordinatorService::AcceptCalls() {
  AcceptHeartbeat();
  AcceptMap();
}

void CoordinatorService::AcceptMap() { MapCall::Accept(this); }

void CoordinatorService::ReleaseHeldEvents() {
  absl::ReaderMutexLock lock(&map_mu_);
  if (map_calls_stopped_) return;
  absl::MutexLock calls_lock(&map_calls_mu_);
  for (MapCall* call : map_calls_) call->ReleaseHeld();
}

int CoordinatorService::CancelStalledMapCalls(absl::Time now) {
  absl::ReaderMutexLock lock(&map_mu_);
  if (map_calls_stopped_) return 0;
  absl::MutexLock calls_lock(&map_calls_mu_);
  int cancelled = 0;
  for (MapCall* call : map_calls_) cancelled += call->CancelIfStalled(now, client_stall_timeout_);
  return cancelled;
}

void CoordinatorService::StopMapCalls() {
  absl::MutexLock lock(&map_mu_);
  // Holding map_mu_ as a writer also waits for the Map calls that are using the scheduler.
  map_calls_stopped_ = true;
  // A call in the set is alive: OnDone removes it before dropping gRPC's reference.
  absl::MutexLock calls_lock(&map_calls_mu_);
  for (MapCall* call : map_calls_) call->End();
}

grpc::Status CoordinatorService::GetClusterInfo(grpc::ServerContext* context,
                                                const v1::GetClusterInfoRequest* request,
                                                v1::ClusterInfo* response) {
  if (request->min_workers() > 0) {
    const absl::Duration wait = std::min(TimeUntil(context->deadline()), kMaxWorkerWait);
    const absl::Time give_up = absl::Now() + wait;
    // In slices, each holding mu_ as a reader: StopWorkerCalls (the scheduler is about to go)
    // then waits at most a slice, and a cancelled call stops waiting within one.
    while (true) {
      {
        absl::ReaderMutexLock lock(&mu_);
        if (stopped_) return Stopped();
        const absl::Duration slice =
            std::max(absl::ZeroDuration(), std::min(kWorkerWaitSlice, give_up - absl::Now()));
        if (scheduler_->AwaitWorkers(request->min_workers(), slice)) break;
      }
      if (context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call");
      }
      if (absl::Now() >= give_up) {
        return ToGrpcStatus(absl::DeadlineExceededError(
            absl::StrCat("fewer than ", request->min_workers(), " workers registered within ",
                         absl::FormatDuration(wait))));
      }
    }
  }
  absl::ReaderMutexLock lock(&mu_);
  if (stopped_) return Stopped();
  const ClusterSnapshot snapshot = scheduler_->Snapshot();
  response->set_total_slots(snapshot.total_slots);
  for (const WorkerSnapshot& worker : snapshot.workers) {
    v1::WorkerStatus* status = response->add_workers();
    status->mutable_ref()->set_worker_id(worker.worker_id);
    status->mutable_ref()->set_host(worker.host);
    status->mutable_ref()->set_pid(worker.pid);
    status->set_address(worker.address);
    status->set_slots(worker.slots);
    for (const std::string& function : worker.functions) status->add_functions(function);
    status->set_chunks_in_flight(worker.chunks_in_flight);
    status->set_chunks_done(worker.chunks_done);
    status->set_faults(worker.faults);
    status->set_last_heartbeat_age_ms(absl::ToInt64Milliseconds(worker.heartbeat_age));
    status->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(worker.heartbeat_interval));
    status->set_lease_timeout_ms(absl::ToInt64Milliseconds(worker.lease_timeout));
  }
  for (const JobSnapshot& job : snapshot.jobs) {
    v1::JobStatus* status = response->add_jobs();
    status->set_job_id(job.job_id);
    status->set_function(job.function);
    status->set_total_elements(static_cast<int64_t>(job.total_elements));
    status->set_num_chunks(static_cast<int64_t>(job.num_chunks));
    status->set_chunks_done(static_cast<int64_t>(job.chunks_done));
    status->set_elapsed_ms(absl::ToInt64Milliseconds(job.elapsed));
    ToProto(job.stats, status->mutable_stats());
  }
  return grpc::Status::OK;
}

}  // namespace gpool
