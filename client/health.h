// Probing a gpool daemon (or any gRPC server) with the standard grpc.health.v1 protocol.
#ifndef GPOOL_CLIENT_HEALTH_H_
#define GPOOL_CLIENT_HEALTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport.h"

namespace gpool {

// The serving status of `address` as a whole: "SERVING", "NOT_SERVING" or "UNKNOWN".
// UNAVAILABLE (naming the address) when it does not answer within `timeout`.
absl::StatusOr<std::string> CheckHealth(const std::string& address, absl::Duration timeout,
                                        const TransportOptions& transport = {});

}  // namespace gpool

#endif  // GPOOL_CLIENT_HEALTH_H_
