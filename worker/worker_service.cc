#include "worker/worker_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/proto_convert.h"
#include "worker/cancellation_check.h"

namespace gpool {
namespace {

// How late a worker may notice that the coordinator cancelled a call (see CancellationCheck).
constexpr absl::Duration kCancellationCheckPeriod = absl::Milliseconds(1);

const Clock* SystemClock() {
  static const RealClock* const clock = new RealClock();
  return clock;
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

void WorkerService::ToResponse(ChunkOutput output, v1::RunChunkResponse* response) const {
  response->mutable_values()->Add(output.values.begin(), output.values.end());
  ToProto(output.sum, response->mutable_partial_sum());
  response->set_element_count(static_cast<int64_t>(output.count));
  response->set_partial_min(output.min);
  response->set_partial_max(output.max);
  response->set_pid(pid_);
}

grpc::Status WorkerService::RunChunk(grpc::ServerContext* context,
                                     const v1::RunChunkRequest* request,
                                     v1::RunChunkResponse* response) {
  CallInProgress in_progress(this);
  absl::StatusOr<Input> input = FromProto(request->input());
  if (!input.ok()) return ToGrpcStatus(input.status());
  const ResultMode mode = FromProto(request->result_mode());
  CancellationCheck cancelled([context] { return context->IsCancelled(); },
                              kCancellationCheckPeriod, SystemClock());
  absl::StatusOr<ChunkOutput> output =
      executor_->Execute(request->function(), *input, mode, cancelled.AsFunction());
  if (!output.ok()) return ToGrpcStatus(output.status());
  ToResponse(*std::move(output), response);
  return grpc::Status::OK;
}

grpc::Status WorkerService::RunChunks(grpc::ServerContext* context,
                                      const v1::RunChunksRequest* request,
                                      v1::RunChunksResponse* response) {
  CallInProgress in_progress(this);
  std::vector<Input> inputs;
  inputs.reserve(request->chunks_size());
  for (const v1::ChunkTask& chunk : request->chunks()) {
    absl::StatusOr<Input> input = FromProto(chunk.input());
    if (!input.ok()) {
      return ToGrpcStatus(absl::Status(
          input.status().code(),
          absl::StrCat("chunk ", chunk.chunk_index(), ": ", input.status().message())));
    }
    inputs.push_back(*std::move(input));
  }
  response->mutable_results()->Reserve(request->chunks_size());
  for (int i = 0; i < request->chunks_size(); ++i) response->add_results();
  CancellationCheck cancelled([context] { return context->IsCancelled(); },
                              kCancellationCheckPeriod, SystemClock());
  absl::Status status = executor_->ExecuteBatch(
      request->function(), inputs, FromProto(request->result_mode()), cancelled.AsFunction(),
      [this, response](size_t i, ChunkOutput output) {
        ToResponse(std::move(output), response->mutable_results(static_cast<int>(i)));
      });
  return ToGrpcStatus(status);
}

}  // namespace gpool
