#include "rpc/loop_call.h"

namespace gpool {

LoopCall::LoopCall(CompletionQueueLoop* loop) : loop_(loop) {
  // Delivered once the call is done, if it ever starts (armed in Arrived).
  context_.AsyncNotifyWhenDone(static_cast<CompletionQueueLoop::Tag*>(&done_tag_));
}

void LoopCall::Operation::Proceed(bool ok) {
  LoopCall* const call = call_;
  if (reaction_) reaction_(ok);
  // May end (and free) the call: nothing of this operation is used after.
  call->OperationDone();
}

void* LoopCall::StartOperation(Operation* operation, bool finishing) {
  absl::MutexLock lock(&mu_);
  ++operations_in_flight_;
  if (finishing) finish_started_ = true;
  return loop_->Arm(operation);
}

void LoopCall::Arrived(bool ok) {
  // gRPC delivers the done tag only for a call that started.
  if (ok) loop_->Arm(static_cast<CompletionQueueLoop::Tag*>(&done_tag_));
  OnRequest(ok);
}

void LoopCall::OperationDone() {
  {
    absl::MutexLock lock(&mu_);
    --operations_in_flight_;
    if (!DoneLocked()) return;
  }
  OnDone();
}

void LoopCall::CallDone() {
  // IsCancelled is meaningful from here on.
  if (context_.IsCancelled()) OnCancel();
  {
    absl::MutexLock lock(&mu_);
    call_done_ = true;
    if (!DoneLocked()) return;
  }
  OnDone();
}

}  // namespace gpool
