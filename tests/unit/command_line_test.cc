// Unit tests of the command-line parser and help shared by gpool's binaries, over flags of
// this test's own (each test restores them with a FlagSaver).
#include "common/command_line.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/address.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

ABSL_FLAG(int, test_count, 3, "How many things to count.");
ABSL_FLAG(bool, test_switch, false, "Turns the thing on.");
ABSL_FLAG(std::string, test_name, "start", "The name of the thing.");
ABSL_FLAG(absl::Duration, test_wait, absl::Seconds(2), "How long to wait.");
ABSL_FLAG(std::vector<std::string>, test_list, {}, "Names of things.");
ABSL_FLAG(std::string, test_long_help, "",
          "A help text long enough to be wrapped: it goes on and on about the flag, what it "
          "does and what it does not do, well past eighty columns.");

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Abseil's parser defines flags of its own (--flagfile, --fromenv, ...) that gpool's parser
// must neither list nor accept. Calling it, with no arguments, links them into this test.
void LinkAbseilsOwnFlags() {
  char program[] = "command_line_test";
  char* argv[] = {program};
  (void)absl::ParseCommandLine(1, argv);
}

// Runs the parser over `args`, as if given after a program name.
absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseCommandLineTest, EveryFlagForm_SetsTheFlags) {
  absl::FlagSaver saver;
  ASSERT_OK_AND_ASSIGN(CommandLine line, Parse({"--test_count=7", "-test_name", "x",
                                                "--test_switch", "--test_wait", "500ms"}));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_name), "x");
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_switch));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_wait), absl::Milliseconds(500));
  EXPECT_THAT(line.positional, IsEmpty());
  EXPECT_FALSE(line.help);
}

TEST(ParseCommandLineTest, ListFlagGivenAgain_AddsToItsList) {
  absl::FlagSaver saver;
  ASSERT_OK(Parse({"--test_list", "a", "--test_list=b,c"}).status());
  EXPECT_THAT(absl::GetFlag(FLAGS_test_list), ElementsAre("a", "b", "c"));
}

TEST(ParseCommandLineTest, ListFlagInANewCommandLine_StartsAFreshList) {
  absl::FlagSaver saver;
  ASSERT_OK(Parse({"--test_list=a"}).status());
  ASSERT_OK(Parse({"--test_list=b"}).status());
  EXPECT_THAT(absl::GetFlag(FLAGS_test_list), ElementsAre("b"));
}

TEST(ParseCommandLineTest, NoPrefixOnABool_SetsItFalse) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_test_switch, true);
  ASSERT_OK(Parse({"--notest_switch"}).status());
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));
}

TEST(ParseCommandLineTest, NegativeNumbersRangesAndStdin_ArePositionalInOrder) {
  absl::FlagSaver saver;
  ASSERT_OK_AND_ASSIGN(CommandLine line,
                       Parse({"map", "-5..5", "--test_count", "-2", "-7", "-", "-..3"}));
  EXPECT_THAT(line.positional, ElementsAre("map", "-5..5", "-7", "-", "-..3"));
  // A flag's value may be negative too.
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), -2);
}

TEST(ParseCommandLineTest, DoubleDash_EndsTheFlags) {
  absl::FlagSaver saver;
  ASSERT_OK_AND_ASSIGN(CommandLine line, Parse({"a", "--", "--test_count=9", "b"}));
  EXPECT_THAT(line.positional, ElementsAre("a", "--test_count=9", "b"));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 3);
}

TEST(ParseCommandLineTest, HelpAnywhere_IsReported) {
  for (const char* help : {"--help", "-help", "-h"}) {
    ASSERT_OK_AND_ASSIGN(CommandLine line, Parse({"map", help}));
    EXPECT_TRUE(line.help) << help;
    EXPECT_THAT(line.positional, ElementsAre("map")) << help;
  }
}

TEST(ParseCommandLineTest, UnknownFlagNearAKnownOne_SuggestsIt) {
  EXPECT_THAT(Parse({"--test_cuont=1"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown flag --test_cuont (did you mean --test_count?)")));
}

TEST(ParseCommandLineTest, UnknownFlagFarFromAll_NamesItWithoutSuggestion) {
  absl::StatusOr<CommandLine> line = Parse({"--zzzzzzzz"});
  EXPECT_THAT(line, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--zzzzzzzz")));
  EXPECT_THAT(line.status().message(), Not(HasSubstr("did you mean")));
}

TEST(ParseCommandLineTest, BadValue_NamesFlagValueAndWhatWasExpected) {
  absl::FlagSaver saver;
  EXPECT_THAT(Parse({"--test_count=abc"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad value 'abc' for --test_count: expected an integer")));
  EXPECT_THAT(Parse({"--test_wait=soon"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad value 'soon' for --test_wait: expected a duration")));
  EXPECT_THAT(Parse({"--test_switch=maybe"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true or false")));
}

TEST(ParseCommandLineTest, LastFlagWithoutValue_SaysItNeedsOne) {
  EXPECT_THAT(Parse({"--test_count"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("flag --test_count needs a value")));
}

TEST(ParseCommandLineTest, AbseilsOwnFlags_AreUnknown) {
  LinkAbseilsOwnFlags();
  ASSERT_NE(absl::FindCommandLineFlag("flagfile"), nullptr);
  EXPECT_THAT(Parse({"--flagfile=/dev/null"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown flag --flagfile")));
}

TEST(FlagsHelpTest, EachFlag_ShowsTypeDefaultAndHelp) {
  const std::string help =
      FlagsHelp({&absl::GetFlagReflectionHandle(FLAGS_test_count),
                 &absl::GetFlagReflectionHandle(FLAGS_test_switch),
                 &absl::GetFlagReflectionHandle(FLAGS_test_name),
                 &absl::GetFlagReflectionHandle(FLAGS_test_wait)});
  EXPECT_EQ(help,
            "  --test_count=INT (default 3)\n"
            "      How many things to count.\n"
            "  --test_switch (default false)\n"
            "      Turns the thing on.\n"
            "  --test_name=STRING (default \"start\")\n"
            "      The name of the thing.\n"
            "  --test_wait=DURATION (default 2s)\n"
            "      How long to wait.\n"
            "  --help\n"
            "      Print this help and exit.\n");
}

TEST(FlagsHelpTest, LongHelp_IsWrappedWithinEightyColumns) {
  const std::string help = FlagsHelp({&absl::GetFlagReflectionHandle(FLAGS_test_long_help)});
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(help, '\n', absl::SkipEmpty())) {
    EXPECT_LE(line.size(), 80u) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 5u) << help;  // the flag, two lines of help, --help and its line
}

TEST(ProgramFlagsTest, TestFlags_AreListedByName) {
  LinkAbseilsOwnFlags();
  std::vector<std::string> names;
  for (const absl::CommandLineFlag* flag : ProgramFlags()) names.emplace_back(flag->Name());
  EXPECT_THAT(names, ::testing::IsSupersetOf({"test_count", "test_long_help", "test_name",
                                              "test_switch", "test_wait"}));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  ASSERT_NE(absl::FindCommandLineFlag("flagfile"), nullptr);
  EXPECT_THAT(names, Not(::testing::Contains("flagfile")));
}

TEST(UsageErrorLineTest, Message_PointsToTheHelpCommand) {
  EXPECT_EQ(UsageErrorLine("gpool-coordinator", "unknown flag --lissten",
                           "gpool-coordinator --help"),
            "gpool-coordinator: error: unknown flag --lissten; run 'gpool-coordinator --help' "
            "for usage");
}

TEST(ProgramNameTest, Path_IsItsFileName) {
  char path[] = "build/bin/gpool-worker-custom";
  char* argv[] = {path};
  EXPECT_EQ(ProgramName(1, argv, "gpool-worker"), "gpool-worker-custom");
  EXPECT_EQ(ProgramName(0, argv, "gpool-worker"), "gpool-worker");
}

// ---- Dialable addresses -----------------------------------------------------------------

TEST(DialableAddressTest, WildcardListenHost_IsReplacedByTheHostName) {
  EXPECT_EQ(DialableAddress("0.0.0.0", 50051, "vm"), "vm:50051");
  EXPECT_EQ(DialableAddress("[::]", 40000, "vm"), "vm:40000");
  EXPECT_EQ(DialableAddress("::", 1, "vm"), "vm:1");
}

TEST(IsLoopbackHostTest, LoopbackAddressesAndLocalhost_AreLoopback) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.45.6.7"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
}

TEST(IsLoopbackHostTest, WildcardsOtherAddressesAndNames_AreNot) {
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("[::]"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.5"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("vm"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.org"));
}

TEST(DialableAddressTest, SpecificListenHost_IsKept) {
  EXPECT_EQ(DialableAddress("127.0.0.1", 41491, "vm"), "127.0.0.1:41491");
  EXPECT_EQ(DialableAddress("[::1]", 8, "vm"), "[::1]:8");
}

TEST(LocalHostNameTest, NamedMachine_IsItsName) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  ASSERT_NE(name[0], '\0');
  EXPECT_EQ(LocalHostName(), name);
}

}  // namespace
}  // namespace gpool
