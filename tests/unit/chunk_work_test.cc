// Unit tests of the checks a worker makes on a RunChunks request before computing anything.
#include "worker/chunk_work.h"

#include "common/chunking.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

v1::RunChunksRequest RangeCall(int chunks, int64_t elements_each, v1::ResultMode mode) {
  v1::RunChunksRequest request;
  request.set_job_id("job-1");
  request.set_function("square");
  request.set_result_mode(mode);
  for (int i = 0; i < chunks; ++i) {
    v1::ChunkTask* chunk = request.add_chunks();
    chunk->set_chunk_index(i);
    chunk->set_attempt(1);
    chunk->mutable_input()->mutable_range()->set_start(1 + i * elements_each);
    chunk->mutable_input()->mutable_range()->set_end((i + 1) * elements_each);
  }
  return request;
}

TEST(ChunkWorkOfTest, ValidCall_CarriesEveryChunkAndTheElementCount) {
  ASSERT_OK_AND_ASSIGN(ChunkWork work,
                       ChunkWorkOf(RangeCall(3, 10, v1::RESULT_MODE_VALUES), /*max_chunks=*/4));
  EXPECT_EQ(work.function, "square");
  EXPECT_EQ(work.mode, ResultMode::kValues);
  EXPECT_EQ(work.inputs.size(), 3u);
  EXPECT_EQ(work.elements, 30u);
}

TEST(ChunkWorkOfTest, MoreChunksThanTheWorkersMax_IsFailedPrecondition) {
  EXPECT_THAT(ChunkWorkOf(RangeCall(5, 10, v1::RESULT_MODE_SUM), 4),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("1 to 4 chunks")));
  EXPECT_THAT(ChunkWorkOf(RangeCall(0, 10, v1::RESULT_MODE_SUM), 4),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("got 0")));
}

TEST(ChunkWorkOfTest, TrillionValuesInValuesMode_IsInvalidArgumentNamingTheLimit) {
  // The call that made a worker abort on std::bad_alloc.
  EXPECT_THAT(ChunkWorkOf(RangeCall(1, 1'000'000'000'000, v1::RESULT_MODE_VALUES), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 262144")));
}

TEST(ChunkWorkOfTest, ValuesLimitCountsTheWholeCall) {
  const int64_t quarter = static_cast<int64_t>(kMaxValuesChunkSize / 4);
  EXPECT_OK(ChunkWorkOf(RangeCall(4, quarter, v1::RESULT_MODE_VALUES), 8));
  EXPECT_THAT(ChunkWorkOf(RangeCall(5, quarter, v1::RESULT_MODE_VALUES), 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk 4")));
}

TEST(ChunkWorkOfTest, HugeRangeInSumMode_IsAccepted) {
  // Sums need no memory per element.
  EXPECT_OK(ChunkWorkOf(RangeCall(1, 1'000'000'000'000, v1::RESULT_MODE_SUM), 4));
}

TEST(ChunkWorkOfTest, UnknownResultMode_IsInvalidArgument) {
  v1::RunChunksRequest request = RangeCall(1, 10, v1::RESULT_MODE_SUM);
  request.set_result_mode(static_cast<v1::ResultMode>(77));
  EXPECT_THAT(ChunkWorkOf(request, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("77")));
}

TEST(ChunkWorkOfTest, NegativeFirstElement_IsInvalidArgument) {
  v1::RunChunksRequest request = RangeCall(1, 10, v1::RESULT_MODE_SUM);
  request.mutable_chunks(0)->set_first_element(-5);
  EXPECT_THAT(ChunkWorkOf(request, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("first_element")));
}

TEST(ChunkWorkOfTest, ReversedRange_IsInvalidArgumentNamingTheChunk) {
  v1::RunChunksRequest request = RangeCall(1, 10, v1::RESULT_MODE_SUM);
  request.mutable_chunks(0)->mutable_input()->mutable_range()->set_start(100);
  EXPECT_THAT(ChunkWorkOf(request, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk 0")));
}

}  // namespace
}  // namespace gpool
