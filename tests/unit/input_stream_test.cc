// A MapStream call's input on the coordinator (InputStream): the shape of the messages, the
// segments and their numbering, and the flow-control bound.
#include "server/input_stream.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

v1::MapStreamRequest Header(int64_t chunk_size = 10,
                            v1::ResultMode mode = v1::RESULT_MODE_SUM) {
  v1::MapStreamRequest message;
  v1::MapRequest* header = message.mutable_header();
  header->set_function("square");
  header->set_chunk_size(chunk_size);
  header->set_result_mode(mode);
  return message;
}

// A batch of the values first, first+1, ..., first+count-1.
v1::MapStreamRequest Batch(int64_t first, int64_t count) {
  v1::MapStreamRequest message;
  message.mutable_values()->mutable_int64s();  // set, even when empty
  for (int64_t i = 0; i < count; ++i) {
    message.mutable_values()->mutable_int64s()->add_values(first + i);
  }
  return message;
}

TEST(InputStreamTest, Take_ValuesBeforeHeader_IsInvalidArgument) {
  InputStream stream("peer");
  EXPECT_THAT(stream.Take(Batch(1, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("before its header")));
}

TEST(InputStreamTest, Take_SecondHeader_IsInvalidArgument) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header()));
  EXPECT_THAT(stream.Take(Header()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("second header")));
}

TEST(InputStreamTest, Take_HeaderWithInput_IsInvalidArgument) {
  InputStream stream("peer");
  v1::MapStreamRequest header = Header();
  header.mutable_header()->mutable_input()->mutable_range()->set_end(5);
  EXPECT_THAT(stream.Take(header),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no input")));
}

TEST(InputStreamTest, Take_HeaderMapWouldRefuse_IsInvalidArgument) {
  InputStream stream("peer");
  v1::MapStreamRequest header = Header();
  header.mutable_header()->set_function("no spaces allowed");
  EXPECT_THAT(stream.Take(header), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(InputStreamTest, Take_EmptyOrOversizedBatch_IsInvalidArgument) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header()));
  EXPECT_THAT(stream.Take(Batch(0, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 to 262144")));
  EXPECT_THAT(stream.Take(Batch(0, kMaxStreamBatchValues + 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 to 262144")));
}

TEST(InputStreamTest, EndOfInput_WithoutValues_IsInvalidArgument) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header()));
  EXPECT_THAT(stream.EndOfInput(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("without values")));
}

TEST(InputStreamTest, Header_ChunkSizeZero_UsesTheStreamDefault) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/0)));
  EXPECT_EQ(stream.chunk_size(), static_cast<uint64_t>(kStreamDefaultChunkSize));
}

TEST(InputStreamTest, Header_ValuesChunkSizeOverLimit_IsLowered) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/int64_t{1} << 30, v1::RESULT_MODE_VALUES)));
  EXPECT_EQ(stream.chunk_size(), kMaxValuesChunkSize);
}

TEST(InputStreamTest, Segments_AreWholeChunksNumberedAcrossTheInput) {
  // chunk_size 3 << 18 does not divide 2^20: a segment is one chunk of 786,432 elements.
  const int64_t chunk = int64_t{3} << 18;
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(chunk)));
  int64_t sent = 0;
  const int64_t total = 2 * chunk + 5;
  while (sent < total) {
    const int64_t count = std::min<int64_t>(kMaxStreamBatchValues, total - sent);
    ASSERT_OK(stream.Take(Batch(sent, count)));
    sent += count;
  }
  ASSERT_OK(stream.EndOfInput());
  std::vector<StreamSegment> segments = stream.TakeSegments();
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[1].first_chunk, 1u);
  EXPECT_EQ(segments[1].first_element, static_cast<uint64_t>(chunk));
  EXPECT_EQ(segments[1].spec.input->At(0), chunk);
  EXPECT_EQ(segments[2].spec.input->size(), 5u);
  EXPECT_EQ(segments[2].spec.chunk_size, chunk);
  EXPECT_EQ(segments[2].spec.client, "peer");
  EXPECT_EQ(stream.total_elements(), static_cast<uint64_t>(total));
}

TEST(InputStreamTest, Translate_OffsetsChunkAndElementBySegment) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/kStreamSegmentElements / 2)));
  for (int64_t sent = 0; sent < kStreamSegmentElements + 1; sent += kMaxStreamBatchValues) {
    ASSERT_OK(stream.Take(
        Batch(sent, std::min<int64_t>(kMaxStreamBatchValues, kStreamSegmentElements + 1 - sent))));
  }
  ASSERT_OK(stream.EndOfInput());
  std::vector<StreamSegment> segments = stream.TakeSegments();
  ASSERT_EQ(segments.size(), 2u);
  ChunkDelivery chunk;
  chunk.chunk_index = 0;
  chunk.first_element = 0;
  stream.Translate(segments[1].index, chunk);
  EXPECT_EQ(chunk.chunk_index, 2u);
  EXPECT_EQ(chunk.first_element, static_cast<uint64_t>(kStreamSegmentElements));
}

TEST(InputStreamTest, WantsInput_StopsAtTheSegmentsInFlightBound) {
  // Segments of 4 chunks of one batch each.
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/kMaxStreamBatchValues)));
  int batches = 0;
  while (stream.WantsInput()) {
    ASSERT_OK(stream.Take(Batch(0, kMaxStreamBatchValues)));
    ++batches;
    stream.TakeSegments();
    ASSERT_LT(batches, 100);
  }
  EXPECT_EQ(stream.segments_in_flight(), kMinSegmentsInFlight);
  // One segment finishing makes room for the next message.
  stream.SegmentFinished(0, JobStats{});
  EXPECT_TRUE(stream.WantsInput());
}

TEST(InputStreamTest, SegmentStarted_WidensTheBoundWithTheJobsSlots) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/kStreamSegmentElements)));
  JobPlanInfo plan;
  plan.job_id = "job-1";
  plan.job_slots = 3;  // 4 chunks per slot: 12 segments of one chunk
  std::optional<JobPlanInfo> started = stream.SegmentStarted(0, plan);
  ASSERT_TRUE(started.has_value());
  EXPECT_EQ(started->job_id, "job-1");
  EXPECT_EQ(started->total_elements, 0u);
  EXPECT_EQ(stream.max_segments_in_flight(), 12);
  plan.job_slots = 1000;
  EXPECT_FALSE(stream.SegmentStarted(1, plan).has_value());
  EXPECT_EQ(stream.max_segments_in_flight(), kMaxSegmentsInFlight);
}

TEST(InputStreamTest, CompletedChunks_AreLocalToTheirSegmentAndWholeSegmentsSkipped) {
  const int64_t chunk = kStreamSegmentElements / 4;
  InputStream stream("peer");
  v1::MapStreamRequest header = Header(chunk);
  v1::ChunkRange* done = header.mutable_header()->add_completed_chunks();
  done->set_first(0);
  done->set_last(5);  // segment 0 whole, segment 1's chunks 0 and 1
  ASSERT_OK(stream.Take(header));
  for (int64_t sent = 0; sent < 2 * kStreamSegmentElements; sent += kMaxStreamBatchValues) {
    ASSERT_OK(stream.Take(Batch(sent, kMaxStreamBatchValues)));
  }
  ASSERT_OK(stream.EndOfInput());
  std::vector<StreamSegment> segments = stream.TakeSegments();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].index, 1u);
  EXPECT_THAT(segments[0].spec.completed_chunks, ElementsAre(Pair(0u, 1u)));
}

TEST(InputStreamTest, EndOfInput_CompletedChunkBeyondTheInput_IsInvalidArgument) {
  InputStream stream("peer");
  v1::MapStreamRequest header = Header(/*chunk_size=*/10);
  v1::ChunkRange* done = header.mutable_header()->add_completed_chunks();
  done->set_first(0);
  done->set_last(7);
  ASSERT_OK(stream.Take(header));
  ASSERT_OK(stream.Take(Batch(0, 25)));  // 3 chunks
  EXPECT_THAT(stream.EndOfInput(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the 3 chunks")));
}

TEST(InputStreamTest, Done_OnceInputEndedAndEverySegmentFinished) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header()));
  ASSERT_OK(stream.Take(Batch(1, 25)));
  ASSERT_OK(stream.EndOfInput());
  std::vector<StreamSegment> segments = stream.TakeSegments();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_FALSE(stream.Done());
  JobStats stats;
  stats.retries = 2;
  stream.SegmentFinished(segments[0].index, stats);
  EXPECT_TRUE(stream.Done());
  EXPECT_EQ(stream.stats().retries, 2);
  EXPECT_FALSE(stream.WantsInput());
}

// A batch of `count` strings of `bytes` bytes each.
v1::MapStreamRequest StringBatch(int count, size_t bytes) {
  v1::MapStreamRequest message;
  for (int i = 0; i < count; ++i) {
    message.mutable_values()->mutable_strings()->add_values(std::string(bytes, 'a' + i % 26));
  }
  return message;
}

TEST(InputStreamTest, Take_BatchOfAnotherType_IsInvalidArgumentNamingBoth) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header()));
  ASSERT_OK(stream.Take(StringBatch(2, 5)));
  EXPECT_THAT(stream.Take(Batch(1, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("int64 values in a stream of string values"))));
}

TEST(InputStreamTest, Take_Strings_SegmentsCloseByBytesAtWholeChunks) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/4)));
  // 64 strings of 1 MiB / 2: a segment closes at the first whole chunk past 16 MiB.
  for (int i = 0; i < 16; ++i) ASSERT_OK(stream.Take(StringBatch(4, 512 * 1024)));
  ASSERT_OK(stream.EndOfInput());
  std::vector<StreamSegment> segments = stream.TakeSegments();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].spec.input->size(), 32u);
  EXPECT_EQ(segments[0].spec.input->type(), ElementType::kString);
  EXPECT_EQ(segments[1].first_element, 32u);
  EXPECT_EQ(segments[1].first_chunk, 8u);
  EXPECT_TRUE(segments[1].spec.exact_chunk_size);
}

TEST(InputStreamTest, Take_StringChunkOverThreeMiB_IsInvalidAskingForSmallerChunks) {
  InputStream stream("peer");
  ASSERT_OK(stream.Take(Header(/*chunk_size=*/8)));
  ASSERT_OK(stream.Take(StringBatch(3, 1024 * 1024)));
  EXPECT_THAT(stream.Take(StringBatch(1, 1024 * 1024)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("smaller chunk_size")));
}

}  // namespace
}  // namespace gpool
