#include "server/input_stream.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/chunking.h"
#include "common/input.h"
#include "rpc/proto_convert.h"
#include "server/map_request.h"

namespace gpool {

InputStream::InputStream(std::string client) : client_(std::move(client)) {}

absl::Status InputStream::Take(const v1::MapStreamRequest& message) {
  switch (message.kind_case()) {
    case v1::MapStreamRequest::kHeader:
      if (has_header_) {
        return absl::InvalidArgumentError(
            "MapStream got a second header; send the header once, first, then values");
      }
      return TakeHeader(message.header());
    case v1::MapStreamRequest::kValues:
      break;
    case v1::MapStreamRequest::KIND_NOT_SET:
      return absl::InvalidArgumentError(
          "a MapStreamRequest with neither header nor values; set one of them");
  }
  if (!has_header_) {
    return absl::InvalidArgumentError(
        "MapStream got values before its header; the first message must be the header");
  }
  Elements values = FromProto(message.values());
  if (values.empty() || values.size() > static_cast<size_t>(kMaxStreamBatchValues)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a MapStream batch holds 1 to ", kMaxStreamBatchValues, " values, got ",
                     values.size()));
  }
  if (total_elements_ == 0) {
    filling_ = Elements(values.type());
  } else if (values.type() != filling_.type()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a MapStream batch of ", ElementTypeName(values.type()), " values in a stream of ",
        ElementTypeName(filling_.type()), " values; every batch has the stream's one type"));
  }
  if (absl::Status valid = ValidateElements(values, "the stream's"); !valid.ok()) return valid;
  if (total_elements_ + static_cast<uint64_t>(values.size()) > kMaxElements) {
    return absl::InvalidArgumentError(
        absl::StrCat("the input is longer than ", kMaxElements, " elements"));
  }
  if (IsNumeric(values.type())) {
    // A batch may close a segment and start the next: segments are whole chunks.
    size_t index = 0;
    while (index < values.size()) {
      const int64_t room = segment_elements_ - static_cast<int64_t>(filling_.size());
      const size_t take = static_cast<size_t>(std::min<int64_t>(room, values.size() - index));
      filling_.Append(values.Slice(index, take));
      index += take;
      if (static_cast<int64_t>(filling_.size()) == segment_elements_) CloseSegment();
    }
  } else {
    // Strings and bytes: segments also close by bytes (at a chunk's end), and a chunk's
    // input must fit its call.
    std::vector<std::string>& texts = values.mutable_texts();
    for (size_t i = 0; i < texts.size(); ++i) {
      chunk_bytes_ += texts[i].size();
      filling_bytes_ += texts[i].size();
      if (chunk_bytes_ > kMaxStreamChunkInputBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "chunk ", (total_elements_ + i) / static_cast<uint64_t>(chunk_size_),
            " of the stream holds over ", kMaxStreamChunkInputBytes, " bytes of input (",
            chunk_size_, " elements up to element #", total_elements_ + i,
            "); give a smaller chunk_size so that a chunk's call fits the 4 MiB message limit"));
      }
      filling_.mutable_texts().push_back(std::move(texts[i]));
      const bool chunk_ends = filling_.size() % static_cast<size_t>(chunk_size_) == 0;
      if (chunk_ends) chunk_bytes_ = 0;
      if (static_cast<int64_t>(filling_.size()) == segment_elements_ ||
          (chunk_ends && filling_bytes_ >= kStreamSegmentBytes)) {
        CloseSegment();
      }
    }
  }
  total_elements_ += static_cast<uint64_t>(values.size());
  return absl::OkStatus();
}

absl::Status InputStream::TakeHeader(const v1::MapRequest& header) {
  if (header.has_input()) {
    return absl::InvalidArgumentError(
        "a MapStream header has no input: stream the values in the messages after it");
  }
  if (header.has_shared_values()) {
    return absl::InvalidArgumentError(
        "a MapStream header cannot offer shared_values: the input's length is unknown");
  }
  // Map's checks, on the header with a placeholder input: a header Map would refuse fails
  // here, before any value is sent.
  v1::MapRequest probe = header;
  probe.mutable_input()->mutable_list()->mutable_int64s()->add_values(0);
  absl::StatusOr<JobSpec> spec = ToJobSpec(probe);
  if (!spec.ok()) return spec.status();
  if (absl::Status valid = ValidateJobSpec(*spec); !valid.ok()) return valid;
  template_ = *std::move(spec);
  template_.input = nullptr;
  template_.client = client_;
  template_.completed_chunks.clear();

  const int64_t max_chunk = template_.mode == ResultMode::kValues
                                ? static_cast<int64_t>(kMaxValuesChunkSize)
                                : kStreamMaxSumChunkSize;
  chunk_size_ = header.chunk_size() == 0 ? kStreamDefaultChunkSize
                                         : std::min(header.chunk_size(), max_chunk);
  segment_elements_ = std::max<int64_t>(1, kStreamSegmentElements / chunk_size_) * chunk_size_;
  template_.chunk_size = chunk_size_;
  for (const v1::ChunkRange& range : header.completed_chunks()) {
    // ValidateJobSpec checked them (non-negative, not reversed, with a chunk size).
    const uint64_t first = static_cast<uint64_t>(range.first());
    const uint64_t last = static_cast<uint64_t>(range.last());
    any_completed_ = true;
    max_completed_ = std::max(max_completed_, last);
    // Merged, so that AllCompleted and the local ranges see each index once.
    uint64_t lo = first;
    uint64_t hi = last;
    auto it = completed_.upper_bound(lo);
    if (it != completed_.begin() && std::prev(it)->second + 1 >= lo) --it;
    while (it != completed_.end() && it->first <= hi + 1) {
      lo = std::min(lo, it->first);
      hi = std::max(hi, it->second);
      it = completed_.erase(it);
    }
    completed_[lo] = hi;
  }
  has_header_ = true;
  return absl::OkStatus();
}

absl::Status InputStream::EndOfInput() {
  if (!has_header_) {
    return absl::InvalidArgumentError(
        "MapStream ended before its header; send the header, then values");
  }
  if (total_elements_ == 0) {
    return absl::InvalidArgumentError("MapStream ended without values; send at least one");
  }
  const uint64_t chunks =
      (total_elements_ + static_cast<uint64_t>(chunk_size_) - 1) / static_cast<uint64_t>(chunk_size_);
  if (any_completed_ && max_completed_ >= chunks) {
    return absl::InvalidArgumentError(absl::StrCat("completed chunk ", max_completed_,
                                                   " is beyond the ", chunks,
                                                   " chunks of the input"));
  }
  ended_ = true;
  CloseSegment();
  return absl::OkStatus();
}

void InputStream::CloseSegment() {
  if (filling_.empty()) return;
  StreamSegment segment;
  segment.index = next_segment_++;
  // Segments are whole chunks (but the last).
  segment.first_element = closed_elements_;
  closed_elements_ += filling_.size();
  filling_bytes_ = 0;
  segment.first_chunk = segment.first_element / static_cast<uint64_t>(chunk_size_);
  const uint64_t chunks =
      (filling_.size() + static_cast<uint64_t>(chunk_size_) - 1) / static_cast<uint64_t>(chunk_size_);
  segment.spec = template_;
  // Completed chunks within the segment, as its own job numbers them.
  const uint64_t last_chunk = segment.first_chunk + chunks - 1;
  for (auto it = completed_.begin(); it != completed_.end(); ++it) {
    const uint64_t lo = std::max(it->first, segment.first_chunk);
    const uint64_t hi = std::min(it->second, last_chunk);
    if (lo <= hi) {
      segment.spec.completed_chunks.emplace_back(lo - segment.first_chunk,
                                                 hi - segment.first_chunk);
    }
  }
  const bool skip = AllCompleted(segment.first_chunk, chunks);
  // The stream has checked its chunks' bytes: the plan keeps its chunk size.
  segment.spec.exact_chunk_size = true;
  const ElementType type = filling_.type();
  segment.spec.input = std::make_shared<const Input>(Input::List(std::move(filling_)));
  filling_ = Elements(type);
  // The client holds every chunk of it: nothing to run, and nothing to hold.
  if (!skip) ready_.push_back(std::move(segment));
}

bool InputStream::AllCompleted(uint64_t first_chunk, uint64_t chunks) const {
  auto it = completed_.upper_bound(first_chunk);
  if (it == completed_.begin()) return false;
  --it;
  return it->first <= first_chunk && it->second >= first_chunk + chunks - 1;
}

bool InputStream::WantsInput() const {
  return !ended_ && ready_.empty() &&
         static_cast<int>(in_flight_.size()) < max_in_flight_;
}

std::vector<StreamSegment> InputStream::TakeSegments() {
  std::vector<StreamSegment> segments;
  while (!ready_.empty() && static_cast<int>(in_flight_.size()) < max_in_flight_) {
    StreamSegment& segment = ready_.front();
    in_flight_[segment.index] = {segment.first_chunk, segment.first_element};
    segments.push_back(std::move(segment));
    ready_.pop_front();
  }
  return segments;
}

std::optional<JobPlanInfo> InputStream::SegmentStarted(uint64_t index, const JobPlanInfo& plan) {
  // 4 chunks per slot of the job in flight, within the bounds.
  const int64_t wanted =
      (int64_t{4} * plan.job_slots * chunk_size_ + segment_elements_ - 1) / segment_elements_;
  max_in_flight_ = static_cast<int>(
      std::clamp<int64_t>(wanted, max_in_flight_, kMaxSegmentsInFlight));
  if (started_) return std::nullopt;
  started_ = true;
  JobPlanInfo started = plan;
  started.job_id = plan.job_id;
  started.total_elements = 0;  // unknown until the input ends (JobFinished says)
  started.num_chunks = 0;
  started.chunk_size = static_cast<uint64_t>(chunk_size_);
  return started;
}

void InputStream::Translate(uint64_t index, ChunkDelivery& chunk) const {
  auto it = in_flight_.find(index);
  if (it == in_flight_.end()) return;
  chunk.chunk_index += it->second.first;
  chunk.first_element += it->second.second;
}

void InputStream::SegmentFinished(uint64_t index, const JobStats& stats) {
  in_flight_.erase(index);
  stats_.retries += stats.retries;
  stats_.workers_lost += stats.workers_lost;
  stats_.backups += stats.backups;
  stats_.duplicates_dropped += stats.duplicates_dropped;
  stats_.chunks_verified += stats.chunks_verified;
  stats_.verification_mismatches += stats.verification_mismatches;
}

bool InputStream::Done() const {
  return ended_ && filling_.empty() && ready_.empty() && in_flight_.empty();
}

}  // namespace gpool
