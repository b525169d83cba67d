// What the 4 MiB message limit (kMaxMessageBytes, rpc/transport.h) means for the requests
// gpool accepts, checked before a request is sent (client) and when it arrives (coordinator),
// so that an oversized request fails with a message that says what to do instead of a bare
// RESOURCE_EXHAUSTED.
#ifndef GPOOL_RPC_MESSAGE_LIMITS_H_
#define GPOOL_RPC_MESSAGE_LIMITS_H_

#include <cstdint>
#include <utility>
#include <vector>

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

// Sets `request`'s completed_chunks to the chunks a resubmitting client already holds,
// `received` as inclusive intervals of chunk indices, as far as kMaxMapRequestBytes allows:
// when all of them do not fit, the longest intervals are kept. Claiming fewer chunks than
// held is always safe (the coordinator computes the others again and the client drops the
// duplicates); a resubmission that no longer fits the limit never is. Returns the number of
// chunks claimed.
uint64_t SetCompletedChunksWithinLimit(
    const std::vector<std::pair<uint64_t, uint64_t>>& received, v1::MapRequest* request);

}  // namespace gpool

#endif  // GPOOL_RPC_MESSAGE_LIMITS_H_
