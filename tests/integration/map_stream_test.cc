// The Map stream over gRPC, in one process: the coordinator's service over a real Scheduler on
// a loopback port, with chunk calls held by a fake worker connection until the test answers
// them, and a raw client stub. Checks what the callback-served Map must keep: back-pressure
// from a slow client, cancellation, a job's own failure marked final, and shutdown; and for
// MapStream, that a client faster than the workers is read only while few segments run, and
// the stall timeout. Every wait is on a condition with a deadline.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/completion_queue_loop.h"
#include "rpc/grpc_status.h"
#include "rpc/transport.h"
#include "server/coordinator_service.h"
#include "server/scheduler.h"
#include "server/worker_connection.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::gpool::testing::WaitUntil;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(1);

// Chunk calls of every connection, held until the test answers them. Thread-safe. A call is
// answered with the squares of its elements, or with an error; a cancelled call is answered
// CANCELLED at once, as a real connection does.
class HeldCalls {
 public:
  struct Call {
    std::vector<ChunkTask> tasks;
    WorkerConnection::Done done;
  };

  void Add(Call call) {
    absl::MutexLock lock(&mu_);
    chunks_dispatched_ += static_cast<int64_t>(call.tasks.size());
    pending_.push_back(std::move(call));
  }

  // Answers the oldest pending call with `status`, or with its results if OK, passed through
  // `garble` if given. False when none is pending. The answer runs the scheduler (which may
  // dispatch more) on this thread.
  bool AnswerOne(const absl::Status& status = absl::OkStatus(),
                 const std::function<void(ChunkReply&)>& garble = nullptr) {
    std::optional<Call> call = Take([](const Call&) { return true; });
    if (!call.has_value()) return false;
    if (!status.ok()) {
      call->done(status);
      return true;
    }
    std::vector<ChunkReply> replies;
    for (const ChunkTask& task : call->tasks) {
      ChunkReply reply;
      std::vector<int64_t> values;
      for (uint64_t i = 0; i < task.element_count; ++i) {
        const int64_t x = task.job_input->At(task.first_element + i);
        values.push_back(x * x);
        reply.sum += absl::int128(x) * x;
      }
      reply.count = task.element_count;
      reply.summary = ChunkReply::SummaryKind::kInt64;  // what a worker of square reports
      reply.min = values.empty() ? 0 : values.front();
      reply.max = values.empty() ? 0 : values.back();
      reply.pid = 42;
      if (task.mode == ResultMode::kValues) reply.values = EncodedValues::Own(std::move(values));
      if (garble) garble(reply);
      replies.push_back(std::move(reply));
    }
    call->done(std::move(replies));
    return true;
  }

  void Cancel(uint64_t call_id) {
    std::optional<Call> call =
        Take([call_id](const Call& call) { return call.tasks.front().call_id == call_id; });
    {
      absl::MutexLock lock(&mu_);
      cancelled_.push_back(call_id);
    }
    if (call.has_value()) call->done(absl::CancelledError("cancelled by the coordinator"));
  }

  void CancelAll() {
    while (std::optional<Call> call = Take([](const Call&) { return true; })) {
      call->done(absl::CancelledError("cancelled by the coordinator"));
    }
  }

  int64_t pending() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(pending_.size());
  }
  int64_t chunks_dispatched() const {
    absl::MutexLock lock(&mu_);
    return chunks_dispatched_;
  }
  int64_t cancelled() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(cancelled_.size());
  }

 private:
  // Removes and returns the first pending call that `matches`; the caller answers it without
  // the lock (the answer runs the scheduler, which may call Add).
  template <typename Matches>
  std::optional<Call> Take(Matches matches) {
    absl::MutexLock lock(&mu_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (!matches(*it)) continue;
      Call call = std::move(*it);
      pending_.erase(it);
      return call;
    }
    return std::nullopt;
  }

  mutable absl::Mutex mu_;
  std::deque<Call> pending_ ABSL_GUARDED_BY(mu_);
  int64_t chunks_dispatched_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mu_);
};

class HeldConnector final : public WorkerConnector {
 public:
  explicit HeldConnector(HeldCalls* calls) : calls_(calls) {}
  std::shared_ptr<WorkerConnection> Connect(const std::string& address) override {
    return std::make_shared<Connection>(calls_);
  }

 private:
  class Connection final : public WorkerConnection {
   public:
    explicit Connection(HeldCalls* calls) : calls_(calls) {}
    void RunChunks(std::vector<ChunkTask> tasks, Done done) override {
      calls_->Add({std::move(tasks), std::move(done)});
    }
    void Cancel(uint64_t call_id) override { calls_->Cancel(call_id); }
    void CancelAll() override { calls_->CancelAll(); }
    void ConfirmIncarnation(uint64_t incarnation, absl::Duration timeout,
                            ConfirmDone done) override {
      done(absl::UnavailableError("no worker serves in this test"));
    }

   private:
    HeldCalls* const calls_;
  };

  HeldCalls* const calls_;
};

// A coordinator (Scheduler + CoordinatorService) on 127.0.0.1 with one registered worker of
// `slots` slots (one by default) and no pipelining: a chunk call per slot at a time, each
// answered when the test says.
class TestCoordinator {
 public:
  explicit TestCoordinator(int result_window = SchedulerOptions{}.result_window, int slots = 1,
                           absl::Duration client_stall_timeout = absl::Seconds(60))
      : connector_(&calls_) {
    SchedulerOptions options;
    options.result_window = result_window;
    options.pipeline_depth = 0;
    scheduler_ = std::make_unique<Scheduler>(options, &clock_, &connector_);
    service_ =
        std::make_unique<CoordinatorService>(scheduler_.get(), &loop_, client_stall_timeout);
    absl::StatusOr<StartedServer> started = StartServer(
        "127.0.0.1:0", {service_.get()}, /*serving=*/true, /*port_file=*/"", &loop_);
    EXPECT_OK(started);
    if (started.ok()) {
      service_->AcceptCalls();
      server_ = std::move(*started);
      stub_ = v1::Coordinator::NewStub(
          CreateChannel(absl::StrCat("127.0.0.1:", started->port)));
    }
    WorkerRegistration registration;
    registration.address = "127.0.0.1:1";
    registration.pid = 42;
    registration.host = "test-host";
    registration.slots = slots;
    registration.functions = {"square"};
    registration.max_chunks_per_call = 1;
    EXPECT_OK(scheduler_->RegisterWorkerAndWait(registration).status());
  }

  ~TestCoordinator() {
    // As gpool-coordinator does: end the Map calls, then shut the server down.
    service_->StopMapCalls();
    if (server_.server != nullptr) {
      server_.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    }
    loop_.ShutdownWhenIdle();
  }

  v1::Coordinator::Stub& stub() { return *stub_; }
  HeldCalls& calls() { return calls_; }

  // Answers every pending call (answers dispatch more) until `done` holds; false if it does
  // not within kWait.
  template <typename Done>
  bool AnswerUntil(Done done) {
    return WaitUntil(
        [&] {
          while (calls_.AnswerOne()) {
          }
          return done();
        },
        kWait, kPoll);
  }
  CoordinatorService& service() { return *service_; }
  size_t jobs() const { return scheduler_->Snapshot().jobs.size(); }

 private:
  FakeClock clock_;
  HeldCalls calls_;
  HeldConnector connector_;
  std::unique_ptr<Scheduler> scheduler_;
  CompletionQueueLoop loop_;
  std::unique_ptr<CoordinatorService> service_;
  StartedServer server_;  // Destroyed before the service and the loop.
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

v1::MapRequest SquareRequest(int64_t end, int64_t chunk_size) {
  v1::MapRequest request;
  request.set_function("square");
  request.mutable_input()->mutable_range()->set_start(1);
  request.mutable_input()->mutable_range()->set_end(end);
  request.set_chunk_size(chunk_size);
  request.set_result_mode(v1::RESULT_MODE_VALUES);
  return request;
}

// Everything a client read from one Map call.
struct MapOutcome {
  int64_t messages = 0;
  bool started = false;
  int64_t chunks = 0;
  int64_t values = 0;
  bool finished = false;
  // The stream kept MapResponse's rules: the start in the first message only, nothing after
  // the end.
  bool in_order = true;
  absl::Status status;
  bool final = false;
};

// Reads the rest of the call and finishes it. `started`: the job's start was read already.
MapOutcome ReadToEnd(grpc::ClientContext& context,
                     grpc::ClientReaderInterface<v1::MapResponse>& reader,
                     bool started = false) {
  MapOutcome outcome;
  outcome.started = started;
  v1::MapResponse response;
  while (reader.Read(&response)) {
    if (response.has_started() == outcome.started || outcome.finished) outcome.in_order = false;
    outcome.started = true;
    ++outcome.messages;
    for (const v1::ChunkResult& chunk : response.results()) {
      ++outcome.chunks;
      outcome.values += chunk.values().int64s().values_size();
    }
    if (response.has_finished()) outcome.finished = true;
  }
  outcome.status = FromGrpcStatus(reader.Finish());
  outcome.final = context.GetServerTrailingMetadata().count("gpool-final") > 0;
  return outcome;
}

// Reads the job's start, alone. The test's coordinator has no ticker, so once the job exists
// the call is told to release what it holds, as the ticker would within 0.1 s.
void ReadStartAlone(TestCoordinator& coordinator,
                    grpc::ClientReaderInterface<v1::MapResponse>& reader) {
  ASSERT_TRUE(WaitUntil([&] { return coordinator.jobs() == 1; }, kWait, kPoll));
  coordinator.service().ReleaseHeldEvents();
  v1::MapResponse response;
  ASSERT_TRUE(reader.Read(&response));
  ASSERT_TRUE(response.has_started());
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_FALSE(response.has_finished());
}

TEST(MapStreamTest, Map_AllChunksAnswered_StartResultsThenJobFinishedAndOk) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(100, 10));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.jobs() == 1; }, kWait, kPoll));
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.jobs() == 0; }));
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_OK(outcome.status);
  EXPECT_TRUE(outcome.in_order);
  EXPECT_TRUE(outcome.started);
  EXPECT_EQ(outcome.chunks, 10);
  EXPECT_EQ(outcome.values, 100);
  EXPECT_TRUE(outcome.finished);
}

// Reads the next message and checks what it carries.
void ExpectNextMessage(grpc::ClientReaderInterface<v1::MapResponse>& reader, bool started,
                       int results, bool finished) {
  v1::MapResponse response;
  ASSERT_TRUE(reader.Read(&response));
  EXPECT_EQ(response.has_started(), started);
  EXPECT_EQ(response.results_size(), results);
  EXPECT_EQ(response.has_finished(), finished);
}

// The call has nothing more to read and ended OK.
void ExpectEndsOk(grpc::ClientReaderInterface<v1::MapResponse>& reader) {
  v1::MapResponse response;
  EXPECT_FALSE(reader.Read(&response));
  EXPECT_OK(FromGrpcStatus(reader.Finish()));
}

// The job's start waits for its results, and the last results leave with its end, so a job
// answered at once is one message.
TEST(MapStreamTest, Map_ShortJob_StartResultsAndEndInOneMessage) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(10, 10));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().AnswerOne(); }, kWait, kPoll));
  v1::MapResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(response.has_started());
  EXPECT_EQ(response.started().num_chunks(), 1);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).values().int64s().values_size(), 10);
  EXPECT_TRUE(response.has_finished());
  ExpectEndsOk(*reader);
}

// A job whose first results are slow: its start leaves alone once ReleaseHeldEvents runs (the
// coordinator's ticker), before any result; the results and the end follow.
TEST(MapStreamTest, Map_SlowFirstResults_HeldStartLeavesAtRelease) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(20, 10));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().pending() == 1; }, kWait, kPoll));
  coordinator.service().ReleaseHeldEvents();
  ExpectNextMessage(*reader, /*started=*/true, /*results=*/0, /*finished=*/false);
  // Nothing else was sent meanwhile: the one chunk call is still unanswered.
  EXPECT_EQ(coordinator.calls().pending(), 1);

  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.jobs() == 0; }));
  MapOutcome rest = ReadToEnd(context, *reader, /*started=*/true);
  EXPECT_OK(rest.status);
  EXPECT_TRUE(rest.in_order);
  EXPECT_EQ(rest.chunks, 2);
  EXPECT_TRUE(rest.finished);
}

// Results that come when every other chunk of the job is running wait for the job's end:
// with two calls in flight, the job is one message, whichever call is answered first.
TEST(MapStreamTest, Map_TailResults_WaitForTheEnd) {
  TestCoordinator coordinator(SchedulerOptions{}.result_window, /*slots=*/2);
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(20, 10));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().pending() == 2; }, kWait, kPoll));
  ASSERT_TRUE(coordinator.calls().AnswerOne());
  ASSERT_TRUE(coordinator.calls().AnswerOne());
  ExpectNextMessage(*reader, /*started=*/true, /*results=*/2, /*finished=*/true);
  ExpectEndsOk(*reader);
}

// ReleaseHeldEvents sends held tail results at once; the rest of the job holds nothing back.
TEST(MapStreamTest, Map_HeldTailResults_LeaveAtRelease) {
  TestCoordinator coordinator(SchedulerOptions{}.result_window, /*slots=*/2);
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(20, 10));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().pending() == 2; }, kWait, kPoll));
  ASSERT_TRUE(coordinator.calls().AnswerOne());
  coordinator.service().ReleaseHeldEvents();
  ExpectNextMessage(*reader, /*started=*/true, /*results=*/1, /*finished=*/false);
  EXPECT_EQ(coordinator.calls().pending(), 1);

  ASSERT_TRUE(coordinator.calls().AnswerOne());
  ExpectNextMessage(*reader, /*started=*/false, /*results=*/1, /*finished=*/true);
  ExpectEndsOk(*reader);
}

// A job that fails while its start is held: the start and the results before the failure
// reach the client, then the final status, promptly (a write gRPC holds back would stall the
// call until the connection's next keepalive, 10 s: the deadline catches that).
TEST(MapStreamTest, Map_FailureAfterHeldStart_StartThenFinalStatus) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto reader = coordinator.stub().Map(&context, SquareRequest(10, 10));
  ASSERT_TRUE(WaitUntil(
      [&] { return coordinator.calls().AnswerOne(absl::OutOfRangeError("x*x overflows")); },
      kWait, kPoll));
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_TRUE(outcome.started);
  EXPECT_TRUE(outcome.in_order);
  EXPECT_FALSE(outcome.finished);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("x*x overflows")));
  EXPECT_TRUE(outcome.final);
}

// A client that stops reading fills the flow-control windows; the coordinator's writes then
// stay pending, the result window fills and dispatch pauses. Once it reads again, it gets
// every result.
TEST(MapStreamTest, Map_SlowClient_DispatchPausesAndAllResultsArrive) {
  constexpr int64_t kChunkSize = 1 << 16;  // 512 KiB of values per chunk
  constexpr int64_t kChunks = 256;         // 128 MiB in all: far beyond the windows
  TestCoordinator coordinator(/*result_window=*/4);
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(kChunks * kChunkSize, kChunkSize));
  ReadStartAlone(coordinator, *reader);

  // Answer calls while the client reads nothing, until none is pending: an answered call
  // dispatches the next one before AnswerOne returns, unless the window is full.
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.calls().pending() == 0; }));
  EXPECT_LT(coordinator.calls().chunks_dispatched(), kChunks);

  MapOutcome outcome;
  std::thread client([&] { outcome = ReadToEnd(context, *reader, /*started=*/true); });
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.jobs() == 0; }));
  client.join();
  EXPECT_OK(outcome.status);
  EXPECT_EQ(outcome.chunks, kChunks);
  EXPECT_EQ(outcome.values, kChunks * kChunkSize);
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(coordinator.calls().chunks_dispatched(), kChunks);
}

// Results ready together travel together only up to the 4 MiB message limit: full chunks of
// 2^18 values (2 MiB) leave one to a message, and a larger chunk size asked for is lowered
// to 2^18. The client's channel receives at most kMaxMessageBytes, as any gRPC client's by
// default: a bigger message would fail the call with RESOURCE_EXHAUSTED.
TEST(MapStreamTest, Map_ManyFullChunksReadyTogether_NoMessageOverTheLimit) {
  constexpr int kChunks = 8;
  constexpr int64_t kFullChunk = int64_t{1} << 18;
  TestCoordinator coordinator(SchedulerOptions{}.result_window, /*slots=*/kChunks);
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(kChunks * kFullChunk, 1 << 20));
  // Every chunk is answered before the client reads: all are ready together.
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().pending() == kChunks; }, kWait, kPoll));
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.jobs() == 0; }));

  int64_t messages = 0;
  int64_t values = 0;
  size_t largest = 0;
  int64_t chunk_size = 0;
  v1::MapResponse response;
  while (reader->Read(&response)) {
    ++messages;
    largest = std::max(largest, response.ByteSizeLong());
    if (response.has_started()) chunk_size = response.started().chunk_size();
    for (const v1::ChunkResult& chunk : response.results()) {
      values += chunk.values().int64s().values_size();
    }
  }
  EXPECT_OK(FromGrpcStatus(reader->Finish()));
  EXPECT_EQ(chunk_size, kFullChunk);
  EXPECT_EQ(values, kChunks * kFullChunk);
  EXPECT_LE(largest, static_cast<size_t>(kMaxMessageBytes));
  EXPECT_GE(messages, kChunks);  // two full chunks are more than a message holds
}

// The coordinator's write waits for the client's window when the client cancels: the call
// still ends, and the job with it.
TEST(MapStreamTest, Map_SlowClientCancels_PendingWriteEndsAndJobCancelled) {
  constexpr int64_t kChunkSize = 1 << 16;
  constexpr int64_t kChunks = 256;
  TestCoordinator coordinator(/*result_window=*/4);
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(kChunks * kChunkSize, kChunkSize));
  ReadStartAlone(coordinator, *reader);
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.calls().pending() == 0; }));
  ASSERT_EQ(coordinator.jobs(), 1u);
  context.TryCancel();
  ASSERT_TRUE(WaitUntil([&] { return coordinator.jobs() == 0; }, kWait, kPoll));
  EXPECT_THAT(ReadToEnd(context, *reader, /*started=*/true).status,
              StatusIs(absl::StatusCode::kCancelled, ::testing::_));
}

// A client that stops reading holds its job only for the stall timeout: then the call is
// cancelled (CANCELLED) and the job ends. Not before: a write that waited less is left alone.
TEST(MapStreamTest, Map_ClientStopsReading_CancelledAfterStallTimeoutAndJobEnds) {
  constexpr absl::Duration kStall = absl::Seconds(2);
  constexpr int64_t kChunkSize = 1 << 16;  // 512 KiB of values per chunk
  constexpr int64_t kChunks = 256;
  TestCoordinator coordinator(/*result_window=*/4, /*slots=*/1, kStall);
  // Every write of the call starts after this.
  const absl::Time before_call = absl::Now();
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(kChunks * kChunkSize, kChunkSize));
  ReadStartAlone(coordinator, *reader);
  // The client reads nothing more: the windows fill and a write waits for the client.
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.calls().pending() == 0; }));
  ASSERT_EQ(coordinator.jobs(), 1u);

  EXPECT_EQ(coordinator.service().CancelStalledMapCalls(before_call + kStall -
                                                        absl::Milliseconds(1)),
            0);
  int cancelled = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        // Writes that the client's buffers still took free the window: answer what that
        // dispatches, until a write waits for the client.
        while (coordinator.calls().AnswerOne()) {
        }
        cancelled += coordinator.service().CancelStalledMapCalls(absl::Now());
        return coordinator.jobs() == 0;
      },
      kWait, kPoll));
  EXPECT_EQ(cancelled, 1);
  EXPECT_GE(absl::Now() - before_call, kStall);
  EXPECT_THAT(ReadToEnd(context, *reader, /*started=*/true).status,
              StatusIs(absl::StatusCode::kCancelled, ::testing::_));
}

TEST(MapStreamTest, Map_ClientCancels_JobCancelledAndItsCallsToo) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(100, 10));
  ReadStartAlone(coordinator, *reader);
  ASSERT_TRUE(coordinator.calls().AnswerOne());  // one result reaches the client
  ASSERT_EQ(coordinator.calls().pending(), 1);
  context.TryCancel();
  ASSERT_TRUE(WaitUntil([&] { return coordinator.jobs() == 0; }, kWait, kPoll));
  // The job's calls are cancelled after the scheduler releases its lock.
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().cancelled() >= 1; }, kWait, kPoll));
  EXPECT_EQ(coordinator.calls().cancelled(), 1);
  EXPECT_EQ(coordinator.calls().pending(), 0);
  EXPECT_THAT(ReadToEnd(context, *reader, /*started=*/true).status,
              StatusIs(absl::StatusCode::kCancelled, ::testing::_));
}

TEST(MapStreamTest, Map_DeadlinePasses_JobCancelled) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  auto reader = coordinator.stub().Map(&context, SquareRequest(100, 10));
  // No call is answered: the job can only end through the deadline.
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  ASSERT_TRUE(WaitUntil([&] { return coordinator.jobs() == 0; }, kWait, kPoll));
  // The scheduler drops the job under its lock and cancels the job's calls after releasing
  // it: wait for the cancellation rather than race it.
  ASSERT_TRUE(WaitUntil([&] { return coordinator.calls().cancelled() >= 1; }, kWait, kPoll));
  EXPECT_EQ(coordinator.calls().cancelled(), 1);
}

TEST(MapStreamTest, Map_ChunkFailsDeterministically_FinalFailureAfterEarlierResults) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(100, 10));
  ReadStartAlone(coordinator, *reader);
  ASSERT_TRUE(coordinator.calls().AnswerOne());
  ASSERT_TRUE(coordinator.calls().AnswerOne(absl::OutOfRangeError("x*x overflows")));
  MapOutcome outcome = ReadToEnd(context, *reader, /*started=*/true);
  EXPECT_THAT(outcome.status,
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("x*x overflows")));
  EXPECT_TRUE(outcome.final);
  EXPECT_EQ(outcome.chunks, 1);
  EXPECT_FALSE(outcome.finished);
}

TEST(MapStreamTest, Map_BadRequest_FinalInvalidArgument) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  v1::MapRequest request = SquareRequest(100, 10);
  request.clear_input();
  auto reader = coordinator.stub().Map(&context, request);
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_TRUE(outcome.final);
}

TEST(MapStreamTest, Map_UnknownResultMode_FinalInvalidArgumentNamingFieldAndValue) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  v1::MapRequest request = SquareRequest(100, 10);
  request.set_result_mode(static_cast<v1::ResultMode>(9));
  auto reader = coordinator.stub().Map(&context, request);
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("MapRequest.result_mode is 9")));
  EXPECT_TRUE(outcome.final);
  EXPECT_EQ(coordinator.calls().chunks_dispatched(), 0);
}

// A worker's result whose values do not add up to its partial sum never reaches the client:
// the chunk runs again, the client gets the honest result, and the fault shows in
// GetClusterInfo.
TEST(MapStreamTest, Map_GarbledResult_RefusedRedoneAndCountedInClusterInfo) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(10, 10));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return coordinator.calls().AnswerOne(absl::OkStatus(),
                                             [](ChunkReply& reply) { reply.sum += 1; });
      },
      kWait, kPoll));
  ASSERT_TRUE(coordinator.AnswerUntil([&] { return coordinator.jobs() == 0; }));
  MapOutcome outcome = ReadToEnd(context, *reader);
  EXPECT_OK(outcome.status);
  EXPECT_EQ(outcome.chunks, 1);
  EXPECT_EQ(outcome.values, 10);
  EXPECT_EQ(coordinator.calls().chunks_dispatched(), 2);

  grpc::ClientContext info_context;
  info_context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  v1::ClusterInfo info;
  ASSERT_TRUE(coordinator.stub()
                  .GetClusterInfo(&info_context, v1::GetClusterInfoRequest(), &info)
                  .ok());
  ASSERT_EQ(info.workers_size(), 1);
  EXPECT_EQ(info.workers(0).faults(), 1);
}

TEST(MapStreamTest, StopMapCalls_OpenCallGetsQueuedResultsThenUnavailable) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto reader = coordinator.stub().Map(&context, SquareRequest(100, 10));
  ReadStartAlone(coordinator, *reader);
  ASSERT_TRUE(coordinator.calls().AnswerOne());
  coordinator.service().StopMapCalls();
  MapOutcome outcome = ReadToEnd(context, *reader, /*started=*/true);
  EXPECT_THAT(outcome.status,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  // The client may resubmit elsewhere: not final.
  EXPECT_FALSE(outcome.final);
  EXPECT_EQ(outcome.chunks, 1);

  grpc::ClientContext late_context;
  auto late = coordinator.stub().Map(&late_context, SquareRequest(100, 10));
  MapOutcome refused = ReadToEnd(late_context, *late);
  EXPECT_THAT(refused.status, StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_FALSE(refused.final);
}

}  // namespace
}  // namespace gpool

// ---- MapStream: an input streamed by the client ---------------------------------------

namespace gpool {
namespace {

// Writes the header and the values 1..total in batches of 2^16, then half-closes, unless the
// call breaks first.
void StreamSquares(grpc::ClientReaderWriter<v1::MapStreamRequest, v1::MapResponse>& stream,
                   int64_t total, int64_t chunk_size, v1::ResultMode mode) {
  v1::MapStreamRequest header;
  header.mutable_header()->set_function("square");
  header.mutable_header()->set_chunk_size(chunk_size);
  header.mutable_header()->set_result_mode(mode);
  if (!stream.Write(header)) return;
  for (int64_t first = 1; first <= total; first += int64_t{1} << 16) {
    v1::MapStreamRequest batch;
    for (int64_t x = first; x < first + (int64_t{1} << 16) && x <= total; ++x) {
      batch.mutable_values()->mutable_int64s()->add_values(x);
    }
    if (!stream.Write(batch)) return;
  }
  stream.WritesDone();
}

// A client that sends faster than the workers compute (their calls held until the test
// answers them) is read only while at most 4 segments run: the coordinator never holds more
// of the input. Every chunk still arrives once, and the sum is exact.
TEST(MapStreamTest, MapStream_ClientFasterThanWorkers_AtMostFourSegmentsRunSumExact) {
  TestCoordinator coordinator;
  grpc::ClientContext context;
  auto stream = coordinator.stub().MapStream(&context);
  constexpr int64_t kChunk = int64_t{1} << 18;  // 4 chunks per segment of 2^20 elements
  constexpr int64_t kTotal = 10 * (int64_t{1} << 20) + 5;
  std::thread writer([&] { StreamSquares(*stream, kTotal, kChunk, v1::RESULT_MODE_SUM); });
  absl::Mutex mu;
  bool read_all = false;
  absl::int128 sum = 0;
  int64_t chunks = 0;
  int64_t total_elements = -1;
  std::thread reader([&] {
    v1::MapResponse response;
    while (stream->Read(&response)) {
      absl::MutexLock lock(&mu);
      for (const v1::ChunkResult& chunk : response.results()) {
        sum += absl::MakeInt128(static_cast<int64_t>(chunk.summary().int64_summary().sum().high()),
                                chunk.summary().int64_summary().sum().low());
        ++chunks;
      }
      if (response.has_finished()) total_elements = response.finished().total_elements();
    }
    absl::MutexLock lock(&mu);
    read_all = true;
  });
  // With every worker call held, the coordinator reads until 4 segments run, then waits.
  const bool bounded = WaitUntil([&] { return coordinator.jobs() >= 4; }, kWait, kPoll);
  size_t most_jobs = coordinator.jobs();
  const bool done = bounded && coordinator.AnswerUntil([&] {
    most_jobs = std::max(most_jobs, coordinator.jobs());
    absl::MutexLock lock(&mu);
    return read_all;
  });
  if (!done) context.TryCancel();
  writer.join();
  reader.join();
  ASSERT_TRUE(bounded);
  ASSERT_TRUE(done);
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(most_jobs, 4u);
  EXPECT_EQ(total_elements, kTotal);
  EXPECT_EQ(chunks, (kTotal + kChunk - 1) / kChunk);
  EXPECT_EQ(sum, absl::int128(kTotal) * (kTotal + 1) * (2 * kTotal + 1) / 6);
}

// A MapStream client that stops reading holds its job only for the stall timeout, as a Map
// client does: then the call is cancelled and its segments end.
TEST(MapStreamTest, MapStream_ClientStopsReading_CancelledAfterStallTimeout) {
  constexpr absl::Duration kStall = absl::Seconds(2);
  TestCoordinator coordinator(/*result_window=*/4, /*slots=*/1, kStall);
  const absl::Time before_call = absl::Now();
  grpc::ClientContext context;
  auto stream = coordinator.stub().MapStream(&context);
  // 2^16 values per chunk (512 KiB of results each), more than the client's buffers take.
  std::thread writer([&] {
    StreamSquares(*stream, int64_t{64} << 16, int64_t{1} << 16, v1::RESULT_MODE_VALUES);
  });
  int cancelled = 0;
  const bool ended = WaitUntil(
      [&] {
        while (coordinator.calls().AnswerOne()) {
        }
        cancelled += coordinator.service().CancelStalledMapCalls(absl::Now());
        return cancelled > 0 && coordinator.jobs() == 0;
      },
      kWait, kPoll);
  if (!ended) context.TryCancel();
  writer.join();
  ASSERT_TRUE(ended);
  EXPECT_EQ(cancelled, 1);
  EXPECT_GE(absl::Now() - before_call, kStall);
  // What the client's buffers took, then the status.
  v1::MapResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace gpool
