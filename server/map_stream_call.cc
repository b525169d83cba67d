#include "server/map_stream_call.h"

#include <utility>

#include <grpc/support/time.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "rpc/grpc_status.h"
#include "rpc/message_limits.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "server/map_encoding.h"

namespace gpool {
namespace {

// Results in one MapResponse, as Map's (MapResponse's comment).
constexpr size_t kMaxResultsPerMessage = 4096;
// What a result takes in a message beyond its values (its other fields and framing).
constexpr int64_t kResultOverheadBytes = 256;
// Results waiting for the client beyond which the call reads no input and submits no
// segment: the scheduler's result window per job (server/scheduler.h), for the whole stream.
constexpr size_t kMaxBacklogResults = 16 * 1024;
constexpr int64_t kMaxBacklogValues = int64_t{4} << 20;

}  // namespace

void CoordinatorService::MapStreamCall::Accept(CoordinatorService* service) {
  auto call = std::make_shared<MapStreamCall>(service);
  call->self_ = call;
  service->RequestAsyncBidiStreaming(service->map_stream_method_, call->context(),
                                     call->stream(), service->loop_->cq(),
                                     service->loop_->cq(), call->RequestTag());
}

CoordinatorService::MapStreamCall::MapStreamCall(CoordinatorService* service)
    : LoopReadWriteCall(service->loop_), service_(service), input_(std::string()) {}

void CoordinatorService::MapStreamCall::OnRequest(bool ok) {
  if (!ok) {
    std::shared_ptr<MapStreamCall> self = std::move(self_);
    return;
  }
  service_->AcceptMapStream();
  {
    absl::ReaderMutexLock service_lock(&service_->map_mu_);
    if (service_->map_calls_stopped_) {
      absl::MutexLock lock(&mu_);
      return FinishLocked(CoordinatorService::ShuttingDown(), /*final=*/false);
    }
    absl::MutexLock calls_lock(&service_->map_calls_mu_);
    service_->map_stream_calls_.insert(this);
  }
  absl::MutexLock lock(&mu_);
  input_ = InputStream(context()->peer());
  ReadNextLocked();
}

void CoordinatorService::MapStreamCall::End() {
  absl::MutexLock lock(&mu_);
  // The scheduler goes away: its jobs with it, so nothing is cancelled one by one.
  segments_.clear();
  FinishLocked(CoordinatorService::ShuttingDown(), /*final=*/false);
  to_cancel_.clear();
}

bool CoordinatorService::MapStreamCall::CancelIfStalled(absl::Time now, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (finished_ || stall_cancelled_ || !writing_ || now - write_started_ < timeout) return false;
  // Once: OnCancel, which ends the call, comes later on the loop's thread.
  stall_cancelled_ = true;
  LogWarning(absl::StrCat("a MapStream job: its client has not read its results for ",
                          absl::FormatDuration(timeout),
                          " (--client_stall_timeout); cancelling the call and the job"));
  // OnCancel then ends the call and cancels the segments.
  context()->TryCancel();
  return true;
}

void CoordinatorService::MapStreamCall::OnJobEvents() {
  absl::MutexLock lock(&mu_);
  PostStepLocked();
}

void CoordinatorService::MapStreamCall::PostStepLocked() {
  if (step_posted_ || finished_) return;
  step_posted_ = true;
  alarm_ = std::make_unique<grpc::Alarm>();
  std::weak_ptr<MapStreamCall> weak = weak_from_this();
  // The alarm's tag holds the call alive until it has run.
  std::shared_ptr<MapStreamCall> self = shared_from_this();
  alarm_->Set(service_->loop_->cq(), gpr_now(GPR_CLOCK_MONOTONIC),
              service_->loop_->ArmOnce([self](bool) {
                {
                  absl::MutexLock lock(&self->mu_);
                  self->step_posted_ = false;
                }
                self->Step();
              }));
}

void CoordinatorService::MapStreamCall::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (finished_) return;
    absl::Status status = ok ? input_.Take(request_) : input_.EndOfInput();
    if (!status.ok()) {
      // A broken stream's input is refused as a whole: the job is cancelled with it.
      FinishLocked(status, /*final=*/true);
    }
  }
  Step();
}

void CoordinatorService::MapStreamCall::Step() {
  while (true) {
    std::vector<StreamSegment> ready;
    std::vector<std::string> cancel;
    {
      absl::MutexLock lock(&mu_);
      PumpLocked();
      // Results the client has not taken hold back the next segments, as a job's result
      // window holds back its chunks.
      if (!finished_ && !BacklogFullLocked()) ready = input_.TakeSegments();
      cancel = std::move(to_cancel_);
      to_cancel_.clear();
    }
    for (const std::string& job_id : cancel) {
      service_->WithScheduler([&](Scheduler& scheduler) {
        scheduler.CancelJob(job_id, absl::CancelledError("the job's stream ended"));
      });
    }
    if (ready.empty()) break;
    for (StreamSegment& segment : ready) {
      absl::StatusOr<std::pair<std::string, std::shared_ptr<JobStream>>> submitted =
          absl::UnavailableError("the coordinator is shutting down");
      service_->WithScheduler([&](Scheduler& scheduler) {
        submitted = scheduler.SubmitJob(std::move(segment.spec));
      });
      absl::MutexLock lock(&mu_);
      if (!submitted.ok()) {
        // A full coordinator may have room later: the same stream is worth sending again.
        FinishLocked(submitted.status(), /*final=*/!absl::IsResourceExhausted(
                                                      submitted.status()) &&
                                                  !absl::IsUnavailable(submitted.status()));
        continue;
      }
      if (finished_) {
        to_cancel_.push_back(submitted->first);
        continue;
      }
      submitted->second->SetListener(weak_from_this());
      segments_[segment.index] = Segment{submitted->first, std::move(submitted->second)};
    }
  }
  // (Each round pumps again: events pushed before a segment's listener was set were
  // announced to nobody.)
  absl::MutexLock lock(&mu_);
  WriteNextLocked();
  ReadNextLocked();
}

bool CoordinatorService::MapStreamCall::BacklogFullLocked() const {
  return results_.size() >= kMaxBacklogResults || backlog_values_ >= kMaxBacklogValues;
}

void CoordinatorService::MapStreamCall::PumpLocked() {
  if (finished_) return;
  for (auto it = segments_.begin(); it != segments_.end();) {
    const uint64_t index = it->first;
    const std::string job_id = it->second.job_id;
    bool erase = false;
    for (JobEvent& event : it->second.stream->TakeReady()) {
      switch (event.kind) {
        case JobEvent::Kind::kStarted:
          if (std::optional<JobPlanInfo> started = input_.SegmentStarted(index, event.plan)) {
            started_ = std::move(started);
          }
          break;
        case JobEvent::Kind::kChunk:
          input_.Translate(index, event.chunk);
          backlog_values_ += static_cast<int64_t>(event.chunk.values.size());
          results_.emplace_back(job_id, std::move(event.chunk));
          break;
        case JobEvent::Kind::kFinished:
          if (!event.status.ok()) {
            segments_.erase(it);
            FinishLocked(event.status, event.final);
            return;
          }
          input_.SegmentFinished(index, event.stats);
          erase = true;
          break;
      }
    }
    it = erase ? segments_.erase(it) : std::next(it);
  }
}

void CoordinatorService::MapStreamCall::WriteNextLocked() {
  if (writing_ || finished_) return;
  const bool done = input_.Done();
  if (!done && results_.empty() && (started_sent_ || !started_.has_value())) return;
  std::optional<v1::JobStarted> started;
  if (!started_sent_) {
    if (started_.has_value()) {
      started = StartedOf(*started_, service_->incarnation());
    } else if (done) {
      // Resumed with every chunk already held: no segment ran, so none started the job.
      started.emplace();
      started->set_job_id("resumed-complete");
      started->set_chunk_size(static_cast<int64_t>(input_.chunk_size()));
    } else {
      return;  // results follow their start
    }
    started_sent_ = true;
  }
  std::vector<RawChunkResult> results;
  in_write_.clear();
  int64_t bytes = 0;
  size_t taken = 0;
  const int64_t max_bytes = kMaxMessageBytes - kMessageHeadroomBytes;
  while (taken < results_.size() && taken < kMaxResultsPerMessage) {
    ChunkDelivery& chunk = results_[taken].second;
    const int64_t size = static_cast<int64_t>(chunk.values.bytes()) + kResultOverheadBytes;
    if (taken > 0 && bytes + size > max_bytes) break;
    bytes += size;
    std::pair<int64_t, int64_t>& delivered = in_write_[results_[taken].first];
    delivered.first += 1;
    delivered.second += static_cast<int64_t>(chunk.values.size());
    backlog_values_ -= static_cast<int64_t>(chunk.values.size());
    results.push_back(ToOutgoing(chunk));
    ++taken;
  }
  results_.erase(results_.begin(), results_.begin() + static_cast<std::ptrdiff_t>(taken));
  std::optional<v1::JobFinished> finished;
  if (done && results_.empty()) {
    finished.emplace();
    ToProto(input_.stats(), finished->mutable_stats());
    finished->set_total_elements(static_cast<int64_t>(input_.total_elements()));
  }
  message_ = EncodeMapResponse(started.has_value() ? &*started : nullptr, results,
                               finished.has_value() ? &*finished : nullptr);
  if (finished.has_value()) {
    finished_ = true;
    return StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
  }
  writing_ = true;
  write_started_ = service_->clock_->Now();
  StartWrite(&message_, grpc::WriteOptions());
}

void CoordinatorService::MapStreamCall::ReadNextLocked() {
  if (reading_ || finished_ || !input_.WantsInput() || BacklogFullLocked()) return;
  reading_ = true;
  StartRead(&request_);
}

void CoordinatorService::MapStreamCall::OnWriteDone(bool ok) {
  Deliveries delivered;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    delivered = std::move(in_write_);
    in_write_.clear();
    if (!ok) {
      FinishLocked(absl::CancelledError("the client went away"), /*final=*/false);
    } else {
      WriteNextLocked();
    }
  }
  if (ok) {
    for (const auto& delivery : delivered) {
      service_->WithScheduler([&](Scheduler& scheduler) {
        scheduler.OnChunksDelivered(delivery.first, delivery.second.first,
                                    delivery.second.second);
      });
    }
  }
  Step();
}

void CoordinatorService::MapStreamCall::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    FinishLocked(absl::CancelledError("the client cancelled the call or its deadline passed"),
                 /*final=*/false);
  }
  Step();
}

void CoordinatorService::MapStreamCall::OnDone() {
  {
    absl::MutexLock lock(&service_->map_calls_mu_);
    service_->map_stream_calls_.erase(this);
  }
  std::shared_ptr<MapStreamCall> self = std::move(self_);
}

void CoordinatorService::MapStreamCall::FinishLocked(const absl::Status& status, bool final) {
  if (finished_) return;
  finished_ = true;
  for (auto& [index, segment] : segments_) to_cancel_.push_back(segment.job_id);
  segments_.clear();
  results_.clear();
  backlog_values_ = 0;
  if (final) context()->AddTrailingMetadata("gpool-final", "1");
  // A read or write still pending completes (with ok = false); OnDone follows them.
  Finish(ToGrpcStatus(status));
}

}  // namespace gpool
