// Unit tests of the client's transport-free parts: exactly-once assembly of a job's stream
// and the CLI's wording and exit codes.
#include "absl/numeric/int128.h"
#include "client/cli_output.h"
#include "client/job_assembler.h"
#include "client/reconnect_policy.h"
#include "common/shared_values.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

JobStart Start(uint64_t total, uint64_t chunk_size) {
  JobStart start;
  start.job_id = "job-1";
  start.total_elements = total;
  start.chunk_size = chunk_size;
  start.num_chunks = (total + chunk_size - 1) / chunk_size;
  start.cluster_slots = 2;
  return start;
}

// The chunk of squares of 1..total at `index`.
ChunkResult SquaresChunk(uint64_t index, uint64_t chunk_size, uint64_t total,
                         bool with_values = true) {
  ChunkResult chunk;
  chunk.chunk_index = index;
  chunk.first_element = index * chunk_size;
  chunk.element_count = std::min(chunk_size, total - chunk.first_element);
  for (uint64_t i = 0; i < chunk.element_count; ++i) {
    const int64_t x = static_cast<int64_t>(chunk.first_element + i + 1);
    if (with_values) chunk.values.mutable_int64s().push_back(x * x);
    chunk.partial_sum += x * x;
  }
  chunk.partial_min = static_cast<int64_t>((chunk.first_element + 1) * (chunk.first_element + 1));
  chunk.partial_max = static_cast<int64_t>((chunk.first_element + chunk.element_count) *
                                           (chunk.first_element + chunk.element_count));
  chunk.summary = SummaryKind::kInt64;
  chunk.worker = WorkerIdentity{"w1", "host", 100 + static_cast<int64_t>(index % 2)};
  return chunk;
}

TEST(JobAssemblerTest, OutOfOrderChunks_AssembleValuesInInputOrder) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(10, 3)));
  for (uint64_t index : {3u, 1u, 0u, 2u}) {
    ASSERT_OK_AND_ASSIGN(bool accepted, assembler.OnChunk(SquaresChunk(index, 3, 10)));
    EXPECT_TRUE(accepted);
  }
  ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
  EXPECT_EQ(summary.sum, 385);
  EXPECT_EQ(summary.count, 10u);
  EXPECT_EQ(summary.min, 1);
  EXPECT_EQ(summary.max, 100);
  EXPECT_THAT(assembler.TakeValues().int64s(), ElementsAre(1, 4, 9, 16, 25, 36, 49, 64, 81, 100));
  EXPECT_EQ(summary.chunks_by_worker.size(), 2u);
}

// Values as they arrive: pieces of received buffers that need not split at value boundaries.
EncodedValues InPieces(std::vector<int64_t> values, size_t piece_bytes) {
  auto buffer = std::make_shared<std::vector<int64_t>>(std::move(values));
  const char* data = reinterpret_cast<const char*>(buffer->data());
  const size_t bytes = buffer->size() * sizeof(int64_t);
  EncodedValues encoded;
  for (size_t offset = 0; offset < bytes; offset += piece_bytes) {
    encoded.Append(data + offset, std::min(piece_bytes, bytes - offset), buffer);
  }
  return encoded;
}

TEST(JobAssemblerTest, ValuesPassedApart_ArePlacedAndChecked) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(4, 2)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(1, 2, 4, /*with_values=*/false),
                              InPieces({9, 16}, /*piece_bytes=*/3)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(0, 2, 4, /*with_values=*/false),
                              InPieces({1, 4}, /*piece_bytes=*/16)));
  ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
  EXPECT_EQ(summary.sum, 30);
  EXPECT_THAT(assembler.TakeValues().int64s(), ElementsAre(1, 4, 9, 16));
}

TEST(JobAssemblerTest, ValuesPassedApart_DisagreeingWithPartialSum_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(2, 2)));
  EXPECT_THAT(assembler.OnChunk(SquaresChunk(0, 2, 2, /*with_values=*/false),
                                InPieces({1, 5}, 8)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("values sum to 6")));
}

TEST(JobAssemblerTest, ValuesPassedApart_WrongCount_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(2, 2)));
  EXPECT_THAT(assembler.OnChunk(SquaresChunk(0, 2, 2, /*with_values=*/false), InPieces({1}, 8)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("with 1 values")));
}

// A chunk whose values a worker wrote to the client's shared-memory buffer.
ChunkResult SharedSquaresChunk(SharedValuesBuffer& buffer, uint64_t index, uint64_t chunk_size,
                               uint64_t total) {
  ChunkResult chunk = SquaresChunk(index, chunk_size, total);
  absl::StatusOr<SharedValuesWriter> writer = SharedValuesWriter::Open(buffer.ref());
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (writer.ok()) {
    EXPECT_OK(writer->Write(
        {{chunk.first_element, chunk.values.int64s().data(), chunk.values.size()}}));
  }
  chunk.values = Elements();
  chunk.values_shared = true;
  return chunk;
}

TEST(JobAssemblerTest, SharedValues_ArePlacedCheckedAndCounted) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SharedValuesBuffer> buffer, SharedValuesBuffer::Create(5));
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(5, 2)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(1, 2, 5)));  // this one came over gRPC
  for (uint64_t index : {2u, 0u}) {
    ASSERT_OK(assembler.OnChunk(SharedSquaresChunk(*buffer, index, 2, 5), *buffer));
  }
  ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
  EXPECT_EQ(summary.sum, 55);
  EXPECT_EQ(summary.values_shared, 3u);
  EXPECT_THAT(assembler.TakeValues().int64s(), ElementsAre(1, 4, 9, 16, 25));
}

TEST(JobAssemblerTest, SharedValues_DisagreeingWithPartialSum_IsDataLoss) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SharedValuesBuffer> buffer, SharedValuesBuffer::Create(2));
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(2, 2)));
  // Marked shared, but nothing was written there: the buffer holds zeros.
  ChunkResult chunk = SquaresChunk(0, 2, 2);
  chunk.values = Elements();
  chunk.values_shared = true;
  EXPECT_THAT(assembler.OnChunk(chunk, *buffer),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("values sum to 0")));
}

TEST(JobAssemblerTest, DuplicateChunk_IsDroppedAndCounted) {
  JobAssembler assembler(/*keep_values=*/false);
  ASSERT_OK(assembler.OnStart(Start(4, 2)));
  ASSERT_OK_AND_ASSIGN(bool first, assembler.OnChunk(SquaresChunk(0, 2, 4, false)));
  ASSERT_OK_AND_ASSIGN(bool again, assembler.OnChunk(SquaresChunk(0, 2, 4, false)));
  EXPECT_TRUE(first);
  EXPECT_FALSE(again);
  ASSERT_OK(assembler.OnChunk(SquaresChunk(1, 2, 4, false)));
  ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
  EXPECT_EQ(summary.sum, 30);  // counted once
  EXPECT_EQ(summary.stats.duplicates_dropped, 1);
}

TEST(JobAssemblerTest, MissingChunk_IsDataLossNamingIt) {
  JobAssembler assembler(/*keep_values=*/false);
  ASSERT_OK(assembler.OnStart(Start(6, 2)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(0, 2, 6, false)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(2, 2, 6, false)));
  EXPECT_THAT(assembler.Finish(JobStats{}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("2 of 3 chunks; first missing: 1")));
}

TEST(JobAssemblerTest, ChunkNotMatchingPlan_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(10, 3)));
  ChunkResult wrong = SquaresChunk(1, 3, 10);
  wrong.first_element = 4;
  EXPECT_THAT(assembler.OnChunk(wrong), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not match")));
  EXPECT_THAT(assembler.OnChunk(SquaresChunk(7, 3, 10)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("outside")));
}

TEST(JobAssemblerTest, PartialSumDisagreeingWithValues_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(3, 3)));
  ChunkResult chunk = SquaresChunk(0, 3, 3);
  chunk.partial_sum += 1;
  EXPECT_THAT(assembler.OnChunk(chunk), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sum to 14")));
}

// Values checked whenever they come, kept or not: a chunk whose values disagree with what its
// worker reported fails the job, naming the chunk and the worker.
TEST(JobAssemblerTest, StreamedValuesDisagreeingWithMax_IsDataLossNamingChunkAndWorker) {
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/true);
  ASSERT_OK(assembler.OnStart(Start(4, 2)));
  ChunkResult chunk = SquaresChunk(1, 2, 4, /*with_values=*/false);
  chunk.partial_max = 17;
  EXPECT_THAT(assembler.OnChunk(chunk, InPieces({9, 16}, 5)),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("chunk 1 from worker w1 (host/101)"),
                                        HasSubstr("range over 9..16, not 9..17"))));
}

TEST(JobAssemblerTest, KeptValuesDisagreeingWithMin_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(Start(3, 3)));
  ChunkResult chunk = SquaresChunk(0, 3, 3);
  chunk.partial_min = 0;
  EXPECT_THAT(assembler.OnChunk(chunk),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("range over 1..9, not 0..9")));
}

TEST(JobAssemblerTest, StreamedValuesExpectedButMissing_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/true);
  ASSERT_OK(assembler.OnStart(Start(2, 2)));
  EXPECT_THAT(assembler.OnChunk(SquaresChunk(0, 2, 2, /*with_values=*/false), EncodedValues()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("with 0 values")));
}

TEST(JobAssemblerTest, SharedValuesNotKept_StillChecked) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SharedValuesBuffer> buffer, SharedValuesBuffer::Create(2));
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/true);
  ASSERT_OK(assembler.OnStart(Start(2, 2)));
  ChunkResult chunk = SharedSquaresChunk(*buffer, 0, 2, 2);
  chunk.partial_sum = 6;
  EXPECT_THAT(assembler.OnChunk(chunk, *buffer),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("values sum to 5, not 6")));
}

TEST(JobAssemblerTest, ChunkBeforeStart_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/false);
  EXPECT_THAT(assembler.OnChunk(SquaresChunk(0, 1, 1)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("before the job started")));
}

TEST(JobAssemblerTest, Restart_SamePlanKeepsReceivedChunks) {
  JobAssembler assembler(/*keep_values=*/false);
  ASSERT_OK(assembler.OnStart(Start(6, 2)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(0, 2, 6, false)));
  JobStart again = Start(6, 2);
  again.job_id = "job-7";
  ASSERT_OK(assembler.OnRestart(again));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(1, 2, 6, false)));
  ASSERT_OK(assembler.OnChunk(SquaresChunk(2, 2, 6, false)));
  ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
  EXPECT_EQ(summary.sum, 91);
  EXPECT_EQ(summary.job.job_id, "job-7");
}

// The summary names the coordinator that finished the job, not the one that lost it.
TEST(JobAssemblerTest, Restart_OnAnotherCoordinator_TakesItsIncarnation) {
  JobAssembler assembler(/*keep_values=*/false);
  JobStart first = Start(6, 2);
  first.coordinator_incarnation = 11;
  ASSERT_OK(assembler.OnStart(first));
  JobStart again = Start(6, 2);
  again.coordinator_incarnation = 22;
  ASSERT_OK(assembler.OnRestart(again));
  EXPECT_EQ(assembler.start().coordinator_incarnation, 22u);
}

TEST(JobAssemblerTest, Restart_DifferentPlan_IsDataLoss) {
  JobAssembler assembler(/*keep_values=*/false);
  ASSERT_OK(assembler.OnStart(Start(6, 2)));
  EXPECT_THAT(assembler.OnRestart(Start(6, 3)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("planned differently")));
}

// ---- ReconnectPolicy ----------------------------------------------------------------------

TEST(ReconnectPolicyTest, NextWait_DoublesFromFirstWaitUpToMaxWait) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  ReconnectPolicy policy(start + absl::Seconds(60));
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 7; ++i) waits.push_back(*policy.NextWait(start));
  EXPECT_THAT(waits, ElementsAre(absl::Milliseconds(20), absl::Milliseconds(40),
                                 absl::Milliseconds(80), absl::Milliseconds(160),
                                 absl::Milliseconds(250), absl::Milliseconds(250),
                                 absl::Milliseconds(250)));
}

// However long the coordinator stays away, an attempt never waits longer than max_wait: a
// coordinator that comes back after an hour is reached as fast as one back after a second.
TEST(ReconnectPolicyTest, NextWait_ManyAttempts_StaysAtMaxWait) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  ReconnectPolicy policy(start + absl::Hours(2));
  absl::Time now = start;
  std::optional<absl::Duration> wait;
  for (int i = 0; i < 20000; ++i) {
    wait = policy.NextWait(now);
    ASSERT_TRUE(wait.has_value());
    now += *wait;
  }
  EXPECT_EQ(*wait, absl::Milliseconds(250));
}

TEST(ReconnectPolicyTest, NextWait_NeverPastTheDeadline) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  ReconnectPolicy policy(start + absl::Milliseconds(300));
  EXPECT_EQ(*policy.NextWait(start + absl::Milliseconds(290)), absl::Milliseconds(10));
}

TEST(ReconnectPolicyTest, NextWait_DeadlinePassed_GivesUp) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  ReconnectPolicy policy(start + absl::Seconds(1));
  EXPECT_EQ(policy.NextWait(start + absl::Seconds(1)), std::nullopt);
  EXPECT_EQ(policy.NextWait(start + absl::Seconds(5)), std::nullopt);
}

TEST(JudgeLostSubmissionTest, AnotherIncarnation_GoneWithItsCoordinator) {
  EXPECT_EQ(JudgeLostSubmission(11, 22), LostSubmission::kGoneWithItsCoordinator);
}

TEST(JudgeLostSubmissionTest, SameIncarnation_CancelledWithItsCall) {
  EXPECT_EQ(JudgeLostSubmission(11, 11), LostSubmission::kCancelledWithItsCall);
}

TEST(JudgeLostSubmissionTest, IncarnationNotSent_Unknown) {
  EXPECT_EQ(JudgeLostSubmission(0, 22), LostSubmission::kUnknown);
  EXPECT_EQ(JudgeLostSubmission(11, 0), LostSubmission::kUnknown);
}

TEST(ResumptionNoticeTest, Restart_NamesBothIncarnations) {
  EXPECT_EQ(ResumptionNotice("127.0.0.1:5", 0x11, 0x22),
            "the coordinator at 127.0.0.1:5 restarted (incarnation 0000000000000011 -> "
            "0000000000000022): the job's first submission is gone with it; the resubmission "
            "runs the missing chunks");
}

TEST(ResumptionNoticeTest, Unknown_IsEmpty) { EXPECT_EQ(ResumptionNotice("a:1", 0, 0x22), ""); }

TEST(CliOutputTest, SumLine_SeedWording) {
  EXPECT_EQ(SumLine("square", Input::Range(1, 5000), 41679167500),
            "The sum of the square of the first 5000 integers is 41679167500");
  EXPECT_EQ(SumLine("square", Input::Range(1, 10), 385),
            "The sum of the square of the first 10 integers is 385");
}

TEST(CliOutputTest, SumLine_OtherInputsSayWhatWasSummed) {
  EXPECT_EQ(SumLine("square", Input::Range(-5, 5), 110),
            "The sum of the square of the integers from -5 to 5 is 110");
  EXPECT_EQ(SumLine("square", Input::List({3, -7, 12}), 202),
            "The sum of the square of the 3 given integers is 202");
  EXPECT_EQ(SumLine("cube", Input::List({2}), 8), "The sum of the cube of the 1 given integer is 8");
}

TEST(CliOutputTest, SumLine_BeyondSixtyFourBits_IsExact) {
  const absl::int128 big = absl::MakeInt128(3, 7);
  EXPECT_EQ(SumLine("square", Input::Range(1, 2), big),
            "The sum of the square of the first 2 integers is 55340232221128654855");
}

TEST(CliOutputTest, TraceLine_PidAndOptionalHost) {
  const WorkerIdentity worker{"w1", "node-a", 6190};
  EXPECT_EQ(TraceLine(worker, false, "square", "1"), "Worker 6190 calculating square of 1");
  EXPECT_EQ(TraceLine(worker, true, "square", "-3"), "Worker 6190@node-a calculating square of -3");
}

TEST(CliOutputTest, CoresLine_MatchesSeed) {
  EXPECT_EQ(CoresLine(4), "Number of cores available equals 4");
}

TEST(CliOutputTest, ExitCodeFor_MapsStatusToDocumentedCodes) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::AbortedError("x")), 1);
}

TEST(CliOutputTest, ErrorLine_NamesCode) {
  EXPECT_EQ(ErrorLine(absl::OutOfRangeError("square(3037000500) overflows")),
            "gpool: error: square(3037000500) overflows (OUT_OF_RANGE)");
}

TEST(CliOutputTest, ClusterReport_ListsWorkers) {
  ClusterInfo view;
  view.total_slots = 3;
  WorkerInfo worker;
  worker.ref = WorkerIdentity{"w1", "node-a", 77};
  worker.address = "10.0.0.1:5000";
  worker.slots = 3;
  worker.functions = {"cube", "square"};
  view.workers.push_back(worker);
  const std::string report = ClusterReport(view);
  EXPECT_THAT(report, HasSubstr("Number of cores available equals 3\n"));
  EXPECT_THAT(report, HasSubstr("w1      node-a  77   3      cube,square  10.0.0.1:5000"));
}

TEST(CliOutputTest, ClusterReport_WorkersOmitted_SaysHowManyUnderTheTable) {
  ClusterInfo view;
  view.total_slots = 4;
  WorkerInfo& worker = view.workers.emplace_back();
  worker.ref = WorkerIdentity{"w1", "node-a", 77};
  worker.slots = 1;
  view.workers_omitted = 3;
  EXPECT_THAT(ClusterReport(view), ::testing::EndsWith("\n... and 3 more workers not listed\n"));
}

// A chunk of double values with their exact summary.
ChunkResult DoublesChunk(uint64_t index, std::vector<double> values) {
  ChunkResult chunk;
  chunk.chunk_index = index;
  chunk.first_element = index * 2;
  chunk.element_count = values.size();
  chunk.summary = SummaryKind::kDouble;
  chunk.partial_doubles = SummarizeDoubles(EncodedValues::Own(values));
  chunk.values = Elements::Doubles(std::move(values));
  chunk.worker = WorkerIdentity{"w1", "host", 100};
  return chunk;
}

TEST(JobAssemblerTest, Doubles_ExactSumWhateverTheArrivalOrder) {
  JobStart start = Start(4, 2);
  start.output_type = ElementType::kDouble;
  for (bool reversed : {false, true}) {
    JobAssembler assembler(/*keep_values=*/true);
    ASSERT_OK(assembler.OnStart(start));
    ChunkResult first = DoublesChunk(0, {1e100, 1.0});
    ChunkResult second = DoublesChunk(1, {-1e100, 0.25});
    ASSERT_OK(assembler.OnChunk(reversed ? second : first).status());
    ASSERT_OK(assembler.OnChunk(reversed ? first : second).status());
    ASSERT_OK_AND_ASSIGN(MapSummary summary, assembler.Finish(JobStats{}));
    EXPECT_EQ(summary.doubles.sum.Round(), 1.25);  // a naive sum gives 0.25 or 1
    EXPECT_EQ(summary.doubles.min, -1e100);
    EXPECT_EQ(summary.doubles.max, 1e100);
    EXPECT_EQ(assembler.TakeValues(), Elements::Doubles({1e100, 1.0, -1e100, 0.25}));
  }
}

TEST(JobAssemblerTest, Doubles_ValuesDisagreeingWithTheirSummary_IsDataLoss) {
  JobStart start = Start(2, 2);
  start.output_type = ElementType::kDouble;
  JobAssembler assembler(/*keep_values=*/true);
  ASSERT_OK(assembler.OnStart(start));
  ChunkResult chunk = DoublesChunk(0, {1.5, 2.5});
  chunk.values = Elements::Doubles({1.5, 2.0});
  EXPECT_THAT(assembler.OnChunk(chunk),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("contradicts itself")));
}

TEST(JobAssemblerTest, SummaryOfAnotherKind_IsDataLoss) {
  JobStart start = Start(2, 2);
  start.output_type = ElementType::kString;
  JobAssembler assembler(/*keep_values=*/false, /*values_expected=*/false);
  ASSERT_OK(assembler.OnStart(start));
  ChunkResult chunk = SquaresChunk(0, 2, 2, /*with_values=*/false);  // an int64 summary
  EXPECT_THAT(assembler.OnChunk(chunk),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("another summary")));
}

}  // namespace
}  // namespace gpool
