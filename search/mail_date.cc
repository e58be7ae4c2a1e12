#include "search/mail_date.h"

#include <cctype>
#include <vector>

namespace mailvault {
namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int MonthFromName(std::string_view token) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (token.size() < 3) return 0;
  std::string prefix = Lower(token.substr(0, 3));
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == prefix) return i + 1;
  }
  return 0;
}

// Offset in minutes for a zone name; false when it is not one.
bool ZoneFromName(std::string_view token, int* minutes) {
  static constexpr std::pair<std::string_view, int> kZones[] = {
      {"ut", 0},        {"utc", 0},       {"gmt", 0},       {"z", 0},
      {"est", -5 * 60}, {"edt", -4 * 60}, {"cst", -6 * 60}, {"cdt", -5 * 60},
      {"mst", -7 * 60}, {"mdt", -6 * 60}, {"pst", -8 * 60}, {"pdt", -7 * 60},
      {"cet", 60},      {"cest", 120},    {"bst", 60},      {"met", 60}};
  std::string t = Lower(token);
  for (const auto& [name, off] : kZones) {
    if (t == name) {
      *minutes = off;
      return true;
    }
  }
  return false;
}

bool ParseTime(std::string_view token, int* h, int* m, int* s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= token.size(); ++i) {
    if (i == token.size() || token[i] == ':') {
      parts.push_back(token.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() < 2 || parts.size() > 3) return false;
  for (auto p : parts) {
    if (!AllDigits(p) || p.size() > 2) return false;
  }
  *h = ToInt(parts[0]);
  *m = ToInt(parts[1]);
  *s = parts.size() == 3 ? ToInt(parts[2]) : 0;
  return *h <= 24 && *m < 60 && *s <= 60;
}

}  // namespace

MailDate ParseMailDate(std::string_view text) {
  MailDate result;
  // Tokens, without comments.
  std::vector<std::string_view> tokens;
  int depth = 0;
  size_t start = std::string_view::npos;
  constexpr size_t kMaxTokens = 32;
  for (size_t i = 0; i <= text.size() && tokens.size() < kMaxTokens; ++i) {
    char c = i < text.size() ? text[i] : ' ';
    bool sep = c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n' || c == '(' ||
               c == ')' || depth > 0;
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (sep) {
      if (start != std::string_view::npos) tokens.push_back(text.substr(start, i - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = i;
    }
  }
  int day = 0, month = 0, year = -1, hour = 0, minute = 0, second = 0, zone = 0;
  std::string_view year_token;
  for (std::string_view t : tokens) {
    int h, m, s;
    if (t.find(':') != std::string_view::npos && ParseTime(t, &h, &m, &s)) {
      hour = h, minute = m, second = s;
    } else if ((t[0] == '+' || t[0] == '-') && t.size() == 5 && AllDigits(t.substr(1))) {
      int v = ToInt(t.substr(1));
      if (v % 100 < 60 && v / 100 <= 14) zone = (t[0] == '-' ? -1 : 1) * (v / 100 * 60 + v % 100);
    } else if (t.size() == 10 && t[4] == '-' && t[7] == '-' && AllDigits(t.substr(0, 4)) &&
               AllDigits(t.substr(5, 2)) && AllDigits(t.substr(8, 2))) {
      year = ToInt(t.substr(0, 4)), year_token = t.substr(0, 4);
      month = ToInt(t.substr(5, 2));
      day = ToInt(t.substr(8, 2));
    } else if (AllDigits(t) && t.size() <= 4) {
      if (day == 0 && t.size() <= 2 && ToInt(t) >= 1) {
        day = ToInt(t);
      } else if (year < 0) {
        year = ToInt(t), year_token = t;
      }
    } else if (int mo = MonthFromName(t); mo != 0 && month == 0) {
      month = mo;
    } else {
      ZoneFromName(t, &zone);  // weekdays and unknown words are ignored
    }
  }
  if (year < 0 || month < 1 || month > 12 || day < 1) return result;
  if (year_token.size() <= 2) {
    year += year < 50 ? 2000 : 1900;
  } else if (year < 1000) {
    int fixed = year + 1900;
    result.problem = "date year " + std::string(year_token) + " read as " + std::to_string(fixed);
    year = fixed;
  }
  if (day > DaysInMonth(year, month)) return MailDate();
  result.ok = true;
  result.unix_seconds =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - int64_t{zone} * 60;
  return result;
}

}  // namespace mailvault
