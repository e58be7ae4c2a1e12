// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mailvault {

class ProgressBar {
 public:
  // `total` 0 means unknown (a counter without a bar). `unit_bytes` formats numbers as sizes.
  ProgressBar(std::string label, uint64_t total, bool unit_bytes);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Redraws at most ten times a second; `note` is shown after the numbers.
  void Update(uint64_t done, const std::string& note = "");
  // Clears the line.
  void Done();

 private:
  std::string label_;
  uint64_t total_;
  bool unit_bytes_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// "12.3 MB"
std::string FormatBytes(uint64_t bytes);

}  // namespace mailvault
