#include "server/coordinator_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/method_handler.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/proto_convert.h"

namespace gpool {
namespace {

// How often a Map stream checks whether its client went away while no event arrives.
constexpr absl::Duration kCancelPollInterval = absl::Milliseconds(100);
// Bounds on one batched MapResponse: well under the 64 MiB message limit, and small enough
// that the client starts placing values while the next message is on the wire.
constexpr int64_t kMaxValuesPerMessage = int64_t{1} << 20;
constexpr int64_t kMaxChunksPerMessage = 4096;
// GetClusterInfo never waits for workers longer than this, whatever the deadline.
constexpr absl::Duration kMaxWorkerWait = absl::Minutes(5);

void ToProto(const JobStats& stats, v1::JobStats* proto) {
  proto->set_retries(stats.retries);
  proto->set_workers_lost(stats.workers_lost);
  proto->set_backups(stats.backups);
  proto->set_duplicates_dropped(stats.duplicates_dropped);
}

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

absl::Duration TimeUntil(std::chrono::system_clock::time_point deadline) {
  return absl::FromChrono(deadline - std::chrono::system_clock::now());
}

absl::StatusOr<HeartbeatReply> ApplyBeat(Scheduler& scheduler, const v1::HeartbeatRequest& beat) {
  return scheduler.Heartbeat(beat.worker_id(), beat.incarnation(),
                             absl::Milliseconds(beat.heartbeat_interval_ms()));
}

void ToProto(const HeartbeatGrant& grant, v1::HeartbeatResponse* response) {
  response->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant.interval));
  response->set_lease_timeout_ms(absl::ToInt64Milliseconds(grant.lease_timeout));
}

}  // namespace

// One StreamHeartbeats call: applies every beat it reads as a Heartbeat, and ends the call at
// the first beat the scheduler rejects (NOT_FOUND: the worker must register again), with OK
// and the new grant at the first beat whose interval differs from the grant (the only way to
// answer on a client-streaming call), when the worker half-closes, when the call is
// cancelled, or at End(). gRPC runs at most one reaction of a call at a time, but End() comes
// from another thread, hence mu_. Deletes itself once gRPC is done with the call.
//
// Lock order: CoordinatorService::mu_ before HeartbeatStream::mu_.
class CoordinatorService::HeartbeatStream final
    : public grpc::ServerReadReactor<v1::HeartbeatRequest> {
 public:
  HeartbeatStream(CoordinatorService* service, v1::HeartbeatResponse* response)
      : service_(service), response_(response) {
    // gRPC defers the operations started here until the constructor has returned, so they
    // cannot run a reaction under the lock.
    absl::MutexLock service_lock(&service_->mu_);
    if (service_->stopped_) {
      finished_ = true;
      Finish(Stopped());
      return;
    }
    service_->streams_.insert(this);
    StartRead(&beat_);
  }

  // Ends the call with `status` unless it has ended already. Once End returns, this call no
  // longer uses the scheduler.
  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    // !ok: the worker half-closed (its call ends normally) or the call was cancelled (then
    // no status reaches the worker anyway).
    if (!ok) return FinishLocked(grpc::Status::OK);
    absl::StatusOr<HeartbeatReply> reply = ApplyBeat(*service_->scheduler_, beat_);
    if (!reply.ok()) return FinishLocked(ToGrpcStatus(reply.status()));
    if (reply->regrant) {
      // The beat counted; the worker opens a new call at the granted interval. Ending the
      // call is a rare event (the cluster changed size by a step), not a per-beat cost.
      ToProto(reply->grant, response_);
      return FinishLocked(grpc::Status::OK);
    }
    StartRead(&beat_);
  }

  void OnDone() override {
    {
      absl::MutexLock service_lock(&service_->mu_);
      service_->streams_.erase(this);
    }
    delete this;
  }

 private:
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    // A pending read then completes with ok = false; OnDone follows on a gRPC thread, never
    // inline here (End holds the service's lock, which OnDone takes).
    Finish(status);
  }

  CoordinatorService* const service_;
  v1::HeartbeatResponse* const response_;  // Sent when the call ends with OK.
  v1::HeartbeatRequest beat_;  // Written by gRPC while a read is pending.
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void CoordinatorService::StopWorkerCalls() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  // Holding mu_ as a writer also waits for the unary methods that are using the scheduler.
  for (HeartbeatStream* stream : streams_) stream->End(Stopped());
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
  registration.max_chunks_per_call = std::max(1, request->max_chunks_per_call());
  absl::StatusOr<RegistrationGrant> grant = scheduler_->RegisterWorker(registration);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  response->set_worker_id(grant->worker_id);
  response->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant->heartbeat_interval));
  response->set_lease_timeout_ms(absl::ToInt64Milliseconds(grant->lease_timeout));
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* CoordinatorService::Heartbeat(grpc::CallbackServerContext* context,
                                                        const v1::HeartbeatRequest* request,
                                                        v1::HeartbeatResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::ReaderMutexLock lock(&mu_);
  if (stopped_) {
    reactor->Finish(Stopped());
    return reactor;
  }
  absl::StatusOr<HeartbeatReply> reply = ApplyBeat(*scheduler_, *request);
  if (reply.ok()) ToProto(reply->grant, response);
  reactor->Finish(ToGrpcStatus(reply.status()));
  return reactor;
}

grpc::ServerReadReactor<v1::HeartbeatRequest>* CoordinatorService::StreamHeartbeats(
    grpc::CallbackServerContext* context, v1::HeartbeatResponse* response) {
  return new HeartbeatStream(this, response);
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

CoordinatorService::CoordinatorService(Scheduler* scheduler) : scheduler_(scheduler) {
  // Map is served by a handler whose responses are RawMessage. gRPC's "split streaming"
  // handler is the one way its sync API lets a service replace the handler (and message
  // types) of a generated method; on the wire the call is the same server-streaming Map.
  const int map_index = v1::MapRequest::descriptor()
                            ->file()
                            ->FindServiceByName("Coordinator")
                            ->FindMethodByName("Map")
                            ->index();
  MarkMethodStreamed(
      map_index, new grpc::internal::SplitServerStreamingHandler<v1::MapRequest, RawMessage>(
                     [this](grpc::ServerContext* context,
                            grpc::ServerSplitStreamer<v1::MapRequest, RawMessage>* stream) {
                       return ServeMap(context, stream);
                     }));
}

grpc::Status CoordinatorService::ServeMap(
    grpc::ServerContext* context, grpc::ServerSplitStreamer<v1::MapRequest, RawMessage>* writer) {
  v1::MapRequest map_request;
  if (!writer->Read(&map_request)) {
    return ToGrpcStatus(absl::InvalidArgumentError("the Map call carried no request"));
  }
  const v1::MapRequest* request = &map_request;
  // The job's own failure: resubmitting the same request cannot help.
  auto final_failure = [context](const absl::Status& status) {
    context->AddTrailingMetadata("gpool-final", "1");
    return ToGrpcStatus(status);
  };
  JobSpec spec;
  spec.function = request->function();
  if (!request->has_input()) {
    return final_failure(
        absl::InvalidArgumentError("the request has no input: set a range or a list"));
  }
  absl::StatusOr<Input> input = FromProto(request->input());
  if (!input.ok()) return final_failure(input.status());
  spec.input = std::make_shared<const Input>(std::move(*input));
  spec.chunk_size = request->chunk_size();
  spec.max_workers = request->max_workers();
  spec.mode = FromProto(request->result_mode());
  if (request->has_shared_values()) spec.shared_values = FromProto(request->shared_values());
  for (const v1::ChunkRange& range : request->completed_chunks()) {
    if (range.first() < 0 || range.last() < 0) {
      return final_failure(absl::InvalidArgumentError("completed chunk indices must be >= 0"));
    }
    spec.completed_chunks.emplace_back(range.first(), range.last());
  }

  auto submitted = scheduler_->SubmitJob(std::move(spec));
  if (!submitted.ok()) return final_failure(submitted.status());
  const std::string job_id = submitted->first;
  std::shared_ptr<JobStream> stream = submitted->second;

  const bool batch_results = request->batch_results();
  while (true) {
    if (context->IsCancelled()) {
      const absl::Status reason =
          absl::CancelledError("the client cancelled the call or its deadline passed");
      scheduler_->CancelJob(job_id, reason);
      return ToGrpcStatus(reason);
    }
    std::vector<JobEvent> events = stream->TakeAll(kCancelPollInterval);
    // Chunk results ready together travel together (when the client understands batches),
    // up to a bounded message size.
    std::vector<RawChunkResult> batch;
    int64_t batch_values = 0;         // in the message: what bounds its size
    int64_t batch_window_values = 0;  // also those in the client's shared buffer
    // Write blocks while the client's flow-control window is full: that back-pressure
    // reaches the scheduler through its result window.
    auto write = [&](const RawMessage& message, grpc::WriteOptions options = {}) {
      if (writer->Write(message, options)) return true;
      scheduler_->CancelJob(job_id, absl::CancelledError("the client went away"));
      return false;
    };
    // `last` when the job's end follows at once: the results then leave in the same write as
    // JobFinished and the call's status, a wakeup less for the client.
    auto flush = [&](bool last = false) {
      if (batch.empty()) return true;
      grpc::WriteOptions options;
      if (last) options.set_buffer_hint();
      if (!write(EncodeMapResponse(batch, /*batched=*/true), options)) return false;
      scheduler_->OnChunksDelivered(job_id, static_cast<int64_t>(batch.size()),
                                    batch_window_values);
      batch.clear();
      batch_values = 0;
      batch_window_values = 0;
      return true;
    };
    for (JobEvent& event : events) {
      switch (event.kind) {
        case JobEvent::Kind::kStarted: {
          v1::MapResponse response;
          v1::JobStarted* started = response.mutable_started();
          started->set_job_id(event.plan.job_id);
          started->set_total_elements(static_cast<int64_t>(event.plan.total_elements));
          started->set_chunk_size(static_cast<int64_t>(event.plan.chunk_size));
          started->set_num_chunks(static_cast<int64_t>(event.plan.num_chunks));
          started->set_cluster_slots(event.plan.cluster_slots);
          started->set_job_slots(event.plan.job_slots);
          if (!write(EncodeMapResponse(response))) {
            return ToGrpcStatus(absl::CancelledError("the client went away"));
          }
          break;
        }
        case JobEvent::Kind::kChunk: {
          const int64_t values = static_cast<int64_t>(event.chunk.values.size());
          // Values written to the client's shared buffer count in the result window until
          // the client has them, as those relayed here do: they hold memory on its host.
          const int64_t window_values =
              event.chunk.values_shared ? static_cast<int64_t>(event.chunk.element_count) : values;
          if (!batch_results) {
            if (!write(EncodeMapResponse({ToOutgoing(event.chunk)}, /*batched=*/false))) {
              return ToGrpcStatus(absl::CancelledError("the client went away"));
            }
            scheduler_->OnChunksDelivered(job_id, 1, window_values);
            break;
          }
          if (!batch.empty() && (batch_values + values > kMaxValuesPerMessage ||
                                 static_cast<int64_t>(batch.size()) >= kMaxChunksPerMessage)) {
            if (!flush()) return ToGrpcStatus(absl::CancelledError("the client went away"));
          }
          batch.push_back(ToOutgoing(event.chunk));
          batch_values += values;
          batch_window_values += window_values;
          break;
        }
        case JobEvent::Kind::kFinished: {
          if (!flush(/*last=*/true)) {
            return ToGrpcStatus(absl::CancelledError("the client went away"));
          }
          if (!event.status.ok()) {
            return event.final ? final_failure(event.status) : ToGrpcStatus(event.status);
          }
          v1::MapResponse response;
          ToProto(event.stats, response.mutable_finished()->mutable_stats());
          writer->WriteLast(EncodeMapResponse(response), grpc::WriteOptions());
          return grpc::Status::OK;
        }
      }
    }
    if (!flush()) return ToGrpcStatus(absl::CancelledError("the client went away"));
  }
}

grpc::Status CoordinatorService::GetClusterInfo(grpc::ServerContext* context,
                                                const v1::GetClusterInfoRequest* request,
                                                v1::ClusterInfo* response) {
  if (request->min_workers() > 0) {
    const absl::Duration wait = std::min(TimeUntil(context->deadline()), kMaxWorkerWait);
    if (!scheduler_->AwaitWorkers(request->min_workers(), wait)) {
      return ToGrpcStatus(absl::DeadlineExceededError(
          absl::StrCat("fewer than ", request->min_workers(), " workers registered within ",
                       absl::FormatDuration(wait))));
    }
  }
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
