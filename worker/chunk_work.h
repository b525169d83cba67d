// A RunChunks request as the work a worker does: the checks a worker makes itself before it
// computes anything, whoever called (the coordinator bounds its calls too, but a worker's
// port may be reached by anyone its network lets through). Transport-free apart from the
// generated message types, which are plain data here.
#ifndef GPOOL_WORKER_CHUNK_WORK_H_
#define GPOOL_WORKER_CHUNK_WORK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/functions.h"
#include "common/input.h"
#include "gpool.pb.h"

namespace gpool {

// What a RunChunks call asks for.
struct ChunkWork {
  std::string function;
  ResultMode mode = ResultMode::kValues;
  std::vector<Input> inputs;
  std::vector<uint64_t> first_elements;
  std::optional<v1::SharedValues> shared_values;
  uint64_t elements = 0;
  // The InlinePolicy's key: calls of one function cost alike per element only in one result
  // mode and input form.
  std::string kind;
};

// The work `request` asks of a worker that takes at most `max_chunks` chunks per call.
//   FAILED_PRECONDITION  no chunks, or more than max_chunks: this worker cannot take the call
//                        as sent, which the coordinator counts as this worker's fault and
//                        moves the chunks (never the job's failure).
//   INVALID_ARGUMENT     a malformed chunk (its input, a negative first_element), an unknown
//                        result mode, or, in RESULT_MODE_VALUES, more than
//                        kMaxValuesChunkSize elements in the call (their values could not
//                        leave in one answer; a worker would run out of memory long before
//                        10^12). Each message names the field and its limit.
absl::StatusOr<ChunkWork> ChunkWorkOf(const v1::RunChunksRequest& request, int max_chunks);

}  // namespace gpool

#endif  // GPOOL_WORKER_CHUNK_WORK_H_
