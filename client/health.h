// Probing a gpool daemon (or any gRPC server) with the standard grpc.health.v1 protocol.
#ifndef GPOOL_CLIENT_HEALTH_H_
#define GPOOL_CLIENT_HEALTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/transport.h"

namespace gpool {

// The serving status of `service` ("" : the server as a whole) at `address`: "SERVING",
// "NOT_SERVING" or "UNKNOWN". UNAVAILABLE (naming the address) when it does not answer within
// `timeout`; NOT_FOUND when the server does not know `service`.
absl::StatusOr<std::string> CheckHealth(const std::string& address, absl::Duration timeout,
                                        const TransportOptions& transport = {},
                                        const std::string& service = "");

}  // namespace gpool

#endif  // GPOOL_CLIENT_HEALTH_H_
