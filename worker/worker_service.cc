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
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/loop_call.h"
#include "common/proto_convert.h"

namespace gpool {

// What a RunChunk or RunChunks call asks for.
struct WorkerService::ChunkWork {
  std::string function;
  ResultMode mode = ResultMode::kValues;
  std::vector<Input> inputs;
  std::vector<uint64_t> first_elements;
  std::optional<v1::SharedValues> shared_values;
  bool single = false;  // RunChunk: answered with one RunChunkResponse.
  uint64_t elements = 0;
  // The InlinePolicy's key: calls of one function cost alike per element only in one result
  // mode and input form.
  std::string kind;
};

class WorkerService::ChunkCall {
 public:
  virtual ~ChunkCall() = default;
  // The coordinator cancelled the call (a backup copy lost the race, or the job ended).
  virtual bool cancelled() const = 0;
  // Starts sending the answer; the call is freed once it is sent.
  virtual void Answer(const RawMessage& response, const grpc::Status& status) = 0;
};

// One call of `Request` (RunChunkRequest or RunChunksRequest), from its arrival to its
// answer; frees itself at OnDone. Arrives and is cancelled on the loop's thread; the compute
// thread that may answer it sees the cancellation through cancelled_.
template <typename Request>
class WorkerService::RunCall final : public LoopUnaryCall<Request, RawMessage>,
                                     public ChunkCall {
 public:
  // Requests the next call of the method.
  static void Accept(WorkerService* service, int method) {
    auto* call = new RunCall(service, method);
    service->RequestAsyncUnary(method, call->context(), call->request(), call->responder(),
                               service->loop_->cq(), service->loop_->cq(), call->RequestTag());
  }

  bool cancelled() const override { return cancelled_.load(std::memory_order_relaxed); }

  void Answer(const RawMessage& response, const grpc::Status& status) override {
    this->Finish(response, status);
  }

 private:
  RunCall(WorkerService* service, int method)
      : LoopUnaryCall<Request, RawMessage>(service->loop_), service_(service), method_(method) {}

  void OnRequest(bool ok) override {
    if (!ok) {
      delete this;
      return;
    }
    Accept(service_, method_);
    service_->CallArrived();
    absl::StatusOr<ChunkWork> work = WorkOf(*this->request());
    if (!work.ok()) return Answer(RawMessage(), ToGrpcStatus(work.status()));
    work->kind = absl::StrCat(work->function, work->mode == ResultMode::kSum ? "/sum" : "/values",
                              !work->inputs.empty() && work->inputs.front().is_range()
                                  ? "/range"
                                  : "/list");
    service_->Serve(this, std::make_shared<ChunkWork>(*std::move(work)));
  }

  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }

  void OnDone() override {
    service_->CallDone();
    delete this;
  }

  static absl::StatusOr<ChunkWork> WorkOf(const v1::RunChunkRequest& request) {
    ChunkWork work;
    work.single = true;
    work.function = request.function();
    work.mode = FromProto(request.result_mode());
    absl::StatusOr<Input> input = FromProto(request.input());
    if (!input.ok()) return input.status();
    work.elements = input->size();
    work.inputs.push_back(*std::move(input));
    work.first_elements.push_back(static_cast<uint64_t>(request.first_element()));
    if (request.has_shared_values()) work.shared_values = request.shared_values();
    return work;
  }

  static absl::StatusOr<ChunkWork> WorkOf(const v1::RunChunksRequest& request) {
    ChunkWork work;
    work.function = request.function();
    work.mode = FromProto(request.result_mode());
    work.inputs.reserve(request.chunks_size());
    work.first_elements.reserve(request.chunks_size());
    for (const v1::ChunkTask& chunk : request.chunks()) {
      absl::StatusOr<Input> input = FromProto(chunk.input());
      if (!input.ok()) {
        return absl::Status(input.status().code(), absl::StrCat("chunk ", chunk.chunk_index(),
                                                                ": ", input.status().message()));
      }
      work.elements += input->size();
      work.inputs.push_back(*std::move(input));
      work.first_elements.push_back(static_cast<uint64_t>(chunk.first_element()));
    }
    if (request.has_shared_values()) work.shared_values = request.shared_values();
    return work;
  }

  WorkerService* const service_;
  const int method_;
  std::atomic<bool> cancelled_{false};
};

namespace {

int WorkerMethodIndex(const char* name) {
  return v1::RunChunkRequest::descriptor()
      ->file()
      ->FindServiceByName("Worker")
      ->FindMethodByName(name)
      ->index();
}

}  // namespace

WorkerService::WorkerService(ChunkExecutor* executor, int64_t pid, CompletionQueueLoop* loop,
                             bool use_shared_values)
    : executor_(executor),
      pid_(pid),
      loop_(loop),
      use_shared_values_(use_shared_values),
      run_chunk_method_(WorkerMethodIndex("RunChunk")),
      run_chunks_method_(WorkerMethodIndex("RunChunks")) {
  // Served with RawMessage responses, which the generated WithAsyncMethod_ classes would fix
  // to RunChunk(s)Response. On the wire the calls are the same unary RunChunk and RunChunks.
  MarkMethodAsync(run_chunk_method_);
  MarkMethodAsync(run_chunks_method_);
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
  RunCall<v1::RunChunkRequest>::Accept(this, run_chunk_method_);
  RunCall<v1::RunChunksRequest>::Accept(this, run_chunks_method_);
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

void WorkerService::Serve(ChunkCall* call, std::shared_ptr<ChunkWork> work) {
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

void WorkerService::RunInSlot(ChunkCall* call, const ChunkWork& work) {
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
  if (work.single) {
    return call->Answer(EncodeRunChunkResponse(ToResponse(std::move(outputs.front()),
                                                          values_shared)),
                        grpc::Status::OK);
  }
  std::vector<RawChunkResponse> responses;
  responses.reserve(outputs.size());
  for (ChunkOutput& output : outputs) {
    responses.push_back(ToResponse(std::move(output), values_shared));
  }
  call->Answer(EncodeRunChunksResponse(responses), grpc::Status::OK);
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

}  // namespace gpool
