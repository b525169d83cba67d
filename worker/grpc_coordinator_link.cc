#include "worker/grpc_coordinator_link.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_status.h"
#include "common/log.h"

namespace gpool {
namespace {

constexpr auto kRegisterDeadline = std::chrono::seconds(5);
constexpr auto kHeartbeatDeadline = std::chrono::seconds(2);
// A streamed beat still on its way after this long counts as a failed heartbeat.
constexpr absl::Duration kStuckBeat = absl::Seconds(2);

}  // namespace

// One StreamHeartbeats call. The link starts writes and the half-close from its heartbeat
// thread; gRPC runs the reactions on its own threads; mu_ orders the two.
//
// The call carries a hold (AddHold) for as long as the link may still start operations on
// it: without one, gRPC could end the call and free its state between the link's check and
// its StartWrite. The coordinator sends nothing on this call until it ends it (not even
// headers: proto/gpool.proto), so OnReadInitialMetadataDone means "the call is ending": the
// hold is released there (or at a failed write, or when the link half-closes), and OnDone
// then reports the status and, for a new grant, the response. The object keeps itself alive
// (self_) until OnDone, so the link may drop it at any time; the link then still waits for
// its destruction (destroyed()) before it goes, see ~GrpcCoordinatorLink.
class GrpcCoordinatorLink::HeartbeatStream final
    : public grpc::ClientWriteReactor<v1::HeartbeatRequest> {
 public:
  // `lifetime`: how long the link means to use the call.
  static std::shared_ptr<HeartbeatStream> Open(v1::Coordinator::Stub* stub,
                                               absl::Duration lifetime) {
    std::shared_ptr<HeartbeatStream> stream(new HeartbeatStream());
    stream->self_ = stream;
    // The link replaces the call at its first beat past the lifetime: with twice the
    // lifetime (and a margin), that comes well before the deadline for any heartbeat
    // interval up to the lifetime.
    const absl::Duration margin = absl::FromChrono(kHeartbeatDeadline);
    stream->context_.set_deadline(absl::ToChronoTime(stream->opened_ + 2 * lifetime + margin));
    stub->async()->StreamHeartbeats(&stream->context_, &stream->response_, stream.get());
    stream->AddHold();
    stream->StartCall();
    return stream;
  }

  absl::Time opened() const { return opened_; }

  // Notified once this object, its ClientContext included, is destroyed.
  std::shared_ptr<absl::Notification> destroyed() const { return destroyed_.notification; }

  // Starts sending `beat`, or queues it behind the beat being sent (replacing any beat
  // queued before: only the latest matters). False when the call has ended or is ending.
  bool Send(const v1::HeartbeatRequest& beat) {
    absl::MutexLock lock(&mu_);
    if (!held_) return false;
    if (writing_) {
      queued_ = beat;
      return true;
    }
    StartWriteLocked(beat);
    return true;
  }

  // How long the beat being sent has been on its way; zero when none is.
  absl::Duration SendingFor() {
    absl::MutexLock lock(&mu_);
    return writing_ ? absl::Now() - write_started_ : absl::ZeroDuration();
  }

  // The call's status, once it has ended.
  std::optional<grpc::Status> status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

  // The grant the coordinator ended the call with, if it did (status OK); call once status()
  // has a value.
  std::optional<HeartbeatGrant> grant() {
    absl::MutexLock lock(&mu_);
    if (!status_.has_value() || !status_->ok() || response_.heartbeat_interval_ms() <= 0) {
      return std::nullopt;
    }
    return HeartbeatGrant{absl::Milliseconds(response_.heartbeat_interval_ms()),
                          absl::Milliseconds(response_.lease_timeout_ms())};
  }

  // Tells the coordinator that no more beats come on this call; the coordinator then ends
  // it with OK. Returns at once.
  void HalfClose() {
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      if (held_) {
        StartWritesDone();
        held_ = false;
        release = true;
      }
    }
    // Outside the lock: releasing the last hold may end the call.
    if (release) RemoveHold();
  }

  // HalfClose, then waits up to `grace` for the call to end; past that, cancels it and
  // waits for the (then prompt) end.
  void Close(absl::Duration grace) {
    HalfClose();
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.has_value(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended), grace)) {
      context_.TryCancel();
      mu_.Await(absl::Condition(&ended));
    }
  }

  void OnReadInitialMetadataDone(bool ok) override {
    // Either way the call is ending: ok, the coordinator is answering (with a new grant: its
    // headers come only with its answer); !ok, it ended the call without an answer (NOT_FOUND,
    // shutting down) or the call failed. Beats must go on a new call from now on.
    Release();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && held_ && queued_.has_value()) {
        StartWriteLocked(*queued_);
        queued_.reset();
      }
    }
    if (!ok) Release();  // The call is broken; OnDone follows with the reason.
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<HeartbeatStream> self;  // Destroyed last, after the lock is released.
    absl::MutexLock lock(&mu_);
    status_ = status;
    self = std::move(self_);
  }

 private:
  HeartbeatStream() = default;

  void StartWriteLocked(const v1::HeartbeatRequest& beat) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    beat_ = beat;
    writing_ = true;
    write_started_ = absl::Now();
    StartWrite(&beat_);
  }

  // No more writes; lets the call end.
  void Release() {
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      release = held_;
      held_ = false;
    }
    // Outside the lock: releasing the last hold may end the call.
    if (release) RemoveHold();
  }

  // Notifies as it is destroyed. The first member, so destroyed last: once it has notified,
  // the ClientContext and its reference to the channel are gone.
  struct DestroyedSignal {
    ~DestroyedSignal() { notification->Notify(); }
    std::shared_ptr<absl::Notification> notification = std::make_shared<absl::Notification>();
  } destroyed_;
  const absl::Time opened_ = absl::Now();
  grpc::ClientContext context_;
  // Written by gRPC as the call ends; read once status_ is set (under mu_, after OnDone).
  v1::HeartbeatResponse response_;

  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = true;      // Whether StartWrite is still allowed.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // A beat is being sent: beat_.
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  v1::HeartbeatRequest beat_ ABSL_GUARDED_BY(mu_);  // Read by gRPC while writing_.
  std::optional<v1::HeartbeatRequest> queued_ ABSL_GUARDED_BY(mu_);  // Sent after beat_.
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);  // Set by OnDone.
  std::shared_ptr<HeartbeatStream> self_ ABSL_GUARDED_BY(mu_);  // Null after OnDone.
};

GrpcCoordinatorLink::GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel,
                                         GrpcCoordinatorLinkOptions options)
    : stream_lifetime_(options.stream_lifetime),
      stub_(v1::Coordinator::NewStub(std::move(channel))),
      stream_heartbeats_(options.stream_heartbeats) {}

GrpcCoordinatorLink::~GrpcCoordinatorLink() {
  absl::MutexLock lock(&mu_);
  CloseStreamLocked();
  // A stream's last reference may go in gRPC's callback thread, as its OnDone returns, and
  // with it the stream's ClientContext. Were that the channel's last reference, the channel
  // would release gRPC's callback threads from one of them, which gRPC 1.51 cannot do (it
  // joins the thread it runs on, then frees what that thread still uses). So the link, which
  // holds the channel through stub_, outlives every stream it opened.
  for (const OpenedStream& opened : opened_streams_) {
    if (std::shared_ptr<HeartbeatStream> stream = opened.stream.lock()) {
      stream->Close(absl::FromChrono(kHeartbeatDeadline));
    }
  }
  for (const OpenedStream& opened : opened_streams_) opened.destroyed->WaitForNotification();
}

void GrpcCoordinatorLink::CloseStreamLocked() {
  if (stream_ == nullptr) return;
  // A clean half-close tells the coordinator this worker stopped on purpose; the grace
  // bounds the wait when the coordinator is unreachable.
  stream_->Close(absl::FromChrono(kHeartbeatDeadline));
  stream_.reset();
}

absl::StatusOr<RegistrationGrant> GrpcCoordinatorLink::Register(
    const WorkerRegistration& registration) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRegisterDeadline);
  v1::RegisterWorkerRequest request;
  request.set_address(registration.address);
  request.set_pid(registration.pid);
  request.set_host(registration.host);
  request.set_slots(registration.slots);
  for (const std::string& function : registration.functions) request.add_functions(function);
  request.set_incarnation(registration.incarnation);
  request.set_max_chunks_per_call(registration.max_chunks_per_call);
  v1::RegisterWorkerResponse response;
  grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  RegistrationGrant grant;
  grant.worker_id = response.worker_id();
  grant.heartbeat_interval = absl::Milliseconds(response.heartbeat_interval_ms());
  grant.lease_timeout = absl::Milliseconds(response.lease_timeout_ms());
  return grant;
}

absl::StatusOr<std::optional<HeartbeatGrant>> GrpcCoordinatorLink::Heartbeat(
    const std::string& worker_id, uint64_t incarnation, absl::Duration interval) {
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker_id);
  beat.set_incarnation(incarnation);
  beat.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(interval));
  absl::MutexLock lock(&mu_);
  if (!stream_heartbeats_) return UnaryHeartbeat(beat);
  std::optional<HeartbeatGrant> grant;
  if (stream_ != nullptr) {
    if (std::optional<grpc::Status> ended = stream_->status(); ended.has_value()) {
      grant = stream_->grant();
      stream_.reset();
      if (ended->error_code() == grpc::StatusCode::NOT_FOUND) return FromGrpcStatus(*ended);
      if (ended->error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        LogInfo("the coordinator does not offer StreamHeartbeats; using one Heartbeat call "
                "per beat");
        stream_heartbeats_ = false;
        return UnaryHeartbeat(beat);
      }
      if (grant.has_value()) {
        // The coordinator ended the call to grant another interval. The caller adopts it as
        // this returns, so this beat already reports it: reporting the old one would only
        // make the coordinator end the new call too.
        beat.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(grant->interval));
      } else {
        // The call was lost (connection, deadline, coordinator stopping): this beat opens a
        // new one.
        LogDebug(absl::StrCat("heartbeat call ended: ", FromGrpcStatus(*ended).ToString()));
      }
    } else if (absl::Now() - stream_->opened() >= stream_lifetime_) {
      // Replace the call before its deadline. The old one ends once the coordinator has
      // seen the half-close; nothing here waits for it.
      stream_->HalfClose();
      stream_.reset();
    }
  }
  if (stream_ == nullptr) {
    stream_ = HeartbeatStream::Open(stub_.get(), stream_lifetime_);
    // Those of the streams opened before that are gone need no waiting for any more.
    opened_streams_.erase(
        std::remove_if(opened_streams_.begin(), opened_streams_.end(),
                       [](const OpenedStream& opened) {
                         return opened.destroyed->HasBeenNotified();
                       }),
        opened_streams_.end());
    opened_streams_.push_back({stream_, stream_->destroyed()});
  }
  if (!stream_->Send(beat)) {
    // It ended since the check above; the next beat learns why and opens a new one.
    return absl::UnavailableError("the heartbeat call ended before this beat could be sent");
  }
  // A beat waits behind the previous one only while that one is on its way; a long wait
  // means the connection is stuck (until keepalive gives up on it and the call fails).
  if (const absl::Duration waiting = stream_->SendingFor(); waiting > kStuckBeat) {
    return absl::UnavailableError(
        absl::StrCat("heartbeats have not left for ",
                     absl::FormatDuration(absl::Trunc(waiting, absl::Seconds(1))),
                     ": no connection to the coordinator?"));
  }
  return grant;
}

absl::StatusOr<std::optional<HeartbeatGrant>> GrpcCoordinatorLink::UnaryHeartbeat(
    const v1::HeartbeatRequest& beat) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHeartbeatDeadline);
  v1::HeartbeatResponse response;
  grpc::Status status = stub_->Heartbeat(&context, beat, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  // Zero from a coordinator that predates adaptive intervals: keep the interval.
  if (response.heartbeat_interval_ms() <= 0) return std::nullopt;
  return HeartbeatGrant{absl::Milliseconds(response.heartbeat_interval_ms()),
                        absl::Milliseconds(response.lease_timeout_ms())};
}

absl::Status GrpcCoordinatorLink::Drain(const std::string& worker_id, uint64_t incarnation) {
  return Leave(&v1::Coordinator::Stub::DrainWorker, worker_id, incarnation);
}

absl::Status GrpcCoordinatorLink::Deregister(const std::string& worker_id,
                                             uint64_t incarnation) {
  return Leave(&v1::Coordinator::Stub::DeregisterWorker, worker_id, incarnation);
}

absl::Status GrpcCoordinatorLink::Leave(LeaveMethod method, const std::string& worker_id,
                                        uint64_t incarnation) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHeartbeatDeadline);
  v1::WorkerLeaveRequest request;
  request.set_worker_id(worker_id);
  request.set_incarnation(incarnation);
  v1::WorkerLeaveResponse response;
  return FromGrpcStatus((stub_.get()->*method)(&context, request, &response));
}

}  // namespace gpool
