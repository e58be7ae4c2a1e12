#include "config/settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "base/file.h"
#include "collector/schedule/cron.h"
#include "collector/schedule/timezone.h"
#include "config/ini.h"

namespace mailvault {
namespace {

using std::chrono::seconds;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Each value parser returns the value or an error whose message says what was
// expected and what was found; the caller prefixes file, line and key.
Result<int64_t> ParseWhole(std::string_view v, int64_t min, int64_t max) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
    return Status::InvalidArgument("expected a whole number from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", got " + Quote(v));
  }
  return n;
}

// A number with an optional unit; `units` maps a lowercase suffix to its factor.
Result<int64_t> ParseWithUnit(std::string_view v, const std::map<std::string, int64_t>& units,
                              int64_t min, int64_t max, const std::string& expected) {
  auto bad = [&] { return Status::InvalidArgument(expected + ", got " + Quote(v)); };
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  if (digits == 0 || digits > 15) return bad();
  int64_t n = 0;
  std::from_chars(v.data(), v.data() + digits, n);
  std::string unit = Lower(v.substr(digits));
  auto it = units.find(unit);
  if (it == units.end()) return bad();
  if (n > max / it->second) return bad();
  int64_t total = n * it->second;
  if (total < min || total > max) return bad();
  return total;
}

std::string DurationText(int64_t s) {
  if (s % 86400 == 0 && s > 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0 && s > 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s > 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

Result<seconds> ParseDuration(std::string_view v, int64_t min, int64_t max) {
  static const std::map<std::string, int64_t> kUnits = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  MV_ASSIGN_OR_RETURN(int64_t s,
                      ParseWithUnit(v, kUnits, min, max,
                                    "expected a duration such as 30s, 5m, 2h or 1d, from " +
                                        DurationText(min) + " to " + DurationText(max)));
  return seconds(s);
}

Result<uint64_t> ParseSize(std::string_view v, int64_t min, int64_t max) {
  static const std::map<std::string, int64_t> kUnits = {
      {"", 1}, {"k", int64_t{1} << 10}, {"m", int64_t{1} << 20}, {"g", int64_t{1} << 30}};
  MV_ASSIGN_OR_RETURN(int64_t n, ParseWithUnit(v, kUnits, min, max,
                                               "expected a size in bytes or with K, M or G, from " +
                                                   std::to_string(min) + " bytes to " +
                                                   std::to_string(max >> 30) + "G"));
  return static_cast<uint64_t>(n);
}

Status ParseListen(std::string_view v, WebSettings* web) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "expected host:port such as 127.0.0.1:8080, 0.0.0.0:443 or [::1]:8080, got " + Quote(v));
  };
  size_t colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = v.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return bad();
    }
  } else {
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return bad();
    }
  }
  auto port = ParseWhole(v.substr(colon + 1), 1, 65535);
  if (!port.ok()) return bad();
  web->listen = std::string(v);
  web->listen_host = std::string(host);
  web->listen_port = static_cast<int>(*port);
  return Status::Ok();
}

// A cron expression; `empty_ok` lets an empty value stand for "the default" (or "never").
Status AssignCron(std::string_view v, bool empty_ok, std::string* out) {
  if (!(empty_ok && v.empty())) {
    auto cron = CronExpression::Parse(v);
    if (!cron.ok()) return cron.status();
  }
  *out = std::string(v);
  return Status::Ok();
}

// Free text; empty means "not set".
Status AssignText(std::string_view v, std::string* out) {
  *out = std::string(v);
  return Status::Ok();
}

Status NonEmpty(std::string_view v, std::string* out, std::string_view what) {
  if (v.empty()) return Status::InvalidArgument("expected " + std::string(what) + ", got \"\"");
  *out = std::string(v);
  return Status::Ok();
}

template <typename Int>
Status AssignWhole(std::string_view v, int64_t min, int64_t max, Int* out) {
  MV_ASSIGN_OR_RETURN(int64_t n, ParseWhole(v, min, max));
  *out = static_cast<Int>(n);
  return Status::Ok();
}

Status AssignDuration(std::string_view v, int64_t min, int64_t max, seconds* out) {
  MV_ASSIGN_OR_RETURN(*out, ParseDuration(v, min, max));
  return Status::Ok();
}

int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

template <typename Target>
using KeyTable = std::map<std::string, std::function<Status(std::string_view, Target*)>>;

// Applies every entry of `section` through `table`; returns the line of each key seen.
template <typename Target>
Status ApplySection(std::string_view file, const IniSection& section, const KeyTable<Target>& table,
                    Target* target, std::map<std::string, int>* seen) {
  for (const IniEntry& entry : section.entries) {
    std::string where = std::string(file) + ":" + std::to_string(entry.line) + ": [" +
                        section.name + "] " + entry.key + ": ";
    auto handler = table.find(entry.key);
    if (handler == table.end()) {
      std::string hint;
      for (const auto& [known, unused] : table) {
        if (EditDistance(entry.key, known) <= 2) hint = " (did you mean " + known + "?)";
      }
      return Status::InvalidArgument(where + "unknown key" + hint);
    }
    Status status = handler->second(entry.value, target);
    if (!status.ok()) return Status::InvalidArgument(where + status.message());
    (*seen)[entry.key] = entry.line;
  }
  return Status::Ok();
}

Status KeyError(std::string_view file, int line, const std::string& section, const std::string& key,
                const std::string& what) {
  return Status::InvalidArgument(std::string(file) + ":" + std::to_string(line) + ": [" + section +
                                 "] " + key + ": " + what);
}

const KeyTable<ArchiveSettings>& ArchiveKeys() {
  static const KeyTable<ArchiveSettings> table = {
      {"data_dir", [](std::string_view v, ArchiveSettings* s) {
         return NonEmpty(v, &s->data_dir, "a directory path");
       }},
      {"compact_schedule", [](std::string_view v, ArchiveSettings* s) {
         return AssignCron(v, true, &s->compact_schedule);
       }},
      {"compact_min_size", [](std::string_view v, ArchiveSettings* s) -> Status {
         MV_ASSIGN_OR_RETURN(s->compact_min_size, ParseSize(v, 0, int64_t{1} << 40));
         return Status::Ok();
       }}};
  return table;
}

const KeyTable<WebSettings>& WebKeys() {
  static const KeyTable<WebSettings> table = {
      {"listen", [](std::string_view v, WebSettings* s) { return ParseListen(v, s); }},
      {"tls_cert", [](std::string_view v, WebSettings* s) { return AssignText(v, &s->tls_cert); }},
      {"tls_key", [](std::string_view v, WebSettings* s) { return AssignText(v, &s->tls_key); }},
  };
  return table;
}

const KeyTable<CollectorSettings>& CollectorKeys() {
  using C = CollectorSettings;
  static const KeyTable<C> table = {
      {"schedule", [](std::string_view v, C* s) { return AssignCron(v, false, &s->schedule); }},
      {"timezone",
       [](std::string_view v, C* s) {
         auto zone = TimeZone::Load(v);
         if (!zone.ok()) return zone.status();
         s->timezone = std::string(v);
         return Status::Ok();
       }},
      {"jitter", [](std::string_view v, C* s) { return AssignDuration(v, 0, 86400, &s->jitter); }},
      {"max_sessions",
       [](std::string_view v, C* s) { return AssignWhole(v, 1, 1000, &s->max_sessions); }},
      {"max_sessions_per_host",
       [](std::string_view v, C* s) { return AssignWhole(v, 1, 1000, &s->max_sessions_per_host); }},
      {"connect_timeout",
       [](std::string_view v, C* s) { return AssignDuration(v, 1, 3600, &s->connect_timeout); }},
      {"read_timeout",
       [](std::string_view v, C* s) { return AssignDuration(v, 1, 3600, &s->read_timeout); }},
      {"session_deadline",
       [](std::string_view v, C* s) {
         return AssignDuration(v, 60, 7 * 86400, &s->session_deadline);
       }},
      {"max_message_size",
       [](std::string_view v, C* s) -> Status {
         MV_ASSIGN_OR_RETURN(s->max_message_size, ParseSize(v, 1024, int64_t{4} << 30));
         return Status::Ok();
       }},
      {"retry_initial_delay",
       [](std::string_view v, C* s) {
         return AssignDuration(v, 1, 86400, &s->retry_initial_delay);
       }},
      {"retry_max_delay",
       [](std::string_view v, C* s) {
         return AssignDuration(v, 1, 7 * 86400, &s->retry_max_delay);
       }},
      {"retry_limit",
       [](std::string_view v, C* s) { return AssignWhole(v, 0, 100, &s->retry_limit); }},
  };
  return table;
}

const KeyTable<LogSettings>& LogKeys() {
  static const KeyTable<LogSettings> table = {
      {"level",
       [](std::string_view v, LogSettings* s) {
         if (!ParseLogLevel(v, &s->level)) {
           return Status::InvalidArgument("expected debug, info, warning or error, got " +
                                          Quote(v));
         }
         return Status::Ok();
       }},
      {"destination",
       [](std::string_view v, LogSettings* s) {
         return NonEmpty(v, &s->destination, "stderr or a file path");
       }},
  };
  return table;
}

Result<std::string> ParseFingerprint(std::string_view v) {
  std::string hex;
  bool all_hex = true;
  for (char c : v) {
    if (c == ':') continue;
    all_hex = all_hex && std::isxdigit(static_cast<unsigned char>(c));
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!all_hex || hex.size() != 64) {
    return Status::InvalidArgument(
        "expected a SHA-256 fingerprint: 64 hex digits, colons allowed, got " + Quote(v));
  }
  return hex;
}

const KeyTable<AccountSettings>& AccountKeys() {
  using A = AccountSettings;
  static const KeyTable<A> table = {
      {"host",
       [](std::string_view v, A* a) {
         for (char c : v) {
           if (std::isspace(static_cast<unsigned char>(c)) || c == '/') {
             return Status::InvalidArgument("expected a host name or address, got " + Quote(v));
           }
         }
         return NonEmpty(v, &a->host, "a host name or address");
       }},
      {"port", [](std::string_view v, A* a) { return AssignWhole(v, 1, 65535, &a->port); }},
      {"user", [](std::string_view v, A* a) { return NonEmpty(v, &a->user, "a user name"); }},
      {"password_file",
       [](std::string_view v, A* a) {
         return NonEmpty(v, &a->password_file, "the path of a file holding the password");
       }},
      {"tls",
       [](std::string_view v, A* a) {
         if (v == "pop3s") {
           a->tls = TlsMode::kPop3s;
         } else if (v == "starttls") {
           a->tls = TlsMode::kStarttls;
         } else if (v == "none") {
           a->tls = TlsMode::kNone;
         } else {
           return Status::InvalidArgument("expected pop3s, starttls or none, got " + Quote(v));
         }
         return Status::Ok();
       }},
      {"ca",  // empty: the system store
       [](std::string_view v, A* a) { return AssignText(v, &a->ca); }},
      {"fingerprint",
       [](std::string_view v, A* a) -> Status {
         if (v.empty()) {
           a->fingerprint.clear();  // empty: no pinning
           return Status::Ok();
         }
         MV_ASSIGN_OR_RETURN(a->fingerprint, ParseFingerprint(v));
         return Status::Ok();
       }},
      {"policy",
       [](std::string_view v, A* a) -> Status {
         MV_ASSIGN_OR_RETURN(a->policy, DeletePolicy::Parse(v));
         return Status::Ok();
       }},
      {"schedule",  // empty: [collector] schedule
       [](std::string_view v, A* a) { return AssignCron(v, true, &a->schedule); }},
  };
  return table;
}

bool IsValidAccountName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '@';
  });
}

Status FinishAccount(std::string_view file, const IniSection& section,
                     const std::map<std::string, int>& seen, AccountSettings* account) {
  for (const char* required : {"host", "user", "password_file"}) {
    if (seen.count(required) == 0) {
      return KeyError(file, section.line, section.name, required, "required key is missing");
    }
  }
  if (!account->ca.empty() && !account->fingerprint.empty()) {
    return KeyError(file, seen.at("fingerprint"), section.name, "fingerprint",
                    "give either ca or fingerprint, not both");
  }
  if (account->tls == TlsMode::kNone) {
    for (const auto& [key, value] :
         {std::pair{"ca", &account->ca}, std::pair{"fingerprint", &account->fingerprint}}) {
      if (!value->empty()) {
        return KeyError(file, seen.at(key), section.name, key,
                        "needs tls = pop3s or starttls (tls is none)");
      }
    }
  }
  if (seen.count("port") == 0) account->port = account->tls == TlsMode::kPop3s ? 995 : 110;
  account->line = section.line;
  return Status::Ok();
}

}  // namespace

std::string_view TlsModeName(TlsMode mode) {
  switch (mode) {
    case TlsMode::kPop3s:
      return "pop3s";
    case TlsMode::kStarttls:
      return "starttls";
    case TlsMode::kNone:
      return "none";
  }
  return "?";
}

std::string DeletePolicy::ToString() const {
  switch (kind) {
    case Kind::kKeep:
      return "keep";
    case Kind::kDeleteAfterDays:
      return "delete-after:" + std::to_string(days) + "-days";
    case Kind::kDeleteWhenArchived:
      return "delete-when-archived";
  }
  return "?";
}

Result<DeletePolicy> DeletePolicy::Parse(std::string_view text) {
  DeletePolicy policy;
  if (text == "keep") return policy;
  if (text == "delete-when-archived") {
    policy.kind = Kind::kDeleteWhenArchived;
    return policy;
  }
  constexpr std::string_view kPrefix = "delete-after:";
  constexpr std::string_view kSuffix = "-days";
  if (text.size() > kPrefix.size() + kSuffix.size() && text.substr(0, kPrefix.size()) == kPrefix &&
      text.substr(text.size() - kSuffix.size()) == kSuffix) {
    auto days = ParseWhole(
        text.substr(kPrefix.size(), text.size() - kPrefix.size() - kSuffix.size()), 1, 36500);
    if (days.ok()) {
      policy.kind = Kind::kDeleteAfterDays;
      policy.days = static_cast<int>(*days);
      return policy;
    }
  }
  return Status::InvalidArgument(
      "expected keep, delete-after:N-days (N from 1 to 36500) or delete-when-archived, got " +
      Quote(text));
}

Settings DefaultSettings() { return Settings(); }

Result<Settings> ParseSettings(std::string_view text, std::string_view file) {
  MV_ASSIGN_OR_RETURN(std::vector<IniSection> sections, ParseIni(text, file));
  Settings settings = DefaultSettings();
  std::set<std::string> account_names;
  for (const IniSection& section : sections) {
    std::map<std::string, int> seen;
    if (section.name == "archive") {
      MV_RETURN_IF_ERROR(ApplySection(file, section, ArchiveKeys(), &settings.archive, &seen));
    } else if (section.name == "web") {
      MV_RETURN_IF_ERROR(ApplySection(file, section, WebKeys(), &settings.web, &seen));
      const WebSettings& web = settings.web;
      if (web.tls_cert.empty() != web.tls_key.empty()) {
        const char* present = web.tls_cert.empty() ? "tls_key" : "tls_cert";
        const char* missing = web.tls_cert.empty() ? "tls_cert" : "tls_key";
        return KeyError(file, seen.at(present), section.name, present,
                        std::string("needs ") + missing + " as well (both or neither)");
      }
    } else if (section.name == "collector") {
      MV_RETURN_IF_ERROR(ApplySection(file, section, CollectorKeys(), &settings.collector, &seen));
      const CollectorSettings& c = settings.collector;
      if (c.retry_max_delay < c.retry_initial_delay) {
        const char* key = seen.count("retry_max_delay") ? "retry_max_delay" : "retry_initial_delay";
        return KeyError(file, seen.at(key), section.name, key,
                        "retry_max_delay (" + DurationText(c.retry_max_delay.count()) +
                            ") is shorter than retry_initial_delay (" +
                            DurationText(c.retry_initial_delay.count()) + ")");
      }
    } else if (section.name == "log") {
      MV_RETURN_IF_ERROR(ApplySection(file, section, LogKeys(), &settings.log, &seen));
    } else if (section.name.rfind("account.", 0) == 0) {
      AccountSettings account;
      account.name = section.name.substr(8);
      if (!IsValidAccountName(account.name)) {
        return Status::InvalidArgument(
            std::string(file) + ":" + std::to_string(section.line) + ": [" + section.name +
            "]: an account name is 1 to 64 letters, digits, '.', '_', '-' or '@'");
      }
      if (!account_names.insert(Lower(account.name)).second) {
        return Status::InvalidArgument(std::string(file) + ":" + std::to_string(section.line) +
                                       ": [" + section.name +
                                       "]: another account has this name (names ignore case)");
      }
      MV_RETURN_IF_ERROR(ApplySection(file, section, AccountKeys(), &account, &seen));
      MV_RETURN_IF_ERROR(FinishAccount(file, section, seen, &account));
      settings.accounts.push_back(std::move(account));
    } else {
      return Status::InvalidArgument(std::string(file) + ":" + std::to_string(section.line) +
                                     ": [" + section.name +
                                     "]: unknown section (expected [archive], [web], [collector], "
                                     "[log] or [account.NAME])");
    }
  }
  return settings;
}

Result<Settings> LoadSettings(const std::string& path) {
  auto text = ReadSmallFile(path, kMaxIniBytes);
  if (!text.ok()) {
    return Status(text.status().code(),
                  "cannot read configuration " + path + ": " + text.status().message());
  }
  return ParseSettings(*text, path);
}

}  // namespace mailvault
