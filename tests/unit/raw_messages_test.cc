// The byte-level handling of the messages that carry values: what it decodes must be what
// protobuf would parse, and what it encodes must parse as the message protobuf would build.
#include "rpc/raw_messages.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <grpcpp/support/slice.h>

#include "common/chunking.h"
#include "common/worker_registration.h"
#include "gmock/gmock.h"
#include "gpool.pb.h"
#include "gtest/gtest.h"
#include "rpc/transport.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A buffer holding `bytes` in slices of `slice_bytes`, as gRPC may hand a message over:
// slice boundaries fall anywhere, inside tags, lengths and values.
grpc::ByteBuffer InSlices(const std::string& bytes, size_t slice_bytes) {
  std::vector<grpc::Slice> slices;
  for (size_t offset = 0; offset < bytes.size(); offset += slice_bytes) {
    slices.emplace_back(bytes.substr(offset, slice_bytes));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

v1::ChunkOutcome Outcome(std::vector<int64_t> values, int64_t pid) {
  v1::ChunkOutcome outcome;
  for (int64_t value : values) outcome.mutable_values()->mutable_int64s()->add_values(value);
  outcome.set_element_count(static_cast<int64_t>(values.size()));
  v1::Int64Summary* summary = outcome.mutable_summary()->mutable_int64_summary();
  summary->mutable_sum()->set_low(12345);
  summary->mutable_sum()->set_high(1);
  summary->set_min(-7);
  summary->set_max(1LL << 62);
  outcome.set_pid(pid);
  return outcome;
}

// The outcome without its values, as the decoder must parse the other fields.
v1::ChunkOutcome WithoutValues(v1::ChunkOutcome outcome) {
  outcome.clear_values();
  return outcome;
}

// A serialized RunChunksResponse holding one outcome given as its bytes (which protobuf
// need not have written).
std::string ResponseOf(const std::string& outcome_bytes) {
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::RunChunksResponse::kResultsFieldNumber << 3) | 2));
  EXPECT_LT(outcome_bytes.size(), 128u);  // a one-byte length
  bytes.push_back(static_cast<char>(outcome_bytes.size()));
  return bytes + outcome_bytes;
}

class SliceSizesTest : public ::testing::TestWithParam<size_t> {};

TEST_P(SliceSizesTest, RunChunksResponse_DecodesFieldsAndValuesAsProtobufWould) {
  v1::RunChunksResponse response;
  *response.add_results() = Outcome({1, -4, 9, INT64_MAX, INT64_MIN}, 41);
  *response.add_results() = Outcome({}, 42);  // a RESULT_MODE_SUM outcome
  *response.add_results() = Outcome({16}, 43);
  const grpc::ByteBuffer buffer = InSlices(response.SerializeAsString(), GetParam());

  ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> decoded, DecodeRunChunksResponse(buffer));
  ASSERT_EQ(decoded.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(decoded[i].fields.SerializeAsString(),
              WithoutValues(response.results(i)).SerializeAsString())
        << "result " << i;
  }
  EXPECT_THAT(decoded[0].values.ToVector(), ElementsAre(1, -4, 9, INT64_MAX, INT64_MIN));
  EXPECT_TRUE(decoded[1].values.empty());
  EXPECT_THAT(decoded[2].values.ToVector(), ElementsAre(16));
}

TEST_P(SliceSizesTest, MapResponse_ResultsOnly_RoundTrips) {
  std::vector<RawChunkResult> chunks(2);
  chunks[0].fields.set_chunk_index(3);
  chunks[0].fields.set_first_element(30);
  chunks[0].fields.set_element_count(2);
  chunks[0].fields.mutable_worker()->set_host("h");
  chunks[0].values = EncodedValues::Own(std::vector<int64_t>{900, 961});
  chunks[1].fields.set_chunk_index(4);
  chunks[1].fields.set_element_count(1);
  // Values arriving in pieces that split a value, as they do from a worker's response.
  v1::RunChunksResponse worker_response;
  *worker_response.add_results() = Outcome({1024}, 1);
  const grpc::ByteBuffer worker_bytes =
      InSlices(worker_response.SerializeAsString(), GetParam());
  ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> from_worker,
                       DecodeRunChunksResponse(worker_bytes));
  ASSERT_EQ(from_worker.size(), 1u);
  chunks[1].values = from_worker[0].values;

  const grpc::ByteBuffer encoded = EncodeMapResponse(nullptr, chunks, nullptr).bytes;
  const grpc::ByteBuffer received = InSlices(Flatten(encoded), GetParam());
  ASSERT_OK_AND_ASSIGN(RawMapResponse decoded, DecodeMapResponse(received));
  EXPECT_FALSE(decoded.started.has_value());
  EXPECT_FALSE(decoded.finished.has_value());
  ASSERT_EQ(decoded.results.size(), 2u);
  EXPECT_EQ(decoded.results[0].fields.SerializeAsString(), chunks[0].fields.SerializeAsString());
  EXPECT_THAT(decoded.results[0].values.ToVector(), ElementsAre(900, 961));
  EXPECT_EQ(decoded.results[1].fields.chunk_index(), 4);
  EXPECT_THAT(decoded.results[1].values.ToVector(), ElementsAre(1024));
}

// A short job's whole answer: its start, its results and its end in one message.
TEST_P(SliceSizesTest, MapResponse_StartResultsAndEnd_RoundTrips) {
  v1::JobStarted started;
  started.set_job_id("job-7");
  started.set_num_chunks(2);
  v1::JobFinished finished;
  finished.mutable_stats()->set_retries(3);
  std::vector<RawChunkResult> chunks(1);
  chunks[0].fields.set_chunk_index(1);
  chunks[0].fields.set_element_count(2);
  chunks[0].values = EncodedValues::Own(std::vector<int64_t>{4, -9});

  const grpc::ByteBuffer received =
      InSlices(Flatten(EncodeMapResponse(&started, chunks, &finished).bytes), GetParam());
  ASSERT_OK_AND_ASSIGN(RawMapResponse decoded, DecodeMapResponse(received));
  ASSERT_TRUE(decoded.started.has_value());
  EXPECT_EQ(decoded.started->SerializeAsString(), started.SerializeAsString());
  ASSERT_EQ(decoded.results.size(), 1u);
  EXPECT_EQ(decoded.results[0].fields.chunk_index(), 1);
  EXPECT_THAT(decoded.results[0].values.ToVector(), ElementsAre(4, -9));
  ASSERT_TRUE(decoded.finished.has_value());
  EXPECT_EQ(decoded.finished->stats().retries(), 3);
}

// What protobuf writes for a MapResponse, in any slicing, decodes to the same fields.
TEST_P(SliceSizesTest, MapResponse_SerializedByProtobuf_Decodes) {
  v1::MapResponse response;
  response.mutable_started()->set_job_id("job-2");
  v1::ChunkResult* result = response.add_results();
  result->set_chunk_index(5);
  result->mutable_summary()->mutable_int64_summary()->set_max(81);
  for (int64_t value : {49, 64, 81}) result->mutable_values()->mutable_int64s()->add_values(value);
  response.mutable_finished();  // an end with empty stats is still an end

  ASSERT_OK_AND_ASSIGN(RawMapResponse decoded,
                       DecodeMapResponse(InSlices(response.SerializeAsString(), GetParam())));
  ASSERT_TRUE(decoded.started.has_value());
  EXPECT_EQ(decoded.started->job_id(), "job-2");
  ASSERT_EQ(decoded.results.size(), 1u);
  EXPECT_EQ(decoded.results[0].fields.chunk_index(), 5);
  EXPECT_EQ(decoded.results[0].fields.summary().int64_summary().max(), 81);
  EXPECT_FALSE(decoded.results[0].fields.has_values());
  EXPECT_THAT(decoded.results[0].values.ToVector(), ElementsAre(49, 64, 81));
  EXPECT_TRUE(decoded.finished.has_value());
}

// Doubles travel as 8-byte values like int64s; strings and bytes as their encoded elements.
// Through a worker's response and the coordinator's relay, in any slicing, each column keeps
// its type and its values.
TEST_P(SliceSizesTest, TypedColumns_RelayedFromWorkerToClient_KeepTypeAndValues) {
  v1::RunChunksResponse response;
  v1::ChunkOutcome* doubles = response.add_results();
  for (double value : {0.5, -0.0, 1e300, std::numeric_limits<double>::infinity()}) {
    doubles->mutable_values()->mutable_doubles()->add_values(value);
  }
  v1::ChunkOutcome* strings = response.add_results();
  for (const char* value : {"", "abc", "\xc3\xa9t\xc3\xa9", "a longer string of some bytes"}) {
    strings->mutable_values()->mutable_strings()->add_values(value);
  }
  v1::ChunkOutcome* blobs = response.add_results();
  blobs->mutable_values()->mutable_blobs()->add_values(std::string("\0\xff\x01", 3));
  ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> decoded,
                       DecodeRunChunksResponse(InSlices(response.SerializeAsString(), GetParam())));
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(decoded[0].values.type(), ElementType::kDouble);
  EXPECT_EQ(decoded[1].values.type(), ElementType::kString);
  EXPECT_EQ(decoded[2].values.type(), ElementType::kBytes);
  EXPECT_EQ(decoded[1].values.size(), 4u);

  std::vector<RawChunkResult> chunks(3);
  for (int i = 0; i < 3; ++i) {
    chunks[i].fields.set_chunk_index(i);
    chunks[i].values = decoded[i].values;
  }
  ASSERT_OK_AND_ASSIGN(
      RawMapResponse relayed,
      DecodeMapResponse(InSlices(Flatten(EncodeMapResponse(nullptr, chunks, nullptr).bytes),
                                 GetParam())));
  ASSERT_EQ(relayed.results.size(), 3u);
  ASSERT_OK_AND_ASSIGN(Elements got_doubles, relayed.results[0].values.ToElements());
  EXPECT_EQ(got_doubles, Elements::Doubles({0.5, -0.0, 1e300,
                                            std::numeric_limits<double>::infinity()}));
  ASSERT_OK_AND_ASSIGN(Elements got_strings, relayed.results[1].values.ToElements());
  EXPECT_EQ(got_strings, Elements::Strings({"", "abc", "\xc3\xa9t\xc3\xa9",
                                            "a longer string of some bytes"}));
  ASSERT_OK_AND_ASSIGN(Elements got_blobs, relayed.results[2].values.ToElements());
  EXPECT_EQ(got_blobs, Elements::Blobs({std::string("\0\xff\x01", 3)}));
  // And what protobuf parses from the relayed message is the same.
  v1::MapResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(EncodeMapResponse(nullptr, chunks, nullptr).bytes)));
  EXPECT_EQ(parsed.results(1).values().strings().values(2), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(parsed.results(0).values().doubles().values(2), 1e300);
}

INSTANTIATE_TEST_SUITE_P(RawMessagesTest, SliceSizesTest, ::testing::Values(1, 3, 7, 8, 4096));

TEST(RawMessagesTest, StringColumnTruncatedInsideAnElement_IsInternal) {
  // Strings{values: "abcdef"} claiming 6 bytes but carrying 3.
  std::string column = {static_cast<char>((1 << 3) | 2), 6, 'a', 'b', 'c'};
  std::string elements;
  elements.push_back(static_cast<char>((v1::Elements::kStringsFieldNumber << 3) | 2));
  elements.push_back(static_cast<char>(column.size()));
  elements += column;
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::ChunkOutcome::kValuesFieldNumber << 3) | 2));
  bytes.push_back(static_cast<char>(elements.size()));
  bytes += elements;
  EXPECT_THAT(DecodeRunChunksResponse(InSlices(ResponseOf(bytes), 2)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("truncated")));
}

TEST(RawMessagesTest, EncodedMapResponse_IsWhatProtobufParses) {
  v1::MapResponse expected;
  expected.mutable_started()->set_job_id("job-1");
  expected.mutable_started()->set_total_elements(4);
  expected.mutable_finished()->mutable_stats()->set_retries(1);
  std::vector<RawChunkResult> chunks(2);
  for (int i = 0; i < 2; ++i) {
    RawChunkResult& chunk = chunks[i];
    chunk.fields.set_chunk_index(i);
    chunk.fields.set_first_element(2 * i);
    chunk.fields.set_element_count(2);
    v1::Int64Summary* summary = chunk.fields.mutable_summary()->mutable_int64_summary();
    summary->mutable_sum()->set_low(5 + i);
    summary->set_min(1);
    summary->set_max(4);
    chunk.fields.mutable_worker()->set_worker_id("w" + std::to_string(i));
    chunk.fields.set_attempt(1);
    const std::vector<int64_t> values = {i * 10 + 1, -(i * 10 + 2)};
    chunk.values = EncodedValues::Own(values);
    v1::ChunkResult* typed = expected.add_results();
    *typed = chunk.fields;
    for (int64_t value : values) typed->mutable_values()->mutable_int64s()->add_values(value);
  }
  const std::string encoded =
      Flatten(EncodeMapResponse(&expected.started(), chunks, &expected.finished()).bytes);
  v1::MapResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(encoded));
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());

  // Any of the three may be left out.
  v1::MapResponse results_only;
  ASSERT_TRUE(results_only.ParseFromString(
      Flatten(EncodeMapResponse(nullptr, {chunks[1]}, nullptr).bytes)));
  EXPECT_FALSE(results_only.has_started());
  EXPECT_FALSE(results_only.has_finished());
  ASSERT_EQ(results_only.results_size(), 1);
  EXPECT_EQ(results_only.results(0).SerializeAsString(), expected.results(1).SerializeAsString());
  v1::MapResponse start_only;
  ASSERT_TRUE(start_only.ParseFromString(
      Flatten(EncodeMapResponse(&expected.started(), {}, nullptr).bytes)));
  EXPECT_EQ(start_only.started().job_id(), "job-1");
  EXPECT_EQ(start_only.results_size(), 0);
  EXPECT_FALSE(start_only.has_finished());
}

TEST(RawMessagesTest, EncodedRunChunksResponse_IsWhatProtobufParses) {
  v1::RunChunksResponse expected;
  std::vector<RawChunkOutcome> outcomes(2);
  for (int i = 0; i < 2; ++i) {
    const std::vector<int64_t> values =
        i == 0 ? std::vector<int64_t>{4, -9, INT64_MIN} : std::vector<int64_t>{};
    *expected.add_results() = Outcome(values, 50 + i);
    outcomes[i].fields = WithoutValues(expected.results(i));
    outcomes[i].values = EncodedValues::Own(values);
  }
  v1::RunChunksResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(EncodeRunChunksResponse(outcomes).bytes)));
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());
}

TEST(RawMessagesTest, EncodedRunChunksResponse_OneChunk_IsWhatProtobufParses) {
  v1::RunChunksResponse expected;
  *expected.add_results() = Outcome({3, 5}, 7);
  std::vector<RawChunkOutcome> outcomes(1);
  outcomes[0].fields = WithoutValues(expected.results(0));
  outcomes[0].values = EncodedValues::Own(std::vector<int64_t>{3, 5});
  v1::RunChunksResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(EncodeRunChunksResponse(outcomes).bytes)));
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());
}

TEST(RawMessagesTest, UnpackedValues_AreAccepted) {
  // A sender may encode a repeated sfixed64 unpacked: one tag (values, wire type 1) per value,
  // inside Int64s inside Elements.
  std::string column;
  for (int64_t value : {5, 6}) {
    column.push_back(static_cast<char>((1 << 3) | 1));
    column.append(reinterpret_cast<const char*>(&value), sizeof(value));
  }
  std::string elements;
  elements.push_back(static_cast<char>((v1::Elements::kInt64SFieldNumber << 3) | 2));
  elements.push_back(static_cast<char>(column.size()));
  elements += column;
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::ChunkOutcome::kValuesFieldNumber << 3) | 2));
  bytes.push_back(static_cast<char>(elements.size()));
  bytes += elements;
  bytes += WithoutValues(Outcome({}, 9)).SerializeAsString();
  ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> decoded,
                       DecodeRunChunksResponse(InSlices(ResponseOf(bytes), 3)));
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_THAT(decoded[0].values.ToVector(), ElementsAre(5, 6));
  EXPECT_EQ(decoded[0].fields.pid(), 9);
}

TEST(RawMessagesTest, DecodedValues_OutliveTheReceivedBuffer) {
  EncodedValues values;
  {
    v1::RunChunksResponse response;
    *response.add_results() = Outcome({7, 8, 9}, 1);
    const grpc::ByteBuffer buffer = InSlices(response.SerializeAsString(), 5);
    ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> decoded, DecodeRunChunksResponse(buffer));
    ASSERT_EQ(decoded.size(), 1u);
    values = decoded[0].values;
  }
  EXPECT_THAT(values.ToVector(), ElementsAre(7, 8, 9));
}

TEST(RawMessagesTest, Truncated_IsInternal) {
  v1::RunChunksResponse response;
  *response.add_results() = Outcome({1, 2, 3}, 1);
  std::string bytes = response.SerializeAsString();
  bytes.resize(bytes.size() - 3);
  EXPECT_THAT(DecodeRunChunksResponse(InSlices(bytes, 4)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("malformed")));
}

TEST(RawMessagesTest, ValuesNotWholeInt64s_AreInternal) {
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::ChunkOutcome::kValuesFieldNumber << 3) | 2));
  bytes.push_back(9);  // Elements
  bytes.push_back(static_cast<char>((v1::Elements::kInt64SFieldNumber << 3) | 2));
  bytes.push_back(7);  // Int64s
  bytes.push_back(static_cast<char>((1 << 3) | 2));  // packed values
  bytes.push_back(5);                                // 5 bytes: not a whole value
  bytes.append(5, '\0');
  EXPECT_THAT(DecodeRunChunksResponse(InSlices(ResponseOf(bytes), 8)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("values")));
}

// The client reads the coordinator's stream with DecodeMapResponse: bytes that are no
// MapResponse must be an error, never values read from the wrong place.
TEST(RawMessagesTest, MapResponseTruncated_IsInternal) {
  v1::MapResponse response;
  v1::ChunkResult* result = response.add_results();
  result->set_chunk_index(2);
  for (int64_t value : {1, 4, 9}) result->mutable_values()->mutable_int64s()->add_values(value);
  std::string bytes = response.SerializeAsString();
  bytes.resize(bytes.size() - 5);  // inside the values
  EXPECT_THAT(DecodeMapResponse(InSlices(bytes, 3)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("malformed")));
}

TEST(RawMessagesTest, MapResponseResultOverrunningTheMessage_IsInternal) {
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::MapResponse::kResultsFieldNumber << 3) | 2));
  bytes.push_back(100);  // 100 bytes, of which 2 follow
  bytes.push_back(static_cast<char>((v1::ChunkResult::kChunkIndexFieldNumber << 3) | 0));
  bytes.push_back(1);
  EXPECT_THAT(DecodeMapResponse(InSlices(bytes, 2)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("malformed")));
}

TEST(RawMessagesTest, MapResponseUnsupportedWireType_IsInternal) {
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::MapResponse::kStartedFieldNumber << 3) | 3));  // a group
  EXPECT_THAT(DecodeMapResponse(InSlices(bytes, 1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("wire type")));
}

TEST(RawMessagesTest, MapResponseValuesNotWholeInt64s_AreInternal) {
  std::string result;
  result.push_back(static_cast<char>((v1::ChunkResult::kValuesFieldNumber << 3) | 2));
  result.push_back(16);  // Elements
  result.push_back(static_cast<char>((v1::Elements::kInt64SFieldNumber << 3) | 2));
  result.push_back(14);  // Int64s
  result.push_back(static_cast<char>((1 << 3) | 2));  // packed values
  result.push_back(12);  // 12 bytes: one value and a half
  result.append(12, '\0');
  std::string bytes;
  bytes.push_back(static_cast<char>((v1::MapResponse::kResultsFieldNumber << 3) | 2));
  bytes.push_back(static_cast<char>(result.size()));
  EXPECT_THAT(DecodeMapResponse(InSlices(bytes + result, 5)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("values")));
}

TEST(RawMessagesTest, UnknownFieldsOfTheResponse_AreSkipped) {
  v1::RunChunksResponse response;
  *response.add_results() = Outcome({3}, 1);
  std::string bytes = response.SerializeAsString();
  bytes.push_back(static_cast<char>((15 << 3) | 0));  // field 15, varint: one added later
  bytes.push_back(1);
  ASSERT_OK_AND_ASSIGN(std::vector<RawChunkOutcome> decoded,
                       DecodeRunChunksResponse(InSlices(bytes, 2)));
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_THAT(decoded[0].values.ToVector(), ElementsAreArray({3}));
}

// ---- The 4 MiB message limit: the largest RunChunks call the coordinator can send ---------
// A call holds at most kMaxChunksPerCall chunks and --max_elements_per_call elements (at most
// kMaxValuesChunkSize, which also bounds a chunk alone in RESULT_MODE_VALUES). Every field is
// set to its widest encoding, and the values are spread over every chunk (a length prefix
// each), so no real call is larger.

TEST(MessageLimitTest, LargestRunChunksAnswer_FitsTheMessageLimit) {
  constexpr int64_t kValuesPerChunk = kMaxValuesChunkSize / kMaxChunksPerCall;
  v1::RunChunksResponse response;
  for (int i = 0; i < kMaxChunksPerCall; ++i) {
    v1::ChunkOutcome* outcome = response.add_results();
    for (int64_t v = 0; v < kValuesPerChunk; ++v) {
      outcome->mutable_values()->mutable_int64s()->add_values(INT64_MIN);
    }
    v1::Int64Summary* summary = outcome->mutable_summary()->mutable_int64_summary();
    summary->mutable_sum()->set_high(UINT64_MAX);
    summary->mutable_sum()->set_low(UINT64_MAX);
    outcome->set_element_count(INT64_MAX);
    summary->set_min(INT64_MIN);
    summary->set_max(INT64_MAX);
    outcome->set_pid(INT64_MAX);
    outcome->set_values_shared(true);
  }
  EXPECT_LE(response.ByteSizeLong(), static_cast<size_t>(kMaxMessageBytes));
  // And with the values in one chunk.
  v1::RunChunksResponse one;
  *one.add_results() = response.results(0);
  for (int64_t v = kValuesPerChunk; v < static_cast<int64_t>(kMaxValuesChunkSize); ++v) {
    one.mutable_results(0)->mutable_values()->mutable_int64s()->add_values(INT64_MIN);
  }
  for (int i = 1; i < kMaxChunksPerCall; ++i) {
    *one.add_results() = response.results(i);
    one.mutable_results(i)->clear_values();
  }
  EXPECT_LE(one.ByteSizeLong(), static_cast<size_t>(kMaxMessageBytes));
}

TEST(MessageLimitTest, LargestRunChunksRequest_FitsTheMessageLimit) {
  constexpr int64_t kValuesPerChunk = kMaxValuesChunkSize / kMaxChunksPerCall;
  v1::RunChunksRequest request;
  request.set_job_id(std::string(64, 'j'));
  request.set_function(std::string(128, 'f'));
  request.set_result_mode(v1::RESULT_MODE_VALUES);
  request.mutable_shared_values()->set_pid(INT64_MAX);
  request.mutable_shared_values()->set_fd(INT32_MAX);
  request.mutable_shared_values()->set_token_high(UINT64_MAX);
  request.mutable_shared_values()->set_token_low(UINT64_MAX);
  for (int i = 0; i < kMaxChunksPerCall; ++i) {
    v1::ChunkTask* task = request.add_chunks();
    task->set_chunk_index(INT64_MAX);
    task->set_attempt(INT32_MAX);
    task->set_first_element(INT64_MAX);
    // Numbers take 8 bytes each (sfixed64).
    v1::Int64s* list = task->mutable_input()->mutable_list()->mutable_int64s();
    for (int64_t v = 0; v < kValuesPerChunk; ++v) list->add_values(INT64_MIN);
  }
  EXPECT_LE(request.ByteSizeLong(), static_cast<size_t>(kMaxMessageBytes));
}

}  // namespace
}  // namespace gpool
