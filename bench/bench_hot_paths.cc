// Micro-benchmarks of the hot paths between the compute kernels and the sockets: what the
// coordinator's scheduler costs per chunk, what each hop's encoding and decoding costs per
// message, and what the client's reduction costs per chunk and per value. No sockets, no
// threads: each figure is one core's ceiling for that step alone, to set beside the
// end-to-end figures of bench/compare.sh (docs/performance.md has both).
//
//   build-release/bin/bench_hot_paths
//   build-release/bin/bench_hot_paths --benchmark_filter=Scheduler
//
// items_per_second counts chunks, except for the client's reduction of a job that carries
// values, where it counts values. Every job and every decoded message is checked; a wrong
// result stops the benchmark with an error instead of timing it.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "client/job_assembler.h"
#include "common/clock.h"
#include "common/encoded_values.h"
#include "common/input.h"
#include "common/log.h"
#include "rpc/proto_convert.h"
#include "rpc/raw_messages.h"
#include "server/scheduler.h"

namespace gpool {
namespace {

// sum of x^2 for x in 1..n.
absl::int128 SumOfSquares(int64_t n) {
  const absl::int128 m = n;
  return m * (m + 1) * (2 * m + 1) / 6;
}

// --- The scheduler ---------------------------------------------------------------------------

// Workers that answer when the benchmark tells them to: calls are queued, and AnswerOldest
// completes the oldest one on the caller's thread, as a worker's answer would reach the
// scheduler. The answers come from the closed form, so that only the scheduler is timed (the
// jobs here are ranges starting at 1, so chunk element i is the number i + 1).
class AnsweringConnector final : public WorkerConnector {
 public:
  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override {
    return std::make_shared<Connection>(this);
  }

  // Completes the oldest call; false when none waits.
  bool AnswerOldest() {
    if (calls_.empty()) return false;
    Call call = std::move(calls_.front());
    calls_.pop_front();
    std::vector<ChunkReply> replies;
    replies.reserve(call.tasks.size());
    for (const ChunkTask& task : call.tasks) {
      const int64_t first = static_cast<int64_t>(task.first_element) + 1;
      const int64_t last = first + static_cast<int64_t>(task.element_count) - 1;
      ChunkReply reply;
      reply.sum = SumOfSquares(last) - SumOfSquares(first - 1);
      reply.count = task.element_count;
      reply.summary = ChunkReply::SummaryKind::kInt64;
      reply.min = first * first;
      reply.max = last * last;
      reply.pid = 1;
      replies.push_back(std::move(reply));
    }
    call.done(std::move(replies));
    return true;
  }

 private:
  struct Call {
    std::vector<ChunkTask> tasks;
    WorkerConnection::Done done;
  };

  // Not thread-safe: the benchmark's one thread makes and answers every call.
  class Connection final : public WorkerConnection {
   public:
    explicit Connection(AnsweringConnector* owner) : owner_(owner) {}
    void RunChunks(std::vector<ChunkTask> tasks, Done done) override {
      owner_->calls_.push_back(Call{std::move(tasks), std::move(done)});
    }
    void Cancel(uint64_t call_id) override {}
    void CancelAll() override {}
    void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                            ConfirmDone done) override {
      done(absl::UnavailableError("the benchmark's workers never share an address"));
    }

   private:
    AnsweringConnector* owner_;
  };

  std::deque<Call> calls_;
};

// A reduce-only job of range(0) elements in chunks of range(1) (0: Pool's default), on two
// one-slot workers that take up to 1024 chunks per call, as gpool-worker does. The benchmark
// plays the workers and the Map call: it answers the calls and takes the job's events,
// handing their places in the result window back.
void BM_Scheduler_Job(benchmark::State& state) {
  const int64_t elements = state.range(0);
  const int64_t chunk_size = state.range(1);
  // The scheduler logs three lines a job at its default level; GPOOL_BENCH_LOG_INFO=1 keeps
  // them (on stderr) to see what they cost.
  SetLogLevel(std::getenv("GPOOL_BENCH_LOG_INFO") != nullptr ? LogLevel::kInfo
                                                              : LogLevel::kWarning);
  RealClock clock;
  AnsweringConnector connector;
  Scheduler scheduler(SchedulerOptions{}, &clock, &connector);
  for (int i = 0; i < 2; ++i) {
    WorkerRegistration registration;
    registration.address = absl::StrCat("127.0.0.1:", 10000 + i);
    registration.pid = 1000 + i;
    registration.host = "bench";
    registration.slots = 1;
    registration.functions = {"square"};
    registration.incarnation = 1 + i;
    registration.max_chunks_per_call = 1024;
    if (!scheduler.RegisterWorkerAndWait(registration).ok()) {
      state.SkipWithError("cannot register a worker");
      return;
    }
  }
  const auto input = std::make_shared<const Input>(Input::Range(1, elements));
  int64_t chunks = 0;
  for (auto _ : state) {
    JobSpec spec;
    spec.function = "square";
    spec.input = input;
    spec.chunk_size = chunk_size;
    spec.mode = ResultMode::kSum;
    auto submitted = scheduler.SubmitJob(std::move(spec));
    if (!submitted.ok()) {
      state.SkipWithError(std::string(submitted.status().message()).c_str());
      return;
    }
    const std::string& job_id = submitted->first;
    JobStream& stream = *submitted->second;
    absl::int128 sum = 0;
    bool finished = false;
    while (!finished) {
      const bool answered = connector.AnswerOldest();
      for (JobEvent& event : stream.TakeReady()) {
        if (event.kind == JobEvent::Kind::kChunk) {
          sum += event.chunk.sum;
          ++chunks;
          scheduler.OnChunksDelivered(job_id, 1, 0);
        } else if (event.kind == JobEvent::Kind::kFinished) {
          if (!event.status.ok()) {
            state.SkipWithError(std::string(event.status.message()).c_str());
            return;
          }
          finished = true;
        }
      }
      if (!answered && !finished) {
        state.SkipWithError("the job waits for nothing the benchmark can answer");
        return;
      }
    }
    if (sum != SumOfSquares(elements)) {
      state.SkipWithError("wrong sum");
      return;
    }
  }
  state.SetItemsProcessed(chunks);
}
// W1's shape (5000 elements in Pool's chunks: 8 of them) and W3's (10^4 one-element chunks).
BENCHMARK(BM_Scheduler_Job)->ArgNames({"elements", "chunk"})->Args({5000, 0});
BENCHMARK(BM_Scheduler_Job)->ArgNames({"elements", "chunk"})->Args({10'000, 1});

// --- Encoding and decoding, one hop at a time ------------------------------------------------

// `chunks` results of `values_per_chunk` values each (0: reduce-only), as a worker makes them.
std::vector<RawChunkOutcome> WorkerResults(int64_t chunks, int64_t values_per_chunk) {
  std::vector<RawChunkOutcome> results(chunks);
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int64_t> values(values_per_chunk);
    for (int64_t i = 0; i < values_per_chunk; ++i) values[i] = (c + i) * (c + i);
    RawChunkOutcome& result = results[c];
    result.values = EncodedValues::Own(std::move(values));
    v1::Int64Summary* summary = result.fields.mutable_summary()->mutable_int64_summary();
    ToProto(absl::int128(c) * 1'000'000'007, summary->mutable_sum());
    result.fields.set_element_count(values_per_chunk > 0 ? values_per_chunk : 625);
    summary->set_min(c);
    summary->set_max(c * c);
    result.fields.set_pid(4242);
  }
  return results;
}

// The same results as the coordinator forwards them in a Map stream.
std::vector<RawChunkResult> MapResults(int64_t chunks, int64_t values_per_chunk) {
  std::vector<RawChunkResult> results;
  results.reserve(chunks);
  for (RawChunkOutcome& outcome : WorkerResults(chunks, values_per_chunk)) {
    RawChunkResult result;
    result.fields.set_chunk_index(static_cast<int64_t>(results.size()));
    result.fields.set_first_element(static_cast<int64_t>(results.size()) *
                                    outcome.fields.element_count());
    result.fields.set_element_count(outcome.fields.element_count());
    *result.fields.mutable_summary() = outcome.fields.summary();
    result.fields.mutable_worker()->set_pid(outcome.fields.pid());
    result.fields.mutable_worker()->set_worker_id("w1");
    result.fields.set_attempt(1);
    result.values = std::move(outcome.values);
    results.push_back(std::move(result));
  }
  return results;
}

// range(0) chunks of range(1) values: 1024 reduce-only results (a full RunChunks call, W3,
// W4) and one chunk of 2^18 values (the default values chunk, W2 when values cross sockets).
// Items are chunk results: no encoder or decoder here reads or copies a value (the values
// are referenced where they lie), so a message of 2^18 values costs what one without does.
#define GPOOL_MESSAGE_SHAPES(bm) \
  BENCHMARK(bm)->ArgNames({"chunks", "values"})->Args({1024, 0})->Args({1, 1 << 18})

// Worker -> coordinator: a worker's RunChunksResponse.
void BM_EncodeRunChunksResponse(benchmark::State& state) {
  const std::vector<RawChunkOutcome> results = WorkerResults(state.range(0), state.range(1));
  for (auto _ : state) {
    RawMessage message = EncodeRunChunksResponse(results);
    benchmark::DoNotOptimize(message.bytes.Length());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
GPOOL_MESSAGE_SHAPES(BM_EncodeRunChunksResponse);

void BM_DecodeRunChunksResponse(benchmark::State& state) {
  const RawMessage message = EncodeRunChunksResponse(WorkerResults(state.range(0), state.range(1)));
  for (auto _ : state) {
    absl::StatusOr<std::vector<RawChunkOutcome>> decoded =
        DecodeRunChunksResponse(message.bytes);
    if (!decoded.ok() || decoded->size() != static_cast<size_t>(state.range(0)) ||
        decoded->back().values.size() != static_cast<size_t>(state.range(1))) {
      state.SkipWithError("the response did not decode to what was encoded");
      return;
    }
    benchmark::DoNotOptimize(decoded->data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
GPOOL_MESSAGE_SHAPES(BM_DecodeRunChunksResponse);

// Coordinator -> client: a Map stream message with the job's start and end in it, as a short
// job's whole answer travels.
void BM_EncodeMapResponse(benchmark::State& state) {
  const std::vector<RawChunkResult> results = MapResults(state.range(0), state.range(1));
  v1::JobStarted started;
  started.set_job_id("job-1");
  started.set_num_chunks(state.range(0));
  v1::JobFinished finished;
  for (auto _ : state) {
    RawMessage message = EncodeMapResponse(&started, results, &finished);
    benchmark::DoNotOptimize(message.bytes.Length());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
GPOOL_MESSAGE_SHAPES(BM_EncodeMapResponse);

void BM_DecodeMapResponse(benchmark::State& state) {
  v1::JobStarted started;
  started.set_job_id("job-1");
  v1::JobFinished finished;
  const RawMessage message =
      EncodeMapResponse(&started, MapResults(state.range(0), state.range(1)), &finished);
  for (auto _ : state) {
    absl::StatusOr<RawMapResponse> decoded = DecodeMapResponse(message.bytes);
    if (!decoded.ok() || decoded->results.size() != static_cast<size_t>(state.range(0)) ||
        !decoded->started.has_value() || !decoded->finished.has_value()) {
      state.SkipWithError("the message did not decode to what was encoded");
      return;
    }
    benchmark::DoNotOptimize(decoded->results.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
GPOOL_MESSAGE_SHAPES(BM_DecodeMapResponse);

// --- The client's reduction ------------------------------------------------------------------

// A whole job's results through a JobAssembler, as decoded from the stream: range(0) chunks of
// range(1) values (0: reduce-only, partial sums alone). With values, each is copied from the
// received bytes to its place in the result while it is summed and checked.
void BM_Reduce_Job(benchmark::State& state) {
  const int64_t chunks = state.range(0);
  const int64_t values_per_chunk = state.range(1);
  const bool with_values = values_per_chunk > 0;
  const int64_t chunk_elements = with_values ? values_per_chunk : 625;
  std::vector<ChunkResult> results(chunks);
  std::vector<EncodedValues> values(chunks);
  absl::int128 want = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    ChunkResult& result = results[c];
    result.chunk_index = static_cast<uint64_t>(c);
    result.first_element = static_cast<uint64_t>(c * chunk_elements);
    result.element_count = static_cast<uint64_t>(chunk_elements);
    result.summary = SummaryKind::kInt64;
    std::vector<int64_t> chunk_values;
    if (with_values) {
      chunk_values.resize(chunk_elements);
      for (int64_t i = 0; i < chunk_elements; ++i) {
        const int64_t x = c * chunk_elements + i + 1;
        chunk_values[i] = x * x;
        result.partial_sum += x * x;
      }
      result.partial_min = chunk_values.front();
      result.partial_max = chunk_values.back();
    } else {
      result.partial_sum = absl::int128(c) * 1'000'000'007;
      result.partial_min = c;
      result.partial_max = c * c;
    }
    want += result.partial_sum;
    values[c] = EncodedValues::Own(std::move(chunk_values));
  }
  JobStart start;
  start.job_id = "job-1";
  start.total_elements = static_cast<uint64_t>(chunks * chunk_elements);
  start.chunk_size = static_cast<uint64_t>(chunk_elements);
  start.num_chunks = static_cast<uint64_t>(chunks);
  for (auto _ : state) {
    JobAssembler assembler(/*keep_values=*/with_values);
    if (!assembler.OnStart(start).ok()) {
      state.SkipWithError("OnStart failed");
      return;
    }
    for (int64_t c = 0; c < chunks; ++c) {
      absl::StatusOr<bool> accepted = assembler.OnChunk(results[c], values[c]);
      if (!accepted.ok() || !*accepted) {
        state.SkipWithError("a chunk was refused");
        return;
      }
    }
    absl::StatusOr<MapSummary> summary = assembler.Finish(JobStats{});
    if (!summary.ok() || summary->sum != want) {
      state.SkipWithError("wrong sum");
      return;
    }
    benchmark::DoNotOptimize(summary->sum);
  }
  // Values when the job carries them (each is copied and summed), else chunks.
  state.SetItemsProcessed(state.iterations() * chunks * (with_values ? values_per_chunk : 1));
}
// W1's eight reduce-only chunks, W3's 10^4, and 8 chunks of 2^18 values (W2's shape).
BENCHMARK(BM_Reduce_Job)->ArgNames({"chunks", "values"})->Args({8, 0});
BENCHMARK(BM_Reduce_Job)->ArgNames({"chunks", "values"})->Args({10'000, 0});
BENCHMARK(BM_Reduce_Job)->ArgNames({"chunks", "values"})->Args({8, 1 << 18})->UseRealTime();

}  // namespace
}  // namespace gpool

BENCHMARK_MAIN();
