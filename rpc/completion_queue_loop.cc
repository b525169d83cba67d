#include "rpc/completion_queue_loop.h"

#include <cassert>
#include <utility>

namespace gpool {
namespace {

// Deletes itself after its one completion.
class OnceTag final : public CompletionQueueLoop::Tag {
 public:
  explicit OnceTag(std::function<void(bool)> on_completion)
      : on_completion_(std::move(on_completion)) {}
  void Proceed(bool ok) override {
    std::unique_ptr<OnceTag> self(this);
    on_completion_(ok);
  }

 private:
  std::function<void(bool)> on_completion_;
};

}  // namespace

CompletionQueueLoop::~CompletionQueueLoop() {
  if (thread_.joinable()) ShutdownWhenIdle();
}

void CompletionQueueLoop::Attach(std::unique_ptr<grpc::ServerCompletionQueue> cq) {
  assert(cq_ == nullptr);
  cq_ = std::move(cq);
}

void CompletionQueueLoop::Start() {
  assert(cq_ != nullptr && !thread_.joinable());
  thread_ = std::thread([this] { Run(); });
}

void* CompletionQueueLoop::ArmOnce(std::function<void(bool)> on_completion) {
  return Arm(new OnceTag(std::move(on_completion)));
}

void CompletionQueueLoop::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    static_cast<Tag*>(tag)->Proceed(ok);
    // After Proceed: the operations it started are pending before this one stops being.
    pending_.fetch_sub(1);
    if (shutdown_requested_.load()) MaybeShutdown();
  }
}

void CompletionQueueLoop::ShutdownWhenIdle() {
  shutdown_requested_.store(true);
  MaybeShutdown();
  if (thread_.joinable()) thread_.join();
}

void CompletionQueueLoop::MaybeShutdown() {
  if (pending_.load() != 0) return;
  absl::MutexLock lock(&mu_);
  if (shut_down_ || cq_ == nullptr) return;
  shut_down_ = true;
  cq_->Shutdown();
}

}  // namespace gpool
