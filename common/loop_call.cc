#include "common/loop_call.h"

namespace gpool {

LoopCall::LoopCall(CompletionQueueLoop* loop) : loop_(loop) {
  // Delivered once the call is done, if it ever starts (armed in Arrived).
  context_.AsyncNotifyWhenDone(&done_tag_);
}

void LoopCall::Operation::Proceed(bool ok) {
  LoopCall* const call = call_;
  if (reaction_) reaction_(ok);
  // May end (and free) the call: nothing of this operation is used after.
  call->OperationDone();
}

void* LoopCall::StartOperation(Operation* operation) {
  absl::MutexLock lock(&mu_);
  ++operations_in_flight_;
  return loop_->Arm(operation);
}

void LoopCall::Arrived(bool ok) {
  // gRPC delivers the done tag only for a call that started.
  if (ok) loop_->Arm(&done_tag_);
  OnRequest(ok);
}

void LoopCall::OperationDone() {
  {
    absl::MutexLock lock(&mu_);
    --operations_in_flight_;
    if (!call_done_ || operations_in_flight_ > 0) return;
  }
  OnDone();
}

void LoopCall::CallDone() {
  // IsCancelled is meaningful from here on.
  if (context_.IsCancelled()) OnCancel();
  {
    absl::MutexLock lock(&mu_);
    call_done_ = true;
    if (operations_in_flight_ > 0) return;
  }
  OnDone();
}

}  // namespace gpool
