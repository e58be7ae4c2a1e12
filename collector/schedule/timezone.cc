#include "collector/schedule/timezone.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace mailvault {
namespace {

using std::chrono::seconds;

std::mutex& ZoneMutex() {
  static std::mutex mutex;
  return mutex;
}

bool IsValidZoneName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.front() == '-') {
    return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::string ZoneInfoDir() {
  const char* dir = std::getenv("TZDIR");
  return dir && *dir ? dir : "/usr/share/zoneinfo";
}

int64_t ToUnix(TimePoint t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnix(int64_t s) { return TimePoint(seconds(s)); }

}  // namespace

std::string CivilTime::ToString() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", year, month, day, hour, minute,
                second);
  return buf;
}

int64_t CivilToSeconds(const CivilTime& c) {
  using namespace std::chrono;
  sys_days d{year{c.year} / month{static_cast<unsigned>(c.month)} /
             day{static_cast<unsigned>(c.day)}};
  return int64_t{d.time_since_epoch().count()} * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
}

CivilTime SecondsToCivil(int64_t s) {
  using namespace std::chrono;
  int64_t days = s / 86400;
  int64_t rest = s % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(rest / 3600);
  c.minute = static_cast<int>(rest / 60 % 60);
  c.second = static_cast<int>(rest % 60);
  return c;
}

int DayOfWeek(int y, int m, int d) {
  using namespace std::chrono;
  weekday wd{sys_days{year{y} / month{static_cast<unsigned>(m)} / day{static_cast<unsigned>(d)}}};
  return static_cast<int>(wd.c_encoding());
}

int DaysInMonth(int y, int m) {
  using namespace std::chrono;
  year_month_day_last last{year{y} / month{static_cast<unsigned>(m)} / std::chrono::last};
  return static_cast<int>(static_cast<unsigned>(last.day()));
}

Result<TimeZone> TimeZone::Load(std::string_view name) {
  if (name.empty()) return Local();
  if (!IsValidZoneName(name)) {
    return Status::InvalidArgument("time zone \"" + std::string(name) +
                                   "\" is not a TZ database name such as Europe/Berlin");
  }
  std::string path = ZoneInfoDir() + "/" + std::string(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::NotFound("time zone \"" + std::string(name) + "\" is not in the TZ database (" +
                            path + " does not exist)");
  }
  return TimeZone(std::string(name));
}

TimeZone TimeZone::Utc() { return TimeZone("UTC"); }
TimeZone TimeZone::Local() { return TimeZone(""); }

CivilTime TimeZone::ToCivil(TimePoint t) const { return ZoneSession(*this).ToCivil(t); }

std::vector<TimePoint> TimeZone::FromCivil(const CivilTime& civil) const {
  return ZoneSession(*this).FromCivil(civil);
}

ZoneSession::ZoneSession(const TimeZone& zone) : lock_(ZoneMutex()) {
  if (!zone.name().empty()) {
    const char* old = std::getenv("TZ");
    if (old != nullptr) saved_tz_ = old;
    ::setenv("TZ", zone.name().c_str(), 1);
    switched_ = true;
  }
  ::tzset();
}

ZoneSession::~ZoneSession() {
  if (switched_) {
    if (saved_tz_) {
      ::setenv("TZ", saved_tz_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
}

int64_t ZoneSession::OffsetAt(int64_t unix_seconds) const {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr) return 0;
  return tm.tm_gmtoff;
}

CivilTime ZoneSession::ToCivil(TimePoint t) const {
  int64_t s = ToUnix(t);
  return SecondsToCivil(s + OffsetAt(s));
}

std::vector<TimePoint> ZoneSession::FromCivil(const CivilTime& civil) const {
  // A reading r at offset o is the instant r - o. The offsets that can be in
  // force near r are those a day before and a day after (one transition at most).
  int64_t r = CivilToSeconds(civil);
  int64_t before = OffsetAt(r - 86400);
  int64_t after = OffsetAt(r + 86400);
  std::vector<TimePoint> out;
  for (int64_t offset : {before, after}) {
    int64_t t = r - offset;
    if (t + OffsetAt(t) == r && (out.empty() || ToUnix(out.front()) != t)) {
      out.push_back(FromUnix(t));
    }
  }
  if (out.size() == 2 && out[1] < out[0]) std::swap(out[0], out[1]);
  return out;
}

TimePoint ZoneSession::ResolveSlot(const CivilTime& civil) const {
  std::vector<TimePoint> instants = FromCivil(civil);
  if (!instants.empty()) return instants.front();
  // Skipped by a gap: offsets o1 (before) < o2 (after); the transition T lies in
  // (r - o2, r - o1]. Find the first second whose offset is no longer o1.
  int64_t r = CivilToSeconds(civil);
  int64_t o1 = OffsetAt(r - 86400);
  int64_t o2 = OffsetAt(r + 86400);
  int64_t lo = r - o2;                    // offset o1 here
  int64_t hi = r - o1;                    // offset o2 here
  if (hi <= lo) return FromUnix(r - o1);  // not a plain gap; best effort
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (OffsetAt(mid) == o1) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return FromUnix(hi);
}

}  // namespace mailvault
