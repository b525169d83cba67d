// A coordinator's Map request, from any bytes (as any client can send): parsing, the size
// check, the request's conversion to a job and the job's chunk plan never crash (UBSan
// catches any arithmetic overflow in the plan), and an accepted plan covers the input exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/chunking.h"
#include "gpool.pb.h"
#include "rpc/message_limits.h"
#include "server/map_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpool::v1::MapRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!gpool::CheckMapRequestSize(request, absl::StatusCode::kResourceExhausted).ok()) return 0;
  absl::StatusOr<gpool::JobSpec> spec = gpool::ToJobSpec(request);
  if (!spec.ok()) {
    if (spec.status().message().empty()) std::abort();
    return 0;
  }
  if (!gpool::ValidateInput(*spec->input).ok()) return 0;
  const int parallelism = 1 + static_cast<int>(size % 4096);
  absl::StatusOr<gpool::ChunkPlan> plan =
      gpool::PlanChunks(spec->input->size(), spec->chunk_size, parallelism, spec->mode);
  if (!plan.ok()) return 0;
  if (plan->num_chunks == 0 || plan->chunk_size == 0) std::abort();
  const uint64_t last = plan->num_chunks - 1;
  if (plan->FirstElement(last) + plan->ElementCount(last) != spec->input->size()) std::abort();
  if (spec->mode == gpool::ResultMode::kValues && plan->chunk_size > gpool::kMaxValuesChunkSize) {
    std::abort();
  }
  // A slice at the plan's last chunk is what a worker gets: it must describe without trouble.
  const gpool::Input slice = spec->input->Slice(plan->FirstElement(last), plan->ElementCount(last));
  if (slice.size() != plan->ElementCount(last)) std::abort();
  return 0;
}
