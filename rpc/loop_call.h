// Server calls on a CompletionQueueLoop, with the shape of gRPC's callback reactors: start an
// operation, get its reaction (OnWriteDone) on the loop's thread, then OnCancel if the call
// was cancelled, and OnDone once gRPC is done with the call and every operation has
// completed. Code written against grpc::ServerWriteReactor or ServerUnaryReactor keeps its
// logic; what changes is who waits for gRPC's events (see completion_queue_loop.h).
#ifndef GPOOL_RPC_LOOP_CALL_H_
#define GPOOL_RPC_LOOP_CALL_H_

#include <functional>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rpc/completion_queue_loop.h"

namespace gpool {

// Reactions and OnCancel/OnDone run on the loop's thread, one at a time. Operations may be
// started from any thread, one of each kind at a time (as with the reactors). As with the
// reactors, OnDone comes only once the call has been finished: a call that is cancelled must
// still call Finish (in OnCancel, or in the reaction of its failed operation), and no
// operation may start after Finish.
class LoopCall {
 public:
  virtual ~LoopCall() = default;
  LoopCall(const LoopCall&) = delete;
  LoopCall& operator=(const LoopCall&) = delete;

  grpc::ServerContext* context() { return &context_; }

 protected:
  // One kind of operation of the call (a write, the finish): its completion runs the
  // reaction, then counts towards OnDone.
  class Operation final : public CompletionQueueLoop::Tag {
   public:
    Operation(LoopCall* call, std::function<void(bool)> reaction)
        : call_(call), reaction_(std::move(reaction)) {}
    void Proceed(bool ok) override;

   private:
    LoopCall* const call_;
    std::function<void(bool)> reaction_;  // may be empty
  };

  explicit LoopCall(CompletionQueueLoop* loop);

  // The call arrived (ok), or never will (!ok: the server is shutting down; OnDone does not
  // follow, and the owner frees the call).
  virtual void OnRequest(bool ok) = 0;
  // The client cancelled the call, its deadline passed, or the server is shutting down.
  virtual void OnCancel() {}
  // gRPC is done with the call and no operation is pending: the call may be freed.
  virtual void OnDone() = 0;

  // The tag to request the call with.
  void* RequestTag() { return loop_->Arm(&request_tag_); }
  // The tag to start `operation` with; `finishing`: it is the call's Finish.
  void* StartOperation(Operation* operation, bool finishing = false);
  CompletionQueueLoop* loop() const { return loop_; }

 private:
  class DoneTag final : public CompletionQueueLoop::Tag {
   public:
    explicit DoneTag(LoopCall* call) : call_(call) {}
    void Proceed(bool ok) override { call_->CallDone(); }

   private:
    LoopCall* const call_;
  };
  class ArrivalTag final : public CompletionQueueLoop::Tag {
   public:
    explicit ArrivalTag(LoopCall* call) : call_(call) {}
    void Proceed(bool ok) override { call_->Arrived(ok); }

   private:
    LoopCall* const call_;
  };

  void Arrived(bool ok);
  void OperationDone();
  void CallDone();

  CompletionQueueLoop* const loop_;
  grpc::ServerContext context_;
  ArrivalTag request_tag_{this};
  DoneTag done_tag_{this};
  absl::Mutex mu_;
  int operations_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_started_ ABSL_GUARDED_BY(mu_) = false;

  bool DoneLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return call_done_ && finish_started_ && operations_in_flight_ == 0;
  }
};

// A server-streaming call, as grpc::ServerWriteReactor<Response>.
template <typename Response>
class LoopWriteCall : public LoopCall {
 protected:
  explicit LoopWriteCall(CompletionQueueLoop* loop) : LoopCall(loop), writer_(context()) {}

  virtual void OnWriteDone(bool ok) {}

  // `response` must live until OnWriteDone.
  void StartWrite(const Response* response, grpc::WriteOptions options) {
    writer_.Write(*response, options, StartOperation(&write_));
  }
  // No OnWriteDone follows; `response` must live until OnDone.
  void StartWriteAndFinish(const Response* response, grpc::WriteOptions options,
                           const grpc::Status& status) {
    writer_.WriteAndFinish(*response, options, status,
                           StartOperation(&finish_, /*finishing=*/true));
  }
  void Finish(const grpc::Status& status) {
    writer_.Finish(status, StartOperation(&finish_, /*finishing=*/true));
  }

  grpc::ServerAsyncWriter<Response>* writer() { return &writer_; }

 private:
  grpc::ServerAsyncWriter<Response> writer_;
  Operation write_{this, [this](bool ok) { OnWriteDone(ok); }};
  Operation finish_{this, nullptr};
};

// A bidirectional-streaming call, as grpc::ServerBidiReactor<Request, Response>: one read and
// one write may be pending at once. Finish may be called while a read is pending: the read
// then completes with ok = false.
template <typename Request, typename Response>
class LoopReadWriteCall : public LoopCall {
 protected:
  explicit LoopReadWriteCall(CompletionQueueLoop* loop) : LoopCall(loop), stream_(context()) {}

  // ok = false: the client half-closed (no message was read), or the call is over.
  virtual void OnReadDone(bool ok) {}
  virtual void OnWriteDone(bool ok) {}

  // `request` must live until OnReadDone.
  void StartRead(Request* request) { stream_.Read(request, StartOperation(&read_)); }
  // `response` must live until OnWriteDone.
  void StartWrite(const Response* response, grpc::WriteOptions options) {
    stream_.Write(*response, options, StartOperation(&write_));
  }
  // No OnWriteDone follows; `response` must live until OnDone.
  void StartWriteAndFinish(const Response* response, grpc::WriteOptions options,
                           const grpc::Status& status) {
    stream_.WriteAndFinish(*response, options, status,
                           StartOperation(&finish_, /*finishing=*/true));
  }
  void Finish(const grpc::Status& status) {
    stream_.Finish(status, StartOperation(&finish_, /*finishing=*/true));
  }

  grpc::ServerAsyncReaderWriter<Response, Request>* stream() { return &stream_; }

 private:
  grpc::ServerAsyncReaderWriter<Response, Request> stream_;
  Operation read_{this, [this](bool ok) { OnReadDone(ok); }};
  Operation write_{this, [this](bool ok) { OnWriteDone(ok); }};
  Operation finish_{this, nullptr};
};

// A unary call: the call owns its request; Finish sends the response with an OK status.
template <typename Request, typename Response>
class LoopUnaryCall : public LoopCall {
 protected:
  explicit LoopUnaryCall(CompletionQueueLoop* loop) : LoopCall(loop), responder_(context()) {}

  // The response is serialized before Finish returns.
  void Finish(const Response& response, const grpc::Status& status) {
    if (status.ok()) {
      responder_.Finish(response, status, StartOperation(&finish_, /*finishing=*/true));
    } else {
      responder_.FinishWithError(status, StartOperation(&finish_, /*finishing=*/true));
    }
  }

  Request* request() { return &request_; }
  grpc::ServerAsyncResponseWriter<Response>* responder() { return &responder_; }

 private:
  Request request_;  // Written by gRPC until the call arrives.
  grpc::ServerAsyncResponseWriter<Response> responder_;
  Operation finish_{this, nullptr};
};

}  // namespace gpool

#endif  // GPOOL_RPC_LOOP_CALL_H_
