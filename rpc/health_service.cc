#include "rpc/health_service.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace gpool {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// How soon a Watch notices that its client went away while nothing changes.
constexpr absl::Duration kWatchCancellationCheck = absl::Seconds(1);

HealthCheckResponse::ServingStatus StatusOf(bool serving) {
  return serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

}  // namespace

void HealthService::AddService(std::string service_name) {
  absl::MutexLock lock(&mu_);
  services_.insert(std::move(service_name));
}

bool HealthService::Knows(const std::string& service_name) {
  absl::MutexLock lock(&mu_);
  return services_.contains(service_name);
}

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || serving_ == serving) return;
  serving_ = serving;
  ++version_;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  serving_ = false;
  ++version_;
}

grpc::Status HealthService::Check(grpc::ServerContext* context,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  if (!Knows(request->service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown service '", request->service(),
                                     "': this daemon reports on the server as a whole (\"\") "
                                     "and on the gpool.v1 service it serves"));
  }
  absl::MutexLock lock(&mu_);
  response->set_status(StatusOf(serving_));
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  HealthCheckResponse response;
  const bool known = Knows(request->service());
  if (!known) {
    response.set_status(HealthCheckResponse::SERVICE_UNKNOWN);
    writer->Write(response);
  }
  // The version last seen; none before the first pass, which sends the status at once.
  std::optional<uint64_t> seen_version;
  while (true) {
    bool ended = false;
    {
      absl::MutexLock lock(&mu_);
      const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return seen_version != version_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), kWatchCancellationCheck);
      if (known && changed()) {
        response.set_status(StatusOf(serving_));
      } else {
        response.clear_status();
      }
      // Whatever the service: a change seen is not a change any more (an unknown service's
      // Watch would otherwise wake at once, forever, after the first change).
      seen_version = version_;
      ended = shut_down_;
    }
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the watch");
    }
    if (response.status() != HealthCheckResponse::UNKNOWN && !writer->Write(response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    if (ended) return grpc::Status::OK;
  }
}

}  // namespace gpool
