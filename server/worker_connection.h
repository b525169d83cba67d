// The scheduler's view of a worker's RPC endpoint. The gRPC implementation lives in
// grpc_worker_connection.h; unit tests use a fake that queues calls so the test decides when
// (and how) each one completes.
#ifndef GPOOL_SERVER_WORKER_CONNECTION_H_
#define GPOOL_SERVER_WORKER_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/encoded_values.h"
#include "common/shared_values.h"

namespace gpool {

// Mapped values, kept in the encoding and the buffers they arrived in: the coordinator
// relays them from a worker's response to the client's stream without copying them.
using Values = EncodedValues;

// One attempt at one chunk, as sent to a worker.
struct ChunkTask {
  // Unique per call (per coordinator process); names the call for Cancel. The chunks of one
  // RunChunks call share it.
  uint64_t call_id = 0;
  std::string job_id;
  uint64_t chunk_index = 0;
  int attempt = 0;
  std::string function;
  // The whole job's input and the chunk's slice of it; the transport encodes the slice
  // directly, so a list is never copied per chunk on the coordinator.
  std::shared_ptr<const Input> job_input;
  uint64_t first_element = 0;
  uint64_t element_count = 0;
  ResultMode mode = ResultMode::kValues;
  // The client's shared-memory buffer for the job's values, if it offered one (kValues only).
  std::optional<SharedValuesRef> shared_values;
};

// A worker's answer for one chunk.
struct ChunkReply {
  Values values;  // Empty in ResultMode::kSum, and when values_shared.
  // The worker wrote the values to the job's shared-memory buffer instead.
  bool values_shared = false;
  uint64_t count = 0;
  // The reductions the worker reported, by the kind of its summary: int64 (sum, min, max),
  // double (doubles), or none (string and bytes results).
  using SummaryKind = gpool::SummaryKind;
  SummaryKind summary = SummaryKind::kNone;
  absl::int128 sum = 0;
  int64_t min = 0;
  int64_t max = 0;
  DoubleStats doubles;
  int64_t pid = 0;
};

// Thread-safe.
class WorkerConnection {
 public:
  // One reply per task, in the order of the tasks, or the call's error.
  using Done = std::function<void(absl::StatusOr<std::vector<ChunkReply>>)>;
  virtual ~WorkerConnection() = default;
  // Starts one RunChunks call of 1 to max_chunks_per_call chunks of one job (all tasks share
  // call_id, job, function and mode). `done` runs exactly once, usually on another thread;
  // callers must not hold locks that `done` takes.
  virtual void RunChunks(std::vector<ChunkTask> tasks, Done done) = 0;
  // Cancels one call (a backup copy that lost the race); its `done` still runs. A call that
  // already finished, or is unknown, is ignored.
  virtual void Cancel(uint64_t call_id) = 0;
  // Cancels every call in flight; their `done` still runs (with CANCELLED or their result).
  virtual void CancelAll() = 0;

  // Whether the worker is still the given incarnation, or the call's error.
  using ConfirmDone = std::function<void(absl::StatusOr<bool>)>;
  // Asks the worker whether its incarnation is `incarnation` (Worker.ConfirmIncarnation),
  // giving it `timeout` to answer (then DEADLINE_EXCEEDED). `done` runs exactly once, maybe on
  // another thread; callers must not hold locks that `done` takes. Not cancelled by
  // CancelAll: the question outlives the registration it is about.
  virtual void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                                  ConfirmDone done) = 0;
};

// Creates connections to worker addresses. Thread-safe.
class WorkerConnector {
 public:
  virtual ~WorkerConnector() = default;
  virtual std::shared_ptr<WorkerConnection> Connect(const std::string& address) = 0;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_WORKER_CONNECTION_H_
