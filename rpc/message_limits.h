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

// Room kept below kMaxMessageBytes for what wraps a payload of known size: what the
// coordinator adds when it forwards a chunk of a request's list to a worker (job id, chunk
// fields), a Map message's start and end, and framing.
inline constexpr int64_t kMessageHeadroomBytes = 64 * 1024;

// The largest MapRequest, so that a job whose list is one chunk still reaches its worker.
inline constexpr int64_t kMaxMapRequestBytes = kMaxMessageBytes - kMessageHeadroomBytes;

// OK when `request` fits kMaxMapRequestBytes; otherwise an error with `code` naming the limit,
// the request's encoded size, its list's length, and what to do instead.
absl::Status CheckMapRequestSize(const v1::MapRequest& request, absl::StatusCode code);

}  // namespace gpool

#endif  // GPOOL_RPC_MESSAGE_LIMITS_H_
