#include "worker/worker_service.h"

#include <utility>
#include <vector>

#include <grpcpp/support/method_handler.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/proto_convert.h"
#include "worker/cancellation_check.h"

namespace gpool {
namespace {

// How late a worker may notice that the coordinator cancelled a call (see CancellationCheck).
constexpr absl::Duration kCancellationCheckPeriod = absl::Milliseconds(1);

// The call's "was I cancelled?", asked of gRPC at most once per kCancellationCheckPeriod.
CancellationCheck CallCancellation(grpc::ServerContext* context) {
  static const RealClock* const clock = new RealClock();
  return CancellationCheck([context] { return context->IsCancelled(); },
                           kCancellationCheckPeriod, clock);
}

}  // namespace

bool WorkerService::AwaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &WorkerService::IdleLocked), timeout);
}

class WorkerService::CallInProgress {
 public:
  explicit CallInProgress(WorkerService* service) : service_(service) {
    absl::MutexLock lock(&service_->mu_);
    ++service_->calls_in_progress_;
  }
  ~CallInProgress() {
    absl::MutexLock lock(&service_->mu_);
    --service_->calls_in_progress_;
  }
  CallInProgress(const CallInProgress&) = delete;
  CallInProgress& operator=(const CallInProgress&) = delete;

 private:
  WorkerService* const service_;
};

WorkerService::WorkerService(ChunkExecutor* executor, int64_t pid)
    : executor_(executor), pid_(pid) {
  // gRPC's "streamed unary" handlers are the one way its sync API lets a service replace
  // the handler (and message types) of a generated method; on the wire the calls are the same
  // unary RunChunk and RunChunks.
  const google::protobuf::ServiceDescriptor* service =
      v1::RunChunkRequest::descriptor()->file()->FindServiceByName("Worker");
  MarkMethodStreamed(
      service->FindMethodByName("RunChunk")->index(),
      new grpc::internal::StreamedUnaryHandler<v1::RunChunkRequest, RawMessage>(
          [this](grpc::ServerContext* context,
                 grpc::ServerUnaryStreamer<v1::RunChunkRequest, RawMessage>* stream) {
            return ServeRunChunk(context, stream);
          }));
  MarkMethodStreamed(
      service->FindMethodByName("RunChunks")->index(),
      new grpc::internal::StreamedUnaryHandler<v1::RunChunksRequest, RawMessage>(
          [this](grpc::ServerContext* context,
                 grpc::ServerUnaryStreamer<v1::RunChunksRequest, RawMessage>* stream) {
            return ServeRunChunks(context, stream);
          }));
}

RawChunkResponse WorkerService::ToResponse(ChunkOutput output) const {
  RawChunkResponse response;
  // The values stay in the function's own buffer until gRPC has sent them.
  response.values = EncodedValues::Own(std::move(output.values));
  ToProto(output.sum, response.fields.mutable_partial_sum());
  response.fields.set_element_count(static_cast<int64_t>(output.count));
  response.fields.set_partial_min(output.min);
  response.fields.set_partial_max(output.max);
  response.fields.set_pid(pid_);
  return response;
}

grpc::Status WorkerService::ServeRunChunk(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::RunChunkRequest, RawMessage>* stream) {
  CallInProgress in_progress(this);
  v1::RunChunkRequest request;
  if (!stream->Read(&request)) {
    return ToGrpcStatus(absl::InvalidArgumentError("the RunChunk call carried no request"));
  }
  absl::StatusOr<Input> input = FromProto(request.input());
  if (!input.ok()) return ToGrpcStatus(input.status());
  const ResultMode mode = FromProto(request.result_mode());
  CancellationCheck cancelled = CallCancellation(context);
  absl::StatusOr<ChunkOutput> output =
      executor_->Execute(request.function(), *input, mode, cancelled.AsFunction());
  if (!output.ok()) return ToGrpcStatus(output.status());
  stream->Write(EncodeRunChunkResponse(ToResponse(*std::move(output))));
  return grpc::Status::OK;
}

grpc::Status WorkerService::ServeRunChunks(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::RunChunksRequest, RawMessage>* stream) {
  CallInProgress in_progress(this);
  v1::RunChunksRequest request;
  if (!stream->Read(&request)) {
    return ToGrpcStatus(absl::InvalidArgumentError("the RunChunks call carried no request"));
  }
  std::vector<Input> inputs;
  inputs.reserve(request.chunks_size());
  for (const v1::ChunkTask& chunk : request.chunks()) {
    absl::StatusOr<Input> input = FromProto(chunk.input());
    if (!input.ok()) {
      return ToGrpcStatus(absl::Status(
          input.status().code(),
          absl::StrCat("chunk ", chunk.chunk_index(), ": ", input.status().message())));
    }
    inputs.push_back(*std::move(input));
  }
  std::vector<RawChunkResponse> responses(inputs.size());
  CancellationCheck cancelled = CallCancellation(context);
  absl::Status status = executor_->ExecuteBatch(
      request.function(), inputs, FromProto(request.result_mode()), cancelled.AsFunction(),
      [this, &responses](size_t i, ChunkOutput output) {
        responses[i] = ToResponse(std::move(output));
      });
  if (!status.ok()) return ToGrpcStatus(status);
  stream->Write(EncodeRunChunksResponse(responses));
  return grpc::Status::OK;
}

}  // namespace gpool
