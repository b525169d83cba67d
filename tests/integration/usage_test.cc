// Integration tests of what the real binaries say about their own use, for a newcomer's
// first commands: --help lists every flag the program defines (read from the sources at test
// time, so a new flag missing from the help fails here) with its default and meaning and
// exits 0, per command for the CLI; a usage error is one line on stderr pointing to --help,
// exit 2; the hint of a job that found no worker names the coordinator's real address; and
// the README's flag tables match the binaries.
#include <sys/types.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::CliRun;
using ::gpool::testing::ReadFile;
using ::gpool::testing::RunProgram;
using ::gpool::testing::TempDir;
using ::gpool::testing::WaitUntil;
using ::testing::AllOf;
using ::testing::ContainerEq;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kSourceDir[] = GPOOL_SOURCE_DIR;
// A usage error is reported before anything starts; a daemon still running after this has
// taken its arguments for good ones.
constexpr absl::Duration kUsageTimeout = absl::Seconds(20);

std::string Source(const std::string& relative) {
  return ReadFile(absl::StrCat(kSourceDir, "/", relative));
}

// Names of the flags defined in `text`: every line that starts with ABSL_FLAG(type, name, ...
// (the types gpool uses have no comma).
std::set<std::string> DefinedFlags(const std::string& text) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "ABSL_FLAG(")) continue;
    const std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() >= 2) names.insert(std::string(absl::StripAsciiWhitespace(fields[1])));
  }
  return names;
}

std::set<std::string> DefinedFlagsIn(const std::vector<std::string>& sources) {
  std::set<std::string> names;
  for (const std::string& source : sources) {
    const std::string text = Source(source);
    EXPECT_FALSE(text.empty()) << "cannot read " << source;
    const std::set<std::string> defined = DefinedFlags(text);
    names.insert(defined.begin(), defined.end());
  }
  return names;
}

struct ListedFlag {
  std::string header;  // "  --name=TYPE (default D)"
  std::string help;    // the indented lines under it, joined
};

// The flags a --help output lists, by name: a line "  --name..." and the lines indented
// further under it.
std::map<std::string, ListedFlag> ListedFlags(const std::string& help) {
  std::map<std::string, ListedFlag> flags;
  ListedFlag* current = nullptr;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::StartsWith(line, "  --")) {
      absl::string_view name = line.substr(4);
      name = name.substr(0, name.find_first_of("= "));
      current = &flags[std::string(name)];
      current->header = std::string(line);
    } else if (current != nullptr && absl::StartsWith(line, "      ")) {
      absl::StrAppend(&current->help, current->help.empty() ? "" : " ",
                      absl::StripAsciiWhitespace(line));
    } else {
      current = nullptr;
    }
  }
  return flags;
}

std::set<std::string> Names(const std::map<std::string, ListedFlag>& flags) {
  std::set<std::string> names;
  for (const auto& [name, flag] : flags) names.insert(name);
  return names;
}

CliRun RunBinary(const std::string& binary, const std::vector<std::string>& args,
           absl::Duration timeout = testing::kCliTimeout) {
  std::vector<std::string> argv = {BinaryPath(binary)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", timeout);
}

// The help of `binary` (--help, exit 0 asserted by the caller through `run`).
std::map<std::string, ListedFlag> HelpOf(const std::string& binary,
                                         const std::vector<std::string>& args = {"--help"}) {
  const CliRun run = RunBinary(binary, args);
  EXPECT_EQ(run.exit_code, 0) << binary << " " << absl::StrJoin(args, " ") << ": " << run.err;
  return ListedFlags(run.out);
}

// ---- --help of every binary -------------------------------------------------------------

struct BinaryCase {
  std::string binary;
  // The files whose ABSL_FLAGs the binary defines.
  std::vector<std::string> sources;
};

class HelpTest : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(HelpTest, Help_AnyBinary_ExitsZeroListingEveryFlagWithDefaultAndMeaning) {
  const BinaryCase& binary = GetParam();
  const CliRun run = RunBinary(binary.binary, {"--help"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_THAT(run.out, StartsWith(absl::StrCat("Usage: ", binary.binary)));

  std::set<std::string> expected = DefinedFlagsIn(binary.sources);
  ASSERT_FALSE(expected.empty());
  expected.insert("help");
  const std::map<std::string, ListedFlag> listed = ListedFlags(run.out);
  EXPECT_THAT(Names(listed), ContainerEq(expected)) << run.out;
  for (const auto& [name, flag] : listed) {
    if (name != "help") {
      EXPECT_THAT(flag.header, HasSubstr(" (default ")) << name;
    }
    EXPECT_FALSE(flag.help.empty()) << "--" << name << " has no meaning in:\n" << run.out;
  }
}

TEST_P(HelpTest, ShortHelp_AnyBinary_PrintsTheSameHelp) {
  const BinaryCase& binary = GetParam();
  const CliRun help = RunBinary(binary.binary, {"--help"});
  const CliRun short_help = RunBinary(binary.binary, {"-h"});
  ASSERT_EQ(short_help.exit_code, 0) << short_help.err;
  EXPECT_EQ(short_help.out, help.out);
}

INSTANTIATE_TEST_SUITE_P(
    Binaries, HelpTest,
    ::testing::Values(
        BinaryCase{"gpool-coordinator", {"server/main.cc"}},
        BinaryCase{"gpool-worker", {"worker/worker_main.cc", "worker/main.cc"}},
        BinaryCase{"gpool-worker-custom",
                   {"worker/worker_main.cc", "examples/custom_function/main.cc"}},
        BinaryCase{"gpool", {"client/main.cc"}}),
    [](const ::testing::TestParamInfo<BinaryCase>& info) {
      std::string name = info.param.binary;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(HelpDefaultsTest, Help_Daemons_ShowTheDefaultsTheyRunWith) {
  const std::map<std::string, ListedFlag> coordinator = HelpOf("gpool-coordinator");
  EXPECT_EQ(coordinator.at("listen").header, "  --listen=STRING (default \"127.0.0.1:50051\")");
  EXPECT_EQ(coordinator.at("worker_wait").header, "  --worker_wait=DURATION (default 10s)");
  EXPECT_EQ(coordinator.at("max_attempts").header, "  --max_attempts=INT (default 4)");
  const std::map<std::string, ListedFlag> worker = HelpOf("gpool-worker");
  EXPECT_EQ(worker.at("listen").header, "  --listen=STRING (default \"127.0.0.1:0\")");
  EXPECT_EQ(worker.at("slots").header, "  --slots=INT (default 1)");
  EXPECT_EQ(worker.at("shared_values").header, "  --shared_values (default true)");
  const std::map<std::string, ListedFlag> cli = HelpOf("gpool");
  // --reduce's default depends on the output type, so its help names it for each.
  EXPECT_EQ(cli.at("reduce").header, "  --reduce=STRING (default \"\")");
  EXPECT_THAT(cli.at("reduce").help, HasSubstr("Default: sum for numbers, count for strings"));
  EXPECT_EQ(cli.at("connect_timeout").header, "  --connect_timeout=DURATION (default 5s)");
}

// Every flag defined anywhere in the shipped code is listed by some binary's --help: a flag
// in a library (not a main file) cannot hide either.
TEST(HelpDefaultsTest, Help_EveryFlagInTheSources_IsListedBySomeBinary) {
  std::set<std::string> defined;
  for (const char* folder : {"common", "server", "worker", "client", "examples"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             std::filesystem::path(kSourceDir) / folder)) {
      if (entry.path().extension() != ".cc") continue;
      const std::set<std::string> in_file = DefinedFlags(ReadFile(entry.path().string()));
      defined.insert(in_file.begin(), in_file.end());
    }
  }
  ASSERT_FALSE(defined.empty());
  std::set<std::string> listed;
  for (const char* binary : {"gpool-coordinator", "gpool-worker", "gpool-worker-custom", "gpool"}) {
    const std::set<std::string> names = Names(HelpOf(binary));
    listed.insert(names.begin(), names.end());
  }
  for (const std::string& name : defined) {
    EXPECT_TRUE(listed.count(name) > 0) << "--" << name << " is in no binary's --help";
  }
}

// ---- gpool COMMAND --help ---------------------------------------------------------------

struct CommandCase {
  std::string command;
  std::set<std::string> flags;
};

class CommandHelpTest : public ::testing::TestWithParam<CommandCase> {};

TEST_P(CommandHelpTest, CommandHelp_AnyCommand_ExitsZeroListingItsFlagsWithDefaults) {
  const CommandCase& command = GetParam();
  const CliRun run = RunBinary("gpool", {command.command, "--help"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_THAT(run.out, StartsWith("Usage: gpool "));
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat(" ", command.command, " ")));
  std::set<std::string> expected = command.flags;
  expected.insert("help");
  const std::map<std::string, ListedFlag> listed = ListedFlags(run.out);
  EXPECT_THAT(Names(listed), ContainerEq(expected)) << run.out;
  for (const auto& [name, flag] : listed) {
    if (name != "help") {
      EXPECT_THAT(flag.header, HasSubstr(" (default ")) << name;
    }
    EXPECT_FALSE(flag.help.empty()) << name;
  }
}

TEST_P(CommandHelpTest, HelpCommand_AnyCommand_PrintsTheCommandsHelp) {
  const CommandCase& command = GetParam();
  const CliRun flag = RunBinary("gpool", {command.command, "--help"});
  const CliRun help = RunBinary("gpool", {"help", command.command});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(help.out, flag.out);
}

INSTANTIATE_TEST_SUITE_P(
    Commands, CommandHelpTest,
    ::testing::Values(
        CommandCase{"map",
                    {"coordinator", "values", "input", "type", "processes", "chunksize", "verify",
                     "reduce", "print", "trace", "json", "stats", "progress", "quiet", "shared_values",
                     "timeout", "connect_timeout", "reconnect_timeout", "credentials"}},
        CommandCase{"info", {"coordinator", "processes", "connect_timeout", "credentials"}},
        CommandCase{"status",
                    {"coordinator", "json", "watch", "watch_interval", "watch_count",
                     "processes", "connect_timeout", "credentials"}},
        CommandCase{"health", {"connect_timeout", "credentials"}},
        CommandCase{"init", {"host"}}),
    [](const ::testing::TestParamInfo<CommandCase>& info) { return info.param.command; });

// Every flag of the CLI is some command's: none is reachable only through the general help.
TEST(CommandHelpCoverageTest, CommandHelp_EveryCliFlag_IsListedBySomeCommand) {
  std::set<std::string> listed;
  for (const char* command : {"map", "info", "status", "health", "init"}) {
    const std::set<std::string> names = Names(HelpOf("gpool", {command, "--help"}));
    listed.insert(names.begin(), names.end());
  }
  std::set<std::string> expected = DefinedFlagsIn({"client/main.cc"});
  expected.insert("help");
  EXPECT_THAT(listed, ContainerEq(expected));
}

TEST(CommandHelpCoverageTest, HelpCommand_Alone_PrintsTheGeneralHelp) {
  const CliRun flag = RunBinary("gpool", {"--help"});
  const CliRun help = RunBinary("gpool", {"help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(help.out, flag.out);
  EXPECT_THAT(help.out, AllOf(HasSubstr("map FUNCTION A..B"), HasSubstr("status"),
                              HasSubstr("health HOST:PORT")));
}

// ---- Usage errors -----------------------------------------------------------------------

struct UsageErrorCase {
  std::string label;
  std::string binary;
  std::vector<std::string> args;
  std::string message;       // part of the error
  std::string help_command;  // what the line says to run
};

class UsageErrorTest : public ::testing::TestWithParam<UsageErrorCase> {
 protected:
  // A worker without --coordinator falls back to $GPOOL_COORDINATOR.
  void SetUp() override { unsetenv("GPOOL_COORDINATOR"); }
};

TEST_P(UsageErrorTest, UsageError_AnyBinary_ExitsTwoWithOneLinePointingToHelp) {
  const UsageErrorCase& error = GetParam();
  const CliRun run = RunBinary(error.binary, error.args, kUsageTimeout);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_THAT(run.err, AllOf(StartsWith(absl::StrCat(error.binary, ": error: ")),
                             HasSubstr(error.message),
                             EndsWith(absl::StrCat("; run '", error.help_command,
                                                   "' for usage\n"))));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UsageErrorTest,
    ::testing::Values(
        UsageErrorCase{"coordinator_unknown_flag", "gpool-coordinator",
                       {"--lissten=127.0.0.1:0"},
                       "unknown flag --lissten (did you mean --listen?)",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_bad_value", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "--max_attempts=abc"},
                       "bad value 'abc' for --max_attempts: expected an integer",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_value_out_of_range", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "--max_attempts=0"},
                       "--max_attempts must be at least 1, got 0", "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_stall_timeout_zero", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "--client_stall_timeout=0s"},
                       "--client_stall_timeout must be positive, got 0",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_call_over_message_limit", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "--max_elements_per_call=300000"},
                       "--max_elements_per_call must be at most 262144 (a call's values must "
                       "fit a worker's 4 MiB answer), got 300000",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_lease_within_heartbeat", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "--lease_timeout=100ms"},
                       "--lease_timeout (100ms) must be longer than --heartbeat_interval (500ms)",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_bad_listen", "gpool-coordinator", {"--listen=nowhere"},
                       "--listen: address 'nowhere' is not HOST:PORT",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_argument", "gpool-coordinator",
                       {"--listen=127.0.0.1:0", "serve"}, "unexpected argument 'serve'",
                       "gpool-coordinator --help"},
        UsageErrorCase{"coordinator_missing_value", "gpool-coordinator", {"--listen"},
                       "flag --listen needs a value", "gpool-coordinator --help"},
        UsageErrorCase{"worker_unknown_flag", "gpool-worker",
                       {"--cordinator=127.0.0.1:1", "--listen=127.0.0.1:0"},
                       "unknown flag --cordinator (did you mean --coordinator?)",
                       "gpool-worker --help"},
        UsageErrorCase{"worker_bad_value", "gpool-worker",
                       {"--coordinator=127.0.0.1:1", "--listen=127.0.0.1:0", "--slots=abc"},
                       "bad value 'abc' for --slots: expected an integer", "gpool-worker --help"},
        UsageErrorCase{"worker_no_slots", "gpool-worker",
                       {"--coordinator=127.0.0.1:1", "--listen=127.0.0.1:0", "--slots=0"},
                       "--slots must be 1 to 4096, got 0", "gpool-worker --help"},
        UsageErrorCase{"worker_too_many_slots", "gpool-worker",
                       {"--coordinator=127.0.0.1:1", "--listen=127.0.0.1:0",
                        "--slots=2147483647"},
                       "--slots must be 1 to 4096, got 2147483647", "gpool-worker --help"},
        UsageErrorCase{"worker_bad_log_level", "gpool-worker",
                       {"--coordinator=127.0.0.1:1", "--listen=127.0.0.1:0",
                        "--log_level=loud"},
                       "--log_level: unknown log level 'loud'", "gpool-worker --help"},
        UsageErrorCase{"worker_no_coordinator", "gpool-worker", {"--listen=127.0.0.1:0"},
                       "no coordinator: pass --coordinator HOST:PORT or set GPOOL_COORDINATOR",
                       "gpool-worker --help"},
        UsageErrorCase{"custom_worker_unknown_flag", "gpool-worker-custom",
                       {"--coordinator=127.0.0.1:1", "--listen=127.0.0.1:0", "--bogus"},
                       "unknown flag --bogus", "gpool-worker-custom --help"},
        UsageErrorCase{"cli_unknown_flag", "gpool", {"--bogus", "info"},
                       "unknown flag --bogus", "gpool --help"},
        UsageErrorCase{"cli_unknown_command", "gpool", {"frobnicate"},
                       "unknown command 'frobnicate' (use map, info, status, health, init)",
                       "gpool --help"},
        UsageErrorCase{"cli_no_command", "gpool", {}, "no command given", "gpool --help"},
        UsageErrorCase{"cli_bad_value", "gpool", {"map", "square", "1..3", "--processes=abc"},
                       "bad value 'abc' for --processes: expected an integer", "gpool --help"},
        UsageErrorCase{"cli_help_unknown_command", "gpool", {"help", "frobnicate"},
                       "unknown command 'frobnicate'", "gpool --help"},
        UsageErrorCase{"cli_map_without_inputs", "gpool", {"map"}, "map needs a function",
                       "gpool map --help"}),
    [](const ::testing::TestParamInfo<UsageErrorCase>& info) { return info.param.label; });

// ---- Hints name real values -------------------------------------------------------------

// A coordinator on a loopback port with a short --worker_wait and no worker at all.
class LonelyCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string port_file = dir_.path() + "/coordinator.port";
    spawn_.stderr_path = dir_.path() + "/coordinator.log";
    absl::StatusOr<pid_t> pid =
        SpawnProcess({BinaryPath("gpool-coordinator"), "--listen=127.0.0.1:0",
                      "--port_file=" + port_file, "--worker_wait=1s"},
                     spawn_);
    ASSERT_OK(pid.status());
    pid_ = *pid;
    absl::StatusOr<std::string> port = WaitForFileLine(port_file, absl::Seconds(30), pid_);
    ASSERT_OK(port.status()) << ReadFile(spawn_.stderr_path);
    address_ = absl::StrCat("127.0.0.1:", *port);
  }

  void TearDown() override {
    if (pid_ > 0) {
      absl::StatusOr<int> exit_code = StopProcess(pid_, absl::Seconds(10));
      ASSERT_OK(exit_code.status());
      EXPECT_EQ(*exit_code, 0) << ReadFile(spawn_.stderr_path);
    }
  }

  TempDir dir_;
  SpawnOptions spawn_;
  pid_t pid_ = 0;
  std::string address_;
};

TEST_F(LonelyCoordinatorTest, Map_NoWorkerWithinWorkerWait_HintNamesTheCoordinatorsAddress) {
  const CliRun run = RunBinary("gpool", {"--coordinator=" + address_, "map", "square", "1..10"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err,
              AllOf(HasSubstr("no worker offering 'square' was available for 1s"),
                    HasSubstr(absl::StrCat("start workers with: gpool-worker --coordinator ",
                                           address_, " (UNAVAILABLE)")),
                    Not(HasSubstr("<"))));
}

TEST_F(LonelyCoordinatorTest, Start_Listening_LogsTheWorkerCommandWithItsAddress) {
  // Logged just after the port file is written.
  const std::string line =
      absl::StrCat("start workers with: gpool-worker --coordinator ", address_, "\n");
  EXPECT_TRUE(WaitUntil(
      [&] { return absl::StrContains(ReadFile(spawn_.stderr_path), line); }, absl::Seconds(30)))
      << ReadFile(spawn_.stderr_path);
}

// ---- The README agrees with the binaries ------------------------------------------------

// Names of the flags in `text`: every "--name" ("--name=...", "`--name X`").
std::set<std::string> FlagsMentioned(absl::string_view text) {
  std::set<std::string> names;
  size_t at = 0;
  while ((at = text.find("--", at)) != absl::string_view::npos) {
    at += 2;
    size_t end = at;
    while (end < text.size() && (absl::ascii_isalnum(text[end]) || text[end] == '_')) ++end;
    if (end > at && absl::ascii_isalpha(text[at])) names.emplace(text.substr(at, end - at));
    at = end;
  }
  return names;
}

// The rows of the README's table of daemon flags: flag names -> "both", "worker" or
// "coordinator".
std::map<std::string, std::string> ReadmeDaemonFlags(const std::string& readme) {
  std::map<std::string, std::string> flags;
  bool in_table = false;
  for (absl::string_view line : absl::StrSplit(readme, '\n')) {
    if (absl::StartsWith(line, "| flag | daemon |")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (!absl::StartsWith(line, "|")) break;
    const std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 3 || absl::StartsWith(cells[1], "---")) continue;
    for (const std::string& name : FlagsMentioned(cells[1])) {
      flags[name] = std::string(absl::StripAsciiWhitespace(cells[2]));
    }
  }
  return flags;
}

TEST(ReadmeTest, DaemonFlagTable_EveryFlagIsInItsDaemonsHelp) {
  const std::map<std::string, std::string> table = ReadmeDaemonFlags(Source("README.md"));
  ASSERT_GE(table.size(), 10u);
  const std::map<std::string, ListedFlag> coordinator = HelpOf("gpool-coordinator");
  const std::map<std::string, ListedFlag> worker = HelpOf("gpool-worker");
  for (const auto& [name, daemon] : table) {
    ASSERT_THAT(daemon, ::testing::AnyOf("both", "worker", "coordinator")) << name;
    if (daemon != "worker") {
      EXPECT_TRUE(coordinator.count(name) > 0) << "--" << name << " is not gpool-coordinator's";
    }
    if (daemon != "coordinator") {
      EXPECT_TRUE(worker.count(name) > 0) << "--" << name << " is not gpool-worker's";
    }
  }
}

TEST(ReadmeTest, DaemonFlagTable_ListsEveryDaemonFlagButFaultInjection) {
  const std::map<std::string, std::string> table = ReadmeDaemonFlags(Source("README.md"));
  for (const char* binary : {"gpool-coordinator", "gpool-worker"}) {
    for (const auto& [name, flag] : HelpOf(binary)) {
      if (name == "help" || absl::StartsWith(flag.help, "Fault injection for tests")) continue;
      EXPECT_TRUE(table.count(name) > 0) << binary << " --" << name
                                         << " is missing from the README's flag table";
    }
  }
}

TEST(ReadmeTest, CliSection_EveryFlagIsInGpoolsHelp) {
  const std::string readme = Source("README.md");
  const size_t begin = readme.find("\n## The CLI\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = readme.find("\n## ", begin + 1);
  const std::set<std::string> mentioned =
      FlagsMentioned(absl::string_view(readme).substr(begin, end - begin));
  ASSERT_FALSE(mentioned.empty());
  const std::map<std::string, ListedFlag> cli = HelpOf("gpool");
  for (const std::string& name : mentioned) {
    EXPECT_TRUE(cli.count(name) > 0) << "--" << name << " is not in gpool --help";
  }
}

}  // namespace
}  // namespace gpool
