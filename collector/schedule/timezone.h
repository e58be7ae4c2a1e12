// TimeZone: civil (wall-clock) time in a named zone of the TZ database.
//
// The conversions go through the C library (localtime_r with tm_gmtoff), which
// reads the system's TZ database (/usr/share/zoneinfo, or $TZDIR). glibc only
// evaluates the zone named by the process's TZ variable, so a conversion in a
// named zone switches TZ for its duration and restores it afterwards, all under
// one process-wide mutex.
//
// Thread-safety: TimeZone is an immutable value; its methods may be called from
// any thread. While a ZoneSession is open, the process's TZ variable names the
// session's zone: other code in this process that calls localtime()/mktime()
// outside this class may see that zone meanwhile (mailvault logs in UTC, so it
// does not). A ZoneSession must not be opened while the same thread holds one.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

using TimePoint = std::chrono::system_clock::time_point;

// A wall-clock reading: no zone, no offset. Ordered chronologically as civil time.
struct CivilTime {
  int year = 1970;
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int hour = 0;    // 0..23
  int minute = 0;  // 0..59
  int second = 0;  // 0..59

  auto operator<=>(const CivilTime&) const = default;
  // "2024-03-31 02:30:00"
  std::string ToString() const;
};

// Seconds of `civil` as if it were UTC (a plain calendar count; no zone involved).
int64_t CivilToSeconds(const CivilTime& civil);
CivilTime SecondsToCivil(int64_t seconds);
// 0 = Sunday .. 6 = Saturday.
int DayOfWeek(int year, int month, int day);
int DaysInMonth(int year, int month);

class TimeZone {
 public:
  // `name` is a TZ database name ("Europe/Berlin", "America/New_York", "UTC").
  // An empty name means the system's local zone (the TZ variable when the
  // process started, else /etc/localtime). Errors: kInvalidArgument for a
  // malformed name, kNotFound when the TZ database has no such zone.
  static Result<TimeZone> Load(std::string_view name);
  static TimeZone Utc();
  static TimeZone Local();

  // The name as given; empty for the system's local zone.
  const std::string& name() const { return name_; }
  // "Europe/Berlin", or "local" for the system zone.
  std::string DisplayName() const { return name_.empty() ? "local" : name_; }

  // Conveniences that open a ZoneSession for one conversion.
  CivilTime ToCivil(TimePoint t) const;
  std::vector<TimePoint> FromCivil(const CivilTime& civil) const;

 private:
  explicit TimeZone(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// Converts in one zone, holding the process-wide zone lock while it exists.
// Open one for a batch of conversions (next-fire searches) to switch TZ once.
class ZoneSession {
 public:
  explicit ZoneSession(const TimeZone& zone);
  ~ZoneSession();
  ZoneSession(const ZoneSession&) = delete;
  ZoneSession& operator=(const ZoneSession&) = delete;

  // The wall-clock reading at instant `t` (seconds precision).
  CivilTime ToCivil(TimePoint t) const;
  // UTC offset in seconds in force at `t` (east positive: +3600 for CET).
  int64_t OffsetAt(int64_t unix_seconds) const;
  // Every instant whose wall-clock reading is `civil`, earliest first: one
  // normally, none when a DST gap skips it, two when a DST overlap repeats it.
  std::vector<TimePoint> FromCivil(const CivilTime& civil) const;
  // The instant a schedule slot at wall-clock `civil` fires: the earliest
  // instant with that reading; for a reading skipped by a DST gap, the instant
  // the gap ends (the first valid time after it).
  TimePoint ResolveSlot(const CivilTime& civil) const;

 private:
  std::unique_lock<std::mutex> lock_;
  std::optional<std::string> saved_tz_;  // TZ before the session; nullopt if unset
  bool switched_ = false;
};

}  // namespace mailvault
