// Assembles one job's streamed chunk results on the client: checks that every chunk belongs
// to the plan and arrives exactly once, reduces exactly, and (optionally) places values in
// input order. Transport-free, so the exactly-once bookkeeping is unit-tested on its own.
#ifndef GPOOL_CLIENT_JOB_ASSEMBLER_H_
#define GPOOL_CLIENT_JOB_ASSEMBLER_H_

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "common/encoded_values.h"
#include "common/index_set.h"
#include "common/shared_values.h"
#include "common/value_stats.h"

namespace gpool {

// Not thread-safe; one per job.
class JobAssembler {
 public:
  // With keep_values, values are gathered into input order (memory grows with the job).
  // With values_expected, every chunk must carry its values (RESULT_MODE_VALUES).
  JobAssembler(bool keep_values, bool values_expected)
      : keep_values_(keep_values), values_expected_(values_expected) {}
  // Values expected exactly when kept.
  explicit JobAssembler(bool keep_values) : JobAssembler(keep_values, keep_values) {}

  // FAILED_PRECONDITION if called twice.
  absl::Status OnStart(const JobStart& start);

  // The job was resubmitted (after the coordinator was lost) and started again. DATA_LOSS
  // unless the plan is the same, so that chunk indices keep their meaning.
  absl::Status OnRestart(const JobStart& start);

  bool started() const { return started_; }
  const JobStart& start() const { return start_; }

  // Accepts a chunk. Returns false for a duplicate index (dropped, counted), true when
  // accepted. DATA_LOSS when the chunk does not match the plan (wrong bounds or value count)
  // or arrives before OnStart, and when its values (whenever it carries them) disagree with
  // the count, sum, min or max its worker reported: the message names the chunk and the
  // worker.
  absl::StatusOr<bool> OnChunk(const ChunkResult& chunk);
  // The same, with the chunk's values passed apart from `chunk` (whose own are ignored) as
  // they arrived, so they are placed straight from the received buffers.
  absl::StatusOr<bool> OnChunk(const ChunkResult& chunk, const EncodedValues& values);
  // The same for a chunk whose values a worker wrote to `shared` (chunk.values_shared): they
  // are taken from there. DATA_LOSS (or OUT_OF_RANGE) when they cannot be read.
  absl::StatusOr<bool> OnChunk(const ChunkResult& chunk, SharedValuesBuffer& shared);

  // DATA_LOSS unless every chunk 0 .. num_chunks-1 arrived.
  absl::StatusOr<MapSummary> Finish(const JobStats& stats);

  // Values in input order, of the job's output type; valid after Finish with keep_values.
  Elements TakeValues() { return std::move(values_); }

  const IndexSet& received() const { return received_; }
  int64_t duplicates() const { return duplicates_; }

 private:
  // What a chunk's values add up to, by their type (int64: ints; double: doubles).
  struct TakenValues {
    ValueStats ints;
    DoubleStats doubles;
  };
  // OnChunk's work, with the values' count (0: the chunk carries none) and a function that
  // places them in the kept values at the chunk's position (unless not keeping them) and
  // returns what they add up to.
  absl::StatusOr<bool> Accept(const ChunkResult& chunk, uint64_t value_count,
                              const std::function<absl::StatusOr<TakenValues>()>& take_values);
  // Where a chunk's numeric values go among the kept ones (8-byte words), or null when
  // values are not kept.
  int64_t* NumericSlot(uint64_t first_element);
  // What numeric values (8-byte words, of the job's output type) add up to.
  TakenValues SummarizeWords(const int64_t* words, size_t n) const;

  const bool keep_values_;
  const bool values_expected_;
  bool started_ = false;
  JobStart start_;
  IndexSet received_;
  absl::int128 sum_ = 0;
  DoubleStats doubles_;
  uint64_t count_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = INT64_MIN;
  int64_t duplicates_ = 0;
  uint64_t values_shared_ = 0;
  Elements values_;
  // (host, pid, worker id) -> chunks; ordered so reports are stable.
  std::map<std::tuple<std::string, int64_t, std::string>, int64_t> chunks_by_worker_;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_JOB_ASSEMBLER_H_
