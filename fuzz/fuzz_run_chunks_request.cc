// A worker's RunChunks request, from any bytes (as anyone who reaches a worker's port can
// send): parsing and the worker's own checks never crash, and what they accept stays within
// the worker's limits, so computing it cannot exhaust memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/chunking.h"
#include "gpool.pb.h"
#include "worker/chunk_work.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpool::v1::RunChunksRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  constexpr int kMaxChunks = 64;
  absl::StatusOr<gpool::ChunkWork> work = gpool::ChunkWorkOf(request, kMaxChunks);
  if (!work.ok()) {
    if (work.status().message().empty()) std::abort();
    return 0;
  }
  if (work->inputs.empty() || work->inputs.size() > kMaxChunks ||
      work->inputs.size() != work->first_elements.size()) {
    std::abort();
  }
  uint64_t elements = 0;
  for (const gpool::Input& input : work->inputs) {
    if (!gpool::ValidateInput(input).ok()) std::abort();
    elements += input.size();
  }
  if (elements != work->elements) std::abort();
  if (work->mode == gpool::ResultMode::kValues && elements > gpool::kMaxValuesChunkSize) {
    std::abort();
  }
  return 0;
}
