#include "worker/worker_service.h"

#include <utility>
#include <vector>

#include <grpcpp/support/method_handler.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/log.h"
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

WorkerService::WorkerService(ChunkExecutor* executor, int64_t pid, bool use_shared_values)
    : executor_(executor), pid_(pid), use_shared_values_(use_shared_values) {
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

bool WorkerService::WriteShared(ResultMode mode, const v1::SharedValues* shared_values,
                                const std::vector<ChunkOutput>& outputs,
                                const std::vector<uint64_t>& first_elements) const {
  if (!use_shared_values_ || mode != ResultMode::kValues || shared_values == nullptr) {
    return false;
  }
  absl::StatusOr<SharedValuesWriter> shared = SharedValuesWriter::Open(FromProto(*shared_values));
  if (!shared.ok()) {
    // The usual case for a client on another host or in another container.
    LogDebug(absl::StrCat("values travel in the response: ", shared.status().ToString()));
    return false;
  }
  std::vector<SharedValuesWriter::Span> spans;
  spans.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    spans.push_back({first_elements[i], outputs[i].values.data(), outputs[i].values.size()});
  }
  absl::Status written = shared->Write(spans);
  if (!written.ok()) {
    // FAILED_PRECONDITION: the job is over and the client has reused its buffer; the
    // coordinator drops this late result anyway.
    LogDebug(absl::StrCat("values travel in the response: ", written.ToString()));
    return false;
  }
  return true;
}

RawChunkResponse WorkerService::ToResponse(ChunkOutput output, bool values_shared) const {
  RawChunkResponse response;
  if (values_shared) {
    response.fields.set_values_shared(true);
    output.values.clear();
  }
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
  std::vector<ChunkOutput> outputs;
  outputs.push_back(*std::move(output));
  const bool values_shared =
      WriteShared(mode, request.has_shared_values() ? &request.shared_values() : nullptr,
                  outputs, {static_cast<uint64_t>(request.first_element())});
  stream->WriteLast(EncodeRunChunkResponse(ToResponse(std::move(outputs.front()), values_shared)),
                    grpc::WriteOptions());
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
  std::vector<ChunkOutput> outputs(inputs.size());
  CancellationCheck cancelled = CallCancellation(context);
  const ResultMode mode = FromProto(request.result_mode());
  absl::Status status = executor_->ExecuteBatch(
      request.function(), inputs, mode, cancelled.AsFunction(),
      [&outputs](size_t i, ChunkOutput output) { outputs[i] = std::move(output); });
  if (!status.ok()) return ToGrpcStatus(status);
  std::vector<uint64_t> first_elements;
  first_elements.reserve(outputs.size());
  for (const v1::ChunkTask& chunk : request.chunks()) {
    first_elements.push_back(static_cast<uint64_t>(chunk.first_element()));
  }
  // All the call's values at once: one token check, and one write per run of adjacent chunks.
  const bool values_shared =
      WriteShared(mode, request.has_shared_values() ? &request.shared_values() : nullptr,
                  outputs, first_elements);
  std::vector<RawChunkResponse> responses;
  responses.reserve(outputs.size());
  for (ChunkOutput& output : outputs) {
    responses.push_back(ToResponse(std::move(output), values_shared));
  }
  stream->WriteLast(EncodeRunChunksResponse(responses), grpc::WriteOptions());
  return grpc::Status::OK;
}

}  // namespace gpool
