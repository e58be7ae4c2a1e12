// CronExpression: when a scheduled collection fires.
//
// Grammar (the classic five-field crontab line, case-insensitive names):
//
//   expression := field{5} | "@hourly" | "@daily" | "@midnight" | "@weekly"
//                 | "@monthly" | "@yearly" | "@annually"
//   fields     := minute(0-59) hour(0-23) day-of-month(1-31) month(1-12|JAN-DEC)
//                 day-of-week(0-7|SUN-SAT; 0 and 7 are both Sunday)
//   field      := item ("," item)*
//   item       := ("*" | value | value "-" value) ["/" step]
//
// `value/step` means value-max/step (as cronie does). The day rule is the
// standard one: when both day-of-month and day-of-week are restricted (neither
// field starts with "*"), a day matches if either matches; otherwise both must.
// An expression that can never fire (e.g. "0 0 31 2 *") is refused at parse time.
//
// Evaluation is in local civil time of a TimeZone; each matching civil minute
// ("slot") fires once, at its earliest instant:
//  - a slot skipped by a DST gap (02:30 on the spring-forward night in Europe)
//    fires at the end of the gap (03:00 new time); several skipped slots
//    collapse into that one firing;
//  - a slot repeated by a DST overlap (01:30 on the fall-back night in New
//    York) fires once, at its first occurrence; the repeated hour does not
//    fire again.
//
// Thread-safety: an immutable value; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "collector/schedule/timezone.h"

namespace mailvault {

class CronExpression {
 public:
  // Parses `text`. Errors (kInvalidArgument) name the field and what was wrong:
  //   cron "0 25 * * *": hour: 25 is out of range 0-23
  static Result<CronExpression> Parse(std::string_view text);

  // The expression as written (trimmed).
  const std::string& text() const { return text_; }

  // The first firing strictly after `after`, evaluated in `zone` (see the DST
  // rules above). Always found for a parsed expression; the Result guards the
  // search bound (kInternal if no firing within 9 years).
  Result<TimePoint> NextFireAfter(TimePoint after, const TimeZone& zone) const;

  // Whether the civil time matches (seconds ignored). For tests and display.
  bool Matches(const CivilTime& civil) const;

 private:
  CronExpression() = default;
  bool DayMatches(int year, int month, int day) const;

  std::string text_;
  uint64_t minutes_ = 0;    // bit m for minute m
  uint32_t hours_ = 0;      // bit h
  uint32_t days_ = 0;       // bit d, 1..31
  uint32_t months_ = 0;     // bit m, 1..12
  uint32_t weekdays_ = 0;   // bit d, 0..6 (Sunday = 0)
  bool days_star_ = false;  // day-of-month field starts with "*"
  bool weekdays_star_ = false;
};

}  // namespace mailvault
