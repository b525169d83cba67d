#include "client/client.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/async_stream.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/chunk_fields.h"
#include "client/client_stub.h"
#include "client/job_assembler.h"
#include "client/ordered_values.h"
#include "client/reconnect_policy.h"
#include "common/chunking.h"
#include "gpool.grpc.pb.h"
#include "rpc/grpc_status.h"
#include "rpc/message_limits.h"
#include "rpc/proto_convert.h"
#include "rpc/raw_messages.h"

namespace gpool {
namespace {

std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
}

// Adds context to a failed call so the user knows which coordinator and what to do.
absl::Status Explain(const absl::Status& status, const std::string& address) {
  if (absl::IsUnavailable(status) && status.message().find("failed to connect") != absl::string_view::npos) {
    return absl::UnavailableError(absl::StrCat("lost the coordinator at ", address, ": ",
                                               status.message()));
  }
  return status;
}

// A per-chunk callback that cannot fail, as one that can (and never does).
std::function<absl::Status(const ChunkResult&)> Checked(
    const std::function<void(const ChunkResult&)>& on_chunk) {
  if (!on_chunk) return nullptr;
  return [on_chunk](const ChunkResult& chunk) {
    on_chunk(chunk);
    return absl::OkStatus();
  };
}

}  // namespace

Client::Client(std::string address, ClientOptions options)
    : address_(std::move(address)), options_(std::move(options)), stub_(new Stub) {}

Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& address,
                                                        ClientOptions options) {
  if (absl::StatusOr<HostPort> parsed = ParseHostPort(address); !parsed.ok()) {
    return parsed.status();
  }
  std::unique_ptr<Client> client(new Client(address, std::move(options)));
  client->stub_->channel = CreateChannel(address, client->options_.transport);
  absl::Status connected =
      WaitForConnection(*client->stub_->channel, address, client->options_.connect_timeout,
                        "coordinator");
  if (!connected.ok()) {
    return absl::UnavailableError(
        absl::StrCat(connected.message(), " (--coordinator or GPOOL_COORDINATOR)"));
  }
  client->stub_->coordinator = v1::Coordinator::NewStub(client->stub_->channel);
  client->stub_->map = std::make_unique<MapStub>(client->stub_->channel);
  client->stub_->map_stream = std::make_unique<MapStreamStub>(client->stub_->channel);
  return client;
}

absl::StatusOr<ClusterInfo> Client::GetClusterInfo(int min_workers, absl::Duration wait) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(options_.info_timeout + wait));
  v1::GetClusterInfoRequest request;
  request.set_min_workers(min_workers);
  v1::ClusterInfo response;
  grpc::Status status = stub_->coordinator->GetClusterInfo(&context, request, &response);
  if (!status.ok()) return Explain(FromGrpcStatus(status), address_);
  return gpool::FromProto(response);
}

absl::Status ValidateMapSpec(const MapSpec& spec) {
  if (spec.function.empty()) {
    return absl::InvalidArgumentError("no function given; name one, e.g. square");
  }
  if (spec.chunk_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be at least 1, got ", spec.chunk_size));
  }
  if (spec.max_workers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the number of processes must be at least 1, got ", spec.max_workers));
  }
  // Written so that NaN fails too.
  if (!(spec.verify_fraction >= 0 && spec.verify_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the verify fraction must be from 0 (no chunk) to 1 (every chunk), got ",
        spec.verify_fraction));
  }
  if (spec.max_chunks_ahead < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_chunks_ahead must be at least 1 (or 0 for no bound), got ",
        spec.max_chunks_ahead));
  }
  return ValidateInput(spec.input);
}

absl::StatusOr<MapResult> Client::Map(const MapSpec& spec,
                                      const std::function<void(const JobStart&)>& on_start,
                                      const std::function<void(const ChunkResult&)>& on_chunk) {
  JobAssembler assembler(/*keep_values=*/true);
  absl::StatusOr<MapSummary> summary =
      RunJob(spec, /*want_values=*/true, assembler, on_start, Checked(on_chunk));
  if (!summary.ok()) return summary.status();
  MapResult result;
  result.summary = *std::move(summary);
  result.values = assembler.TakeValues();
  return result;
}

absl::StatusOr<MapSummary> Client::MapStreaming(
    const MapSpec& spec, bool want_values, const std::function<void(const JobStart&)>& on_start,
    const std::function<void(const ChunkResult&)>& on_chunk) {
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/want_values);
  return RunJob(spec, want_values, assembler, on_start, Checked(on_chunk));
}

absl::StatusOr<MapSummary> Client::MapOrdered(
    const MapSpec& spec, const std::function<void(const JobStart&)>& on_start,
    const ValuesSink& on_values, const std::function<void(const ChunkResult&)>& on_chunk) {
  MapSpec ordered = spec;
  if (ordered.max_chunks_ahead == 0) {
    // The plan's chunk size is not known before the job starts: count the largest chunk a
    // job that returns values may have when none is asked for.
    const uint64_t chunk_values =
        spec.chunk_size > 0 ? std::min<uint64_t>(spec.chunk_size, kMaxValuesChunkSize)
                            : kMaxValuesChunkSize;
    ordered.max_chunks_ahead = static_cast<int64_t>(std::max<uint64_t>(
        2, options_.ordered_buffer_bytes / (chunk_values * sizeof(int64_t))));
  }
  OrderedValues in_order(on_values);
  // Values are checked by the assembler and handed on here; none are kept.
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/true);
  auto take = [&](const ChunkResult& chunk) -> absl::Status {
    if (on_chunk) on_chunk(chunk);
    return in_order.Add(chunk.chunk_index, chunk.first_element, chunk.values);
  };
  // A shared buffer as large as the job would be a file as large as the job: only one that
  // fits the buffer kept between jobs is offered.
  return RunJob(ordered, /*want_values=*/true, assembler, on_start, take,
                options_.shared_values_keep_bytes / sizeof(int64_t));
}

namespace {

// How one Map call ended.
struct StreamOutcome {
  absl::Status status;
  // The coordinator said the job itself failed (trailing "gpool-final").
  bool final = false;
  std::optional<JobStats> stats;  // set when the job finished
};

// Reads one Map stream into `assembler`. A JobStarted after the first (a resubmitted job)
// must repeat the plan; `on_resumed` sees it.
//
// The stream is read as bytes (RawMessage) and decoded here, so that values go from the
// received buffers to their place in the result in one copy. Chunks marked values_shared
// have theirs in `shared` (null when the request offered no buffer).
StreamOutcome StreamOnce(MapStub& stub, const v1::MapRequest& request, absl::Time deadline,
                         JobAssembler& assembler, SharedValuesBuffer* shared,
                         const std::function<void(const JobStart&)>& on_start,
                         const std::function<absl::Status(const ChunkResult&)>& on_chunk,
                         const std::function<void(const JobStart&)>& on_resumed) {
  // The call's own queue, declared first so that it outlives the call. One operation is
  // pending at a time and this thread waits for it, as the synchronous API would.
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  // The initial metadata waits for the request, so both leave in one batch with the
  // half-close.
  context.set_initial_metadata_corked(true);
  static const std::string* const kMapMethod = new std::string("/gpool.v1.Coordinator/Map");
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::MapRequest, RawMessage>> stream =
      stub.PrepareCall(&context, *kMapMethod, &cq);
  // Waits for the pending operation; false when it failed (the stream is over).
  auto await = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  // Ends the call: its status, then the queue drained as its destructor requires.
  auto finish = [&] {
    grpc::Status status;
    stream->Finish(&status, &cq);
    await();
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  };
  stream->StartCall(&cq);  // corked: completes nothing
  // A failed send shows in the reads and the status, as it would on a ClientReader.
  stream->WriteLast(request, grpc::WriteOptions(), &cq);
  await();

  StreamOutcome outcome;
  absl::Status failure = absl::OkStatus();
  bool stream_started = false;
  RawMessage message;
  ChunkResult chunk;
  auto take_chunk = [&](const RawChunkResult& raw) {
    if (absl::Status read = ReadChunkFields(raw.fields, chunk); !read.ok()) return read;
    if (chunk.values_shared && shared == nullptr) {
      return absl::DataLossError(absl::StrCat("chunk ", chunk.chunk_index,
                                              " came with its values in a shared buffer, but "
                                              "this job offered none"));
    }
    // The values are copied out of the message only for a caller that sees each chunk.
    if (on_chunk && chunk.values_shared) {
      // Numbers only: 8-byte words, an int64's or a double's bits.
      std::vector<int64_t> words(chunk.element_count);
      absl::StatusOr<ValueStats> taken =
          shared->Take(chunk.first_element, chunk.element_count, words.data());
      if (!taken.ok()) return taken.status();
      if (assembler.start().output_type == ElementType::kDouble) {
        std::vector<double> doubles(words.size());
        std::memcpy(doubles.data(), words.data(), words.size() * sizeof(double));
        chunk.values = Elements::Doubles(std::move(doubles));
      } else {
        chunk.values = Elements::Int64s(std::move(words));
      }
    } else if (on_chunk) {
      absl::StatusOr<Elements> values = raw.values.ToElements();
      if (!values.ok()) return absl::Status(absl::StatusCode::kDataLoss, values.status().message());
      chunk.values = *std::move(values);
    }
    absl::StatusOr<bool> accepted = !chunk.values_shared ? assembler.OnChunk(chunk, raw.values)
                                    : on_chunk          ? assembler.OnChunk(chunk)
                                                        : assembler.OnChunk(chunk, *shared);
    if (!accepted.ok()) return accepted.status();
    if (*accepted && on_chunk) return on_chunk(chunk);
    return absl::OkStatus();
  };
  auto take_start = [&](const v1::JobStarted& started) {
    const JobStart start = JobStartOf(started);
    const bool first_start = !assembler.started();
    absl::Status accepted = first_start ? assembler.OnStart(start) : assembler.OnRestart(start);
    if (accepted.ok() && first_start && on_start) on_start(start);
    if (accepted.ok() && !first_start) on_resumed(start);
    return accepted;
  };
  auto read = [&] {
    stream->Read(&message, &cq);
    return await();
  };
  while (failure.ok() && read()) {
    absl::StatusOr<RawMapResponse> decoded = DecodeMapResponse(message.bytes);
    if (!decoded.ok()) {
      failure = absl::DataLossError(absl::StrCat("the coordinator sent a malformed message: ",
                                                 decoded.status().message()));
      break;
    }
    // The stream's rules: the first message starts the job and nothing follows its end.
    const bool first_message = !stream_started;
    if (decoded->started.has_value() != first_message || outcome.stats.has_value()) {
      failure = absl::DataLossError(
          outcome.stats.has_value()  ? "the coordinator sent a message after JobFinished"
          : first_message ? "the coordinator's first message did not start the job"
                          : "the coordinator started the job twice in one stream");
      break;
    }
    // In the order a message holds them: start, chunk results, end.
    if (first_message) {
      stream_started = true;
      failure = take_start(*decoded->started);
    }
    for (const RawChunkResult& raw : decoded->results) {
      if (!failure.ok()) break;
      failure = take_chunk(raw);
    }
    if (!failure.ok()) break;
    if (decoded->finished.has_value()) {
      outcome.stats = gpool::FromProto(decoded->finished->stats());
    }
  }
  if (!failure.ok()) {
    // Stop the job on the cluster: nobody will read its results.
    context.TryCancel();
    finish();
    outcome.status = failure;
    outcome.final = true;
    return outcome;
  }
  outcome.status = FromGrpcStatus(finish());
  outcome.final = context.GetServerTrailingMetadata().count("gpool-final") > 0;
  if (outcome.status.ok() && !outcome.stats.has_value()) {
    outcome.status = absl::DataLossError("the coordinator ended the job without a final report");
    outcome.final = true;
  }
  return outcome;
}

// Whether the coordinator answers again before `deadline`. Each attempt dials at once (the
// channel's own reconnect backoff, up to 2 s, would otherwise let a coordinator that is back
// wait for it) and waits as long as ReconnectPolicy says.
bool AwaitCoordinator(grpc::Channel& channel, absl::Time deadline) {
  ReconnectPolicy policy(deadline);
  while (std::optional<absl::Duration> wait = policy.NextWait(absl::Now())) {
    grpc::experimental::ChannelResetConnectionBackoff(&channel);
    if (channel.WaitForConnected(absl::ToChronoTime(absl::Now() + *wait))) return true;
  }
  return false;
}

// A failure a resubmission may get past: the coordinator did not mark it final, and it says
// the coordinator, the way to it, or the workers went away (UNAVAILABLE; INTERNAL and UNKNOWN
// only come from the transport unmarked).
bool IsRetryable(const StreamOutcome& outcome) {
  if (outcome.final) return false;
  switch (outcome.status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool Client::KeepsSharedValues(uint64_t capacity) const {
  return capacity <= options_.shared_values_keep_bytes / sizeof(int64_t);
}

std::unique_ptr<SharedValuesBuffer> Client::AcquireSharedValues(uint64_t capacity) {
  const bool keep = KeepsSharedValues(capacity);
  std::unique_ptr<SharedValuesBuffer> buffer;
  if (keep) {
    absl::MutexLock lock(&stub_->mu);
    buffer = std::move(stub_->idle_shared_values);
  }
  if (buffer != nullptr && !buffer->Renew(capacity).ok()) buffer.reset();
  if (buffer == nullptr) {
    absl::StatusOr<std::unique_ptr<SharedValuesBuffer>> created =
        SharedValuesBuffer::Create(capacity);
    // Without one, values travel over gRPC: slower, never wrong.
    if (!created.ok()) return nullptr;
    buffer = *std::move(created);
  }
  buffer->set_release_taken(!keep);
  return buffer;
}

void Client::ReleaseSharedValues(std::unique_ptr<SharedValuesBuffer> buffer) {
  if (buffer == nullptr || !KeepsSharedValues(buffer->capacity())) return;
  absl::MutexLock lock(&stub_->mu);
  // One is kept: the one with room for more.
  if (stub_->idle_shared_values == nullptr ||
      stub_->idle_shared_values->capacity() < buffer->capacity()) {
    stub_->idle_shared_values = std::move(buffer);
  }
}

void Client::Notice(const std::string& notice) const {
  if (options_.on_notice) options_.on_notice(notice);
}

absl::StatusOr<MapSummary> Client::RunJob(
    const MapSpec& spec, bool want_values, JobAssembler& assembler,
    const std::function<void(const JobStart&)>& on_start,
    const std::function<absl::Status(const ChunkResult&)>& on_chunk,
    uint64_t shared_values_max_elements) {
  if (absl::Status status = ValidateMapSpec(spec); !status.ok()) return status;
  v1::MapRequest request;
  request.set_function(spec.function);
  ToProto(spec.input, request.mutable_input());
  request.set_chunk_size(spec.chunk_size);
  request.set_max_workers(spec.max_workers);
  request.set_verify_fraction(spec.verify_fraction);
  request.set_max_chunks_ahead(spec.max_chunks_ahead);
  request.set_result_mode(want_values ? v1::RESULT_MODE_VALUES : v1::RESULT_MODE_SUM);
  // Refused here with what to do, rather than by gRPC with a bare RESOURCE_EXHAUSTED.
  if (absl::Status status = CheckMapRequestSize(request, absl::StatusCode::kInvalidArgument);
      !status.ok()) {
    return status;
  }
  std::unique_ptr<SharedValuesBuffer> shared;
  // Verified chunks never use the buffer (their values must be compared): with every chunk
  // verified it would go unused.
  if (want_values && options_.shared_values && spec.verify_fraction < 1 &&
      spec.input.size() >= options_.shared_values_min_elements &&
      spec.input.size() <= shared_values_max_elements) {
    shared = AcquireSharedValues(spec.input.size());
    if (shared != nullptr) ToProto(shared->ref(), request.mutable_shared_values());
  }
  // Whatever the outcome, the buffer may serve the next job.
  absl::Cleanup return_shared = [this, &shared] { ReleaseSharedValues(std::move(shared)); };
  const absl::Time job_deadline = absl::Now() + options_.map_timeout;
  // The coordinator process that ran the submission lost last (0: none, or not said).
  uint64_t lost_incarnation = 0;
  auto on_resumed = [&](const JobStart& resumed) {
    const std::string notice =
        ResumptionNotice(address_, lost_incarnation, resumed.coordinator_incarnation);
    if (!notice.empty()) Notice(notice);
  };

  while (true) {
    const uint64_t held_before = assembler.received().size();
    StreamOutcome outcome = StreamOnce(*stub_->map, request, job_deadline, assembler,
                                       shared.get(), on_start, on_chunk, on_resumed);
    if (outcome.status.ok()) return assembler.Finish(*outcome.stats);
    if (!IsRetryable(outcome) || options_.reconnect_timeout <= absl::ZeroDuration()) {
      return Explain(outcome.status, address_);
    }
    // Resubmitting must be able to get somewhere: after losing the coordinator (it may come
    // back), or after an attempt that got results. A coordinator that stayed reachable and
    // answered UNAVAILABLE with nothing to show (no worker for the job within its
    // --worker_wait) would only make a resubmission wait as long again: that retry is the
    // caller's to decide.
    // A start alone is nothing to show: the job may have waited for workers all along.
    const bool progressed = assembler.received().size() > held_before;
    const bool coordinator_lost = stub_->channel->GetState(false) != GRPC_CHANNEL_READY;
    if (!progressed && !coordinator_lost) return Explain(outcome.status, address_);
    const std::string progress =
        assembler.started()
            ? absl::StrCat(assembler.received().size(), " of ", assembler.start().num_chunks,
                           " chunks received")
            : "the job had not started";
    if (coordinator_lost) {
      const absl::Time reconnect_deadline =
          std::min(job_deadline, absl::Now() + options_.reconnect_timeout);
      Notice(absl::StrCat("lost the coordinator at ", address_, " (", outcome.status.ToString(),
                          "); ", progress, "; waiting up to ",
                          absl::FormatDuration(absl::Ceil(reconnect_deadline - absl::Now(),
                                                           absl::Seconds(1))),
                          " for it to come back"));
      if (!AwaitCoordinator(*stub_->channel, reconnect_deadline)) {
        return absl::UnavailableError(absl::StrCat(
            "lost the coordinator at ", address_, " and it did not come back in time (",
            progress, "); last error: ", outcome.status.message()));
      }
    } else {
      Notice(absl::StrCat("the job was interrupted at ", address_, " (",
                          outcome.status.ToString(), "); ", progress));
    }
    if (assembler.started()) {
      lost_incarnation = assembler.start().coordinator_incarnation;
      // Same plan, so the chunk indices already held keep their meaning.
      request.set_chunk_size(static_cast<int64_t>(assembler.start().chunk_size));
      const uint64_t claimed =
          SetCompletedChunksWithinLimit(assembler.received().Intervals(), &request);
      if (claimed < assembler.received().size()) {
        Notice(absl::StrCat("the request has room to name ", claimed, " of the ",
                            assembler.received().size(),
                            " chunks received; the others are computed again"));
      }
    }
    Notice(absl::StrCat(coordinator_lost ? "reconnected to" : "resubmitting to",
                        " the coordinator at ", address_,
                        coordinator_lost ? "; resubmitting " : ": ",
                        assembler.started() ? absl::StrCat("the ",
                                                           assembler.start().num_chunks -
                                                               assembler.received().size(),
                                                           " missing chunks")
                                            : "the job"));
  }
}

}  // namespace gpool
