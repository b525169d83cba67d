#include "server/grpc_worker_connection.h"

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/async_unary_call.h>

#include "absl/strings/str_cat.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "rpc/grpc_status.h"
#include "rpc/proto_convert.h"
#include "rpc/raw_messages.h"
// For gRPC's serialization of the protobuf requests (the stubs themselves are not used).
#include "gpool.grpc.pb.h"

namespace gpool {
namespace {

class GrpcWorkerConnection final : public WorkerConnection,
                                   public std::enable_shared_from_this<GrpcWorkerConnection> {
 public:
  GrpcWorkerConnection(std::shared_ptr<grpc::Channel> channel, CompletionQueueLoop* loop,
                       absl::Duration chunk_timeout)
      : run_chunks_stub_(channel),
        confirm_stub_(std::move(channel)),
        loop_(loop),
        chunk_timeout_(chunk_timeout) {}

  void RunChunks(std::vector<ChunkTask> tasks, Done done) override {
    // The response is read as bytes: the values stay in the buffers they arrived in.
    auto* call = new Call<v1::RunChunksRequest, RawMessage>;
    v1::RunChunksRequest& request = call->request;
    const ChunkTask& first = tasks.front();
    request.set_job_id(first.job_id);
    request.set_function(first.function);
    request.set_result_mode(ToProto(first.mode));
    if (first.shared_values.has_value()) {
      ToProto(*first.shared_values, request.mutable_shared_values());
    }
    request.mutable_chunks()->Reserve(static_cast<int>(tasks.size()));
    for (const ChunkTask& task : tasks) {
      v1::ChunkTask* chunk = request.add_chunks();
      chunk->set_chunk_index(static_cast<int64_t>(task.chunk_index));
      chunk->set_attempt(task.attempt);
      if (first.shared_values.has_value()) {
        chunk->set_first_element(static_cast<int64_t>(task.first_element));
      }
      SliceToProto(*task.job_input, task.first_element, task.element_count,
                   chunk->mutable_input());
    }
    auto finish = [call, done = std::move(done)](const grpc::Status& status) {
      if (!status.ok()) return done(FromGrpcStatus(status));
      absl::StatusOr<std::vector<RawChunkOutcome>> outcomes =
          DecodeRunChunksResponse(call->response.bytes);
      if (!outcomes.ok()) return done(outcomes.status());
      std::vector<ChunkReply> replies;
      replies.reserve(outcomes->size());
      for (RawChunkOutcome& outcome : *outcomes) {
        absl::StatusOr<ChunkReply> reply = FromRaw(std::move(outcome));
        if (!reply.ok()) return done(reply.status());
        replies.push_back(*std::move(reply));
      }
      done(std::move(replies));
    };
    static const std::string* const kMethod = new std::string("/gpool.v1.Worker/RunChunks");
    Start(first.call_id, call, run_chunks_stub_, *kMethod, std::move(finish));
  }

  void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                          ConfirmDone done) override {
    auto* call = new Call<v1::ConfirmIncarnationRequest, v1::ConfirmIncarnationResponse>;
    call->request.set_incarnation(incarnation);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    call->reader = confirm_stub_.PrepareUnaryCall(&call->context,
                                                  "/gpool.v1.Worker/ConfirmIncarnation",
                                                  call->request, loop_->cq());
    call->reader->StartCall();
    call->reader->Finish(
        &call->response, &call->status,
        loop_->ArmOnce([self = shared_from_this(), call, done = std::move(done)](bool) {
          std::unique_ptr<Call<v1::ConfirmIncarnationRequest, v1::ConfirmIncarnationResponse>>
              owned(call);
          if (!call->status.ok()) return done(FromGrpcStatus(call->status));
          done(call->response.matches());
        }));
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
  // One call in flight; freed when the call completes.
  template <typename Request, typename Response>
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
  };

  // INTERNAL for a summary that cannot be read (a fault of the worker).
  static absl::StatusOr<ChunkReply> FromRaw(RawChunkOutcome outcome) {
    const v1::ChunkOutcome& fields = outcome.fields;
    ChunkReply reply;
    reply.values = std::move(outcome.values);
    reply.values_shared = fields.values_shared();
    reply.count = static_cast<uint64_t>(fields.element_count());
    switch (fields.summary().kind_case()) {
      case v1::Summary::kInt64Summary: {
        const v1::Int64Summary& summary = fields.summary().int64_summary();
        reply.summary = ChunkReply::SummaryKind::kInt64;
        reply.sum = FromProto(summary.sum());
        reply.min = summary.min();
        reply.max = summary.max();
        break;
      }
      case v1::Summary::kDoubleSummary: {
        absl::StatusOr<DoubleStats> doubles =
            FromProto(fields.summary().double_summary(), reply.count);
        if (!doubles.ok()) {
          return absl::InternalError(
              absl::StrCat("unreadable double summary: ", doubles.status().message()));
        }
        reply.summary = ChunkReply::SummaryKind::kDouble;
        reply.doubles = *std::move(doubles);
        break;
      }
      case v1::Summary::KIND_NOT_SET:
        break;
    }
    reply.pid = fields.pid();
    return reply;
  }

  // Registers the call for Cancel, starts it on the loop's queue, and arranges for `finish`
  // to run with its status once, on the loop's thread, after which the call is freed.
  template <typename Request, typename Response>
  void Start(uint64_t call_id, Call<Request, Response>* call,
             grpc::TemplatedGenericStub<Request, Response>& stub, const std::string& method,
             std::function<void(const grpc::Status&)> finish) {
    call->context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(absl::ToInt64Milliseconds(chunk_timeout_)));
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) call->context.TryCancel();
      in_flight_.emplace(call_id, &call->context);
    }
    call->reader = stub.PrepareUnaryCall(&call->context, method, call->request,
                                         loop_->cq());
    call->reader->StartCall();
    // The connection must outlive its calls even if the scheduler drops it meanwhile.
    call->reader->Finish(
        &call->response, &call->status,
        loop_->ArmOnce([self = shared_from_this(), call, call_id,
                        finish = std::move(finish)](bool) {
          std::unique_ptr<Call<Request, Response>> owned(call);
          {
            absl::MutexLock lock(&self->mu_);
            self->in_flight_.erase(call_id);
          }
          finish(call->status);
        }));
  }

  // Worker.RunChunks, called with RawMessage responses (the generated stub cannot).
  grpc::TemplatedGenericStub<v1::RunChunksRequest, RawMessage> run_chunks_stub_;
  grpc::TemplatedGenericStub<v1::ConfirmIncarnationRequest, v1::ConfirmIncarnationResponse>
      confirm_stub_;
  CompletionQueueLoop* const loop_;
  const absl::Duration chunk_timeout_;
  absl::Mutex mu_;
  // Call id -> its context, for Cancel; a context lives until its callback erases it.
  absl::flat_hash_map<uint64_t, grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<WorkerConnection> GrpcWorkerConnector::Connect(const std::string& address) {
  return std::make_shared<GrpcWorkerConnection>(CreateChannel(address, transport_), loop_,
                                                chunk_timeout_);
}

}  // namespace gpool
