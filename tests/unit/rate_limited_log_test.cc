// RateLimitedLog over a fake clock: what a flood of one kind of warning writes.
#include "common/rate_limited_log.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class RateLimitedLogTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  std::vector<std::string> lines_;
  // 3 lines a minute per reason.
  RateLimitedLog log_{&clock_, /*max_lines=*/3, absl::Minutes(1),
                      [this](absl::string_view line) { lines_.emplace_back(line); }};
};

TEST_F(RateLimitedLogTest, Warn_UpToTheLimit_WritesEveryLine) {
  for (int i = 0; i < 3; ++i) log_.Warn("invalid", absl::StrCat("bad ", i));
  EXPECT_THAT(lines_, ElementsAre("bad 0", "bad 1", "bad 2"));
}

TEST_F(RateLimitedLogTest, Warn_FloodWithinThePeriod_WritesOnlyTheFirstLines) {
  for (int i = 0; i < 10'000; ++i) log_.Warn("invalid", absl::StrCat("bad ", i));
  EXPECT_THAT(lines_, ElementsAre("bad 0", "bad 1", "bad 2"));
}

TEST_F(RateLimitedLogTest, Warn_AfterTheFloodPeriod_SaysHowManyWereSuppressedThenWrites) {
  for (int i = 0; i < 10; ++i) log_.Warn("invalid", absl::StrCat("bad ", i));
  clock_.Advance(absl::Minutes(1));
  log_.Warn("invalid", "bad again");
  EXPECT_THAT(lines_, ElementsAre("bad 0", "bad 1", "bad 2",
                                  "suppressed 7 similar warnings (invalid) after 3 in 1m",
                                  "bad again"));
}

TEST_F(RateLimitedLogTest, Warn_OtherReason_HasItsOwnLimit) {
  for (int i = 0; i < 5; ++i) log_.Warn("invalid", "bad");
  log_.Warn("taken", "impostor");
  EXPECT_THAT(lines_, ElementsAre("bad", "bad", "bad", "impostor"));
}

TEST_F(RateLimitedLogTest, Warn_OtherReasonAfterThePeriod_WritesTheSuppressedCountToo) {
  for (int i = 0; i < 4; ++i) log_.Warn("invalid", "bad");
  clock_.Advance(absl::Minutes(2));
  log_.Warn("taken", "impostor");
  EXPECT_THAT(lines_, ElementsAre("bad", "bad", "bad",
                                  "suppressed 1 similar warnings (invalid) after 3 in 1m",
                                  "impostor"));
}

TEST_F(RateLimitedLogTest, Warn_NothingSuppressed_NoSuppressedLine) {
  log_.Warn("invalid", "bad");
  clock_.Advance(absl::Minutes(1));
  log_.Warn("invalid", "bad");
  EXPECT_THAT(lines_, ElementsAre("bad", "bad"));
}

TEST(RateLimitedLogDestructorTest, Destroyed_WithSuppressedWarnings_SaysHowMany) {
  FakeClock clock;
  std::vector<std::string> lines;
  {
    RateLimitedLog log(&clock, /*max_lines=*/1, absl::Minutes(1),
                       [&lines](absl::string_view line) { lines.emplace_back(line); });
    log.Warn("invalid", "bad");
    log.Warn("invalid", "bad");
    log.Warn("invalid", "bad");
    EXPECT_THAT(lines, ElementsAre("bad"));
  }
  EXPECT_THAT(lines, ElementsAre("bad", "suppressed 2 similar warnings (invalid) after 1 in 1m"));
}

TEST(RateLimitedLogDestructorTest, Destroyed_NothingSuppressed_WritesNothing) {
  FakeClock clock;
  std::vector<std::string> lines;
  {
    RateLimitedLog log(&clock, /*max_lines=*/1, absl::Minutes(1),
                       [&lines](absl::string_view line) { lines.emplace_back(line); });
  }
  EXPECT_THAT(lines, IsEmpty());
}

}  // namespace
}  // namespace gpool
