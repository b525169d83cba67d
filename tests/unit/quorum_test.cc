// The quorum of one job alone (--verify): which chunks are sampled, and how results of one
// chunk from different workers are held, agree, disagree and are forgotten.
#include "server/quorum.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

ChunkReply Reply(int64_t sum, std::vector<int64_t> values = {}) {
  ChunkReply reply;
  reply.summary = SummaryKind::kInt64;
  reply.count = values.empty() ? 10 : values.size();
  reply.sum = sum;
  reply.min = 1;
  reply.max = 9;
  reply.values = EncodedValues::Own(std::move(values));
  return reply;
}

TEST(QuorumTest, Sampled_FractionOne_EveryChunk) {
  Quorum quorum(1.0, 42);
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(quorum.Sampled(i)) << i;
}

TEST(QuorumTest, Sampled_FractionZero_NoChunk) {
  Quorum quorum(0.0, 42);
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_FALSE(quorum.Sampled(i)) << i;
}

TEST(QuorumTest, Sampled_FractionQuarter_AboutAQuarterTheSameEveryTime) {
  Quorum quorum(0.25, 7);
  int sampled = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    const bool first = quorum.Sampled(i);
    ASSERT_EQ(quorum.Sampled(i), first) << i;
    sampled += first;
  }
  // 25,000 expected; the standard deviation is about 137.
  EXPECT_NEAR(sampled, 25000, 1000);
}

TEST(QuorumTest, Sampled_OtherSeed_OtherChunks) {
  Quorum a(0.5, 1);
  Quorum b(0.5, 2);
  int differ = 0;
  for (uint64_t i = 0; i < 1000; ++i) differ += a.Sampled(i) != b.Sampled(i);
  EXPECT_GT(differ, 300);
}

TEST(QuorumTest, Add_FirstResult_HeldAndVoterNamed) {
  Quorum quorum(1.0, 0);
  const Quorum::Verdict verdict = quorum.Add(3, "w1", Reply(285));
  EXPECT_FALSE(verdict.agreed.has_value());
  EXPECT_FALSE(verdict.mismatch);
  EXPECT_EQ(verdict.distinct, 1);
  EXPECT_TRUE(quorum.Holds(3));
  EXPECT_THAT(quorum.Voters(3), ElementsAre("w1"));
}

TEST(QuorumTest, Add_SecondWorkerAgrees_AgreedAndForgotten) {
  Quorum quorum(1.0, 0);
  quorum.Add(3, "w1", Reply(285));
  const Quorum::Verdict verdict = quorum.Add(3, "w2", Reply(285));
  ASSERT_TRUE(verdict.agreed.has_value());
  EXPECT_EQ(verdict.agreed->sum, 285);
  EXPECT_EQ(verdict.agreed_with, "w1");
  EXPECT_THAT(verdict.dissenters, IsEmpty());
  EXPECT_FALSE(quorum.Holds(3));
}

TEST(QuorumTest, Add_SameWorkerTwice_RepeatedNotAgreed) {
  Quorum quorum(1.0, 0);
  quorum.Add(3, "w1", Reply(285));
  const Quorum::Verdict verdict = quorum.Add(3, "w1", Reply(285));
  EXPECT_TRUE(verdict.repeated);
  EXPECT_FALSE(verdict.agreed.has_value());
  EXPECT_THAT(quorum.Voters(3), ElementsAre("w1"));
}

TEST(QuorumTest, Add_TwoDisagreeThenThirdSidesWithFirst_SecondIsTheDissenter) {
  Quorum quorum(1.0, 0);
  quorum.Add(3, "w1", Reply(285));
  const Quorum::Verdict mismatch = quorum.Add(3, "w2", Reply(286));
  EXPECT_TRUE(mismatch.mismatch);
  EXPECT_EQ(mismatch.distinct, 2);
  EXPECT_THAT(quorum.Voters(3), UnorderedElementsAre("w1", "w2"));
  const Quorum::Verdict decided = quorum.Add(3, "w3", Reply(285));
  ASSERT_TRUE(decided.agreed.has_value());
  EXPECT_EQ(decided.agreed->sum, 285);
  EXPECT_EQ(decided.agreed_with, "w1");
  EXPECT_THAT(decided.dissenters, ElementsAre("w2"));
}

TEST(QuorumTest, Add_SameSumsDifferentValues_Mismatch) {
  Quorum quorum(1.0, 0);
  quorum.Add(0, "w1", Reply(10, {1, 9}));
  // Same count, sum, min and max; one value order differs.
  EXPECT_TRUE(quorum.Add(0, "w2", Reply(10, {9, 1})).mismatch);
}

TEST(QuorumTest, SameResult_SameValuesInOtherPieces_Agree) {
  ChunkReply a = Reply(6, {1, 2, 3});
  ChunkReply b = Reply(6);
  auto owned = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{1, 2, 3});
  const char* bytes = reinterpret_cast<const char*>(owned->data());
  b.values.Append(bytes, 8, owned);
  b.values.Append(bytes + 8, 16, owned);
  b.count = 3;
  EXPECT_TRUE(SameResult(a, b));
}

TEST(QuorumTest, Forget_OnlyVoter_ChunkEmptiedAndReturned) {
  Quorum quorum(1.0, 0);
  quorum.Add(1, "w1", Reply(5));
  quorum.Add(2, "w2", Reply(5));
  EXPECT_THAT(quorum.Forget("w1"), ElementsAre(1u));
  EXPECT_FALSE(quorum.Holds(1));
  EXPECT_TRUE(quorum.Holds(2));
}

TEST(QuorumTest, Forget_LiarAfterMismatch_HonestResultStillHeld) {
  Quorum quorum(1.0, 0);
  quorum.Add(1, "honest", Reply(5));
  quorum.Add(1, "liar", Reply(6));
  EXPECT_THAT(quorum.Forget("liar"), IsEmpty());
  EXPECT_THAT(quorum.Voters(1), ElementsAre("honest"));
  // The liar's word is gone: a third worker agreeing with the honest one decides alone.
  EXPECT_TRUE(quorum.Add(1, "w3", Reply(5)).agreed.has_value());
}

}  // namespace
}  // namespace gpool
