// One thread that drives a gRPC completion queue, for a daemon whose RPCs all run on it.
//
// Why a daemon would: in gRPC 1.51 every thread that waits for gRPC events can be handed the
// poller role, and it is handed on at every event. Any callback-API method or call makes
// gRPC start two threads that wait so; a sync server adds its own. With several such threads
// an event is often read by one thread and handled by another, often on another CPU, and on
// a machine whose idle CPUs sleep at once each such hop costs tens of microseconds. Driving
// every hot RPC from one thread that both waits and handles removes those hops (measured in
// docs/performance.md, "W1 warm"). See docs/design.md, "Threads".
#ifndef GPOOL_RPC_COMPLETION_QUEUE_LOOP_H_
#define GPOOL_RPC_COMPLETION_QUEUE_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include <grpcpp/completion_queue.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gpool {

// Thread-safe. Every operation started on cq() must be given a tag through Arm, so that the
// loop knows when nothing is pending any more and the queue can be shut down.
class CompletionQueueLoop {
 public:
  // What an operation's completion runs, on the loop's thread. A tag may be armed again once
  // its operation has completed (e.g. one tag for a call's successive writes).
  class Tag {
   public:
    virtual ~Tag() = default;
    virtual void Proceed(bool ok) = 0;
  };

  CompletionQueueLoop() = default;
  // Shuts down and joins if Start was called and ShutdownWhenIdle was not.
  ~CompletionQueueLoop();
  CompletionQueueLoop(const CompletionQueueLoop&) = delete;
  CompletionQueueLoop& operator=(const CompletionQueueLoop&) = delete;

  // The queue to drive; from grpc::ServerBuilder::AddCompletionQueue, before the server is
  // built. Call once, before Start.
  void Attach(std::unique_ptr<grpc::ServerCompletionQueue> cq);
  // Starts the loop's thread.
  void Start();

  // The queue, for starting operations (with armed tags), server-side or client-side.
  grpc::ServerCompletionQueue* cq() const { return cq_.get(); }

  // The value to pass to gRPC as the tag of an operation about to start.
  void* Arm(Tag* tag) {
    pending_.fetch_add(1, std::memory_order_relaxed);
    return tag;
  }
  // A tag that runs `on_completion` once and deletes itself.
  void* ArmOnce(std::function<void(bool)> on_completion);

  bool InLoopThread() const { return std::this_thread::get_id() == loop_thread_id_.load(); }

  // Shuts the queue down once no armed operation is pending, and waits for the thread to
  // end. Call after the server's Shutdown, once nothing will start new operations except
  // from completions of pending ones.
  void ShutdownWhenIdle();

 private:
  void Run();
  // Shuts the queue down if asked to and nothing is pending. Loop thread or ShutdownWhenIdle.
  void MaybeShutdown();

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_id_{};
  // Armed operations whose completion the loop has not handled yet.
  std::atomic<int64_t> pending_{0};
  std::atomic<bool> shutdown_requested_{false};
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gpool

#endif  // GPOOL_RPC_COMPLETION_QUEUE_LOOP_H_
