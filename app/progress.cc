#include "app/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mailvault {

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, bool unit_bytes)
    : label_(std::move(label)), total_(total), unit_bytes_(unit_bytes), enabled_(::isatty(2) == 1) {}

ProgressBar::~ProgressBar() { Done(); }

void ProgressBar::Update(uint64_t done, const std::string& note) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  auto fmt = [&](uint64_t n) { return unit_bytes_ ? FormatBytes(n) : std::to_string(n); };
  std::string line = "\r" + label_ + " ";
  if (total_ > 0) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * std::min<double>(1.0, static_cast<double>(done) / total_));
    line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " + fmt(done) +
            " / " + fmt(total_);
  } else {
    line += fmt(done);
  }
  if (!note.empty()) line += "  " + note;
  line += "\x1b[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressBar::Done() {
  if (enabled_ && drawn_) {
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace mailvault
