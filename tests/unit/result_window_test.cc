// One job's result window alone.
#include "server/result_window.h"

#include "gtest/gtest.h"

namespace gpool {
namespace {

TEST(ResultWindowTest, Add_MaxChunksResults_Full) {
  ResultWindow window(/*max_chunks=*/2, /*max_values=*/100);
  window.Add(1);
  EXPECT_FALSE(window.Full());
  EXPECT_EQ(window.ChunkRoom(), 1);
  window.Add(1);
  EXPECT_TRUE(window.Full());
  EXPECT_EQ(window.ChunkRoom(), 0);
}

TEST(ResultWindowTest, Add_MaxValuesInOneResult_Full) {
  ResultWindow window(/*max_chunks=*/10, /*max_values=*/100);
  window.Add(100);
  EXPECT_TRUE(window.Full());
}

TEST(ResultWindowTest, Delivered_ResultsTaken_RoomAgain) {
  ResultWindow window(/*max_chunks=*/2, /*max_values=*/100);
  window.Add(60);
  window.Add(60);
  ASSERT_TRUE(window.Full());
  window.Delivered(1, 60);
  EXPECT_FALSE(window.Full());
  EXPECT_EQ(window.ChunkRoom(), 1);
}

TEST(ResultWindowTest, Delivered_MoreThanSent_NeverBelowEmpty) {
  ResultWindow window(/*max_chunks=*/2, /*max_values=*/100);
  window.Add(10);
  window.Delivered(5, 500);
  EXPECT_EQ(window.ChunkRoom(), 2);
  window.Add(99);
  EXPECT_FALSE(window.Full());
}

}  // namespace
}  // namespace gpool
