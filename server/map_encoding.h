// The scheduler's job events as Map and MapStream send them: one encoding for both calls.
#ifndef GPOOL_SERVER_MAP_ENCODING_H_
#define GPOOL_SERVER_MAP_ENCODING_H_

#include <cstdint>

#include "gpool.pb.h"
#include "rpc/raw_messages.h"
#include "server/job_stream.h"

namespace gpool {

// A chunk's result for the wire: its values moved (no copy), the rest copied.
RawChunkResult ToOutgoing(ChunkDelivery& delivery);
// A job's start, as the coordinator process `coordinator_incarnation` announces it.
v1::JobStarted StartedOf(const JobPlanInfo& plan, uint64_t coordinator_incarnation);

}  // namespace gpool

#endif  // GPOOL_SERVER_MAP_ENCODING_H_
