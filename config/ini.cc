#include "config/ini.h"

#include <cctype>
#include <map>

namespace mailvault {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Cuts an inline comment: a ";" preceded by whitespace, or leading the
// (already trimmed) value.
std::string_view StripInlineComment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ';' && (i == 0 || IsSpace(s[i - 1]))) return s.substr(0, i);
  }
  return s;
}

}  // namespace

Result<std::vector<IniSection>> ParseIni(std::string_view text, std::string_view file_name) {
  auto error = [&](int line, const std::string& what) {
    return Status::InvalidArgument(std::string(file_name) + ":" + std::to_string(line) + ": " +
                                   what);
  };
  if (text.size() > kMaxIniBytes) {
    return Status::InvalidArgument(std::string(file_name) + ": larger than " +
                                   std::to_string(kMaxIniBytes) + " bytes");
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  std::vector<IniSection> sections;
  std::map<std::string, int> section_lines;
  std::map<std::string, int> key_lines;  // in the current section
  int line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view raw = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_number;
    if (raw.size() > kMaxIniLineLength) {
      return error(line_number, "syntax error: line longer than " +
                                    std::to_string(kMaxIniLineLength) + " characters");
    }
    if (raw.find('\0') != std::string_view::npos) {
      return error(line_number, "syntax error: NUL byte in line");
    }
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == ';' || line.front() == '#') continue;

    if (line.front() == '[') {
      line = Trim(StripInlineComment(line));
      if (line.back() != ']') {
        return error(line_number, "syntax error: section header \"" + std::string(line) +
                                      "\" does not end with \"]\"");
      }
      std::string name(Trim(line.substr(1, line.size() - 2)));
      if (name.empty()) return error(line_number, "syntax error: empty section name");
      auto [it, inserted] = section_lines.emplace(name, line_number);
      if (!inserted) {
        return error(line_number, "[" + name + "]: duplicate section (first at line " +
                                      std::to_string(it->second) + ")");
      }
      sections.push_back({name, line_number, {}});
      key_lines.clear();
      continue;
    }

    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return error(line_number, "syntax error: expected \"key = value\" or \"[section]\", got \"" +
                                    std::string(line) + "\"");
    }
    std::string key(Trim(line.substr(0, eq)));
    if (key.empty()) return error(line_number, "syntax error: a key is missing before \"=\"");
    for (char c : key) {
      if (!IsKeyChar(c)) {
        return error(line_number, "syntax error: \"" + key + "\" is not a key name");
      }
    }
    if (sections.empty()) {
      return error(line_number, key +
                                    ": key outside any section (put it under [archive], "
                                    "[web], [collector], [log] or [account.NAME])");
    }
    std::string_view value = Trim(line.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      size_t close = value.find('"', 1);
      if (close == std::string_view::npos) {
        return error(line_number, "[" + sections.back().name + "] " + key +
                                      ": syntax error: unterminated quoted value");
      }
      std::string_view rest = Trim(value.substr(close + 1));
      if (!rest.empty() && rest.front() != ';') {
        return error(line_number, "[" + sections.back().name + "] " + key +
                                      ": syntax error: text after the closing quote");
      }
      value = value.substr(1, close - 1);
    } else {
      value = Trim(StripInlineComment(value));
    }
    auto [it, inserted] = key_lines.emplace(key, line_number);
    if (!inserted) {
      return error(line_number, "[" + sections.back().name + "] " + key +
                                    ": duplicate key (first at line " + std::to_string(it->second) +
                                    ")");
    }
    sections.back().entries.push_back({key, std::string(value), line_number});
  }
  return sections;
}

}  // namespace mailvault
