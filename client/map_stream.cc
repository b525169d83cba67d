// Client::MapStream: a job over a streamed input (Coordinator.MapStream).
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_stream.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/chunk_fields.h"
#include "client/client_stub.h"
#include "client/input_source.h"
#include "common/index_set.h"
#include "common/value_stats.h"
#include "rpc/grpc_status.h"
#include "rpc/message_limits.h"
#include "rpc/proto_convert.h"

namespace gpool {
namespace {

// Values per MapStreamRequest: about 0.6 MiB of large integers, well within the protocol's
// 2^18 and the 4 MiB message; enough that a message costs little next to its values.
constexpr size_t kBatchValues = size_t{1} << 16;
// Strings and bytes: a batch closes once it holds this many bytes (a batch of one element
// of up to 1 MiB may exceed it), so that it stays within the 4 MiB message limit.
constexpr uint64_t kBatchBytes = uint64_t{2} << 20;
// The chunk size of a stream of strings or bytes when the caller leaves it to gpool: at most
// this many elements, and fewer when the first elements are large (TextStreamChunkSize).
constexpr int64_t kTextStreamChunkSize = 4096;
// The input bytes a chunk of a stream is sized for: a third of what the coordinator accepts
// (3 MiB), so that elements up to three times the first ones' size still fit.
constexpr uint64_t kTextStreamChunkBytes = uint64_t{1} << 20;

// One streamed job's results across its attempts: each chunk once, checked against the plan
// and its own values, and the reduction.
class StreamTally {
 public:
  explicit StreamTally(bool want_values) : want_values_(want_values) {}

  bool started() const { return started_; }
  const JobStart& start() const { return start_; }
  const IndexSet& received() const { return received_; }

  // A JobStarted: the first starts the job; a resubmission's must keep the chunk size.
  absl::Status OnStart(const v1::JobStarted& started, bool* first) {
    *first = !started_;
    if (started_) {
      if (static_cast<uint64_t>(started.chunk_size()) != start_.chunk_size) {
        return absl::DataLossError(absl::StrCat(
            "the resubmitted job has chunks of ", started.chunk_size(), " elements, not ",
            start_.chunk_size, " as before"));
      }
      return absl::OkStatus();
    }
    if (started.chunk_size() < 1) {
      return absl::DataLossError("the coordinator started the job without a chunk size");
    }
    started_ = true;
    start_ = JobStartOf(started);
    start_.total_elements = 0;
    start_.num_chunks = 0;
    return absl::OkStatus();
  }

  // Whether the chunk is new (false: a resubmission sent one held already).
  absl::StatusOr<bool> OnChunk(const ChunkResult& chunk, uint64_t values_received) {
    const uint64_t size = start_.chunk_size;
    if (chunk.first_element != chunk.chunk_index * size || chunk.element_count < 1 ||
        chunk.element_count > size) {
      return absl::DataLossError(absl::StrCat(
          "chunk ", chunk.chunk_index, " came with elements ", chunk.first_element, " + ",
          chunk.element_count, ", which chunks of ", size, " cannot hold"));
    }
    if (values_received != (want_values_ ? chunk.element_count : 0)) {
      return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index, " came with ",
                                              values_received, " values for ",
                                              chunk.element_count, " elements"));
    }
    if (received_.Contains(chunk.chunk_index)) {
      if (attempt_.Contains(chunk.chunk_index)) {
        return absl::DataLossError(
            absl::StrCat("chunk ", chunk.chunk_index, " came twice in one stream"));
      }
      return false;
    }
    if (chunk.summary != SummaryKindOf(start_.output_type)) {
      return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index,
                                              " carries another summary than its ",
                                              ElementTypeName(start_.output_type), " values'"));
    }
    received_.Insert(chunk.chunk_index);
    attempt_.Insert(chunk.chunk_index);
    sum_ += chunk.partial_sum;
    count_ += chunk.element_count;
    min_ = count_ == chunk.element_count ? chunk.partial_min : std::min(min_, chunk.partial_min);
    max_ = count_ == chunk.element_count ? chunk.partial_max : std::max(max_, chunk.partial_max);
    if (chunk.summary == SummaryKind::kDouble) doubles_.Merge(chunk.partial_doubles);
    ++by_worker_[{chunk.worker.host, chunk.worker.pid, chunk.worker.worker_id}];
    return true;
  }

  void NewAttempt() { attempt_ = IndexSet(); }

  // The input held `total` elements: every chunk must have come, once.
  absl::StatusOr<MapSummary> Finish(uint64_t total, const JobStats& stats) const {
    const uint64_t chunks = (total + start_.chunk_size - 1) / start_.chunk_size;
    if (total == 0 || !received_.HoldsExactlyPrefix(chunks) || count_ != total) {
      return absl::DataLossError(absl::StrCat(
          "the job ended with ", received_.size(), " chunks of ", count_,
          " elements received, for an input of ", total, " elements in ", chunks, " chunks"));
    }
    MapSummary summary;
    summary.job = start_;
    summary.job.total_elements = total;
    summary.job.num_chunks = chunks;
    summary.sum = sum_;
    summary.count = count_;
    summary.min = min_;
    summary.max = max_;
    summary.doubles = doubles_;
    summary.doubles.count = count_;
    summary.stats = stats;
    for (const auto& [key, n] : by_worker_) {
      const auto& [host, pid, worker_id] = key;
      summary.chunks_by_worker.push_back({WorkerIdentity{worker_id, host, pid}, n});
    }
    return summary;
  }

 private:
  const bool want_values_;
  bool started_ = false;
  JobStart start_;
  IndexSet received_;
  IndexSet attempt_;  // received in the current stream
  absl::int128 sum_ = 0;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  DoubleStats doubles_;
  std::map<std::tuple<std::string, int64_t, std::string>, int64_t> by_worker_;
};

struct StreamOutcome {
  absl::Status status;
  bool final = false;  // the coordinator marked the failure the job's own, or it is ours
  std::optional<v1::JobFinished> finished;
};

enum Tag : intptr_t { kStarted = 1, kWritten, kWritesDone, kRead, kFinished };
void* TagOf(Tag tag) { return reinterpret_cast<void*>(tag); }

// One MapStream call: the header, then the source's values while the coordinator takes them,
// then the half-close; meanwhile the results. One thread drives both directions through the
// call's own completion queue: a write pending means the coordinator's flow control holds
// the next batch back, and the source is read no further until it completes.
StreamOutcome StreamOnce(MapStreamStub& stub, const v1::MapRequest& header,
                         InputSource& source, absl::Time deadline, StreamTally& tally,
                         const std::function<void(const JobStart&)>& on_start,
                         const std::function<void(const ChunkResult&)>& on_chunk) {
  grpc::CompletionQueue cq;  // declared first: it outlives the call
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  static const std::string* const kMethod =
      new std::string("/gpool.v1.Coordinator/MapStream");
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::MapStreamRequest, RawMessage>> stream =
      stub.PrepareCall(&context, *kMethod, &cq);
  // The start sends the initial metadata with the write operations: the first write waits
  // for it.
  stream->StartCall(TagOf(kStarted));
  v1::MapStreamRequest request;
  RawMessage response;
  int pending = 1;
  absl::Status failure;
  StreamOutcome outcome;
  Elements batch(source.type());
  bool sent_values = false;
  ChunkResult chunk;
  // Stops the call: nothing more is written or read, and the job is cancelled.
  auto fail = [&](absl::Status status) {
    if (failure.ok()) failure = std::move(status);
    context.TryCancel();
  };
  auto take = [&](const RawMapResponse& message) -> absl::Status {
    if (message.started.has_value()) {
      bool first = false;
      if (absl::Status status = tally.OnStart(*message.started, &first); !status.ok()) {
        return status;
      }
      if (first && on_start) on_start(tally.start());
    } else if (!tally.started()) {
      return absl::DataLossError("the coordinator's first message did not start the job");
    }
    for (const RawChunkResult& raw : message.results) {
      if (absl::Status read = ReadChunkFields(raw.fields, chunk); !read.ok()) return read;
      if (chunk.values_shared) {
        return absl::DataLossError(absl::StrCat(
            "chunk ", chunk.chunk_index, " came with shared values, which a stream never offers"));
      }
      if (!raw.values.empty()) {
        if (raw.values.type() != tally.start().output_type) {
          return absl::DataLossError(absl::StrCat(
              "chunk ", chunk.chunk_index, " holds ", ElementTypeName(raw.values.type()),
              " values, not ", ElementTypeName(tally.start().output_type)));
        }
        std::string disagreement;
        if (raw.values.type() == ElementType::kInt64) {
          disagreement = Disagreement(Summarize(raw.values), chunk.element_count,
                                      chunk.partial_sum, chunk.partial_min, chunk.partial_max);
        } else if (raw.values.type() == ElementType::kDouble) {
          disagreement = Disagreement(SummarizeDoubles(raw.values), chunk.element_count,
                                      chunk.partial_doubles);
        }
        if (!disagreement.empty()) {
          return absl::DataLossError(
              absl::StrCat("chunk ", chunk.chunk_index, " contradicts itself: ", disagreement));
        }
      }
      absl::StatusOr<bool> accepted = tally.OnChunk(chunk, raw.values.size());
      if (!accepted.ok()) return accepted.status();
      if (*accepted && on_chunk) {
        absl::StatusOr<Elements> values = raw.values.ToElements();
        if (!values.ok()) {
          return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index, ": ",
                                                  values.status().message()));
        }
        chunk.values = *std::move(values);
        on_chunk(chunk);
      }
    }
    if (message.finished.has_value()) outcome.finished = *message.finished;
    return absl::OkStatus();
  };
  while (pending > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    --pending;
    switch (static_cast<Tag>(reinterpret_cast<intptr_t>(tag))) {
      case kStarted:
        if (!ok) break;  // the call failed: its status says why
        *request.mutable_header() = header;
        stream->Write(request, TagOf(kWritten));
        stream->Read(&response, TagOf(kRead));
        pending += 2;
        break;
      case kWritesDone:
      case kFinished:
        break;
      case kWritten: {
        if (!ok || !failure.ok()) break;  // the call is over: its status says why
        batch = Elements(source.type());
        if (absl::Status status = source.NextElements(kBatchValues, kBatchBytes, batch);
            !status.ok()) {
          fail(std::move(status));
          break;
        }
        if (batch.empty() && !sent_values) {
          // Said here, naming the source, rather than by the coordinator in its own terms.
          fail(absl::InvalidArgumentError(absl::StrCat(source.Name(), " holds no values")));
          break;
        }
        ++pending;
        if (batch.empty()) {
          stream->WritesDone(TagOf(kWritesDone));
          break;
        }
        sent_values = true;
        request.Clear();
        ToProto(batch, request.mutable_values());
        stream->Write(request, TagOf(kWritten));
        break;
      }
      case kRead: {
        if (!ok || !failure.ok()) break;
        absl::StatusOr<RawMapResponse> decoded = DecodeMapResponse(response.bytes);
        absl::Status taken = decoded.ok() ? take(*decoded)
                                          : absl::DataLossError(absl::StrCat(
                                                "the coordinator sent a malformed message: ",
                                                decoded.status().message()));
        if (!taken.ok()) {
          fail(std::move(taken));
          break;
        }
        ++pending;
        stream->Read(&response, TagOf(kRead));
        break;
      }
    }
  }
  grpc::Status status;
  stream->Finish(&status, TagOf(kFinished));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!failure.ok()) {
    outcome.status = failure;
    outcome.final = true;
    return outcome;
  }
  outcome.status = FromGrpcStatus(status);
  outcome.final = context.GetServerTrailingMetadata().count("gpool-final") > 0;
  if (outcome.status.ok() && !outcome.finished.has_value()) {
    outcome.status = absl::DataLossError("the coordinator ended the job without a final report");
    outcome.final = true;
  }
  return outcome;
}

// The chunk size for a stream of strings or bytes left to gpool: the coordinator refuses a
// chunk of a stream over 3 MiB of input (its call must fit 4 MiB), and chunks are counted in
// elements, so the size follows the largest of the first batch's elements: kTextStreamChunkSize,
// or fewer so that such chunks hold at most kTextStreamChunkBytes. The batch is read again
// after (Rewind); a source that cannot be read again keeps kTextStreamChunkSize.
absl::StatusOr<int64_t> TextStreamChunkSize(InputSource& source) {
  if (!source.CanRewind()) return kTextStreamChunkSize;  // stdin, a pipe: read once
  Elements first(source.type());
  if (absl::Status read = source.NextElements(kBatchValues, kBatchBytes, first); !read.ok()) {
    return read;
  }
  if (absl::Status rewound = source.Rewind(); !rewound.ok()) return rewound;
  const uint64_t largest = std::max<uint64_t>(1, first.LargestElementBytes());
  return std::clamp<int64_t>(static_cast<int64_t>(kTextStreamChunkBytes / largest), 1,
                             kTextStreamChunkSize);
}

// As for Map: a failure a resubmission may get past.
bool IsRetryable(const StreamOutcome& outcome) {
  if (outcome.final) return false;
  return absl::IsUnavailable(outcome.status) || absl::IsInternal(outcome.status) ||
         absl::IsUnknown(outcome.status);
}

}  // namespace

absl::StatusOr<MapSummary> Client::MapStream(
    const MapStreamSpec& spec, InputSource& source, bool want_values,
    const std::function<void(const JobStart&)>& on_start,
    const std::function<void(const ChunkResult&)>& on_chunk) {
  MapSpec checked;
  checked.function = spec.function;
  checked.chunk_size = spec.chunk_size;
  checked.max_workers = spec.max_workers;
  checked.verify_fraction = spec.verify_fraction;
  if (absl::Status status = ValidateMapSpec(checked); !status.ok()) return status;
  v1::MapRequest header;
  header.set_function(spec.function);
  int64_t chunk_size = spec.chunk_size;
  if (chunk_size == 0 && !IsNumeric(source.type())) {
    absl::StatusOr<int64_t> chosen = TextStreamChunkSize(source);
    if (!chosen.ok()) return chosen.status();
    chunk_size = *chosen;
  }
  header.set_chunk_size(chunk_size);
  header.set_max_workers(spec.max_workers);
  header.set_verify_fraction(spec.verify_fraction);
  header.set_result_mode(want_values ? v1::RESULT_MODE_VALUES : v1::RESULT_MODE_SUM);
  StreamTally tally(want_values);
  const absl::Time job_deadline = absl::Now() + options_.map_timeout;
  while (true) {
    const uint64_t held_before = tally.received().size();
    tally.NewAttempt();
    StreamOutcome outcome = StreamOnce(*stub_->map_stream, header, source, job_deadline, tally,
                                       on_start, on_chunk);
    if (outcome.status.ok()) {
      return tally.Finish(static_cast<uint64_t>(outcome.finished->total_elements()),
                          gpool::FromProto(outcome.finished->stats()));
    }
    if (!IsRetryable(outcome) || options_.reconnect_timeout <= absl::ZeroDuration()) {
      return outcome.status;
    }
    // As for Map: resubmit after losing the coordinator, or after an attempt that got
    // results; a coordinator that answered UNAVAILABLE with nothing to show is the caller's.
    const bool progressed = tally.received().size() > held_before;
    const bool coordinator_lost = stub_->channel->GetState(false) != GRPC_CHANNEL_READY;
    if (!progressed && !coordinator_lost) return outcome.status;
    if (absl::Status rewound = source.Rewind(); !rewound.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the job was interrupted at ", address_, " (", outcome.status.ToString(), ") after ",
          tally.received().size(), " chunks, and its input cannot be sent again: ",
          rewound.message(), "; run the job again (an input from a file can be resubmitted)"));
    }
    const std::string progress = absl::StrCat(tally.received().size(), " chunks received");
    if (coordinator_lost) {
      const absl::Time reconnect_deadline =
          std::min(job_deadline, absl::Now() + options_.reconnect_timeout);
      Notice(absl::StrCat("lost the coordinator at ", address_, " (", outcome.status.ToString(),
                          "); ", progress, "; waiting for it to come back"));
      if (!stub_->channel->WaitForConnected(absl::ToChronoTime(reconnect_deadline))) {
        return absl::UnavailableError(absl::StrCat(
            "lost the coordinator at ", address_, " and it did not come back in time (",
            progress, "); last error: ", outcome.status.message()));
      }
    }
    if (tally.started()) {
      // Same chunk size, so the chunk indices held keep their meaning.
      header.set_chunk_size(static_cast<int64_t>(tally.start().chunk_size));
      SetCompletedChunksWithinLimit(tally.received().Intervals(), &header);
    }
    Notice(absl::StrCat("streaming ", source.Name(), " again to the coordinator at ", address_,
                        "; ", progress));
  }
}

}  // namespace gpool
