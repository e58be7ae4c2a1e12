// Helpers for the schedule tests: readable instants.
#pragma once

#include <cstdio>
#include <string>

#include "collector/schedule/timezone.h"

namespace mailvault::testing {

// "2024-03-31 01:00" or "2024-03-31 01:00:30", read as UTC.
inline TimePoint Utc(const std::string& text) {
  CivilTime c;
  int n = std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &c.year, &c.month, &c.day, &c.hour,
                      &c.minute, &c.second);
  if (n < 5) std::abort();
  return TimePoint(std::chrono::seconds(CivilToSeconds(c)));
}

inline std::string UtcString(TimePoint t) {
  return SecondsToCivil(
             std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count())
      .ToString();
}

inline int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace mailvault::testing
