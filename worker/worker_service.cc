#include "worker/worker_service.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "rpc/grpc_status.h"
#include "rpc/loop_call.h"
#include "rpc/proto_convert.h"
#include "rpc/transport.h"
#include "worker/chunk_work.h"

namespace gpool {

// One RunChunks call, from its arrival to its answer; frees itself at OnDone. Arrives and is
// cancelled on the loop's thread; the compute thread that may answer it sees the
// cancellation through cancelled_.
class WorkerService::RunCall final : public LoopUnaryCall<v1::RunChunksRequest, RawMessage> {
 public:
  // Requests the next call.
  static void Accept(WorkerService* service) {
    auto* call = new RunCall(service);
    service->RequestAsyncUnary(service->run_chunks_method_, call->context(), call->request(),
                               call->responder(), service->loop_->cq(), service->loop_->cq(),
                               call->RequestTag());
  }

  // The coordinator cancelled the call (a backup copy lost the race, or the job ended).
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Starts sending the answer; the call is freed once it is sent. An answer over the
  // message limit is refused here, with a log line saying why: gRPC would refuse to send it
  // too, but gives the server no word of it (the caller alone sees RESOURCE_EXHAUSTED).
  void Answer(const RawMessage& response, const grpc::Status& status) {
    const size_t bytes = response.bytes.Length();
    if (status.ok() && bytes > static_cast<size_t>(kMaxMessageBytes)) {
      const std::string why = absl::StrCat(
          "the answer to a call of job ", request()->job_id(), " (", request()->chunks_size(),
          " chunks) is ", bytes, " bytes, over the 4 MiB message limit (", kMaxMessageBytes,
          " bytes); the coordinator must send smaller calls");
      LogError(why);
      return Finish(RawMessage(), grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why));
    }
    Finish(response, status);
  }

 private:
  explicit RunCall(WorkerService* service)
      : LoopUnaryCall<v1::RunChunksRequest, RawMessage>(service->loop_), service_(service) {}

  void OnRequest(bool ok) override {
    if (!ok) {
      delete this;
      return;
    }
    Accept(service_);
    service_->CallArrived();
    absl::StatusOr<ChunkWork> work = ChunkWorkOf(*request(), service_->max_chunks_per_call_);
    if (!work.ok()) return Answer(RawMessage(), ToGrpcStatus(work.status()));
    work->kind = absl::StrCat(work->function, work->mode == ResultMode::kSum ? "/sum" : "/values",
                              work->inputs.front().is_range() ? "/range" : "/list");
    service_->Serve(this, std::make_shared<ChunkWork>(*std::move(work)));
  }

  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }

  void OnDone() override {
    service_->CallDone();
    delete this;
  }

  WorkerService* const service_;
  std::atomic<bool> cancelled_{false};
};

// One ConfirmIncarnation call: answered at once on the loop's thread; frees itself.
class WorkerService::ConfirmCall final {
 public:
  // Requests the next call.
  static void Accept(WorkerService* service) {
    auto* call = new ConfirmCall(service);
    CompletionQueueLoop* loop = service->loop_;
    service->RequestAsyncUnary(service->confirm_method_, &call->context_, &call->request_,
                               &call->responder_, loop->cq(), loop->cq(),
                               loop->ArmOnce([call](bool ok) { call->Serve(ok); }));
  }

 private:
  explicit ConfirmCall(WorkerService* service) : service_(service), responder_(&context_) {}

  void Serve(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    Accept(service_);
    // Only whether it matches: the incarnation is the secret that binds this worker's
    // heartbeats and leave, and a caller learns one bit per guess of 64.
    response_.set_matches(request_.incarnation() == service_->incarnation_);
    responder_.Finish(response_, grpc::Status::OK,
                      service_->loop_->ArmOnce([this](bool) { delete this; }));
  }

  WorkerService* const service_;
  grpc::ServerContext context_;
  v1::ConfirmIncarnationRequest request_;
  v1::ConfirmIncarnationResponse response_;
  grpc::ServerAsyncResponseWriter<v1::ConfirmIncarnationResponse> responder_;
};

namespace {

int WorkerMethodIndex(const char* method) {
  return v1::RunChunksRequest::descriptor()
      ->file()
      ->FindServiceByName("Worker")
      ->FindMethodByName(method)
      ->index();
}

}  // namespace

WorkerService::WorkerService(ChunkExecutor* executor, int64_t pid, CompletionQueueLoop* loop,
                             int max_chunks_per_call, uint64_t incarnation,
                             bool use_shared_values)
    : executor_(executor),
      pid_(pid),
      loop_(loop),
      max_chunks_per_call_(max_chunks_per_call),
      use_shared_values_(use_shared_values),
      run_chunks_method_(WorkerMethodIndex("RunChunks")),
      confirm_method_(WorkerMethodIndex("ConfirmIncarnation")),
      incarnation_(incarnation) {
  // Served with RawMessage responses, which the generated WithAsyncMethod_RunChunks would fix
  // to RunChunksResponse. On the wire the call is the same unary RunChunks.
  MarkMethodAsync(run_chunks_method_);
  // Served on the loop like RunChunks, so the worker's server needs no thread pool of its own.
  MarkMethodAsync(confirm_method_);
  for (int i = 0; i < executor_->slots(); ++i) {
    compute_threads_.emplace_back([this] { ComputeThread(); });
  }
}

void WorkerService::StopComputeThreads() {
  {
    absl::MutexLock lock(&compute_mu_);
    stopping_ = true;
  }
  for (std::thread& thread : compute_threads_) {
    if (thread.joinable()) thread.join();
  }
}

void WorkerService::AcceptCalls() {
  RunCall::Accept(this);
  ConfirmCall::Accept(this);
}

bool WorkerService::AwaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &WorkerService::IdleLocked), timeout);
}

void WorkerService::CallArrived() {
  absl::MutexLock lock(&mu_);
  ++calls_in_progress_;
}

void WorkerService::CallDone() {
  absl::MutexLock lock(&mu_);
  --calls_in_progress_;
}

void WorkerService::Serve(RunCall* call, std::shared_ptr<ChunkWork> work) {
  const FunctionRegistry& registry = executor_->registry();
  if (!registry.Has(work->function)) {
    // NOT_FOUND at once, without waiting for a slot.
    return call->Answer(RawMessage(), ToGrpcStatus(registry.Run(work->function,
                                                                Input::Range(0, 0), work->mode)
                                                       .status()));
  }
  enum class Where { kHere, kComputeThread, kNowhere } where = Where::kComputeThread;
  {
    absl::MutexLock lock(&compute_mu_);
    if (stopping_) {
      // Arrived as the server shut down, after the compute threads stopped.
      where = Where::kNowhere;
    } else if (compute_queue_.empty() && !executor_->delays_chunks() &&
               inline_policy_.ShouldInline(work->kind, work->elements) &&
               executor_->TryAcquireSlot()) {
      // Only when no call waits for a compute thread: the loop must not take the slot that
      // call waits for, again and again.
      where = Where::kHere;
    } else {
      compute_queue_.push_back([this, call, work] {
        absl::Status slot = executor_->AcquireSlot([call] { return call->cancelled(); });
        if (!slot.ok()) return call->Answer(RawMessage(), ToGrpcStatus(slot));
        RunInSlot(call, *work);
      });
    }
  }
  if (where == Where::kNowhere) {
    return call->Answer(RawMessage(), grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                   "the worker is shutting down"));
  }
  if (where == Where::kHere) RunInSlot(call, *work);
}

void WorkerService::ComputeThread() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&compute_mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(compute_mu_) {
        return stopping_ || !compute_queue_.empty();
      };
      compute_mu_.Await(absl::Condition(&ready));
      // Stopping, and every call handed over has been answered.
      if (compute_queue_.empty()) return;
      work = std::move(compute_queue_.front());
      compute_queue_.pop_front();
    }
    work();
  }
}

void WorkerService::RunInSlot(RunCall* call, const ChunkWork& work) {
  std::vector<ChunkOutput> outputs(work.inputs.size());
  const auto started = std::chrono::steady_clock::now();
  absl::Status status = executor_->ExecuteBatchInSlot(
      work.function, work.inputs, work.mode, [call] { return call->cancelled(); },
      [&outputs](size_t i, ChunkOutput output) { outputs[i] = std::move(output); });
  if (!status.ok()) return call->Answer(RawMessage(), ToGrpcStatus(status));
  inline_policy_.Record(work.kind, work.elements,
                        absl::FromChrono(std::chrono::steady_clock::now() - started));
  // All the call's values at once: one token check, and one write per run of adjacent chunks.
  const bool values_shared =
      WriteShared(work.mode, work.shared_values.has_value() ? &*work.shared_values : nullptr,
                  outputs, work.first_elements);
  const ElementType output_type = executor_->registry().Find(work.function)->output_type;
  std::vector<RawChunkOutcome> outcomes;
  outcomes.reserve(outputs.size());
  for (ChunkOutput& output : outputs) {
    outcomes.push_back(ToOutcome(std::move(output), output_type, values_shared));
  }
  call->Answer(EncodeRunChunksResponse(outcomes), grpc::Status::OK);
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
    const Elements& values = outputs[i].values;
    // The file holds 8-byte words: an int64's, or a double's bits.
    const int64_t* words;
    switch (values.type()) {
      case ElementType::kInt64:
        words = values.int64s().data();
        break;
      case ElementType::kDouble:
        words = reinterpret_cast<const int64_t*>(values.doubles().data());
        break;
      default:
        return false;  // strings and bytes always travel in the response
    }
    spans.push_back({first_elements[i], words, values.size()});
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

RawChunkOutcome WorkerService::ToOutcome(ChunkOutput output, ElementType output_type,
                                         bool values_shared) const {
  RawChunkOutcome outcome;
  if (values_shared) {
    outcome.fields.set_values_shared(true);
  } else {
    // Numbers stay in the function's own buffer until gRPC has sent them.
    outcome.values = EncodedValues::Own(std::move(output.values));
  }
  if (output_type == ElementType::kInt64) {
    v1::Int64Summary* summary = outcome.fields.mutable_summary()->mutable_int64_summary();
    ToProto(output.sum, summary->mutable_sum());
    summary->set_min(output.min);
    summary->set_max(output.max);
  } else if (output_type == ElementType::kDouble) {
    ToProto(output.doubles, outcome.fields.mutable_summary()->mutable_double_summary());
  }
  outcome.fields.set_element_count(static_cast<int64_t>(output.count));
  outcome.fields.set_pid(pid_);
  return outcome;
}

}  // namespace gpool
