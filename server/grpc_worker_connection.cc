#include "server/grpc_worker_connection.h"

#include <chrono>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/proto_convert.h"
#include "gpool.grpc.pb.h"

namespace gpool {
namespace {

class GrpcWorkerConnection final : public WorkerConnection,
                                   public std::enable_shared_from_this<GrpcWorkerConnection> {
 public:
  GrpcWorkerConnection(std::shared_ptr<grpc::Channel> channel, absl::Duration chunk_timeout)
      : stub_(v1::Worker::NewStub(channel)), chunk_timeout_(chunk_timeout) {}

  void RunChunk(const ChunkTask& task, Done done) override {
    // Owned by the callback; freed when the call completes.
    struct Call {
      grpc::ClientContext context;
      v1::RunChunkRequest request;
      v1::RunChunkResponse response;
    };
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(absl::ToInt64Milliseconds(chunk_timeout_)));
    v1::RunChunkRequest& request = call->request;
    request.set_job_id(task.job_id);
    request.set_chunk_index(static_cast<int64_t>(task.chunk_index));
    request.set_attempt(task.attempt);
    request.set_function(task.function);
    SliceToProto(*task.job_input, task.first_element, task.element_count,
                 request.mutable_input());
    request.set_result_mode(ToProto(task.mode));
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) call->context.TryCancel();
      in_flight_.emplace(task.call_id, &call->context);
    }
    // The connection must outlive its calls even if the scheduler drops it meanwhile.
    auto self = shared_from_this();
    stub_->async()->RunChunk(
        &call->context, &call->request, &call->response,
        [self, call, call_id = task.call_id, done = std::move(done)](grpc::Status status) {
          {
            absl::MutexLock lock(&self->mu_);
            self->in_flight_.erase(call_id);
          }
          if (status.ok()) {
            ChunkReply reply;
            const v1::RunChunkResponse& response = call->response;
            reply.values.assign(response.values().begin(), response.values().end());
            reply.sum = FromProto(response.partial_sum());
            reply.count = static_cast<uint64_t>(response.element_count());
            reply.min = response.partial_min();
            reply.max = response.partial_max();
            reply.pid = response.pid();
            delete call;
            done(std::move(reply));
          } else {
            delete call;
            done(FromGrpcStatus(status));
          }
        });
  }

  void Cancel(uint64_t call_id) override {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(call_id);
    if (it != in_flight_.end()) it->second->TryCancel();
  }

  void CancelAll() override {
    absl::MutexLock lock(&mu_);
    // A connection is cancelled when its worker is declared dead; calls started later
    // (none should be) are cancelled too.
    cancelled_ = true;
    for (auto& [call_id, context] : in_flight_) context->TryCancel();
  }

 private:
  std::unique_ptr<v1::Worker::Stub> stub_;
  const absl::Duration chunk_timeout_;
  absl::Mutex mu_;
  // Call id -> its context, for Cancel; a context lives until its callback erases it.
  absl::flat_hash_map<uint64_t, grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<WorkerConnection> GrpcWorkerConnector::Connect(const std::string& address) {
  return std::make_shared<GrpcWorkerConnection>(CreateChannel(address, transport_),
                                                chunk_timeout_);
}

}  // namespace gpool
