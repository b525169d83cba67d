// Minimal leveled logging to stderr (Abseil 20220623 has no absl/log). One line per event:
//   2026-11-25T10:00:00.123Z I coordinator: worker w1 registered ...
#ifndef GPOOL_COMMON_LOG_H_
#define GPOOL_COMMON_LOG_H_

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace gpool {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

// Both are meant to be set once at start-up, before other threads log.
void SetLogLevel(LogLevel level);
void SetLogComponent(absl::string_view component);

void Log(LogLevel level, absl::string_view message);
inline void LogDebug(absl::string_view message) { Log(LogLevel::kDebug, message); }
inline void LogInfo(absl::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogLevel::kError, message); }

}  // namespace gpool

#endif  // GPOOL_COMMON_LOG_H_
