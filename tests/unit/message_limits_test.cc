// Unit tests of the request limits a client checks before it sends.
#include "rpc/message_limits.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::HasSubstr;

// A request whose list takes `values` values of 8 bytes each, close to the limit when large.
v1::MapRequest ListRequest(int64_t values) {
  v1::MapRequest request;
  request.set_function("square");
  for (int64_t i = 0; i < values; ++i) {
    request.mutable_input()->mutable_list()->mutable_int64s()->add_values(INT64_MAX - i);
  }
  return request;
}

TEST(CheckMapRequestSizeTest, OverLimit_NamesTheLimitAndTheListLength) {
  const v1::MapRequest request = ListRequest(kMaxMapRequestBytes / 8);
  EXPECT_THAT(CheckMapRequestSize(request, absl::StatusCode::kInvalidArgument),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("over the limit of ", kMaxMapRequestBytes))));
}

TEST(SetCompletedChunksWithinLimitTest, RoomForAll_ClaimsEveryIntervalInOrder) {
  v1::MapRequest request = ListRequest(10);
  request.add_completed_chunks()->set_first(99);  // replaced, not added to
  const uint64_t claimed = SetCompletedChunksWithinLimit({{0, 3}, {5, 5}, {7, 9}}, &request);
  EXPECT_EQ(claimed, 8u);
  ASSERT_EQ(request.completed_chunks_size(), 3);
  EXPECT_EQ(request.completed_chunks(0).first(), 0);
  EXPECT_EQ(request.completed_chunks(0).last(), 3);
  EXPECT_EQ(request.completed_chunks(1).first(), 5);
  EXPECT_EQ(request.completed_chunks(2).last(), 9);
}

TEST(SetCompletedChunksWithinLimitTest, NoRoomForAll_KeepsTheLongestAndFitsTheLimit) {
  // A list that leaves room for about a thousand ranges, and many more single-chunk gaps.
  const int64_t room_bytes = 20'000;
  const int64_t list_values = (kMaxMapRequestBytes - room_bytes) / 8;
  v1::MapRequest request = ListRequest(list_values);
  std::vector<std::pair<uint64_t, uint64_t>> received;
  for (uint64_t i = 0; i < 20'000; ++i) received.emplace_back(2 * i, 2 * i);
  received.emplace_back(100'000, 199'999);  // the longest: must be kept
  const uint64_t claimed = SetCompletedChunksWithinLimit(received, &request);

  EXPECT_LE(request.ByteSizeLong(), static_cast<size_t>(kMaxMapRequestBytes));
  EXPECT_OK(CheckMapRequestSize(request, absl::StatusCode::kInvalidArgument));
  EXPECT_LT(request.completed_chunks_size(), 20'001);
  EXPECT_GT(request.completed_chunks_size(), 100);
  bool kept_longest = false;
  uint64_t total = 0;
  int64_t previous_first = -1;
  for (const v1::ChunkRange& range : request.completed_chunks()) {
    kept_longest |= range.first() == 100'000 && range.last() == 199'999;
    total += static_cast<uint64_t>(range.last() - range.first() + 1);
    EXPECT_GT(range.first(), previous_first);
    previous_first = range.first();
  }
  EXPECT_TRUE(kept_longest);
  EXPECT_EQ(claimed, total);
}

}  // namespace
}  // namespace gpool
