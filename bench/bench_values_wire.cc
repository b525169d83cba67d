// The evidence for gpool's hand-written encoding of the two messages that carry values
// (rpc/raw_messages.h), end to end: one job's values go from a worker through a relaying
// coordinator to a client, each hop a real gRPC call over loopback (the worker and the
// coordinator are in-process servers on their own threads), encoded either
//   raw:      by the product's functions (EncodeRunChunksResponse, DecodeRunChunksResponse,
//             EncodeMapResponse, DecodeMapResponse): values referenced, never re-encoded;
//   protobuf: by the generated classes through gRPC's own protobuf serialisation, as
//             generated stubs would: each hop serialises and parses every value, and the
//             coordinator moves a parsed ChunkOutcome's values into its ChunkResult (Swap,
//             protobuf's cheapest relay).
// Everything else is the same for both: the worker squares each chunk, the coordinator checks
// each chunk's values against its reported sum, min and max (as it does), and the client
// places and checks them with its real JobAssembler. The protobuf form exists only here, so
// the product keeps one code path; the benchmark measures the product's functions against it.
// Issue 17 keeps a hand-written encoding only while it wins by more than 10 % end to end;
// docs/performance.md ("Values travel as bytes") has the figures.
//
//   bench_values_wire [--benchmark_repetitions=5]   # after a Release build
#include <algorithm>
#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "client/job_assembler.h"
#include "common/value_stats.h"
// The generated code, and with it gRPC's protobuf SerializationTraits that its stubs use.
#include "gpool.grpc.pb.h"
#include "rpc/proto_convert.h"
#include "rpc/raw_messages.h"
#include "rpc/transport.h"

namespace gpool {
namespace {

enum class Encoding { kRaw, kProtobuf };

constexpr char kRunChunks[] = "/gpool.v1.Worker/RunChunks";
constexpr char kMap[] = "/gpool.v1.Coordinator/Map";
// The encoding travels as the calls' metadata, so one server serves both.
constexpr char kEncodingKey[] = "bench-encoding";

Encoding EncodingOf(const grpc::ServerContext& context) {
  auto it = context.client_metadata().find(kEncodingKey);
  return it != context.client_metadata().end() && it->second == "protobuf" ? Encoding::kProtobuf
                                                                           : Encoding::kRaw;
}

void SetEncoding(Encoding encoding, grpc::ClientContext& context) {
  context.AddMetadata(kEncodingKey, encoding == Encoding::kProtobuf ? "protobuf" : "raw");
}

// What generated code does with a message (grpc's SerializationTraits for protobuf).
template <typename Message>
grpc::ByteBuffer Serialize(const Message& message) {
  grpc::ByteBuffer bytes;
  bool own = false;
  grpc::SerializationTraits<Message>::Serialize(message, &bytes, &own);
  return bytes;
}

template <typename Message>
bool Parse(grpc::ByteBuffer bytes, Message& message) {
  return grpc::SerializationTraits<Message>::Deserialize(&bytes, &message).ok();
}

// A protobuf message's values seen as EncodedValues, without copying them.
EncodedValues ViewOf(const v1::Elements& elements, std::shared_ptr<const void> owner) {
  const google::protobuf::RepeatedField<int64_t>& values = elements.int64s().values();
  EncodedValues view;
  if (!values.empty()) {
    view.Append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t),
                std::move(owner));
  }
  return view;
}

// Waits for the one operation in flight on `cq`; false when it failed or the queue shut down.
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

// A loopback server of generic calls, served one at a time on its own thread by `serve`,
// which gets the call's first (only) request.
class LoopbackServer {
 public:
  using Serve = std::function<void(grpc::GenericServerContext&,
                                   grpc::GenericServerAsyncReaderWriter&, grpc::ByteBuffer,
                                   grpc::ServerCompletionQueue&)>;

  explicit LoopbackServer(Serve serve) : serve_(std::move(serve)) {
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(builder);
    builder.AddListeningPort("127.0.0.1:0", CreateServerCredentials(), &port_);
    builder.RegisterAsyncGenericService(&service_);
    cq_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    thread_ = std::thread([this] { Run(); });
  }
  ~LoopbackServer() {
    // The server first: the call the thread requested (or requests next) then completes
    // with ok == false and the thread ends. The queue only after that: gRPC aborts on a call
    // requested on a queue already shut down, which the thread could do after its last call.
    server_->Shutdown();
    thread_.join();
    cq_->Shutdown();
    // Drain whatever the shutdown completed.
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) {
    }
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  void Run() {
    while (true) {
      grpc::GenericServerContext context;
      grpc::GenericServerAsyncReaderWriter stream(&context);
      service_.RequestCall(&context, &stream, cq_.get(), cq_.get(), this);
      if (!Await(*cq_)) break;
      grpc::ByteBuffer request;
      stream.Read(&request, this);
      if (!Await(*cq_)) break;
      serve_(context, stream, std::move(request), *cq_);
    }
  }

  const Serve serve_;
  grpc::AsyncGenericService service_;
  int port_ = 0;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::thread thread_;
};

// The worker: squares the chunks of a RunChunksRequest (range inputs) and answers.
void ServeRunChunks(grpc::GenericServerContext& context,
                    grpc::GenericServerAsyncReaderWriter& stream, grpc::ByteBuffer request_bytes,
                    grpc::ServerCompletionQueue& cq) {
  v1::RunChunksRequest request;
  Parse(std::move(request_bytes), request);
  const Encoding encoding = EncodingOf(context);
  std::vector<RawChunkOutcome> outcomes;
  v1::RunChunksResponse message;
  for (const v1::ChunkTask& chunk : request.chunks()) {
    const int64_t start = chunk.input().range().start();
    const int64_t stop = chunk.input().range().end();
    std::vector<int64_t> values;  // the function's output
    values.reserve(stop - start);
    for (int64_t x = start; x < stop; ++x) values.push_back(x * x);
    RawChunkOutcome& outcome = outcomes.emplace_back();
    const ValueStats stats = Summarize(values.data(), values.size());
    v1::Int64Summary* summary = outcome.fields.mutable_summary()->mutable_int64_summary();
    ToProto(stats.sum, summary->mutable_sum());
    outcome.fields.set_element_count(static_cast<int64_t>(values.size()));
    summary->set_min(stats.min);
    summary->set_max(stats.max);
    outcome.fields.set_pid(1);
    if (encoding == Encoding::kRaw) {
      outcome.values = EncodedValues::Own(std::move(values));
    } else {
      // A generated-class worker fills the repeated field from the function's output.
      v1::ChunkOutcome* out = message.add_results();
      *out = outcome.fields;
      out->mutable_values()->mutable_int64s()->mutable_values()->Add(values.begin(), values.end());
    }
  }
  const grpc::ByteBuffer response =
      encoding == Encoding::kRaw ? EncodeRunChunksResponse(outcomes).bytes : Serialize(message);
  stream.WriteAndFinish(response, grpc::WriteOptions(), grpc::Status::OK, &stream);
  Await(cq);
}

// Everything of a relayed chunk result but its values.
v1::ChunkResult ResultFields(int64_t chunk_index, int64_t first_element,
                             const v1::ChunkOutcome& outcome) {
  v1::ChunkResult result;
  result.set_chunk_index(chunk_index);
  result.set_first_element(first_element);
  result.set_element_count(outcome.element_count());
  *result.mutable_summary() = outcome.summary();
  result.mutable_worker()->set_worker_id("w1");
  result.mutable_worker()->set_host("localhost");
  result.mutable_worker()->set_pid(outcome.pid());
  result.set_attempt(1);
  return result;
}

// Whether `values` agree with what their worker reported (the coordinator's check).
bool Agrees(const EncodedValues& values, const v1::ChunkOutcome& outcome) {
  const ValueStats stats = Summarize(values);
  const v1::Int64Summary& reported = outcome.summary().int64_summary();
  return stats.count == static_cast<uint64_t>(outcome.element_count()) &&
         stats.sum == FromProto(reported.sum()) && stats.min == reported.min() &&
         stats.max == reported.max();
}

// The job every Map call asks for: square over 0 .. elements-1 in chunks of chunk_size.
struct Job {
  int64_t elements = 0;
  int64_t chunk_size = 0;
  int64_t chunks() const { return (elements + chunk_size - 1) / chunk_size; }
};

// The coordinator: serves a Map call by calling the worker for each chunk, two calls in
// flight, and relaying each answer as one MapResponse, one write in flight.
class Coordinator {
 public:
  Coordinator(const std::string& worker_address, Job job)
      : worker_(CreateChannel(worker_address)),
        job_(job),
        server_([this](grpc::GenericServerContext& context,
                       grpc::GenericServerAsyncReaderWriter& stream, grpc::ByteBuffer,
                       grpc::ServerCompletionQueue& cq) { ServeMap(context, stream, cq); }) {}

  std::string address() const { return server_.address(); }

 private:
  struct WorkerCall {
    int64_t chunk = 0;
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    grpc::Status status;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  };
  struct Tag {
    WorkerCall* call = nullptr;  // null: the stream's write
  };

  void ServeMap(grpc::GenericServerContext& context, grpc::GenericServerAsyncReaderWriter& stream,
                grpc::ServerCompletionQueue& cq) {
    const Encoding encoding = EncodingOf(context);
    int64_t next_chunk = 0;
    int64_t relayed = 0;
    int calls_in_flight = 0;
    bool writing = false;
    bool failed = false;
    std::deque<grpc::ByteBuffer> to_write;
    Tag write_tag;
    std::vector<std::unique_ptr<Tag>> tags;
    auto start_call = [&] {
      auto tag = std::make_unique<Tag>();
      tag->call = new WorkerCall;
      WorkerCall& call = *tag->call;
      call.chunk = next_chunk++;
      SetEncoding(encoding, call.context);
      v1::RunChunksRequest request;
      request.set_function("square");
      v1::ChunkTask* task = request.add_chunks();
      task->set_chunk_index(call.chunk);
      const int64_t first = call.chunk * job_.chunk_size;
      task->mutable_input()->mutable_range()->set_start(first);
      task->mutable_input()->mutable_range()->set_end(
          std::min(first + job_.chunk_size, job_.elements));
      call.reader = worker_.PrepareUnaryCall(&call.context, kRunChunks, Serialize(request), &cq);
      call.reader->StartCall();
      call.reader->Finish(&call.response, &call.status, tag.get());
      tags.push_back(std::move(tag));
      ++calls_in_flight;
    };
    auto write_next = [&] {
      if (writing || to_write.empty()) return;
      writing = true;
      stream.Write(to_write.front(), &write_tag);
    };
    for (int i = 0; i < 2 && next_chunk < job_.chunks(); ++i) start_call();
    while (relayed < job_.chunks() || writing) {
      void* got = nullptr;
      bool ok = false;
      if (!cq.Next(&got, &ok)) return;
      Tag* tag = static_cast<Tag*>(got);
      if (tag == &write_tag) {
        writing = false;
        to_write.pop_front();
        if (!ok) failed = true;
        write_next();
        continue;
      }
      std::unique_ptr<WorkerCall> call(tag->call);
      --calls_in_flight;
      if (!call->status.ok()) {
        failed = true;
        break;
      }
      std::optional<grpc::ByteBuffer> message = Relay(encoding, *call);
      if (!message.has_value()) {
        failed = true;
        break;
      }
      to_write.push_back(*std::move(message));
      ++relayed;
      if (next_chunk < job_.chunks()) start_call();
      write_next();
    }
    // A failed job leaves calls to the worker behind: wait for them before the queue is reused.
    while (calls_in_flight > 0 || writing) {
      void* got = nullptr;
      bool ok = false;
      if (!cq.Next(&got, &ok)) return;
      Tag* tag = static_cast<Tag*>(got);
      if (tag == &write_tag) {
        writing = false;
      } else {
        delete tag->call;
        --calls_in_flight;
      }
    }
    stream.Finish(failed ? grpc::Status(grpc::StatusCode::INTERNAL, "relay failed")
                         : grpc::Status::OK,
                  &write_tag);
    Await(cq);
  }

  // The chunk's MapResponse, from the worker's answer; nullopt when it is malformed or its
  // values disagree with the worker's report.
  std::optional<grpc::ByteBuffer> Relay(Encoding encoding, WorkerCall& call) {
    const int64_t first = call.chunk * job_.chunk_size;
    if (encoding == Encoding::kRaw) {
      absl::StatusOr<std::vector<RawChunkOutcome>> outcomes =
          DecodeRunChunksResponse(call.response);
      if (!outcomes.ok() || outcomes->size() != 1) return std::nullopt;
      RawChunkOutcome& outcome = outcomes->front();
      if (!Agrees(outcome.values, outcome.fields)) return std::nullopt;
      std::vector<RawChunkResult> results(1);
      results[0].fields = ResultFields(call.chunk, first, outcome.fields);
      results[0].values = std::move(outcome.values);
      return EncodeMapResponse(nullptr, results, nullptr).bytes;
    }
    auto parsed = std::make_shared<v1::RunChunksResponse>();
    if (!Parse(std::move(call.response), *parsed) || parsed->results_size() != 1) {
      return std::nullopt;
    }
    v1::ChunkOutcome& outcome = *parsed->mutable_results(0);
    if (!Agrees(ViewOf(outcome.values(), parsed), outcome)) return std::nullopt;
    v1::MapResponse response;
    v1::ChunkResult* result = response.add_results();
    *result = ResultFields(call.chunk, first, outcome);
    result->mutable_values()->Swap(outcome.mutable_values());
    return Serialize(response);
  }

  grpc::GenericStub worker_;
  const Job job_;
  LoopbackServer server_;  // last: its thread uses the rest
};

// The client: runs one job through the coordinator and assembles it as Client::Map does.
absl::StatusOr<MapSummary> RunJob(grpc::GenericStub& coordinator, Encoding encoding,
                                  const Job& job, std::vector<int64_t>& values) {
  JobAssembler assembler(/*keep_values=*/true);
  JobStart start;
  start.job_id = "bench";
  start.total_elements = static_cast<uint64_t>(job.elements);
  start.chunk_size = static_cast<uint64_t>(job.chunk_size);
  start.num_chunks = static_cast<uint64_t>(job.chunks());
  if (absl::Status status = assembler.OnStart(start); !status.ok()) return status;
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  SetEncoding(encoding, context);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream =
      coordinator.PrepareCall(&context, kMap, &cq);
  stream->StartCall(&cq);
  Await(cq);
  grpc::Slice nothing;  // the job is the coordinator's: the request is empty
  grpc::ByteBuffer request(&nothing, 1);
  stream->WriteLast(request, grpc::WriteOptions(), &cq);
  Await(cq);
  absl::Status failure = absl::OkStatus();
  grpc::ByteBuffer message;
  auto take = [&](const v1::ChunkResult& fields, const EncodedValues& chunk_values) {
    ChunkResult chunk;
    chunk.chunk_index = static_cast<uint64_t>(fields.chunk_index());
    chunk.first_element = static_cast<uint64_t>(fields.first_element());
    chunk.element_count = static_cast<uint64_t>(fields.element_count());
    const v1::Int64Summary& summary = fields.summary().int64_summary();
    chunk.summary = SummaryKind::kInt64;
    chunk.partial_sum = FromProto(summary.sum());
    chunk.partial_min = summary.min();
    chunk.partial_max = summary.max();
    chunk.attempt = fields.attempt();
    return assembler.OnChunk(chunk, chunk_values).status();
  };
  while (failure.ok()) {
    stream->Read(&message, &cq);
    if (!Await(cq)) break;
    if (encoding == Encoding::kRaw) {
      absl::StatusOr<RawMapResponse> decoded = DecodeMapResponse(message);
      if (!decoded.ok()) return decoded.status();
      for (const RawChunkResult& result : decoded->results) {
        if (failure.ok()) failure = take(result.fields, result.values);
      }
    } else {
      auto parsed = std::make_shared<v1::MapResponse>();
      if (!Parse(std::move(message), *parsed)) return absl::InternalError("unparsable message");
      for (const v1::ChunkResult& result : parsed->results()) {
        if (failure.ok()) failure = take(result, ViewOf(result.values(), parsed));
      }
    }
  }
  if (!failure.ok()) context.TryCancel();
  grpc::Status status;
  stream->Finish(&status, &cq);
  Await(cq);
  if (!failure.ok()) return failure;
  if (!status.ok()) return absl::InternalError(status.error_message());
  absl::StatusOr<MapSummary> summary = assembler.Finish(JobStats{});
  if (summary.ok()) values = std::move(assembler.TakeValues().mutable_int64s());
  return summary;
}

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Arguments: the job's elements and chunk size (values per chunk, as W2's chunks).
void BM_RelayValues(benchmark::State& state, Encoding encoding) {
  const Job job{state.range(0), state.range(1)};
  LoopbackServer worker(ServeRunChunks);
  Coordinator coordinator(worker.address(), job);
  grpc::GenericStub client(CreateChannel(coordinator.address()));
  const absl::int128 n = job.elements - 1;
  const absl::int128 expected_sum = n * (n + 1) * (2 * n + 1) / 6;
  std::vector<int64_t> values;
  // The CPU of all three parts (Google Benchmark's own CPU column is the client's thread):
  // far less sensitive than wall time to other load on a shared machine.
  const double cpu_before = ProcessCpuSeconds();
  for (auto _ : state) {
    absl::StatusOr<MapSummary> summary = RunJob(client, encoding, job, values);
    if (!summary.ok()) {
      state.SkipWithError(summary.status().ToString().c_str());
      return;
    }
    if (summary->sum != expected_sum || values.size() != static_cast<size_t>(job.elements) ||
        values.back() != (job.elements - 1) * (job.elements - 1)) {
      state.SkipWithError("wrong result");
      return;
    }
  }
  state.counters["cpu_ms_per_job"] = benchmark::Counter(
      (ProcessCpuSeconds() - cpu_before) * 1e3 / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations() * job.elements);
  state.SetBytesProcessed(state.iterations() * job.elements * sizeof(int64_t));
}

// W2's shape over gRPC: 10^7 values in chunks of 2^18 (the largest a 4 MiB message allows).
BENCHMARK_CAPTURE(BM_RelayValues, raw, Encoding::kRaw)
    ->Args({10'000'000, 1 << 18})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_RelayValues, protobuf, Encoding::kProtobuf)
    ->Args({10'000'000, 1 << 18})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace gpool

BENCHMARK_MAIN();
