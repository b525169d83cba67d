#include "server/coordinator_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
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

namespace gpool {
namespace {

// Bounds on one MapResponse: its bytes within the 4 MiB message limit (kMaxMessageBytes),
// less room for the job's start and end and for framing; and few enough results that the
// client starts placing values while the next message is on the wire.
constexpr int64_t kMaxResultBytesPerMessage = kMaxMessageBytes - kMessageHeadroomBytes;
constexpr int64_t kMaxChunksPerMessage = 4096;
// What a ChunkResult takes besides its values and its worker's id and host: seven varints of
// at most 10 bytes, an Int128 of two, the WorkerRef's pid, tags, lengths and the repeated
// field's framing. Counted high: a bound, not an estimate.
constexpr int64_t kResultOverheadBytes = 192;
// Values of tail results a Map call may hold back for the job's end (MapCall::HoldingLocked):
// enough for a short job's results, too few to matter to the result window.
constexpr int64_t kMaxHeldValues = int64_t{1} << 16;
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

// The values a delivered chunk held in its job's result window: those relayed here, or those
// in the client's shared buffer, which hold memory on its host until the client has them.
int64_t WindowValues(const ChunkDelivery& chunk) {
  return static_cast<int64_t>(chunk.values_shared ? chunk.element_count : chunk.values.size());
}

// At least the bytes `chunk`'s ChunkResult takes in a MapResponse (values as sfixed64).
int64_t ResultBytesBound(const ChunkDelivery& chunk) {
  return static_cast<int64_t>(chunk.values.size()) * 8 +
         static_cast<int64_t>(chunk.worker_id.size() + chunk.worker_host.size()) +
         kResultOverheadBytes;
}

// Chunk results to send in one MapResponse, up to a bounded message size.
struct OutgoingBatch {
  std::vector<RawChunkResult> chunks;
  int64_t bytes = 0;          // a bound on the results' share of the message
  int64_t window_values = 0;  // also those in the client's shared buffer

  // Takes the chunk's result (moving its values) unless the message is full. A result alone
  // always fits: its chunk holds at most kMaxValuesChunkSize values (2 MiB).
  bool Add(ChunkDelivery& chunk) {
    const int64_t chunk_bytes = ResultBytesBound(chunk);
    if (!chunks.empty() && (bytes + chunk_bytes > kMaxResultBytesPerMessage ||
                            static_cast<int64_t>(chunks.size()) >= kMaxChunksPerMessage)) {
      return false;
    }
    window_values += WindowValues(chunk);
    chunks.push_back(ToOutgoing(chunk));
    bytes += chunk_bytes;
    return true;
  }
};

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

absl::Status ShuttingDown() {
  return absl::UnavailableError("the coordinator is shutting down");
}

absl::Duration TimeUntil(std::chrono::system_clock::time_point deadline) {
  return absl::FromChrono(deadline - std::chrono::system_clock::now());
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
// write at a time. Events are taken from the job's stream whenever no write is in flight, so
// chunk results that arrive while one is on its way leave together in the next. A write
// completes once the client's flow-control window took it, and only then is the scheduler
// told the results were delivered: a slow client pauses the job's dispatch through its result
// window instead of growing the coordinator's memory.
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
      : LoopWriteCall(service->loop_), service_(service) {}

  // For StopMapCalls (which holds map_mu_ and map_calls_mu_): the call ends with UNAVAILABLE
  // after the events already queued, and takes no more from the job's stream.
  void End() {
    absl::MutexLock lock(&mu_);
    if (finished_ || stopping_) return;
    TakeReadyLocked();
    stopping_ = true;
    JobEvent end;
    end.kind = JobEvent::Kind::kFinished;
    end.status = ShuttingDown();
    end.final = false;
    events_.push_back(std::move(end));
    WriteNextLocked();
  }

  void OnJobEvents() override {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  // For ReleaseHeldEvents (which holds map_calls_mu_): what WriteNextLocked holds back
  // leaves now, and nothing is held from now on.
  void ReleaseHeld() {
    absl::MutexLock lock(&mu_);
    if (hold_released_) return;
    hold_released_ = true;
    WriteNextLocked();
  }

  // For CancelStalledMapCalls (which holds map_calls_mu_): cancels the call when its write
  // has waited `timeout` for the client by `now`. OnCancel then ends the call and the job.
  // True if it cancelled the call.
  bool CancelIfStalled(absl::Time now, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!write_in_flight_ || finished_ || stalled_ || now - write_started_ < timeout) {
      return false;
    }
    stalled_ = true;
    LogWarning(absl::StrCat(job_id_.empty() ? "a job not yet started" : job_id_,
                            ": its client has not read its results for ",
                            absl::FormatDuration(timeout),
                            " (--client_stall_timeout); cancelling the call and the job"));
    context()->TryCancel();
    return true;
  }

  void OnWriteDone(bool ok) override {
    int64_t chunks = 0;
    int64_t values = 0;
    std::string job_id;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      std::swap(chunks, writing_chunks_);
      std::swap(values, writing_values_);
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
    } else if (chunks > 0) {
      WithScheduler([&](Scheduler& scheduler) {
        scheduler.OnChunksDelivered(job_id, chunks, values);
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
      if (stalled_) {
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
    JobSpec spec;
    absl::Status invalid = ToJobSpec(request, &spec);
    if (!invalid.ok()) {
      absl::MutexLock lock(&mu_);
      return FinishLocked(invalid, /*final=*/true);
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
    auto submitted = service_->scheduler_->SubmitJob(std::move(spec));
    absl::MutexLock lock(&mu_);
    if (!submitted.ok()) return FinishLocked(submitted.status(), /*final=*/true);
    job_id_ = submitted->first;
    stream_ = std::move(submitted->second);
    stream_->SetListener(weak_from_this());
    // The events pushed before the listener was set (JobStarted, at least) were announced
    // to nobody.
    WriteNextLocked();
  }

  // INVALID_ARGUMENT for a request that cannot become a job.
  static absl::Status ToJobSpec(const v1::MapRequest& request, JobSpec* spec) {
    spec->function = request.function();
    if (!request.has_input()) {
      return absl::InvalidArgumentError("the request has no input: set a range or a list");
    }
    absl::StatusOr<Input> input = FromProto(request.input());
    if (!input.ok()) return input.status();
    spec->input = std::make_shared<const Input>(std::move(*input));
    spec->chunk_size = request.chunk_size();
    spec->max_workers = request.max_workers();
    // proto3 keeps an enum value this file does not name; guessing a mode for it would
    // answer a question the client did not ask.
    if (!v1::ResultMode_IsValid(request.result_mode())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MapRequest.result_mode is ", static_cast<int>(request.result_mode()),
          ", which is not a ResultMode; use RESULT_MODE_VALUES (1) or RESULT_MODE_SUM (2), or "
          "leave it unset for values"));
    }
    spec->mode = FromProto(request.result_mode());
    if (request.has_shared_values()) spec->shared_values = FromProto(request.shared_values());
    for (const v1::ChunkRange& range : request.completed_chunks()) {
      if (range.first() < 0 || range.last() < 0) {
        return absl::InvalidArgumentError("completed chunk indices must be >= 0");
      }
      spec->completed_chunks.emplace_back(range.first(), range.last());
    }
    return absl::OkStatus();
  }

  void TakeReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stream_ == nullptr || stopping_) return;
    for (JobEvent& event : stream_->TakeReady()) events_.push_back(std::move(event));
  }

  // Starts the next write, unless one is in flight, the call is finished, or nothing waits.
  // Everything ready leaves in one MapResponse, the job's start and end included. Until
  // ReleaseHeld, a JobStarted with nothing behind it waits for the first results, and results
  // of the job's tail (ChunkDelivery::tail) wait for its end, up to kMaxHeldValues: a short
  // job's start, results and end then take one message.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || write_in_flight_) return;
    TakeReadyLocked();
    if (events_.empty() || HoldingLocked()) return;
    std::optional<v1::JobStarted> started;
    OutgoingBatch batch;
    while (!events_.empty()) {
      JobEvent& event = events_.front();
      if (event.kind == JobEvent::Kind::kStarted) {
        // One start per message, before its results.
        if (started.has_value() || !batch.chunks.empty()) break;
        started = StartedOf(event.plan);
        events_.pop_front();
        continue;
      }
      if (event.kind == JobEvent::Kind::kChunk) {
        if (!batch.Add(event.chunk)) break;
        events_.pop_front();
        continue;
      }
      // kFinished. A failure ends the call with its status, after what was taken.
      if (!event.status.ok()) {
        if (started.has_value() || !batch.chunks.empty()) break;
        const JobEvent failed = std::move(event);
        events_.clear();
        return FinishLocked(failed.status, failed.final);
      }
      v1::JobFinished finished;
      ToProto(event.stats, finished.mutable_stats());
      events_.clear();
      message_ = EncodeMapResponse(started.has_value() ? &*started : nullptr, batch.chunks,
                                   &finished);
      finished_ = true;
      // JobFinished leaves with the call's status, in one write. The job is over: nothing
      // waits for these results' delivery (and OnWriteDone does not run for this write).
      return StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
    }
    message_ =
        EncodeMapResponse(started.has_value() ? &*started : nullptr, batch.chunks, nullptr);
    // Never with a buffer hint: gRPC may hold a hinted first message, headers included, and
    // not complete its write until something else flushes the connection (seconds later).
    StartWriteLocked(static_cast<int64_t>(batch.chunks.size()), batch.window_values,
                     grpc::WriteOptions());
  }

  bool HoldingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (hold_released_) return false;
    const JobEvent& last = events_.back();
    if (last.kind == JobEvent::Kind::kStarted) return true;
    if (last.kind != JobEvent::Kind::kChunk || !last.chunk.tail) return false;
    int64_t held_values = 0;
    for (const JobEvent& event : events_) {
      if (event.kind != JobEvent::Kind::kChunk) continue;
      held_values += WindowValues(event.chunk);
      if (held_values > kMaxHeldValues) return false;
    }
    return true;
  }

  // `chunks` results holding `values` values in the job's result window (WindowValues).
  void StartWriteLocked(int64_t chunks, int64_t values, grpc::WriteOptions options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    write_in_flight_ = true;
    write_started_ = absl::Now();
    writing_chunks_ = chunks;
    writing_values_ = values;
    StartWrite(&message_, options);
  }

  // Ends the call with `status` unless it has ended already. `final`: the job itself failed,
  // so resubmitting the same request cannot help; the client is told so.
  void FinishLocked(const absl::Status& status, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    events_.clear();
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
  // Taken from the stream and not written yet.
  std::deque<JobEvent> events_ ABSL_GUARDED_BY(mu_);
  // The message gRPC is sending: it must live until the write completes.
  RawMessage message_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // When the write in flight started: how long it has waited for the client.
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  // CancelIfStalled cancelled the call.
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  // The chunk results and values in the write in flight, delivered once it completes.
  int64_t writing_chunks_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t writing_values_ ABSL_GUARDED_BY(mu_) = 0;
  // Finish (or StartWriteAndFinish) was called: no operation may start any more.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // End was called: the call ends once events_ is written.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // ReleaseHeld was called: WriteNextLocked holds nothing back any more.
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
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
                                       absl::Duration client_stall_timeout)
    : scheduler_(scheduler),
      loop_(loop),
      client_stall_timeout_(client_stall_timeout),
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
  ToProto(scheduler_->Snapshot(), response);
  return grpc::Status::OK;
}

}  // namespace gpool
