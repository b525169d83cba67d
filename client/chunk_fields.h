// Reading the client's view of a Map stream's messages (JobStarted, ChunkResult) from the
// protocol's, shared by the Map and MapStream calls.
#ifndef GPOOL_CLIENT_CHUNK_FIELDS_H_
#define GPOOL_CLIENT_CHUNK_FIELDS_H_

#include "absl/status/status.h"
#include "client/client.h"
#include "gpool.pb.h"

namespace gpool {

JobStart JobStartOf(const v1::JobStarted& started);

// Every field of `chunk` but its values, from `proto`. DATA_LOSS for a summary that cannot
// be read (a double sum over its size limit).
absl::Status ReadChunkFields(const v1::ChunkResult& proto, ChunkResult& chunk);

}  // namespace gpool

#endif  // GPOOL_CLIENT_CHUNK_FIELDS_H_
