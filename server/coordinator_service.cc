#include "server/coordinator_service.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rpc/grpc_status.h"
#include "rpc/proto_convert.h"
#include "server/map_call.h"
#include "server/map_stream_call.h"

namespace gpool {
namespace {

// GetClusterInfo never waits for workers longer than this, whatever the deadline.
constexpr absl::Duration kMaxWorkerWait = absl::Minutes(5);
// ... and looks whether the coordinator is stopping, or the call cancelled, this often.
constexpr absl::Duration kWorkerWaitSlice = absl::Milliseconds(100);

absl::Duration TimeUntil(std::chrono::system_clock::time_point deadline) {
  return absl::FromChrono(deadline - std::chrono::system_clock::now());
}

// 64 random bits, never 0 (0 means "not sent" on the wire). Not a secret: every answer shows
// it; it only has to differ from the previous coordinator's.
uint64_t NewIncarnation() {
  std::random_device device;
  uint64_t incarnation = 0;
  while (incarnation == 0) {
    incarnation = (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
  }
  return incarnation;
}
// At most this many warnings of refused registrations per reason (the status code: a
// malformed request or one naming the coordinator's own address, an address held by a live
// worker, --max_workers reached) a minute; then one line counts the rest.
constexpr int kRefusalWarningsPerPeriod = 10;
constexpr absl::Duration kRefusalWarningPeriod = absl::Minutes(1);

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
          response_.set_coordinator_incarnation(service_->incarnation_);
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
  for (const v1::FunctionSignature& function : request->functions()) {
    absl::StatusOr<FunctionSignature> signature = FromProto(function);
    if (!signature.ok()) {
      refusals_.Warn(absl::StatusCodeToString(signature.status().code()),
                     absl::StrCat("registration from ", context->peer(),
                                  " refused: ", signature.status().ToString()));
      return ToGrpcStatus(signature.status());
    }
    registration.functions.push_back(*std::move(signature));
  }
  registration.incarnation = request->incarnation();
  registration.max_chunks_per_call = request->max_chunks_per_call();
  // May ask the worker that holds the address whether it is alive first: this handler's
  // thread waits for that (at most about 1 s per round) with the scheduler's lock released;
  // mu_ is held as a reader only, so a shutdown waits for the answer.
  absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorkerAndWait(registration);
  if (!grant.ok()) {
    refusals_.Warn(absl::StatusCodeToString(grant.status().code()),
                   absl::StrCat("registration from ", context->peer(),
                                " refused: ", grant.status().ToString()));
    return ToGrpcStatus(grant.status());
  }
  response->set_worker_id(grant->worker_id);
  response->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant->heartbeat_interval));
  response->set_lease_timeout_ms(absl::ToInt64Milliseconds(grant->lease_timeout));
  response->set_coordinator_incarnation(incarnation_);
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

namespace {

int CoordinatorMethodIndex(const char* name) {
  return v1::MapRequest::descriptor()
      ->file()
      ->FindServiceByName("Coordinator")
      ->FindMethodByName(name)
      ->index();
}

}  // namespace

CoordinatorService::CoordinatorService(Scheduler* scheduler, CompletionQueueLoop* loop,
                                       absl::Duration client_stall_timeout,
                                       const Clock* clock, uint64_t incarnation)
    : scheduler_(scheduler),
      loop_(loop),
      client_stall_timeout_(client_stall_timeout),
      clock_(clock != nullptr ? clock : RealTime()),
      incarnation_(incarnation != 0 ? incarnation : NewIncarnation()),
      refusals_(clock_, kRefusalWarningsPerPeriod, kRefusalWarningPeriod),
      map_method_(CoordinatorMethodIndex("Map")),
      map_stream_method_(CoordinatorMethodIndex("MapStream")) {
  // Map is served with RawMessage responses, which the generated WithAsyncMethod_Map would
  // fix to MapResponse. On the wire the call is the same server-streaming Map.
  MarkMethodAsync(map_method_);
  MarkMethodAsync(map_stream_method_);
}

void CoordinatorService::AcceptCalls() {
  AcceptHeartbeat();
  AcceptMap();
  AcceptMapStream();
}

void CoordinatorService::AcceptMap() { MapCall::Accept(this); }

void CoordinatorService::AcceptMapStream() { MapStreamCall::Accept(this); }

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
  for (MapStreamCall* call : map_stream_calls_) {
    cancelled += call->CancelIfStalled(now, client_stall_timeout_);
  }
  return cancelled;
}

void CoordinatorService::StopMapCalls() {
  absl::MutexLock lock(&map_mu_);
  // Holding map_mu_ as a writer also waits for the Map calls that are using the scheduler.
  map_calls_stopped_ = true;
  // A call in the set is alive: OnDone removes it before dropping gRPC's reference.
  absl::MutexLock calls_lock(&map_calls_mu_);
  for (MapCall* call : map_calls_) call->End();
  for (MapStreamCall* call : map_stream_calls_) call->End();
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
  ToProto(scheduler_->Snapshot(), response);
  response->set_coordinator_incarnation(incarnation_);
  return grpc::Status::OK;
}

}  // namespace gpool
