// The command lines of gpool's binaries, over Abseil's flag registry but not its parser:
// absl::ParseCommandLine exits 1 on a usage error, prints it on two lines, and its --help
// lists only the flags of the file it takes for main (gpool-coordinator's said "No flags
// matched"). Here --help lists every flag the program defines, with its default and meaning,
// and exits 0; every usage error is one line pointing to --help and exit 2.
//
// The flags are the program's own (ABSL_FLAG anywhere in it, but not Abseil's --flagfile
// and friends, which gpool does not offer). Not thread-safe: call from main, before threads.
#ifndef GPOOL_COMMON_COMMAND_LINE_H_
#define GPOOL_COMMON_COMMAND_LINE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

// The exit code of a usage error (unknown flag or command, bad flag value), for every binary.
inline constexpr int kExitUsage = 2;

struct CommandLine {
  // The arguments that are not flags, in order, without argv[0]. An argument that starts
  // with '-' but not with a letter after its dashes ("-5..5", "-7") is one: flag names start
  // with a letter. Everything after "--" is one too.
  std::vector<std::string> positional;
  // --help or -h was given.
  bool help = false;
};

// Sets the flags named in argv[1..] (--name=value, --name value, -name..., --bool, --nobool)
// and returns the rest. A list flag (std::vector<std::string>) takes comma-separated values,
// and given again adds to its list (--host a --host b is --host a,b). INVALID_ARGUMENT with a message naming the flag for an unknown flag
// (with the closest known name when one is near), a missing value, or a value that does not
// parse (naming the value and what was expected). Stops at the first error.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);

// The program's flags by name; not Abseil's own.
std::vector<const absl::CommandLineFlag*> ProgramFlags();

// Help for `flags`, in that order, then for --help: for each, a line
// "  --name=TYPE (default D)" (strings quoted; "  --name (default false)" for a bool), then
// its help text wrapped and indented.
std::string FlagsHelp(const std::vector<const absl::CommandLineFlag*>& flags);

// "<program>: error: <message>; run '<help_command>' for usage", without a newline.
std::string UsageErrorLine(absl::string_view program, absl::string_view message,
                           absl::string_view help_command);

// The file name of argv[0] ("gpool-worker" for "build/bin/gpool-worker"); `fallback` when
// argv[0] is missing or empty.
std::string ProgramName(int argc, char** argv, absl::string_view fallback);

// For a daemon's main, which takes flags only. Parses the command line; returns nothing when
// the program should go on, or the exit code when it should stop now: 0 after --help
// (`usage`, then every flag and --help, printed on stdout), kExitUsage after a usage error
// (one line on stderr; a positional argument is one).
std::optional<int> ParseDaemonCommandLine(absl::string_view program, absl::string_view usage,
                                          int argc, char** argv);

}  // namespace gpool

#endif  // GPOOL_COMMON_COMMAND_LINE_H_
