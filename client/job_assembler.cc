#include "client/job_assembler.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/process_tuning.h"

namespace gpool {

absl::Status JobAssembler::OnStart(const JobStart& start) {
  if (started_) return absl::FailedPreconditionError("the job was started twice");
  if (start.num_chunks == 0 || start.chunk_size == 0) {
    return absl::DataLossError("the coordinator announced a job without chunks");
  }
  started_ = true;
  start_ = start;
  if (keep_values_) {
    values_.clear();
    values_.reserve(start.total_elements);
    AdviseHugePages(values_.data(), start.total_elements * sizeof(int64_t));
    values_.resize(start.total_elements);
  }
  return absl::OkStatus();
}

absl::Status JobAssembler::OnRestart(const JobStart& start) {
  if (!started_) return OnStart(start);
  if (start.total_elements != start_.total_elements || start.chunk_size != start_.chunk_size ||
      start.num_chunks != start_.num_chunks) {
    return absl::DataLossError(absl::StrCat(
        "the resubmitted job was planned differently (", start.num_chunks, " chunks of ",
        start.chunk_size, ", expected ", start_.num_chunks, " of ", start_.chunk_size, ")"));
  }
  start_.job_id = start.job_id;
  start_.coordinator_incarnation = start.coordinator_incarnation;
  return absl::OkStatus();
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk) {
  return Accept(chunk, chunk.values.size(), [&chunk](int64_t* out) -> absl::StatusOr<ValueStats> {
    return out != nullptr ? CopyAndSummarize(chunk.values.data(), chunk.values.size(), out)
                          : Summarize(chunk.values.data(), chunk.values.size());
  });
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk, SharedValuesBuffer& shared) {
  return Accept(chunk, chunk.element_count, [&chunk, &shared](int64_t* out) {
    return shared.Take(chunk.first_element, chunk.element_count, out);
  });
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk,
                                           const EncodedValues& values) {
  return Accept(chunk, values.size(), [&values](int64_t* out) -> absl::StatusOr<ValueStats> {
    if (out == nullptr) return Summarize(values);
    // Pieces need not end at a value's boundary: copied as bytes, then read in place.
    char* bytes = reinterpret_cast<char*>(out);
    for (const EncodedValues::Piece& piece : values.pieces()) {
      std::memcpy(bytes, piece.data, piece.size);
      bytes += piece.size;
    }
    return Summarize(out, values.size());
  });
}

absl::StatusOr<bool> JobAssembler::Accept(
    const ChunkResult& chunk, uint64_t value_count,
    const std::function<absl::StatusOr<ValueStats>(int64_t* out)>& take_values) {
  if (!started_) return absl::DataLossError("a chunk arrived before the job started");
  if (chunk.chunk_index >= start_.num_chunks) {
    return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index, " is outside the job's ",
                                            start_.num_chunks, " chunks"));
  }
  const uint64_t first = chunk.chunk_index * start_.chunk_size;
  const uint64_t expected_count = std::min(start_.chunk_size, start_.total_elements - first);
  if (chunk.first_element != first || chunk.element_count != expected_count ||
      (values_expected_ && value_count != expected_count)) {
    return absl::DataLossError(absl::StrCat(
        "chunk ", chunk.chunk_index, " does not match the plan: elements ", chunk.first_element,
        "+", chunk.element_count, " with ", value_count, " values, expected ", first,
        "+", expected_count));
  }
  if (!received_.Insert(chunk.chunk_index)) {
    ++duplicates_;
    return false;
  }
  if (value_count > 0) {
    // What the worker reported must be what its values say: the coordinator checked, and the
    // client checks again, so that no garbled chunk becomes a wrong answer.
    absl::StatusOr<ValueStats> values =
        take_values(keep_values_ ? values_.data() + first : nullptr);
    if (!values.ok()) return values.status();
    const std::string disagreement = Disagreement(*values, chunk.element_count,
                                                  chunk.partial_sum, chunk.partial_min,
                                                  chunk.partial_max);
    if (!disagreement.empty()) {
      return absl::DataLossError(absl::StrCat(
          "chunk ", chunk.chunk_index, " from worker ", chunk.worker.worker_id, " (",
          chunk.worker.host, "/", chunk.worker.pid, ") contradicts itself: ", disagreement,
          "; the job's result cannot be trusted"));
    }
  }
  sum_ += chunk.partial_sum;
  count_ += expected_count;
  min_ = std::min(min_, chunk.partial_min);
  max_ = std::max(max_, chunk.partial_max);
  if (chunk.values_shared) values_shared_ += expected_count;
  ++chunks_by_worker_[{chunk.worker.host, chunk.worker.pid, chunk.worker.worker_id}];
  return true;
}

absl::StatusOr<MapSummary> JobAssembler::Finish(const JobStats& stats) {
  if (!started_) return absl::DataLossError("the job ended without starting");
  if (!received_.HoldsExactlyPrefix(start_.num_chunks)) {
    const auto missing = received_.Missing(start_.num_chunks, 1);
    return absl::DataLossError(absl::StrCat(
        "the job ended with ", received_.size(), " of ", start_.num_chunks,
        " chunks; first missing: ", missing.empty() ? 0 : missing.front().first));
  }
  MapSummary summary;
  summary.job = start_;
  summary.sum = sum_;
  summary.count = count_;
  summary.min = min_;
  summary.max = max_;
  summary.stats = stats;
  summary.stats.duplicates_dropped += duplicates_;
  summary.values_shared = values_shared_;
  for (const auto& [key, chunks] : chunks_by_worker_) {
    const auto& [host, pid, worker_id] = key;
    summary.chunks_by_worker.push_back({WorkerIdentity{worker_id, host, pid}, chunks});
  }
  return summary;
}

}  // namespace gpool
