// Unit tests of the shared-memory values buffer (common/shared_values.h), within one process
// and with a forked writer: no gRPC, no cluster.
#include "common/shared_values.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::_;
using ::testing::HasSubstr;

std::unique_ptr<SharedValuesBuffer> NewBuffer(uint64_t capacity) {
  absl::StatusOr<std::unique_ptr<SharedValuesBuffer>> buffer =
      SharedValuesBuffer::Create(capacity);
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? *std::move(buffer) : nullptr;
}

std::vector<int64_t> Take(SharedValuesBuffer& buffer, uint64_t first, uint64_t count) {
  std::vector<int64_t> values(count, -1);
  EXPECT_OK(buffer.Take(first, count, values.data()));
  return values;
}

// Bytes of memory the buffer's file holds now.
int64_t AllocatedBytes(const SharedValuesBuffer& buffer) {
  struct stat info;
  const std::string path = absl::StrCat("/proc/self/fd/", buffer.ref().fd);
  EXPECT_EQ(stat(path.c_str(), &info), 0);
  return static_cast<int64_t>(info.st_blocks) * 512;
}

TEST(SharedValuesTest, Validate_BadPidOrFd_IsInvalidArgument) {
  EXPECT_OK(ValidateSharedValuesRef(SharedValuesRef{1, 0, 0, 0}));
  EXPECT_THAT(ValidateSharedValuesRef(SharedValuesRef{0, 3, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pid")));
  EXPECT_THAT(ValidateSharedValuesRef(SharedValuesRef{12, -1, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fd")));
}

TEST(SharedValuesTest, Write_ThenTake_ValuesAtTheirPositions) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(100);
  ASSERT_NE(buffer, nullptr);
  EXPECT_EQ(buffer->ref().pid, getpid());
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  const std::vector<int64_t> low = {1, -2, 3};
  const std::vector<int64_t> high = {INT64_MAX, INT64_MIN};
  ASSERT_OK(writer.Write({{10, low.data(), low.size()}, {98, high.data(), high.size()}}));
  EXPECT_THAT(Take(*buffer, 10, 3), ElementsAre(1, -2, 3));
  EXPECT_THAT(Take(*buffer, 98, 2), ElementsAre(INT64_MAX, INT64_MIN));
  // Take also adds up what it copies, exactly: count, sum, smallest and largest.
  std::vector<int64_t> out(3);
  ASSERT_OK_AND_ASSIGN(ValueStats low_stats, buffer->Take(10, 3, out.data()));
  EXPECT_EQ(low_stats.count, 3u);
  EXPECT_EQ(low_stats.sum, 2);
  EXPECT_EQ(low_stats.min, -2);
  EXPECT_EQ(low_stats.max, 3);
  ASSERT_OK_AND_ASSIGN(ValueStats high_stats, buffer->Take(98, 2, out.data()));
  EXPECT_EQ(high_stats.sum, -1);
  EXPECT_EQ(high_stats.min, INT64_MIN);
  EXPECT_EQ(high_stats.max, INT64_MAX);
  // Without a place to copy them to, it only adds them up.
  ASSERT_OK_AND_ASSIGN(ValueStats read_only, buffer->Take(10, 3, nullptr));
  EXPECT_EQ(read_only.sum, 2);
}

TEST(SharedValuesTest, Write_ManyAdjacentSpans_AllLand) {
  // Many small adjacent spans: one run, each value in its place.
  constexpr uint64_t kSpans = 2500;
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(kSpans * 2);
  ASSERT_NE(buffer, nullptr);
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  std::vector<int64_t> values(kSpans * 2);
  std::iota(values.begin(), values.end(), 1000);
  std::vector<SharedValuesWriter::Span> spans;
  for (uint64_t i = 0; i < kSpans; ++i) spans.push_back({2 * i, values.data() + 2 * i, 2});
  ASSERT_OK(writer.Write(spans));
  EXPECT_EQ(Take(*buffer, 0, kSpans * 2), values);
}

TEST(SharedValuesTest, Write_FromAnotherProcess_ReachesTheBuffer) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(1000);
  ASSERT_NE(buffer, nullptr);
  const SharedValuesRef ref = buffer->ref();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The worker's way in: /proc/<client pid>/fd/<fd>, not an inherited descriptor.
    close(ref.fd);
    absl::StatusOr<SharedValuesWriter> writer = SharedValuesWriter::Open(ref);
    const int64_t values[] = {7, 49, 343};
    _exit(writer.ok() && writer->Write({{500, values, 3}}).ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THAT(Take(*buffer, 500, 3), ElementsAre(7, 49, 343));
}

TEST(SharedValuesTest, Open_WrongToken_IsFailedPrecondition) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(10);
  ASSERT_NE(buffer, nullptr);
  SharedValuesRef ref = buffer->ref();
  ref.token_low ^= 1;
  EXPECT_THAT(SharedValuesWriter::Open(ref).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("token")));
}

TEST(SharedValuesTest, Open_FileThatIsNotAValuesBuffer_IsNotFound) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(SharedValuesWriter::Open(SharedValuesRef{getpid(), fileno(file), 0, 0}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a gpool values buffer")));
  std::fclose(file);
  const int other_memfd = memfd_create("something-else", MFD_CLOEXEC);
  ASSERT_GE(other_memfd, 0);
  EXPECT_THAT(SharedValuesWriter::Open(SharedValuesRef{getpid(), other_memfd, 0, 0}).status(),
              StatusIs(absl::StatusCode::kNotFound, _));
  close(other_memfd);
}

TEST(SharedValuesTest, Open_NoSuchDescriptor_IsNotFound) {
  EXPECT_THAT(SharedValuesWriter::Open(SharedValuesRef{getpid(), 1 << 20, 0, 0}).status(),
              StatusIs(absl::StatusCode::kNotFound, _));
}

TEST(SharedValuesTest, Write_BeyondCapacity_IsOutOfRangeAndWritesNothing) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(10);
  ASSERT_NE(buffer, nullptr);
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  const int64_t values[] = {1, 2, 3};
  EXPECT_THAT(writer.Write({{0, values, 3}, {8, values, 3}}),
              StatusIs(absl::StatusCode::kOutOfRange, _));
  EXPECT_THAT(Take(*buffer, 0, 3), ElementsAre(0, 0, 0));
  std::vector<int64_t> out(3);
  EXPECT_THAT(buffer->Take(8, 3, out.data()), StatusIs(absl::StatusCode::kOutOfRange, _));
}

TEST(SharedValuesTest, Renew_WriterOfThePreviousJobIsRefusedAndWritesNothing) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(10);
  ASSERT_NE(buffer, nullptr);
  const SharedValuesRef first_job = buffer->ref();
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter late_writer, SharedValuesWriter::Open(first_job));
  ASSERT_OK(buffer->Renew(10));
  EXPECT_NE(buffer->ref().token_low, first_job.token_low);
  const int64_t stale[] = {666};
  EXPECT_THAT(late_writer.Write({{4, stale, 1}}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another job")));
  EXPECT_THAT(Take(*buffer, 4, 1), ElementsAre(0));
  EXPECT_THAT(SharedValuesWriter::Open(first_job).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
}

TEST(SharedValuesTest, Renew_Bigger_GrowsTheBuffer) {
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(10);
  ASSERT_NE(buffer, nullptr);
  ASSERT_OK(buffer->Renew(1'000'000));
  EXPECT_EQ(buffer->capacity(), 1'000'000u);
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  const int64_t values[] = {5, 6};
  ASSERT_OK(writer.Write({{999'998, values, 2}}));
  EXPECT_THAT(Take(*buffer, 999'998, 2), ElementsAre(5, 6));
}

TEST(SharedValuesTest, Take_ReleasingTaken_FreesTheMemoryOfTakenValuesOnly) {
  constexpr uint64_t kValues = 1 << 20;  // 8 MiB
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(kValues);
  ASSERT_NE(buffer, nullptr);
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  std::vector<int64_t> values(kValues);
  std::iota(values.begin(), values.end(), 1);
  ASSERT_OK(writer.Write({{0, values.data(), kValues}}));
  const int64_t written = AllocatedBytes(*buffer);
  EXPECT_GE(written, static_cast<int64_t>(kValues * sizeof(int64_t)));

  buffer->set_release_taken(true);
  std::vector<int64_t> first_half = Take(*buffer, 0, kValues / 2);
  EXPECT_EQ(first_half.back(), static_cast<int64_t>(kValues / 2));
  EXPECT_LE(AllocatedBytes(*buffer), written / 2 + 8192);
  // Values not taken yet are intact.
  EXPECT_EQ(Take(*buffer, kValues / 2, 2), std::vector<int64_t>({kValues / 2 + 1, kValues / 2 + 2}));
}

TEST(SharedValuesTest, Take_Kept_MemoryStaysForTheNextJob) {
  constexpr uint64_t kValues = 1 << 18;
  std::unique_ptr<SharedValuesBuffer> buffer = NewBuffer(kValues);
  ASSERT_NE(buffer, nullptr);
  ASSERT_OK_AND_ASSIGN(SharedValuesWriter writer, SharedValuesWriter::Open(buffer->ref()));
  std::vector<int64_t> values(kValues, 3);
  ASSERT_OK(writer.Write({{0, values.data(), kValues}}));
  const int64_t written = AllocatedBytes(*buffer);
  Take(*buffer, 0, kValues);
  EXPECT_EQ(AllocatedBytes(*buffer), written);
}

}  // namespace
}  // namespace gpool
