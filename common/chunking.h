// How a job's elements are cut into chunks. Chunk i covers elements
// [i * chunk_size, min((i + 1) * chunk_size, total)); its index is stable for the whole job,
// which is what lets every layer count each chunk exactly once.
#ifndef GPOOL_COMMON_CHUNKING_H_
#define GPOOL_COMMON_CHUNKING_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/functions.h"

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

// The largest default chunk of a job whose values travel back (ResultMode::kValues): 2^18
// values, 2 MiB of packed sfixed64 per message. Pool's rule sizes chunks to amortise
// per-task overhead, which is right for reduce-only jobs (a chunk returns a few bytes) but
// not when each chunk is a message of 8 bytes per element crossing two gRPC hops: 10^7
// values on 2 one-slot workers make 8 messages of 10 MB. Each then costs fresh buffers
// (page faults) and copies that miss the caches, and the coordinator cannot forward the
// first values before a whole 10 MB has arrived. W2 (10^7 squares to the caller, 2-core VM,
// CPU of all four processes per job): 518 ms with Pool's 1.25M, 452 ms at 2^19, 388 ms at
// 2^18, 391 ms at 2^17, 402 ms at 2^16, 472 ms at 2^15 (per-chunk overhead again); wall
// time 13-22 % lower at 2^18 in two interleaved runs.
inline constexpr uint64_t kMaxDefaultValuesChunkSize = uint64_t{1} << 18;

// The largest chunk of a job whose values travel back, default or asked for: a chunk's values
// leave a worker in one message and reach the client in one, and messages are limited to
// 4 MiB (kMaxMessageBytes in rpc/transport.h). 2^18 values are 2 MiB, which leaves room for
// the results' other fields and for the small chunks a call or a message may add.
// A larger chunk size asked for is lowered to this (JobStarted.chunk_size tells the client).
inline constexpr uint64_t kMaxValuesChunkSize = kMaxDefaultValuesChunkSize;

// The default for a job in `mode`: Pool's rule, capped at kMaxDefaultValuesChunkSize in
// ResultMode::kValues.
uint64_t DefaultChunkSize(uint64_t total_elements, int parallelism, ResultMode mode);

// requested_chunk_size 0 means the default (Pool's rule). INVALID_ARGUMENT for total 0, a
// negative chunk size or parallelism < 1.
absl::StatusOr<ChunkPlan> PlanChunks(uint64_t total_elements, int64_t requested_chunk_size,
                                     int parallelism);

// As above, with the default for `mode` (DefaultChunkSize(total, parallelism, mode)), and in
// ResultMode::kValues a requested chunk size above kMaxValuesChunkSize lowered to it.
absl::StatusOr<ChunkPlan> PlanChunks(uint64_t total_elements, int64_t requested_chunk_size,
                                     int parallelism, ResultMode mode,
                                     uint64_t largest_element_bytes = 0);

// The most input bytes of strings or bytes one chunk holds: PlanChunks lowers the chunk size
// of a list of such elements until its largest element's kind of chunk fits, so that the
// chunk's call stays within the 4 MiB message limit.
inline constexpr uint64_t kMaxChunkInputBytes = uint64_t{1} << 20;

}  // namespace gpool

#endif  // GPOOL_COMMON_CHUNKING_H_
