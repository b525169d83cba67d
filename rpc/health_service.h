// grpc.health.v1 for a gpool daemon, served through gRPC's sync API.
//
// gRPC's default health service is served through the callback API, and in gRPC 1.51 a single
// callback method makes the whole process run two more threads that wait for gRPC events,
// which the coordinator avoids (see rpc/completion_queue_loop.h). Health checks are rare
// and cheap, so a sync service costs nothing that matters.
#ifndef GPOOL_RPC_HEALTH_SERVICE_H_
#define GPOOL_RPC_HEALTH_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace gpool {

// Thread-safe. Reports one status for the server as a whole ("") and for each service name
// the daemon adds (e.g. "gpool.v1.Coordinator"), so a probe may name either: a daemon serves
// all of its services or none. Check and Watch of any other name answer NOT_FOUND and
// SERVICE_UNKNOWN, as gRPC's default service does.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthService(bool serving) : serving_(serving) {}

  // Reports on `service_name` too, with the server's status.
  void AddService(std::string service_name);
  void SetServing(bool serving);
  // Ends the open Watch calls (with OK, after a last NOT_SERVING) and refuses new ones, so
  // that the server's Shutdown does not wait for them. Idempotent.
  void Shutdown();

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // Sends the status at once, then each change, until the client cancels or Shutdown.
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  bool Knows(const std::string& service_name) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_set<std::string> services_ ABSL_GUARDED_BY(mu_) = {""};
  bool serving_ ABSL_GUARDED_BY(mu_);
  // Counts SetServing changes, so that a Watch knows whether it has sent the latest.
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gpool

#endif  // GPOOL_RPC_HEALTH_SERVICE_H_
