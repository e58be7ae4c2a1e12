// Date header parsing, tolerant of what real mail carries.
//
// Accepts RFC 5322 dates ("Mon, 31 Dec 1979 16:00:00 -0800"), the obsolete forms
// (two-digit years: < 50 -> 20xx, else 19xx; three-digit years + 1900, which is
// also how the Y2K-bug year "0102" becomes 2002), named zones (UT, GMT, EST, PDT,
// ...; unknown names count as +0000), missing seconds, weekday or zone, comments
// in parentheses, asctime order ("Tue Aug 20 10:00:00 2002") and ISO dates
// ("2002-08-23 12:00:00"). Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailvault {

struct MailDate {
  bool ok = false;  // false: no date could be read; unix_seconds is 0
  int64_t unix_seconds = 0;
  std::string problem;  // e.g. "date year 0102 read as 2002"; empty when clean
};

MailDate ParseMailDate(std::string_view text);

}  // namespace mailvault
