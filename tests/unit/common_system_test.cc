// Unit tests of the process-level helpers: index sets, forking without exec, thread counts,
// huge pages and atomic file writes.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/index_set.h"
#include "common/process_tuning.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- IndexSet ---------------------------------------------------------------------------

TEST(IndexSetTest, Insert_RejectsDuplicates) {
  IndexSet set;
  EXPECT_TRUE(set.Insert(3));
  EXPECT_FALSE(set.Insert(3));
  EXPECT_EQ(set.size(), 1u);
}

TEST(IndexSetTest, OutOfOrderInserts_MergeIntoOneInterval) {
  IndexSet set;
  for (uint64_t i : {4u, 0u, 2u, 1u, 3u}) EXPECT_TRUE(set.Insert(i));
  EXPECT_EQ(set.interval_count(), 1u);
  EXPECT_TRUE(set.HoldsExactlyPrefix(5));
  EXPECT_FALSE(set.HoldsExactlyPrefix(6));
}

TEST(IndexSetTest, Missing_ListsGaps) {
  IndexSet set;
  for (uint64_t i : {0u, 1u, 4u, 7u}) set.Insert(i);
  const auto missing = set.Missing(10, 10);
  ASSERT_EQ(missing.size(), 3u);
  EXPECT_EQ(missing[0], std::make_pair(uint64_t{2}, uint64_t{3}));
  EXPECT_EQ(missing[1], std::make_pair(uint64_t{5}, uint64_t{6}));
  EXPECT_EQ(missing[2], std::make_pair(uint64_t{8}, uint64_t{9}));
  EXPECT_TRUE(set.Contains(4));
  EXPECT_FALSE(set.Contains(5));
}

TEST(IndexSetTest, InsertRange_MergesAndCountsOnlyNewIndices) {
  IndexSet set;
  EXPECT_EQ(set.InsertRange(10, 19), 10u);
  EXPECT_EQ(set.InsertRange(0, 4), 5u);
  EXPECT_EQ(set.InsertRange(3, 12), 5u);  // 5..9 are new
  EXPECT_EQ(set.size(), 20u);
  EXPECT_TRUE(set.HoldsExactlyPrefix(20));
  EXPECT_EQ(set.InsertRange(21, 21), 1u);
  EXPECT_EQ(set.interval_count(), 2u);
  EXPECT_EQ(set.InsertRange(20, 20), 1u);  // bridges the gap
  EXPECT_EQ(set.interval_count(), 1u);
}

TEST(IndexSetTest, NextAbsent_SkipsWholeIntervals) {
  IndexSet set;
  set.InsertRange(0, 9);
  set.InsertRange(11, 1'000'000);
  EXPECT_EQ(set.NextAbsent(0), 10u);
  EXPECT_EQ(set.NextAbsent(10), 10u);
  EXPECT_EQ(set.NextAbsent(11), 1'000'001u);
  EXPECT_THAT(set.Intervals(), ElementsAre(std::make_pair(uint64_t{0}, uint64_t{9}),
                                           std::make_pair(uint64_t{11}, uint64_t{1'000'000})));
}

// ---- Forking without exec ---------------------------------------------------------------

TEST(ForkProcessTest, SingleThreaded_RunsFunctionInAChildThatExitsWithItsValue) {
  char path[] = "/tmp/gpool-fork-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  SpawnOptions options;
  options.stdout_path = path;
  ASSERT_OK_AND_ASSIGN(pid_t child, ForkProcess(
                                        [] {
                                          std::printf("%d %d\n", static_cast<int>(getpid()),
                                                      static_cast<int>(getppid()));
                                          return 7;
                                        },
                                        options));
  ASSERT_OK_AND_ASSIGN(int exit_code, WaitForExit(child, absl::Seconds(30)));
  EXPECT_EQ(exit_code, 7);
  std::ifstream file(path);
  int printed_pid = 0;
  int printed_parent = 0;
  file >> printed_pid >> printed_parent;
  std::remove(path);
  EXPECT_EQ(printed_pid, child);
  EXPECT_NE(printed_pid, getpid());
  EXPECT_EQ(printed_parent, getpid());
}

TEST(ForkProcessTest, AnotherThreadRunning_FailsPreconditionWithoutForking) {
  absl::Notification done;
  std::thread other([&done] { done.WaitForNotification(); });
  absl::StatusOr<pid_t> child = ForkProcess([] { return 0; });
  done.Notify();
  other.join();
  EXPECT_THAT(child.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2 threads")));
}

TEST(CountThreadsTest, AnotherThreadStarted_CountsOneMore) {
  const int before = CountThreads();
  ASSERT_GE(before, 1);
  absl::Notification done;
  std::thread other([&done] { done.WaitForNotification(); });
  EXPECT_EQ(CountThreads(), before + 1);
  done.Notify();
  other.join();
}

// Kilobytes of transparent huge pages backing the mapping that holds `address`, from
// /proc/self/smaps; -1 when the mapping is not found.
int64_t AnonHugePagesKbAt(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > 8) {
      in_mapping = begin <= target && target < end;
      continue;
    }
    long kb = 0;
    if (in_mapping && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kb) == 1) return kb;
  }
  return -1;
}

TEST(AdviseHugePagesTest, BigBuffer_IsBackedByHugePagesWhenTheKernelOffersThem) {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(thp, modes);
  if (modes.empty() || modes.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are off on this machine (" << modes << ")";
  }
  std::vector<int64_t> values;
  values.reserve(64 << 17);  // 64 MiB
  AdviseHugePages(values.data(), values.capacity() * sizeof(int64_t));
  values.resize(values.capacity(), 7);
  EXPECT_GT(AnonHugePagesKbAt(values.data() + values.size() / 2), 0) << "THP modes: " << modes;
  EXPECT_EQ(values[values.size() - 1], 7);
}

TEST(WriteFileAtomicallyTest, MissingDirectory_NamesTheRequestedPathAndTheReason) {
  const std::string path = "/nonexistent-gpool-dir/port";
  absl::Status status = WriteFileAtomically(path, "1\n");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               ::testing::StartsWith("cannot write '" + path +
                                                     "': No such file or directory")));
}

TEST(AdviseHugePagesTest, RangeWithoutAWholeHugePage_IsLeftAlone) {
  std::vector<int64_t> values(1000, 3);
  AdviseHugePages(values.data(), values.size() * sizeof(int64_t));
  EXPECT_EQ(values[999], 3);
}

}  // namespace
}  // namespace gpool
