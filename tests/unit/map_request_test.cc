// A Map request as the job the scheduler runs (ToJobSpec).
#include "server/map_request.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

v1::MapRequest RangeRequest() {
  v1::MapRequest request;
  request.set_function("square");
  request.mutable_input()->mutable_range()->set_start(1);
  request.mutable_input()->mutable_range()->set_end(100);
  request.set_chunk_size(10);
  request.set_max_workers(3);
  request.set_result_mode(v1::RESULT_MODE_SUM);
  return request;
}

TEST(MapRequestTest, ToJobSpec_RangeRequest_CarriesEveryField) {
  v1::MapRequest request = RangeRequest();
  v1::ChunkRange* done = request.add_completed_chunks();
  done->set_first(2);
  done->set_last(4);
  request.set_verify_fraction(0.25);
  absl::StatusOr<JobSpec> spec = ToJobSpec(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->function, "square");
  ASSERT_NE(spec->input, nullptr);
  EXPECT_EQ(spec->input->size(), 100u);  // the range is inclusive
  EXPECT_EQ(spec->chunk_size, 10);
  EXPECT_EQ(spec->max_workers, 3);
  EXPECT_EQ(spec->verify_fraction, 0.25);
  EXPECT_EQ(spec->mode, ResultMode::kSum);
  EXPECT_THAT(spec->completed_chunks, ElementsAre(Pair(2u, 4u)));
  EXPECT_FALSE(spec->shared_values.has_value());
}

TEST(MapRequestTest, ToJobSpec_NoInput_InvalidArgument) {
  v1::MapRequest request = RangeRequest();
  request.clear_input();
  absl::StatusOr<JobSpec> spec = ToJobSpec(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("no input"));
}

TEST(MapRequestTest, ToJobSpec_UnknownResultMode_InvalidArgumentNamingFieldAndValue) {
  v1::MapRequest request = RangeRequest();
  request.set_result_mode(static_cast<v1::ResultMode>(9));
  absl::StatusOr<JobSpec> spec = ToJobSpec(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("MapRequest.result_mode is 9"));
}

TEST(MapRequestTest, ToJobSpec_NegativeCompletedChunkIndex_InvalidArgument) {
  v1::MapRequest request = RangeRequest();
  v1::ChunkRange* done = request.add_completed_chunks();
  done->set_first(-1);
  done->set_last(3);
  absl::StatusOr<JobSpec> spec = ToJobSpec(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("completed chunk indices must be >= 0"));
}

TEST(MapRequestTest, ToJobSpec_NegativeLastCompletedChunk_InvalidArgument) {
  v1::MapRequest request = RangeRequest();
  v1::ChunkRange* done = request.add_completed_chunks();
  done->set_first(0);
  done->set_last(-2);
  absl::StatusOr<JobSpec> spec = ToJobSpec(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gpool
