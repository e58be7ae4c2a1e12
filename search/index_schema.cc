// The parts of the index schema that are code rather than constants.
#include "search/index_schema.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/sha256.h"

namespace mailvault::index_schema {
namespace {

// Xapian's limit is 245 bytes per term; keep a margin.
constexpr size_t kMaxTermBytes = 240;

void AppendField(std::string* out, std::string_view key, std::string_view value) {
  out->append(key);
  out->push_back('=');
  for (char c : value) out->push_back(c == '\n' || c == '\r' ? ' ' : c);
  out->push_back('\n');
}

// The UTC calendar day of `unix_seconds`, with years outside 0000..9999
// clamped into it (0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z).
std::chrono::year_month_day UtcDay(int64_t unix_seconds) {
  using namespace std::chrono;
  constexpr int64_t kFirst = -62167219200, kLast = 253402300799;
  const int64_t t = std::clamp(unix_seconds, kFirst, kLast);
  const int64_t day_number = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  return year_month_day{sys_days{days{day_number}}};
}

// A domain as an address has it: labels of letters, digits, '-' and '_'
// separated by single dots (already lowercased).
bool IsDomain(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.back() == '.') return false;
  char previous = 0;
  for (char c : d) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    (c == '.' && previous != '.');
    if (!ok) return false;
    previous = c;
  }
  return true;
}

bool HasSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  });
}

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> AddressTerms(std::string_view prefix, std::string_view address) {
  std::vector<std::string> terms;
  const std::string lower = AsciiLower(address);
  const size_t at = lower.rfind('@');
  if (at == std::string::npos || at + 1 == lower.size() || HasSpace(lower)) return terms;
  terms.push_back(BooleanTerm(prefix, lower));
  std::string_view domain = std::string_view(lower).substr(at + 1);
  terms.push_back(BooleanTerm(prefix, "@" + std::string(domain)));
  // The domains it is in, down to two labels.
  for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.')) {
    domain.remove_prefix(dot + 1);
    if (domain.find('.') == std::string_view::npos) break;
    terms.push_back(BooleanTerm(prefix, "@" + std::string(domain)));
  }
  return terms;
}

std::string AddressQueryTerm(std::string_view prefix, std::string_view value) {
  const std::string lower = AsciiLower(value);
  if (HasSpace(lower)) return "";
  const size_t at = lower.rfind('@');
  if (at == std::string::npos) {
    // A bare domain: at least two labels, else it is a word.
    if (lower.find('.') == std::string::npos || !IsDomain(lower)) return "";
    return BooleanTerm(prefix, "@" + lower);
  }
  if (!IsDomain(std::string_view(lower).substr(at + 1))) return "";
  // "@corp.example" is the domain, "bob@corp.example" the address.
  return BooleanTerm(prefix, lower);
}

std::string BooleanTerm(std::string_view prefix, std::string_view value) {
  std::string term(prefix);
  if (prefix.size() + value.size() <= kMaxTermBytes) {
    term.append(value);
  } else {
    term += "#" + ToHex(Sha256::Of(value));
  }
  return term;
}

std::string DayTerm(int64_t unix_seconds) {
  const std::chrono::year_month_day ymd = UtcDay(unix_seconds);
  char digits[16];
  std::snprintf(digits, sizeof digits, "%04d%02u%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return std::string(kPrefixDay) + digits;
}

std::string YearValue(int64_t unix_seconds) {
  return std::to_string(static_cast<int>(UtcDay(unix_seconds).year()));
}

Status CheckSchemaVersion(std::string_view stored_version, uint64_t doc_count,
                          std::string_view index_dir) {
  if (stored_version == std::to_string(kSchemaVersion)) return Status::Ok();
  if (stored_version.empty() && doc_count == 0) return Status::Ok();
  return Status::Unsupported(
      "search index " + std::string(index_dir) + " has schema version " +
      (stored_version.empty() ? std::string("(none)") : std::string(stored_version)) +
      ", this mailvault reads version " + std::to_string(kSchemaVersion) +
      "; run `mailvault reindex` to rebuild it from the archive");
}

std::string SerializeDocumentData(const DocumentData& data) {
  std::string out;
  AppendField(&out, "id", data.id);
  AppendField(&out, "date", std::to_string(data.date));
  AppendField(&out, "from", data.from);
  AppendField(&out, "subject", data.subject);
  if (data.text_of.empty()) {
    AppendField(&out, "text", data.text);
  } else {
    AppendField(&out, "text_of", data.text_of);
  }
  return out;
}

DocumentData ParseDocumentData(std::string_view serialized) {
  DocumentData data;
  while (!serialized.empty()) {
    size_t nl = serialized.find('\n');
    std::string_view line = serialized.substr(0, nl);
    serialized = nl == std::string_view::npos ? std::string_view() : serialized.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "id") {
      data.id = value;
    } else if (key == "date") {
      std::from_chars(value.data(), value.data() + value.size(), data.date);
    } else if (key == "from") {
      data.from = value;
    } else if (key == "subject") {
      data.subject = value;
    } else if (key == "text") {
      data.text = value;
    } else if (key == "text_of") {
      data.text_of = value;
    }
  }
  return data;
}

}  // namespace mailvault::index_schema
