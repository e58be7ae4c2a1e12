#include "search/highlighter.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace mailvault {
namespace {

bool IsCapital(char c) { return c >= 'A' && c <= 'Z'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool HasWildcard(const Xapian::Query& query) {
  if (query.get_type() == Xapian::Query::OP_WILDCARD) return true;
  for (size_t i = 0; i < query.get_num_subqueries(); ++i) {
    if (HasWildcard(query.get_subquery(i))) return true;
  }
  return false;
}

// The code point at `text[i]` and its length in bytes; a malformed sequence is
// its first byte, as U+FFFD.
std::pair<unsigned, size_t> CodePointAt(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned c = byte(i);
  if (c < 0x80) return {c, 1};
  size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) return {0xFFFD, 1};
  unsigned cp = c & (0x3F >> (length - 1));
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {0xFFFD, 1};
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  return {cp, length};
}

// The scripts the indexer turns into n-grams (TermGenerator::FLAG_CJK_NGRAM).
bool IsCjk(unsigned cp) {
  return (cp >= 0x2E80 && cp <= 0x2FDF) || (cp >= 0x3000 && cp <= 0x9FFF) ||
         (cp >= 0xA000 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
         (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x2FA1F);
}

bool IsWordChar(unsigned cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  return Xapian::Unicode::is_wordchar(cp);
}

void AppendEscaped(std::string_view text, std::string* out) {
  bool space = false;
  for (char c : text) {
    if (IsSpace(c)) {
      space = true;
      continue;
    }
    if (space) *out += ' ';
    space = false;
    switch (c) {
      case '&': *out += "&amp;"; break;
      case '<': *out += "&lt;"; break;
      case '>': *out += "&gt;"; break;
      default: *out += c;
    }
  }
  if (space) *out += ' ';
}

bool HasNonSpace(std::string_view text) {
  for (char c : text) {
    if (!IsSpace(c)) return true;
  }
  return false;
}

struct Token {
  size_t begin, end;
  int match;  // -1, or which distinct highlighted word
};

}  // namespace

Highlighter::Highlighter(const Xapian::Query& query, const Xapian::Stem& stem,
                         std::string_view stem_language, std::string start, std::string end,
                         std::string omit)
    : stem_(stem),
      start_(std::move(start)),
      end_(std::move(end)),
      omit_(std::move(omit)),
      first_byte_filter_(stem_language == "english" || stem_language == "en") {
  wildcard_ = HasWildcard(query);
  for (auto it = query.get_unique_terms_begin(); it != query.get_unique_terms_end(); ++it) {
    const std::string& t = *it;
    if (t.empty()) continue;
    if (t[0] == 'Z' && t.size() > 1 && !IsCapital(t[1])) {
      stems_.insert(t.substr(1));
      stem_first_bytes_[static_cast<unsigned char>(t[1])] = true;
    } else if (!IsCapital(t[0])) {
      words_.insert(t);
      word_first_bytes_[static_cast<unsigned char>(t[0])] = true;
    }
  }
}

std::vector<std::string> Highlighter::Forms() const {
  std::vector<std::string> forms(words_.begin(), words_.end());
  forms.insert(forms.end(), stems_.begin(), stems_.end());
  return forms;
}

bool Highlighter::Matches(const std::string& lowered) {
  if (lowered.empty()) return false;
  const auto first = static_cast<unsigned char>(lowered[0]);
  const bool may_stem = !stems_.empty() && (!first_byte_filter_ || stem_first_bytes_[first]);
  // Most words of a text start like no query word: no lookup at all.
  if (!may_stem && !word_first_bytes_[first]) return false;
  auto [it, added] = memo_.try_emplace(lowered, false);
  if (added) {
    it->second = words_.count(lowered) > 0 || (may_stem && stems_.count(stem_(lowered)) > 0);
  }
  return it->second;
}

std::optional<std::string> Highlighter::Snippet(std::string_view text, size_t bytes) {
  if (wildcard_) return std::nullopt;
  // The words, as the TermGenerator splits them: word characters, with an
  // apostrophe inside a word kept (as "'", the way terms have it).
  std::vector<Token> tokens;
  std::unordered_map<std::string, int> match_ids;
  for (size_t i = 0; i < text.size();) {
    auto [cp, length] = CodePointAt(text, i);
    if (IsCjk(cp)) return std::nullopt;
    if (!IsWordChar(cp)) {
      i += length;
      continue;
    }
    const size_t begin = i;
    bool ascii = true;
    std::string word;
    for (;;) {
      if (cp >= 0x80) ascii = false;
      word.append(text.substr(i, length));
      i += length;
      if (i >= text.size()) break;
      std::tie(cp, length) = CodePointAt(text, i);
      if (IsCjk(cp)) return std::nullopt;
      if (IsWordChar(cp)) continue;
      if (cp == '\'' || cp == 0x2019) {
        const size_t after = i + length;
        if (after < text.size() && IsWordChar(CodePointAt(text, after).first)) {
          word += '\'';
          i = after;
          std::tie(cp, length) = CodePointAt(text, i);
          continue;
        }
      }
      break;
    }
    std::string lowered;
    if (ascii) {
      lowered = std::move(word);
      for (char& c : lowered) {
        if (IsCapital(c)) c = static_cast<char>(c - 'A' + 'a');
      }
    } else {
      lowered = Xapian::Unicode::tolower(word);
    }
    int match = -1;
    if (Matches(lowered)) {
      match = match_ids.try_emplace(lowered, static_cast<int>(match_ids.size())).first->second;
    }
    tokens.push_back({begin, i, match});
  }
  if (tokens.empty()) return std::nullopt;

  // The fragment of whole words of at most `bytes` with the most different
  // highlighted words, then the most highlighted words, then the earliest.
  std::vector<int> in_window(match_ids.size(), 0);
  int distinct = 0, occurrences = 0;
  long best_score = -1;
  size_t best_first = 0, best_last = 0;  // tokens [first, last)
  size_t last = 0;
  for (size_t first = 0; first < tokens.size(); ++first) {
    if (last < first) last = first;
    while (last < tokens.size() && tokens[last].end - tokens[first].begin <= bytes) {
      if (const int m = tokens[last].match; m >= 0) {
        if (in_window[m]++ == 0) ++distinct;
        ++occurrences;
      }
      ++last;
    }
    const long score = distinct * 100000L + occurrences;
    if (score > best_score && last > first) {
      best_score = score;
      best_first = first;
      best_last = last;
    }
    if (last > first) {
      if (const int m = tokens[first].match; m >= 0) {
        if (--in_window[m] == 0) --distinct;
        --occurrences;
      }
    }
  }
  if (best_last == best_first) return std::nullopt;  // a word longer than `bytes`
  // Of equal fragments the earliest ends at its first highlighted word: start
  // a quarter of `bytes` before that word instead, so what follows it shows.
  size_t first_match = best_first;
  while (first_match < best_last && tokens[first_match].match < 0) ++first_match;
  if (first_match < best_last) {
    size_t first = best_first;
    while (tokens[first_match].begin - tokens[first].begin > bytes / 4) ++first;
    if (first > best_first) {
      best_first = first;
      best_last = std::max(best_last, first + 1);
      while (best_last < tokens.size() && tokens[best_last].end - tokens[first].begin <= bytes) {
        ++best_last;
      }
    }
  }

  const size_t begin = tokens[best_first].begin;
  size_t end = tokens[best_last - 1].end;
  // Punctuation right after the last word ("days.") comes along, within `bytes`.
  while (end < text.size() && end - begin < bytes && !IsSpace(text[end]) &&
         static_cast<unsigned char>(text[end]) < 0x80 && !IsWordChar(text[end])) {
    ++end;
  }
  std::string out;
  out.reserve(end - begin + 64);
  if (HasNonSpace(text.substr(0, begin))) out += omit_;
  size_t at = begin;
  for (size_t k = best_first; k < best_last; ++k) {
    const Token& t = tokens[k];
    AppendEscaped(text.substr(at, t.begin - at), &out);
    if (t.match >= 0) out += start_;
    AppendEscaped(text.substr(t.begin, t.end - t.begin), &out);
    if (t.match >= 0) out += end_;
    at = t.end;
  }
  AppendEscaped(text.substr(at, end - at), &out);
  if (HasNonSpace(text.substr(end))) out += omit_;
  return out;
}

}  // namespace mailvault
