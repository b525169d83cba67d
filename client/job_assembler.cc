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
    values_ = Elements(start.output_type);
    switch (start.output_type) {
      case ElementType::kInt64: {
        std::vector<int64_t>& values = values_.mutable_int64s();
        values.reserve(start.total_elements);
        AdviseHugePages(values.data(), start.total_elements * sizeof(int64_t));
        values.resize(start.total_elements);
        break;
      }
      case ElementType::kDouble: {
        std::vector<double>& values = values_.mutable_doubles();
        values.reserve(start.total_elements);
        AdviseHugePages(values.data(), start.total_elements * sizeof(double));
        values.resize(start.total_elements);
        break;
      }
      default:
        values_.mutable_texts().resize(start.total_elements);
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status JobAssembler::OnRestart(const JobStart& start) {
  if (!started_) return OnStart(start);
  if (start.total_elements != start_.total_elements || start.chunk_size != start_.chunk_size ||
      start.num_chunks != start_.num_chunks || start.output_type != start_.output_type) {
    return absl::DataLossError(absl::StrCat(
        "the resubmitted job was planned differently (", start.num_chunks, " chunks of ",
        start.chunk_size, " ", ElementTypeName(start.output_type), " values, expected ",
        start_.num_chunks, " of ", start_.chunk_size, " ", ElementTypeName(start_.output_type),
        ")"));
  }
  start_.job_id = start.job_id;
  start_.coordinator_incarnation = start.coordinator_incarnation;
  return absl::OkStatus();
}

int64_t* JobAssembler::NumericSlot(uint64_t first_element) {
  if (!keep_values_) return nullptr;
  // The words of a double column are the doubles' bits; they are only copied and read
  // byte-wise (memcpy), never as integers.
  return start_.output_type == ElementType::kDouble
             ? reinterpret_cast<int64_t*>(values_.mutable_doubles().data() + first_element)
             : values_.mutable_int64s().data() + first_element;
}

JobAssembler::TakenValues JobAssembler::SummarizeWords(const int64_t* words, size_t n) const {
  TakenValues taken;
  if (start_.output_type == ElementType::kDouble) {
    EncodedValues view(ElementType::kDouble);
    view.Append(reinterpret_cast<const char*>(words), n * sizeof(double), nullptr);
    taken.doubles = SummarizeDoubles(view);
  } else {
    taken.ints = Summarize(words, n);
  }
  return taken;
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk) {
  return Accept(chunk, chunk.values.size(), [this, &chunk]() -> absl::StatusOr<TakenValues> {
    const Elements& values = chunk.values;
    if (values.type() != start_.output_type) {
      return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index, " holds ",
                                              ElementTypeName(values.type()), " values, not ",
                                              ElementTypeName(start_.output_type)));
    }
    if (!IsNumeric(values.type())) {
      if (keep_values_) {
        std::copy(values.texts().begin(), values.texts().end(),
                  values_.mutable_texts().begin() + chunk.first_element);
      }
      return TakenValues();
    }
    const int64_t* words = values.type() == ElementType::kDouble
                               ? reinterpret_cast<const int64_t*>(values.doubles().data())
                               : values.int64s().data();
    if (int64_t* out = NumericSlot(chunk.first_element)) {
      std::memcpy(out, words, values.size() * sizeof(int64_t));
    }
    return SummarizeWords(words, values.size());
  });
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk, SharedValuesBuffer& shared) {
  return Accept(chunk, chunk.element_count, [this, &chunk, &shared]() -> absl::StatusOr<TakenValues> {
    std::vector<int64_t> scratch;
    int64_t* out = NumericSlot(chunk.first_element);
    if (out == nullptr) {
      scratch.resize(chunk.element_count);
      out = scratch.data();
    }
    absl::StatusOr<ValueStats> ints = shared.Take(chunk.first_element, chunk.element_count, out);
    if (!ints.ok()) return ints.status();
    if (start_.output_type != ElementType::kDouble) {
      TakenValues taken;
      taken.ints = *ints;
      return taken;
    }
    return SummarizeWords(out, chunk.element_count);
  });
}

absl::StatusOr<bool> JobAssembler::OnChunk(const ChunkResult& chunk,
                                           const EncodedValues& values) {
  return Accept(chunk, values.size(), [this, &chunk, &values]() -> absl::StatusOr<TakenValues> {
    if (!values.empty() && values.type() != start_.output_type) {
      return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index, " holds ",
                                              ElementTypeName(values.type()), " values, not ",
                                              ElementTypeName(start_.output_type)));
    }
    if (!IsNumeric(values.type())) {
      if (keep_values_) {
        absl::StatusOr<Elements> decoded = values.ToElements();
        if (!decoded.ok()) return decoded.status();
        std::move(decoded->mutable_texts().begin(), decoded->mutable_texts().end(),
                  values_.mutable_texts().begin() + chunk.first_element);
      }
      return TakenValues();
    }
    int64_t* out = NumericSlot(chunk.first_element);
    if (out == nullptr) {
      TakenValues taken;
      if (values.type() == ElementType::kDouble) {
        taken.doubles = SummarizeDoubles(values);
      } else {
        taken.ints = Summarize(values);
      }
      return taken;
    }
    // Pieces need not end at a value's boundary: copied as bytes, then read in place.
    values.CopyTo(out);
    return SummarizeWords(out, values.size());
  });
}

absl::StatusOr<bool> JobAssembler::Accept(
    const ChunkResult& chunk, uint64_t value_count,
    const std::function<absl::StatusOr<TakenValues>()>& take_values) {
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
  if (chunk.summary != SummaryKindOf(start_.output_type)) {
    return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index,
                                            " carries another summary than its ",
                                            ElementTypeName(start_.output_type), " values'"));
  }
  if (!received_.Insert(chunk.chunk_index)) {
    ++duplicates_;
    return false;
  }
  if (value_count > 0) {
    // What the worker reported must be what its values say: the coordinator checked, and the
    // client checks again, so that no garbled chunk becomes a wrong answer.
    absl::StatusOr<TakenValues> values = take_values();
    if (!values.ok()) return values.status();
    std::string disagreement;
    if (start_.output_type == ElementType::kInt64) {
      disagreement = Disagreement(values->ints, chunk.element_count, chunk.partial_sum,
                                  chunk.partial_min, chunk.partial_max);
    } else if (start_.output_type == ElementType::kDouble) {
      disagreement = Disagreement(values->doubles, chunk.element_count, chunk.partial_doubles);
    }
    if (!disagreement.empty()) {
      return absl::DataLossError(absl::StrCat(
          "chunk ", chunk.chunk_index, " from worker ", chunk.worker.worker_id, " (",
          chunk.worker.host, "/", chunk.worker.pid, ") contradicts itself: ", disagreement,
          "; the job's result cannot be trusted"));
    }
  }
  if (chunk.summary == SummaryKind::kInt64) {
    sum_ += chunk.partial_sum;
    min_ = std::min(min_, chunk.partial_min);
    max_ = std::max(max_, chunk.partial_max);
  } else if (chunk.summary == SummaryKind::kDouble) {
    doubles_.Merge(chunk.partial_doubles);
  }
  count_ += expected_count;
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
  summary.doubles = doubles_;
  summary.doubles.count = count_;
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
