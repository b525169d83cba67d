#include "worker/chunk_executor.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gpool {
namespace {

// While waiting for a slot, how often to look whether the call was cancelled.
constexpr absl::Duration kCancelPollInterval = absl::Milliseconds(50);

}  // namespace

absl::StatusOr<ChunkOutput> ChunkExecutor::Execute(const std::string& function,
                                                   const Input& input, ResultMode mode,
                                                   const std::function<bool()>& cancelled) {
  // Fail fast on an unknown function, without taking a slot.
  if (!registry_.Has(function)) return registry_.Run(function, input, mode);
  if (absl::Status status = AcquireSlot(cancelled); !status.ok()) return status;
  absl::StatusOr<ChunkOutput> output = WaitDelay(cancelled);
  const absl::Time start = monitor_ != nullptr ? absl::Now() : absl::Time();
  if (output.ok()) output = registry_.Run(function, input, mode, cancelled);
  if (monitor_ != nullptr && output.ok()) monitor_->ChunksComputed({absl::Now() - start});
  ReleaseSlot(output.ok() ? 1 : 0);
  return output;
}

absl::Status ChunkExecutor::ExecuteBatch(
    const std::string& function, const std::vector<Input>& inputs, ResultMode mode,
    const std::function<bool()>& cancelled,
    const std::function<void(size_t, ChunkOutput)>& on_output) {
  if (!registry_.Has(function)) {
    return registry_.Run(function, Input::Range(0, 0), mode).status();
  }
  if (absl::Status status = AcquireSlot(cancelled); !status.ok()) return status;
  return ExecuteBatchInSlot(function, inputs, mode, cancelled, on_output);
}

bool ChunkExecutor::TryAcquireSlot() {
  absl::MutexLock lock(&mu_);
  if (!HasFreeSlotLocked()) return false;
  --free_slots_;
  return true;
}

absl::Status ChunkExecutor::ExecuteBatchInSlot(
    const std::string& function, const std::vector<Input>& inputs, ResultMode mode,
    const std::function<bool()>& cancelled,
    const std::function<void(size_t, ChunkOutput)>& on_output) {
  absl::Status status = absl::OkStatus();
  if (!registry_.Has(function)) {
    status = registry_.Run(function, Input::Range(0, 0), mode).status();
    ReleaseSlot(0);
    return status;
  }
  int64_t completed = 0;
  // For the monitor: one clock read per chunk, each chunk timed from the end of the one
  // before (its result encoded by on_output included), told once for the whole call.
  std::vector<absl::Duration> elapsed;
  absl::Time last;
  if (monitor_ != nullptr) {
    elapsed.reserve(inputs.size());
    last = absl::Now();
  }
  for (size_t i = 0; i < inputs.size() && status.ok(); ++i) {
    absl::StatusOr<ChunkOutput> output = WaitDelay(cancelled);
    if (monitor_ != nullptr && delays_chunks()) last = absl::Now();
    if (output.ok()) output = registry_.Run(function, inputs[i], mode, cancelled);
    if (!output.ok()) {
      status = output.status();
    } else {
      ++completed;
      on_output(i, *std::move(output));
      if (monitor_ != nullptr) {
        const absl::Time now = absl::Now();
        elapsed.push_back(now - last);
        last = now;
      }
    }
  }
  if (monitor_ != nullptr && !elapsed.empty()) monitor_->ChunksComputed(elapsed);
  ReleaseSlot(completed);
  return status;
}

absl::Status ChunkExecutor::AcquireSlot(const std::function<bool()>& cancelled) {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(this, &ChunkExecutor::HasFreeSlotLocked),
                               kCancelPollInterval)) {
    if (cancelled && cancelled()) {
      return absl::CancelledError("cancelled while waiting for a free slot");
    }
  }
  --free_slots_;
  return absl::OkStatus();
}

void ChunkExecutor::ReleaseSlot(int64_t chunks_completed) {
  absl::MutexLock lock(&mu_);
  ++free_slots_;
  chunks_completed_ += chunks_completed;
}

absl::StatusOr<ChunkOutput> ChunkExecutor::WaitDelay(const std::function<bool()>& cancelled) {
  const absl::Time end = absl::Now() + delay_;
  for (absl::Time now = absl::Now(); now < end; now = absl::Now()) {
    if (cancelled && cancelled()) return absl::CancelledError("cancelled during chunk delay");
    absl::SleepFor(std::min(end - now, kCancelPollInterval));
  }
  return ChunkOutput{};
}

int ChunkExecutor::busy_slots() const {
  absl::MutexLock lock(&mu_);
  return slots_ - free_slots_;
}

int64_t ChunkExecutor::chunks_completed() const {
  absl::MutexLock lock(&mu_);
  return chunks_completed_;
}

}  // namespace gpool
