#include "collector/schedule/cron.h"

#include <gtest/gtest.h>

#include "collector/schedule/schedule_testing.h"

namespace mailvault {
namespace {

using testing::Utc;
using testing::UtcString;

struct ParseErrorCase {
  const char* text;
  const char* message_part;  // must occur in the error message
};

TEST(CronParseTest, RejectsWithFieldAndReason) {
  const ParseErrorCase cases[] = {
      {"", "expected 5 fields"},
      {"0 2 * *", "expected 5 fields"},
      {"0 2 * * * *", "got 6"},
      {"60 2 * * *", "minute: 60 is out of range 0-59"},
      {"0 24 * * *", "hour: 24 is out of range 0-23"},
      {"0 2 0 * *", "day-of-month: 0 is out of range 1-31"},
      {"0 2 32 * *", "day-of-month: 32 is out of range 1-31"},
      {"0 2 * 13 *", "month: 13 is out of range 1-12"},
      {"0 2 * * 8", "day-of-week: 8 is out of range 0-7"},
      {"x 2 * * *", "minute: \"x\" is not a number"},
      {"0 2 * FOO *", "month: \"FOO\" is not a name"},
      {"0 2 * * MONDAY", "day-of-week: \"MONDAY\" is not a name"},
      {"0 2 * * SUN-", "day-of-week: a value is missing"},
      {"0 5-2 * * *", "hour: range 5-2 runs backwards"},
      {"*/0 * * * *", "minute: step 0 is out of range 1-59"},
      {"*/x * * * *", "minute: step \"x\" is not a number"},
      {"1,,2 * * * *", "minute: empty list item"},
      {"1, * * * *", "minute: empty list item"},
      {"0 0 31 2 *", "would never fire"},
      {"0 0 30,31 FEB *", "would never fire"},
      {"@fortnightly", "unknown shortcut"},
      {"-1 * * * *", "minute: -1 is out of range 0-59"},
  };
  for (const auto& c : cases) {
    auto parsed = CronExpression::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(parsed.status().message().find(c.message_part), std::string::npos)
        << c.text << " gave: " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(std::string("cron \"")), std::string::npos);
  }
}

TEST(CronParseTest, AcceptsTheGrammar) {
  for (const char* text :
       {"0 2 * * *", "*/5 * * * *", "0-59/10 0-23 1-31 1-12 0-7", "5,10,15 1 * jan-MAR mon-fri",
        "0 0 29 2 *", "0 0 31 2 1", "@daily", "@HOURLY", "@weekly", "@monthly", "@yearly",
        "@midnight", "  0 2 * * *  ", "0\t2 * * SAT,SUN", "5/20 * * * *"}) {
    auto parsed = CronExpression::Parse(text);
    EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  }
  EXPECT_EQ(CronExpression::Parse("  0 2 * * *  ")->text(), "0 2 * * *");
}

TEST(CronParseTest, FieldSemantics) {
  auto steps = *CronExpression::Parse("5/20 * * * *");  // 5,25,45
  EXPECT_TRUE(steps.Matches({2024, 1, 1, 0, 5, 0}));
  EXPECT_TRUE(steps.Matches({2024, 1, 1, 0, 25, 0}));
  EXPECT_TRUE(steps.Matches({2024, 1, 1, 0, 45, 0}));
  EXPECT_FALSE(steps.Matches({2024, 1, 1, 0, 15, 0}));

  auto sunday7 = *CronExpression::Parse("0 0 * * 7");
  auto sunday0 = *CronExpression::Parse("0 0 * * sun");
  EXPECT_TRUE(sunday7.Matches({2024, 6, 9, 0, 0, 0}));
  EXPECT_TRUE(sunday0.Matches({2024, 6, 9, 0, 0, 0}));
  EXPECT_FALSE(sunday7.Matches({2024, 6, 10, 0, 0, 0}));

  // Both day fields restricted: either may match (the 13th, or any Friday).
  auto either = *CronExpression::Parse("0 0 13 * FRI");
  EXPECT_TRUE(either.Matches({2024, 6, 13, 0, 0, 0}));  // Thursday the 13th
  EXPECT_TRUE(either.Matches({2024, 6, 14, 0, 0, 0}));  // Friday the 14th
  EXPECT_FALSE(either.Matches({2024, 6, 15, 0, 0, 0}));
  // A field starting with "*" is unrestricted for that rule: both must match.
  auto both = *CronExpression::Parse("0 0 */2 * MON");
  EXPECT_TRUE(both.Matches({2024, 6, 3, 0, 0, 0}));    // Monday the 3rd
  EXPECT_FALSE(both.Matches({2024, 6, 10, 0, 0, 0}));  // Monday the 10th
  EXPECT_FALSE(both.Matches({2024, 6, 5, 0, 0, 0}));   // Wednesday the 5th
}

struct NextCase {
  const char* cron;
  const char* zone;
  const char* after;     // UTC
  const char* expected;  // UTC
};

TEST(CronNextFireTest, Table) {
  const NextCase cases[] = {
      // Plain UTC: month and year ends, strictness, steps, names.
      {"0 2 * * *", "UTC", "2024-01-31 03:00", "2024-02-01 02:00:00"},
      {"0 2 * * *", "UTC", "2024-01-31 02:00", "2024-02-01 02:00:00"},  // strictly after
      {"0 2 * * *", "UTC", "2024-01-31 01:59:59", "2024-01-31 02:00:00"},
      {"0 0 1 1 *", "UTC", "2024-12-31 23:59:59", "2025-01-01 00:00:00"},
      {"0 0 31 * *", "UTC", "2024-04-01 00:00", "2024-05-31 00:00:00"},  // April has 30
      {"0 0 30 * *", "UTC", "2023-01-31 00:00", "2023-03-30 00:00:00"},  // skips February
      {"59 23 28-31 2 *", "UTC", "2023-02-28 23:59", "2024-02-28 23:59:00"},
      {"0 0 29 2 *", "UTC", "2024-03-01 00:00", "2028-02-29 00:00:00"},  // leap years
      {"0 0 29 2 *", "UTC", "2023-06-01 00:00", "2024-02-29 00:00:00"},
      {"0 0 29 2 *", "UTC", "2096-03-01 00:00", "2104-02-29 00:00:00"},  // 2100 is no leap year
      {"0 0 29 2 *", "UTC", "1999-03-01 00:00", "2000-02-29 00:00:00"},  // 2000 is
      {"*/15 * * * *", "UTC", "2024-06-01 10:07", "2024-06-01 10:15:00"},
      {"*/15 * * * *", "UTC", "2024-06-01 23:50", "2024-06-02 00:00:00"},
      {"5/20 * * * *", "UTC", "2024-06-01 10:45", "2024-06-01 11:05:00"},
      {"0 0 * * 7", "UTC", "2024-06-05 12:00", "2024-06-09 00:00:00"},
      {"0 0 * * 0", "UTC", "2024-06-05 12:00", "2024-06-09 00:00:00"},
      {"0 9 * * MON-FRI", "UTC", "2024-06-07 10:00", "2024-06-10 09:00:00"},
      {"0 0 1 JAN,jul *", "UTC", "2024-02-01 00:00", "2024-07-01 00:00:00"},
      {"0 0 13 * 5", "UTC", "2024-06-08 00:00", "2024-06-13 00:00:00"},
      {"0 0 */2 * 1", "UTC", "2024-06-04 00:00", "2024-06-17 00:00:00"},
      {"@hourly", "UTC", "2024-06-01 10:00", "2024-06-01 11:00:00"},
      {"@daily", "UTC", "2024-02-28 12:00", "2024-02-29 00:00:00"},
      {"@weekly", "UTC", "2024-06-09 00:00", "2024-06-16 00:00:00"},
      {"@monthly", "UTC", "2024-02-15 00:00", "2024-03-01 00:00:00"},
      {"@yearly", "UTC", "2024-02-15 00:00", "2025-01-01 00:00:00"},
      // Europe/Berlin, plain: CET is UTC+1, CEST UTC+2.
      {"0 2 * * *", "Europe/Berlin", "2024-01-10 12:00", "2024-01-11 01:00:00"},
      {"0 2 * * *", "Europe/Berlin", "2024-07-10 12:00", "2024-07-11 00:00:00"},
      {"0 0 1 * *", "Europe/Berlin", "2024-01-31 12:00", "2024-01-31 23:00:00"},
      // Spring forward (2024-03-31 02:00 CET -> 03:00 CEST): a skipped slot fires at 03:00.
      {"30 2 * * *", "Europe/Berlin", "2024-03-30 12:00", "2024-03-31 01:00:00"},
      {"30 2 * * *", "Europe/Berlin", "2024-03-31 01:00", "2024-04-01 00:30:00"},
      // Several skipped slots and the 03:00 slot collapse into one firing.
      {"*/15 2,3 * * *", "Europe/Berlin", "2024-03-30 12:00", "2024-03-31 01:00:00"},
      {"*/15 2,3 * * *", "Europe/Berlin", "2024-03-31 01:00", "2024-03-31 01:15:00"},
      {"0 1 * * *", "Europe/Berlin", "2024-03-30 12:00", "2024-03-31 00:00:00"},
      // Fall back (2024-10-27 03:00 CEST -> 02:00 CET): a repeated slot fires once.
      {"30 2 * * *", "Europe/Berlin", "2024-10-26 12:00", "2024-10-27 00:30:00"},
      {"30 2 * * *", "Europe/Berlin", "2024-10-27 00:30", "2024-10-28 01:30:00"},
      {"0 * * * *", "Europe/Berlin", "2024-10-27 00:00", "2024-10-27 02:00:00"},
      // America/New_York: spring forward 2024-03-10 02:00 EST -> 03:00 EDT.
      {"30 2 * * *", "America/New_York", "2024-03-09 12:00", "2024-03-10 07:00:00"},
      {"30 2 * * *", "America/New_York", "2024-03-10 07:00", "2024-03-11 06:30:00"},
      // Fall back 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 happens twice, fires once.
      {"30 1 * * *", "America/New_York", "2024-11-02 12:00", "2024-11-03 05:30:00"},
      {"30 1 * * *", "America/New_York", "2024-11-03 05:30", "2024-11-04 06:30:00"},
      {"30 1 * * *", "America/New_York", "2024-11-03 06:10", "2024-11-04 06:30:00"},
      {"*/30 * * * *", "America/New_York", "2024-11-03 05:30", "2024-11-03 07:00:00"},
      // Samoa skipped all of 2011-12-30 (UTC-10 -> UTC+14): its noon fires at the gap's end.
      {"0 12 * * *", "Pacific/Apia", "2011-12-29 23:00", "2011-12-30 10:00:00"},
      {"0 12 * * *", "Pacific/Apia", "2011-12-30 10:00", "2011-12-30 22:00:00"},
  };
  for (const auto& c : cases) {
    auto cron = CronExpression::Parse(c.cron);
    ASSERT_TRUE(cron.ok()) << c.cron << ": " << cron.status().ToString();
    auto zone = TimeZone::Load(c.zone);
    ASSERT_TRUE(zone.ok()) << zone.status().ToString();
    auto next = cron->NextFireAfter(Utc(c.after), *zone);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(UtcString(*next), c.expected) << c.cron << " in " << c.zone << " after " << c.after;
  }
}

// Walking a whole year firing by firing: every firing is strictly later than
// the one before, and each day has exactly one firing even across DST.
TEST(CronNextFireTest, DailyWalkAcrossAYearHasOneFiringPerDay) {
  for (const char* zone_name : {"Europe/Berlin", "America/New_York", "UTC"}) {
    TimeZone zone = *TimeZone::Load(zone_name);
    for (const char* text : {"30 2 * * *", "30 1 * * *", "0 0 * * *"}) {
      auto cron = *CronExpression::Parse(text);
      TimePoint t = Utc("2024-01-01 12:00");
      int firings = 0;
      while (true) {
        TimePoint next = *cron.NextFireAfter(t, zone);
        ASSERT_GT(next, t);
        if (next >= Utc("2025-01-01 12:00")) break;
        t = next;
        ++firings;
      }
      EXPECT_EQ(firings, 366) << text << " in " << zone_name;
    }
  }
}

}  // namespace
}  // namespace mailvault
