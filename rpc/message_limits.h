// What the 4 MiB message limit (kMaxMessageBytes, rpc/transport.h) means for the requests
// gpool accepts, checked before a request is sent (client) and when it arrives (coordinator),
// so that an oversized request fails with a message that says what to do instead of a bare
// RESOURCE_EXHAUSTED.
#ifndef GPOOL_RPC_MESSAGE_LIMITS_H_
#define GPOOL_RPC_MESSAGE_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "gpool.pb.h"
#include "rpc/transport.h"

namespace gpool {

// The largest MapRequest: the message limit less room for what the coordinator adds when it
// forwards a chunk of the request's list to a worker (job id, chunk fields, framing), so that
// a job whose list is one chunk still reaches its worker.
inline constexpr int64_t kMaxMapRequestBytes = kMaxMessageBytes - 64 * 1024;

// OK when `request` fits kMaxMapRequestBytes; otherwise an error with `code` naming the limit,
// the request's encoded size, its list's length, and what to do instead.
absl::Status CheckMapRequestSize(const v1::MapRequest& request, absl::StatusCode code);

}  // namespace gpool

#endif  // GPOOL_RPC_MESSAGE_LIMITS_H_
