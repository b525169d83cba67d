// Conversions between absl::Status and grpc::Status; the codes share numbering.
#ifndef GPOOL_RPC_GRPC_STATUS_H_
#define GPOOL_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gpool {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace gpool

#endif  // GPOOL_RPC_GRPC_STATUS_H_
