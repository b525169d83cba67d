// How a job's elements are cut into chunks. Chunk i covers elements
// [i * chunk_size, min((i + 1) * chunk_size, total)); its index is stable for the whole job,
// which is what lets every layer count each chunk exactly once.
#ifndef GPOOL_COMMON_CHUNKING_H_
#define GPOOL_COMMON_CHUNKING_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace gpool {

struct ChunkPlan {
  uint64_t total_elements = 0;
  uint64_t chunk_size = 0;
  uint64_t num_chunks = 0;

  uint64_t FirstElement(uint64_t chunk_index) const { return chunk_index * chunk_size; }
  uint64_t ElementCount(uint64_t chunk_index) const;
};

// multiprocessing.Pool's default: ceil(total / (4 * parallelism)), at least 1.
uint64_t DefaultChunkSize(uint64_t total_elements, int parallelism);

// requested_chunk_size 0 means the default. INVALID_ARGUMENT for total 0, a negative chunk
// size or parallelism < 1.
absl::StatusOr<ChunkPlan> PlanChunks(uint64_t total_elements, int64_t requested_chunk_size,
                                     int parallelism);

}  // namespace gpool

#endif  // GPOOL_COMMON_CHUNKING_H_
