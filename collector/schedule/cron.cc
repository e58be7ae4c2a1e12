#include "collector/schedule/cron.h"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace mailvault {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::array<const char*, 12>* names;  // names[i] is the value min + i; may be null
};

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> kDayNames = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr, nullptr, nullptr, nullptr, nullptr};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr},        {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},  {"month", 1, 12, &kMonthNames},
    {"day-of-week", 0, 7, &kDayNames},
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

class FieldParser {
 public:
  FieldParser(std::string_view expression, const FieldSpec& spec)
      : expression_(expression), spec_(spec) {}

  Status Error(const std::string& what) const {
    return Status::InvalidArgument("cron \"" + std::string(expression_) + "\": " + spec_.name +
                                   ": " + what);
  }

  Result<int> Value(std::string_view token) const {
    if (token.empty()) return Error("a value is missing");
    if (spec_.names != nullptr && std::isalpha(static_cast<unsigned char>(token.front()))) {
      std::string upper = Upper(token);
      for (size_t i = 0; i < spec_.names->size(); ++i) {
        const char* n = (*spec_.names)[i];
        if (n != nullptr && upper == n) return spec_.min + static_cast<int>(i);
      }
      return Error("\"" + std::string(token) + "\" is not a name");
    }
    int value = 0;
    auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || ptr != token.data() + token.size()) {
      return Error("\"" + std::string(token) + "\" is not a number");
    }
    if (value < spec_.min || value > spec_.max) {
      return Error(std::to_string(value) + " is out of range " + std::to_string(spec_.min) + "-" +
                   std::to_string(spec_.max));
    }
    return value;
  }

  // Sets the bits of every value the field selects.
  Status Parse(std::string_view field, uint64_t* bits) const {
    if (field.empty()) return Error("empty field");
    size_t start = 0;
    while (start <= field.size()) {
      size_t comma = field.find(',', start);
      std::string_view item = field.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      MV_RETURN_IF_ERROR(ParseItem(item, bits));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return Status::Ok();
  }

 private:
  Status ParseItem(std::string_view item, uint64_t* bits) const {
    if (item.empty()) return Error("empty list item");
    int step = 1;
    size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    if (slash != std::string_view::npos) {
      std::string_view step_text = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc() || ptr != step_text.data() + step_text.size()) {
        return Error("step \"" + std::string(step_text) + "\" is not a number");
      }
      if (step < 1 || step > spec_.max) {
        return Error("step " + std::to_string(step) + " is out of range 1-" +
                     std::to_string(spec_.max));
      }
    }
    int low = spec_.min;
    int high = spec_.max;
    if (range == "*") {
      // all values
    } else {
      size_t dash = range.find('-', 1);
      MV_ASSIGN_OR_RETURN(low, Value(range.substr(0, dash)));
      if (dash != std::string_view::npos) {
        MV_ASSIGN_OR_RETURN(high, Value(range.substr(dash + 1)));
        if (high < low) {
          return Error("range " + std::string(range) + " runs backwards");
        }
      } else if (slash == std::string_view::npos) {
        high = low;
      }
    }
    for (int v = low; v <= high; v += step) *bits |= uint64_t{1} << v;
    return Status::Ok();
  }

  std::string_view expression_;
  const FieldSpec& spec_;
};

// The shortcuts, as their five-field equivalents.
std::string_view ExpandShortcut(std::string_view text) {
  std::string upper = Upper(text);
  if (upper == "@HOURLY") return "0 * * * *";
  if (upper == "@DAILY" || upper == "@MIDNIGHT") return "0 0 * * *";
  if (upper == "@WEEKLY") return "0 0 * * 0";
  if (upper == "@MONTHLY") return "0 0 1 * *";
  if (upper == "@YEARLY" || upper == "@ANNUALLY") return "0 0 1 1 *";
  return {};
}

bool Has(uint64_t bits, int v) { return (bits >> v) & 1; }

}  // namespace

Result<CronExpression> CronExpression::Parse(std::string_view text) {
  std::string_view trimmed = Trim(text);
  CronExpression cron;
  cron.text_ = std::string(trimmed);
  std::string_view body = trimmed;
  if (!trimmed.empty() && trimmed.front() == '@') {
    body = ExpandShortcut(trimmed);
    if (body.empty()) {
      return Status::InvalidArgument(
          "cron \"" + cron.text_ +
          "\": unknown shortcut (use @hourly, @daily, @weekly, @monthly or @yearly)");
    }
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    size_t start = i;
    while (i < body.size() && !std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    if (i > start) fields.push_back(body.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument("cron \"" + cron.text_ + "\": expected 5 fields (minute hour " +
                                   "day-of-month month day-of-week), got " +
                                   std::to_string(fields.size()));
  }
  uint64_t bits[5] = {0, 0, 0, 0, 0};
  for (int f = 0; f < 5; ++f) {
    MV_RETURN_IF_ERROR(FieldParser(cron.text_, kFields[f]).Parse(fields[f], &bits[f]));
  }
  cron.minutes_ = bits[0];
  cron.hours_ = static_cast<uint32_t>(bits[1]);
  cron.days_ = static_cast<uint32_t>(bits[2]);
  cron.months_ = static_cast<uint32_t>(bits[3]);
  uint64_t weekdays = bits[4];
  if (Has(weekdays, 7)) weekdays = (weekdays | 1) & ~(uint64_t{1} << 7);  // 7 is Sunday
  cron.weekdays_ = static_cast<uint32_t>(weekdays);
  cron.days_star_ = fields[2].front() == '*';
  cron.weekdays_star_ = fields[4].front() == '*';

  // Refuse a day-of-month that no selected month has (the weekday rule can
  // still rescue it when both day fields are restricted).
  if (cron.weekdays_star_ || cron.days_star_) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!Has(cron.months_, m)) continue;
      int longest = m == 2 ? 29 : DaysInMonth(2001, m);
      for (int d = 1; d <= longest; ++d) {
        if (Has(cron.days_, d)) {
          possible = true;
          break;
        }
      }
    }
    if (!possible) {
      return Status::InvalidArgument("cron \"" + cron.text_ +
                                     "\": day-of-month: no selected month has such a day, so it "
                                     "would never fire");
    }
  }
  return cron;
}

bool CronExpression::DayMatches(int year, int month, int day) const {
  if (!Has(months_, month)) return false;
  bool dom = Has(days_, day);
  bool dow = Has(weekdays_, DayOfWeek(year, month, day));
  if (!days_star_ && !weekdays_star_) return dom || dow;
  return dom && dow;
}

bool CronExpression::Matches(const CivilTime& c) const {
  return DayMatches(c.year, c.month, c.day) && Has(hours_, c.hour) && Has(minutes_, c.minute);
}

Result<TimePoint> CronExpression::NextFireAfter(TimePoint after, const TimeZone& zone) const {
  // Each matching civil minute maps to one instant (ZoneSession::ResolveSlot),
  // and that mapping never decreases as civil time increases. So walk the slots
  // in civil order from the minute `after` falls in, and take the first whose
  // instant is later than `after`.
  ZoneSession session(zone);
  CivilTime start = session.ToCivil(after);
  start.second = 0;
  int64_t day_seconds = CivilToSeconds({start.year, start.month, start.day, 0, 0, 0});
  constexpr int kMaxDays = 366 * 9;  // Feb 29 can be 8 years away (2096 -> 2104)
  for (int n = 0; n < kMaxDays; ++n, day_seconds += 86400) {
    CivilTime day = SecondsToCivil(day_seconds);
    if (!DayMatches(day.year, day.month, day.day)) continue;
    for (int h = (n == 0 ? start.hour : 0); h < 24; ++h) {
      if (!Has(hours_, h)) continue;
      int first_minute = (n == 0 && h == start.hour) ? start.minute : 0;
      for (int m = first_minute; m < 60; ++m) {
        if (!Has(minutes_, m)) continue;
        TimePoint fire = session.ResolveSlot({day.year, day.month, day.day, h, m, 0});
        if (fire > after) return fire;
      }
    }
  }
  return Status::Internal("cron \"" + text_ + "\": no firing within 9 years after the given time");
}

}  // namespace mailvault
