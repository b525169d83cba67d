// The client's reorder buffer (OrderedValues) and the CLI's line writer (LineWriter), alone.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "client/line_writer.h"
#include "client/ordered_values.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool {
namespace {

using ::testing::ElementsAre;

// Records every run it gets: (first element, values).
struct Recorder {
  std::vector<uint64_t> firsts;
  std::vector<int64_t> values;
  OrderedValues::Sink sink() {
    return [this](uint64_t first, const Elements& run) {
      firsts.push_back(first);
      values.insert(values.end(), run.int64s().begin(), run.int64s().end());
      return absl::OkStatus();
    };
  }
};

TEST(OrderedValuesTest, Add_InOrder_DeliveredAtOnceNothingHeld) {
  Recorder recorder;
  OrderedValues ordered(recorder.sink());
  const Elements first = Elements::Int64s({1, 4});
  ASSERT_TRUE(ordered.Add(0, 0, first).ok());
  EXPECT_THAT(recorder.values, ElementsAre(1, 4));
  EXPECT_EQ(ordered.held_chunks(), 0u);
  EXPECT_EQ(ordered.next_chunk(), 1u);
}

TEST(OrderedValuesTest, Add_AheadOfAGap_HeldUntilTheGapCloses) {
  Recorder recorder;
  OrderedValues ordered(recorder.sink());
  const Elements c0 = Elements::Int64s({1, 4}), c1 = Elements::Int64s({9, 16}),
                 c2 = Elements::Int64s({25});
  ASSERT_TRUE(ordered.Add(2, 4, c2).ok());
  ASSERT_TRUE(ordered.Add(1, 2, c1).ok());
  EXPECT_TRUE(recorder.values.empty());
  EXPECT_EQ(ordered.held_chunks(), 2u);
  EXPECT_EQ(ordered.held_values(), 3u);
  ASSERT_TRUE(ordered.Add(0, 0, c0).ok());
  EXPECT_THAT(recorder.values, ElementsAre(1, 4, 9, 16, 25));
  EXPECT_THAT(recorder.firsts, ElementsAre(0u, 2u, 4u));
  EXPECT_EQ(ordered.held_chunks(), 0u);
  EXPECT_EQ(ordered.held_values(), 0u);
  EXPECT_EQ(ordered.peak_held_chunks(), 2u);
}

TEST(OrderedValuesTest, Add_SinkFails_ErrorReturnedAndNothingMoreDelivered) {
  int calls = 0;
  OrderedValues ordered([&calls](uint64_t, const Elements&) {
    ++calls;
    return absl::AbortedError("output closed");
  });
  const Elements c0 = Elements::Int64s({1}), c1 = Elements::Int64s({4});
  ASSERT_TRUE(ordered.Add(1, 1, c1).ok());
  EXPECT_EQ(ordered.Add(0, 0, c0).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 1);
}

// A pipe whose read end the test holds.
struct Pipe {
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  std::string ReadAll() {
    ::close(fds[1]);
    fds[1] = -1;
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    return text;
  }
  int fds[2] = {-1, -1};
};

TEST(LineWriterTest, WriteValues_OneDecimalPerLineAfterText) {
  Pipe pipe;
  LineWriter writer(pipe.fds[1]);
  const std::vector<int64_t> values = {0, -7, INT64_MIN, INT64_MAX};
  ASSERT_TRUE(writer.Write("cores: 2\n").ok());
  ASSERT_TRUE(writer.WriteValues(values).ok());
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(pipe.ReadAll(),
            "cores: 2\n0\n-7\n-9223372036854775808\n9223372036854775807\n");
}

TEST(LineWriterTest, Flush_ReaderClosed_BrokenPipeAndStaysFailed) {
  // As the CLI does: a write to a closed pipe fails with EPIPE instead of killing.
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  Pipe pipe;
  ::close(pipe.fds[0]);
  pipe.fds[0] = -1;
  LineWriter writer(pipe.fds[1]);
  ASSERT_TRUE(writer.Write("1\n").ok());
  const absl::Status flushed = writer.Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(writer.broken_pipe());
  EXPECT_EQ(writer.Write("2\n").code(), absl::StatusCode::kAborted);
  ::sigaction(SIGPIPE, &previous, nullptr);
}

}  // namespace
}  // namespace gpool
