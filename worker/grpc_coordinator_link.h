// CoordinatorLink over gRPC.
#ifndef GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
#define GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/transport.h"
#include "gpool.grpc.pb.h"
#include "worker/registration.h"

namespace gpool {

struct GrpcCoordinatorLinkOptions {
  // Heartbeat over one StreamHeartbeats call; false: one unary Heartbeat call per beat.
  bool stream_heartbeats = true;
  // How long one heartbeat call is used before a new one replaces it.
  absl::Duration stream_lifetime = absl::Minutes(5);
};

// Thread-safe.
//
// Heartbeats travel on one long-lived StreamHeartbeats call, one message per beat: for the
// coordinator that is a small inbound message instead of a whole call, which is what lets it
// keep 1,000 workers at the default rate (docs/performance.md, "Scale"). The call is replaced
// every stream_lifetime, so it has a deadline like every other call. A coordinator that
// predates StreamHeartbeats answers UNIMPLEMENTED, and the link then uses the unary Heartbeat
// for good.
//
// A streamed beat is sent, not acknowledged: Heartbeat returns OK once the beat is handed to
// an open call. When the coordinator rejects a beat it ends the call with NOT_FOUND, and the
// next Heartbeat returns that NOT_FOUND: one heartbeat interval later than the unary call
// would. The lease itself is unaffected. Likewise when the coordinator grants another
// interval: it ends the call with OK and the grant, and the next Heartbeat returns the grant,
// sending its own beat on a new call already reporting the granted interval.
class GrpcCoordinatorLink final : public CoordinatorLink {
 public:
  GrpcCoordinatorLink(const std::string& coordinator_address, const TransportOptions& transport)
      : GrpcCoordinatorLink(CreateChannel(coordinator_address, transport)) {}
  // Over `channel`, e.g. one with a connection of its own (bench/scale/scale_workers).
  explicit GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel,
                               GrpcCoordinatorLinkOptions options = {});
  // Half-closes the heartbeat call and waits (boundedly) until it has ended.
  ~GrpcCoordinatorLink() override;

  absl::StatusOr<RegistrationGrant> Register(const WorkerRegistration& registration) override;
  // A grant: every unary answer carries one; a streamed beat returns one when the coordinator
  // ended the previous call with it.
  // NOT_FOUND: the coordinator rejected an earlier beat (register again).
  // UNAVAILABLE: beats have not left for a while (no connection), or the unary call failed.
  absl::StatusOr<std::optional<HeartbeatGrant>> Heartbeat(const std::string& worker_id,
                                                          uint64_t incarnation,
                                                          absl::Duration interval) override;
  absl::Status Drain(const std::string& worker_id, uint64_t incarnation) override;
  absl::Status Deregister(const std::string& worker_id, uint64_t incarnation) override;

 private:
  class HeartbeatStream;

  // DrainWorker and DeregisterWorker share their request and response types.
  using LeaveMethod = grpc::Status (v1::Coordinator::Stub::*)(grpc::ClientContext*,
                                                              const v1::WorkerLeaveRequest&,
                                                              v1::WorkerLeaveResponse*);
  absl::Status Leave(LeaveMethod method, const std::string& worker_id, uint64_t incarnation);
  absl::StatusOr<std::optional<HeartbeatGrant>> UnaryHeartbeat(const v1::HeartbeatRequest& beat);
  // Ends the current heartbeat call, if any, and forgets it.
  void CloseStreamLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration stream_lifetime_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;

  absl::Mutex mu_;  // Serialises heartbeats: a call carries one message at a time.
  bool stream_heartbeats_ ABSL_GUARDED_BY(mu_);  // False once the coordinator lacks it.
  std::shared_ptr<HeartbeatStream> stream_ ABSL_GUARDED_BY(mu_);  // Null: none open.
  // A stream opened and maybe not destroyed yet: the link waits for it as it goes.
  struct OpenedStream {
    std::weak_ptr<HeartbeatStream> stream;
    std::shared_ptr<absl::Notification> destroyed;  // HeartbeatStream::destroyed()
  };
  std::vector<OpenedStream> opened_streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpool

#endif  // GPOOL_WORKER_GRPC_COORDINATOR_LINK_H_
