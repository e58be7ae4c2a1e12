// Process-wide logging: leveled lines to a replaceable sink (stderr by default).
// Thread-safe. Never pass secrets (passwords, keys) to it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailvault {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

std::string_view LogLevelName(LogLevel level);

// Parses "debug", "info", "warning"/"warn", "error". False on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Where lines go. The sink receives the level and the message without the
// timestamp; the default sink writes "2026-11-22T02:00:00Z warning: message\n"
// to stderr. An empty function restores the default. Returns the previous sink.
using LogSink = std::function<void(LogLevel, std::string_view)>;
LogSink SetLogSink(LogSink sink);

void Log(LogLevel level, std::string_view message);

// "2026-11-22T02:00:00Z warning: message\n", the form every sink writes.
std::string FormatLogLine(LogLevel level, std::string_view message);

// Sends every later line to the file at `path` (created 0640 if missing,
// appended to, flushed per line) instead of stderr. Errors name the path.
Status LogToFile(const std::string& path);

inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace mailvault
