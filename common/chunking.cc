#include "common/chunking.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gpool {

uint64_t ChunkPlan::ElementCount(uint64_t chunk_index) const {
  const uint64_t first = FirstElement(chunk_index);
  if (first >= total_elements) return 0;
  return std::min(chunk_size, total_elements - first);
}

uint64_t DefaultChunkSize(uint64_t total_elements, int parallelism) {
  const uint64_t divisor = 4 * static_cast<uint64_t>(std::max(parallelism, 1));
  // Written so that it cannot overflow near 2^63 elements.
  const uint64_t size = total_elements / divisor + (total_elements % divisor != 0 ? 1 : 0);
  return std::max<uint64_t>(size, 1);
}

uint64_t DefaultChunkSize(uint64_t total_elements, int parallelism, ResultMode mode) {
  const uint64_t pool = DefaultChunkSize(total_elements, parallelism);
  return mode == ResultMode::kValues ? std::min(pool, kMaxDefaultValuesChunkSize) : pool;
}

absl::StatusOr<ChunkPlan> PlanChunks(uint64_t total_elements, int64_t requested_chunk_size,
                                     int parallelism) {
  return PlanChunks(total_elements, requested_chunk_size, parallelism, ResultMode::kSum);
}

absl::StatusOr<ChunkPlan> PlanChunks(uint64_t total_elements, int64_t requested_chunk_size,
                                     int parallelism, ResultMode mode,
                                     uint64_t largest_element_bytes) {
  if (total_elements == 0) {
    return absl::InvalidArgumentError("a job needs at least one element");
  }
  if (requested_chunk_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size ", requested_chunk_size, " is negative; use 0 for the default"));
  }
  if (parallelism < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("parallelism ", parallelism, " must be at least 1"));
  }
  ChunkPlan plan;
  plan.total_elements = total_elements;
  plan.chunk_size = requested_chunk_size == 0
                        ? DefaultChunkSize(total_elements, parallelism, mode)
                        : std::min<uint64_t>(requested_chunk_size, total_elements);
  if (mode == ResultMode::kValues) plan.chunk_size = std::min(plan.chunk_size, kMaxValuesChunkSize);
  if (largest_element_bytes > 0) {
    // Uniform chunks (chunk i starts at i * chunk_size), so the bound follows the largest
    // element: no chunk holds more than kMaxChunkInputBytes, however its elements fall.
    plan.chunk_size = std::min<uint64_t>(
        plan.chunk_size, std::max<uint64_t>(1, kMaxChunkInputBytes / largest_element_bytes));
  }
  plan.num_chunks = total_elements / plan.chunk_size +
                    (total_elements % plan.chunk_size != 0 ? 1 : 0);
  return plan;
}

}  // namespace gpool
