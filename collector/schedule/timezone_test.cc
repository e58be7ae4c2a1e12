#include "collector/schedule/timezone.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "collector/schedule/schedule_testing.h"

namespace mailvault {
namespace {

using testing::Utc;
using testing::UtcString;

TEST(CivilTest, RoundTripsAndCalendar) {
  CivilTime c{2024, 2, 29, 23, 59, 58};
  EXPECT_EQ(SecondsToCivil(CivilToSeconds(c)), c);
  EXPECT_EQ(CivilToSeconds({1970, 1, 1, 0, 0, 0}), 0);
  EXPECT_EQ(SecondsToCivil(-1).ToString(), "1969-12-31 23:59:59");
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 4), 30);
  EXPECT_EQ(DayOfWeek(2024, 6, 9), 0);  // a Sunday
  EXPECT_EQ(DayOfWeek(2024, 6, 15), 6);
}

TEST(TimeZoneTest, LoadRejectsBadNames) {
  EXPECT_EQ(TimeZone::Load("Europe/Nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TimeZone::Load("../etc/passwd").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("/etc/localtime").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("Europe/Berlin; rm").status().code(), StatusCode::kInvalidArgument);
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().ToString();
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  auto local = TimeZone::Load("");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->DisplayName(), "local");
}

TEST(TimeZoneTest, BerlinOffsetsAndDstEdges) {
  TimeZone berlin = *TimeZone::Load("Europe/Berlin");
  EXPECT_EQ(berlin.ToCivil(Utc("2024-01-15 12:00")).ToString(), "2024-01-15 13:00:00");
  EXPECT_EQ(berlin.ToCivil(Utc("2024-07-15 12:00")).ToString(), "2024-07-15 14:00:00");

  // Spring forward 2024-03-31: 02:00-03:00 does not exist.
  EXPECT_TRUE(berlin.FromCivil({2024, 3, 31, 2, 30, 0}).empty());
  ZoneSession session(berlin);
  EXPECT_EQ(UtcString(session.ResolveSlot({2024, 3, 31, 2, 30, 0})), "2024-03-31 01:00:00");
  EXPECT_EQ(UtcString(session.ResolveSlot({2024, 3, 31, 3, 0, 0})), "2024-03-31 01:00:00");

  // Fall back 2024-10-27: 02:00-03:00 happens twice, CEST then CET.
  auto twice = session.FromCivil({2024, 10, 27, 2, 30, 0});
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(UtcString(twice[0]), "2024-10-27 00:30:00");
  EXPECT_EQ(UtcString(twice[1]), "2024-10-27 01:30:00");
  EXPECT_EQ(UtcString(session.ResolveSlot({2024, 10, 27, 2, 30, 0})), "2024-10-27 00:30:00");
  auto once = session.FromCivil({2024, 10, 27, 4, 0, 0});
  ASSERT_EQ(once.size(), 1u);
  EXPECT_EQ(UtcString(once[0]), "2024-10-27 03:00:00");
}

TEST(TimeZoneTest, SessionRestoresTheProcessZone) {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", "America/New_York", 1);
  {
    TimeZone berlin = *TimeZone::Load("Europe/Berlin");
    EXPECT_EQ(berlin.ToCivil(Utc("2024-01-15 12:00")).hour, 13);
  }
  EXPECT_STREQ(std::getenv("TZ"), "America/New_York");
  // The local zone is whatever TZ says.
  EXPECT_EQ(TimeZone::Local().ToCivil(Utc("2024-01-15 12:00")).hour, 7);
  if (old) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
}

}  // namespace
}  // namespace mailvault
