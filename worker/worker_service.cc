#include "worker/worker_service.h"

#include "common/grpc_status.h"
#include "common/proto_convert.h"

namespace gpool {

bool WorkerService::AwaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &WorkerService::IdleLocked), timeout);
}

grpc::Status WorkerService::RunChunk(grpc::ServerContext* context,
                                     const v1::RunChunkRequest* request,
                                     v1::RunChunkResponse* response) {
  {
    absl::MutexLock lock(&mu_);
    ++calls_in_progress_;
  }
  struct Done {
    WorkerService* service;
    ~Done() {
      absl::MutexLock lock(&service->mu_);
      --service->calls_in_progress_;
    }
  } done{this};
  absl::StatusOr<Input> input = FromProto(request->input());
  if (!input.ok()) return ToGrpcStatus(input.status());
  const ResultMode mode = FromProto(request->result_mode());
  absl::StatusOr<ChunkOutput> output = executor_->Execute(
      request->function(), *input, mode, [context] { return context->IsCancelled(); });
  if (!output.ok()) return ToGrpcStatus(output.status());
  response->mutable_values()->Add(output->values.begin(), output->values.end());
  ToProto(output->sum, response->mutable_partial_sum());
  response->set_element_count(static_cast<int64_t>(output->count));
  response->set_partial_min(output->min);
  response->set_partial_max(output->max);
  response->set_pid(pid_);
  return grpc::Status::OK;
}

}  // namespace gpool
