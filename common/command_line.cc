#include "common/command_line.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace gpool {
namespace {

constexpr size_t kHelpWidth = 80;
constexpr absl::string_view kHelpIndent = "      ";

// Abseil defines --flagfile, --fromenv and the like in its own sources; gpool's parser does
// not implement them, so they are neither listed nor accepted.
bool IsAbseilFlag(const absl::CommandLineFlag& flag) {
  return absl::StrContains(flag.Filename(), "absl/flags/");
}

absl::CommandLineFlag* FindProgramFlag(absl::string_view name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr || flag->IsRetired() || IsAbseilFlag(*flag)) return nullptr;
  return flag;
}

// Placeholder of the value in "--name=TYPE"; empty for a bool, which needs none.
std::string TypeName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) return "INT";
  if (flag.IsOfType<double>()) return "NUMBER";
  if (flag.IsOfType<absl::Duration>()) return "DURATION";
  if (flag.IsOfType<std::string>()) return "STRING";
  if (flag.IsOfType<std::vector<std::string>>()) return "LIST";
  return "VALUE";
}

// What a value of the flag's type looks like, for the error about a value that does not
// parse (Abseil's own says only "Illegal value"); empty for a string, which any value is.
std::string Expected(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<int>()) {
    return absl::StrCat("an integer from ", std::numeric_limits<int>::min(), " to ",
                        std::numeric_limits<int>::max());
  }
  if (flag.IsOfType<int64_t>()) return "an integer";
  if (flag.IsOfType<double>()) return "a number";
  if (flag.IsOfType<absl::Duration>()) return "a duration such as 500ms, 10s, 2m or 1h";
  return "";
}

std::string DefaultText(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<std::string>() || flag.IsOfType<std::vector<std::string>>()) {
    return absl::StrCat("\"", flag.DefaultValue(), "\"");
  }
  return flag.DefaultValue();
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean --listen?)" when a flag's name is a typo or two away from `name`.
std::string Suggestion(absl::string_view name) {
  const absl::CommandLineFlag* best = nullptr;
  size_t best_distance = 3;
  for (const absl::CommandLineFlag* flag : ProgramFlags()) {
    const size_t distance = EditDistance(name, flag->Name());
    if (distance < best_distance) {
      best = flag;
      best_distance = distance;
    }
  }
  if (best == nullptr) return "";
  return absl::StrCat(" (did you mean --", best->Name(), "?)");
}

// `text` in lines of at most kHelpWidth columns, each indented.
std::string Wrap(absl::string_view text) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && kHelpIndent.size() + line.size() + 1 + word.size() > kHelpWidth) {
      absl::StrAppend(&out, kHelpIndent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, kHelpIndent, line, "\n");
  return out;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  CommandLine command_line;
  bool flags_ended = false;
  // List flags given so far: a list flag given again adds to its list.
  std::vector<absl::string_view> lists_given;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (flags_ended) {
      command_line.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    absl::string_view body = arg;
    if (absl::ConsumePrefix(&body, "-")) absl::ConsumePrefix(&body, "-");
    // "-" (stdin), "-5..5", "-7": not flags.
    if (body.size() == arg.size() || body.empty() ||
        !std::isalpha(static_cast<unsigned char>(body[0]))) {
      command_line.positional.emplace_back(arg);
      continue;
    }
    const size_t equals = body.find('=');
    const absl::string_view name = body.substr(0, equals);
    const bool has_value = equals != absl::string_view::npos;
    if (name == "help" || name == "h") {
      if (has_value) return absl::InvalidArgumentError("flag --help takes no value");
      command_line.help = true;
      continue;
    }
    absl::CommandLineFlag* flag = FindProgramFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = FindProgramFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        // "false" always parses as a bool.
        std::string ignored;
        negated->ParseFrom("false", &ignored);
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, Suggestion(name)));
    }
    std::string value;
    if (has_value) {
      value = std::string(body.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      const std::string expected = Expected(*flag);
      return absl::InvalidArgumentError(absl::StrCat(
          "flag --", name, " needs a value", expected.empty() ? "" : " (", expected,
          expected.empty() ? "" : ")"));
    }
    if (flag->IsOfType<std::vector<std::string>>()) {
      if (std::find(lists_given.begin(), lists_given.end(), flag->Name()) != lists_given.end()) {
        value = absl::StrCat(flag->CurrentValue(), ",", value);
      } else {
        lists_given.push_back(flag->Name());
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      const std::string expected = Expected(*flag);
      return absl::InvalidArgumentError(absl::StrCat("bad value '", value, "' for --", name,
                                                     expected.empty() ? "" : ": expected ",
                                                     expected));
    }
  }
  return command_line;
}

std::vector<const absl::CommandLineFlag*> ProgramFlags() {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && !IsAbseilFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const absl::CommandLineFlag* a, const absl::CommandLineFlag* b) {
              return a->Name() < b->Name();
            });
  return flags;
}

std::string FlagsHelp(const std::vector<const absl::CommandLineFlag*>& flags) {
  std::string out;
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string type = TypeName(*flag);
    absl::StrAppend(&out, "  --", flag->Name(), type.empty() ? "" : "=", type, " (default ",
                    DefaultText(*flag), ")\n", Wrap(flag->Help()));
  }
  absl::StrAppend(&out, "  --help\n", Wrap("Print this help and exit."));
  return out;
}

std::string UsageErrorLine(absl::string_view program, absl::string_view message,
                           absl::string_view help_command) {
  return absl::StrCat(program, ": error: ", message, "; run '", help_command, "' for usage");
}

std::string ProgramName(int argc, char** argv, absl::string_view fallback) {
  if (argc < 1 || argv[0] == nullptr || argv[0][0] == '\0') return std::string(fallback);
  const absl::string_view path = argv[0];
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

std::optional<int> ParseDaemonCommandLine(absl::string_view program, absl::string_view usage,
                                          int argc, char** argv) {
  const std::string help_command = absl::StrCat(program, " --help");
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(argc, argv);
  if (command_line.ok() && !command_line->help && !command_line->positional.empty()) {
    command_line = absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", command_line->positional.front(), "' (it takes flags only)"));
  }
  if (!command_line.ok()) {
    std::fprintf(stderr, "%s\n",
                 UsageErrorLine(program, command_line.status().message(), help_command).c_str());
    return kExitUsage;
  }
  if (command_line->help) {
    std::printf("%s\n\nFlags:\n%s", std::string(usage).c_str(),
                FlagsHelp(ProgramFlags()).c_str());
    return 0;
  }
  return std::nullopt;
}

}  // namespace gpool
