#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include "base/file.h"

namespace mailvault {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_mutex;
LogSink& Sink() {
  static LogSink sink;
  return sink;
}

void WriteToStderr(LogLevel level, std::string_view message) {
  std::string line = FormatLogLine(level, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warning" || text == "warn") *level = LogLevel::kWarning;
  else if (text == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

std::string FormatLogLine(LogLevel level, std::string_view message) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(stamp) + " " + std::string(LogLevelName(level)) + ": " +
         std::string(message) + "\n";
}

Status LogToFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoToStatus(errno, "cannot open the log file " + path);
  // Shared by every copy of the sink; closed when the last one goes.
  auto file = std::make_shared<UniqueFd>(fd);
  SetLogSink([file](LogLevel level, std::string_view message) {
    std::string line = FormatLogLine(level, message);
    // One write() per line: O_APPEND keeps lines whole, also with logrotate's copies.
    (void)!::write(file->get(), line.data(), line.size());
  });
  return Status::Ok();
}

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

LogSink SetLogSink(LogSink sink) {
  std::lock_guard lock(g_mutex);
  LogSink previous = std::move(Sink());
  Sink() = std::move(sink);
  return previous;
}

void Log(LogLevel level, std::string_view message) {
  if (level < g_level.load()) return;
  std::lock_guard lock(g_mutex);
  if (Sink()) {
    Sink()(level, message);
  } else {
    WriteToStderr(level, message);
  }
}

}  // namespace mailvault
