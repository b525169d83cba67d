#include "server/map_call.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "rpc/grpc_status.h"
#include "rpc/message_limits.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "server/map_encoding.h"
#include "server/map_request.h"

namespace gpool {
namespace {

// The MapResponse of a plan that has one (not a failure); moves the values (no copy).
RawMessage EncodePlan(MapResponsePlan& plan, uint64_t coordinator_incarnation) {
  std::optional<v1::JobStarted> started;
  if (plan.started.has_value()) started = StartedOf(*plan.started, coordinator_incarnation);
  std::vector<RawChunkResult> results;
  results.reserve(plan.chunks.size());
  for (ChunkDelivery& chunk : plan.chunks) results.push_back(ToOutgoing(chunk));
  std::optional<v1::JobFinished> finished;
  if (plan.finished.has_value()) ToProto(*plan.finished, finished.emplace().mutable_stats());
  return EncodeMapResponse(started.has_value() ? &*started : nullptr, results,
                           finished.has_value() ? &*finished : nullptr);
}

// What one MapResponse may hold: its results within the 4 MiB message limit, less room for
// the job's start and end and for framing.
MapResponseLimits MapLimits() {
  MapResponseLimits limits;
  limits.max_result_bytes = kMaxMessageBytes - kMessageHeadroomBytes;
  return limits;
}

}  // namespace

void CoordinatorService::MapCall::Accept(CoordinatorService* service) {
  auto call = std::make_shared<MapCall>(service);
  call->self_ = call;
  service->RequestAsyncServerStreaming(service->map_method_, call->context(), &call->request_,
                                       call->writer(), service->loop_->cq(),
                                       service->loop_->cq(), call->RequestTag());
}

CoordinatorService::MapCall::MapCall(CoordinatorService* service)
    : LoopWriteCall(service->loop_), service_(service), planner_(service->clock_, MapLimits()) {}

void CoordinatorService::MapCall::End() {
  absl::MutexLock lock(&mu_);
  if (!planner_.open()) return;
  TakeReadyLocked();
  planner_.End(CoordinatorService::ShuttingDown());
  WriteNextLocked();
}

void CoordinatorService::MapCall::OnJobEvents() {
  absl::MutexLock lock(&mu_);
  WriteNextLocked();
}

void CoordinatorService::MapCall::ReleaseHeld() {
  absl::MutexLock lock(&mu_);
  if (planner_.ReleaseHeld()) WriteNextLocked();
}

bool CoordinatorService::MapCall::CancelIfStalled(absl::Time now, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!planner_.Stalled(now, timeout)) return false;
  LogWarning(absl::StrCat(job_id_.empty() ? "a job not yet started" : job_id_,
                          ": its client has not read its results for ",
                          absl::FormatDuration(timeout),
                          " (--client_stall_timeout); cancelling the call and the job"));
  context()->TryCancel();
  return true;
}

void CoordinatorService::MapCall::OnWriteDone(bool ok) {
  MapDelivery delivered;
  std::string job_id;
  {
    absl::MutexLock lock(&mu_);
    delivered = planner_.WriteDone();
    job_id = job_id_;
    // The next write starts before the scheduler hears of this one: it is what the client
    // waits for.
    if (ok) {
      WriteNextLocked();
    } else {
      FinishLocked(absl::CancelledError("the client went away"), /*final=*/false);
    }
  }
  if (!ok) {
    service_->WithScheduler([&](Scheduler& scheduler) {
      scheduler.CancelJob(job_id, absl::CancelledError("the client went away"));
    });
  } else if (delivered.chunks > 0) {
    service_->WithScheduler([&](Scheduler& scheduler) {
      scheduler.OnChunksDelivered(job_id, delivered.chunks, delivered.values);
    });
  }
}

void CoordinatorService::MapCall::OnCancel() {
  absl::Status reason =
      absl::CancelledError("the client cancelled the call or its deadline passed");
  std::string job_id;
  {
    absl::MutexLock lock(&mu_);
    if (planner_.stalled()) {
      reason =
          absl::CancelledError("the client stopped reading the results (--client_stall_timeout)");
    }
    FinishLocked(reason, /*final=*/false);
    job_id = job_id_;
  }
  if (job_id.empty()) return;
  service_->WithScheduler([&](Scheduler& scheduler) { scheduler.CancelJob(job_id, reason); });
}

void CoordinatorService::MapCall::OnDone() {
  {
    absl::MutexLock lock(&service_->map_calls_mu_);
    service_->map_calls_.erase(this);
  }
  // Deletes this call unless a notification holds it; then that notification does, and finds
  // it finished.
  std::shared_ptr<MapCall> self = std::move(self_);
}

void CoordinatorService::MapCall::OnRequest(bool ok) {
  if (!ok) {
    std::shared_ptr<MapCall> self = std::move(self_);
    return;
  }
  service_->AcceptMap();
  Submit(request_);
}

void CoordinatorService::MapCall::Submit(const v1::MapRequest& request) {
  // gRPC refuses requests over kMaxMessageBytes; this refuses those that fit it but not the
  // room a chunk of their list needs on its way to a worker.
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
    return FinishLocked(CoordinatorService::ShuttingDown(), /*final=*/false);
  }
  {
    absl::MutexLock calls_lock(&service_->map_calls_mu_);
    service_->map_calls_.insert(this);
  }
  spec->client = context()->peer();
  auto submitted = service_->scheduler_->SubmitJob(*std::move(spec));
  absl::MutexLock lock(&mu_);
  if (!submitted.ok()) {
    // A full coordinator may have room later: the same request is worth sending again.
    return FinishLocked(submitted.status(),
                        /*final=*/!absl::IsResourceExhausted(submitted.status()));
  }
  job_id_ = submitted->first;
  stream_ = std::move(submitted->second);
  stream_->SetListener(weak_from_this());
  // The events pushed before the listener was set (JobStarted, at least) were announced to
  // nobody.
  WriteNextLocked();
}

void CoordinatorService::MapCall::TakeReadyLocked() {
  if (stream_ != nullptr && planner_.open()) planner_.Take(stream_->TakeReady());
}

void CoordinatorService::MapCall::WriteNextLocked() {
  TakeReadyLocked();
  std::optional<MapResponsePlan> plan = planner_.Next();
  if (!plan.has_value()) return;
  if (plan->failure.has_value()) return EndCallLocked(*plan->failure, plan->final);
  message_ = EncodePlan(*plan, service_->incarnation_);
  if (plan->finished.has_value()) {
    // OnWriteDone does not run for this write.
    return StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
  }
  // Never with a buffer hint: gRPC may hold a hinted first message, headers included, and not
  // complete its write until something else flushes the connection (seconds later).
  StartWrite(&message_, grpc::WriteOptions());
}

void CoordinatorService::MapCall::FinishLocked(const absl::Status& status, bool final) {
  if (planner_.Finish()) EndCallLocked(status, final);
}

void CoordinatorService::MapCall::EndCallLocked(const absl::Status& status, bool final) {
  if (final) context()->AddTrailingMetadata("gpool-final", "1");
  // A write still in flight completes (with ok = false if the call is broken); OnDone follows
  // both, on a gRPC thread.
  Finish(ToGrpcStatus(status));
}

}  // namespace gpool
