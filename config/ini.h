// IniReader: the small INI dialect of mailvault.ini, with line numbers.
//
// Grammar (one construct per line; lines end in LF or CRLF; a UTF-8 BOM at the
// start is skipped):
//
//   line     := blank | comment | section | entry
//   comment  := [ws] (";" | "#") any*
//   section  := [ws] "[" name "]" [ws] [inline-comment]
//   entry    := [ws] key [ws] "=" [ws] value [ws] [inline-comment]
//   key      := [A-Za-z0-9_.-]+
//   value    := plain | '"' any-but-quote* '"'
//   inline-comment := ws ";" any*      (a ";" after whitespace starts a comment;
//                                       inside quotes it is part of the value)
//
// Bounds: at most kMaxIniBytes per file and kMaxIniLineLength per line.
// Refused: an entry before any section, a line that is neither of the above,
// a key given twice in one section, a section given twice.
//
// Why not Poco::Util::IniFileConfiguration: it reports no line numbers, and
// every configuration error must name the file line.
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

inline constexpr size_t kMaxIniBytes = 1 << 20;  // 1 MiB
inline constexpr size_t kMaxIniLineLength = 4096;

struct IniEntry {
  std::string key;
  std::string value;  // trimmed, quotes removed
  int line = 0;       // 1-based
};

struct IniSection {
  std::string name;  // between the brackets, trimmed
  int line = 0;      // of the header
  std::vector<IniEntry> entries;
};

// Parses `text`; `file_name` is used in error messages only
// ("mailvault.ini:12: syntax error: ..."). Errors are kInvalidArgument.
Result<std::vector<IniSection>> ParseIni(std::string_view text, std::string_view file_name);

}  // namespace mailvault
