// The Coordinator gRPC service: a thin adapter from RPCs to Scheduler calls.
#ifndef GPOOL_SERVER_COORDINATOR_SERVICE_H_
#define GPOOL_SERVER_COORDINATOR_SERVICE_H_

#include "gpool.grpc.pb.h"
#include "server/scheduler.h"

namespace gpool {

// Thread-safe. Map streams use one server thread each for their lifetime.
//
// Heartbeat uses the callback API: with 1,000 workers it is nearly every call the coordinator
// serves, and the sync server hands each call to a pool thread, starting and ending threads
// to keep its poller count. Its handler only updates a timestamp under the scheduler's lock,
// so it runs inline on gRPC's thread without blocking it. The other methods stay synchronous.
class CoordinatorService final
    : public v1::Coordinator::WithCallbackMethod_Heartbeat<v1::Coordinator::Service> {
 public:
  // `scheduler` must outlive the service.
  explicit CoordinatorService(Scheduler* scheduler) : scheduler_(scheduler) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::Status DrainWorker(grpc::ServerContext* context, const v1::WorkerLeaveRequest* request,
                           v1::WorkerLeaveResponse* response) override;
  grpc::Status DeregisterWorker(grpc::ServerContext* context,
                                const v1::WorkerLeaveRequest* request,
                                v1::WorkerLeaveResponse* response) override;
  grpc::Status Map(grpc::ServerContext* context, const v1::MapRequest* request,
                   grpc::ServerWriter<v1::MapResponse>* writer) override;
  grpc::Status GetClusterInfo(grpc::ServerContext* context,
                              const v1::GetClusterInfoRequest* request,
                              v1::ClusterInfo* response) override;

 private:
  Scheduler* const scheduler_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_COORDINATOR_SERVICE_H_
