// Highlighter: the snippet of a hit's text with the query's words marked, made
// like Xapian's MSet::snippet (a fragment of at most `bytes` bytes holding the
// most query words, white space collapsed, HTML-escaped, `omit` where text was
// left out), but stemming each distinct word once per search instead of every
// word of every hit, and reading ASCII without Unicode tables. MSet::snippet's
// stemming and character lookups were ~40 % of a broad search's time on
// 100,000 messages (bench/README.md).
//
// A word is highlighted when, lowercased, it is one of the query's unstemmed
// words or its stem is one of the query's stems (Xapian's "Z" terms), as the
// indexer's TermGenerator made them. Text with a CJK character, and queries
// with a wildcard (whose words are known only to the matcher), are left to
// MSet::snippet: Snippet() returns nullopt for them.
//
// Thread-safety: one Highlighter per search (it memoises words).
#pragma once

#include <xapian.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mailvault {

class Highlighter {
 public:
  // `stem` is the stemmer of `stem_language` (SearchOptions::stem_language).
  Highlighter(const Xapian::Query& query, const Xapian::Stem& stem,
              std::string_view stem_language, std::string start, std::string end,
              std::string omit);

  // Whether the query has words a snippet can highlight: terms of the free
  // text (Xapian's field prefixes are capitals; "Z" + lowercase is a stem).
  bool has_words() const { return !words_.empty() || !stems_.empty(); }
  // Those words and stems, lowercase, as they may begin a word of the text
  // (search/index_search.cc takes the snippet's window from the first).
  std::vector<std::string> Forms() const;

  // The snippet of `text` (UTF-8), or nullopt when MSet::snippet must make it.
  std::optional<std::string> Snippet(std::string_view text, size_t bytes);

 private:
  bool Matches(const std::string& lowered);

  Xapian::Stem stem_;
  std::string start_, end_, omit_;
  bool wildcard_ = false;
  std::unordered_set<std::string> words_;  // unstemmed terms
  std::unordered_set<std::string> stems_;  // "Z" terms without the Z
  std::unordered_map<std::string, bool> memo_;  // lowercased word -> highlighted
  // English stems begin with their word's first character (the stemmer only
  // changes endings; its exceptions, "skies" -> "sky", keep it): a word
  // starting with no stem's first byte is not stemmed at all. Other languages'
  // stemmers may change it (Dutch "één" -> "een"): there every word is.
  bool first_byte_filter_ = false;
  bool stem_first_bytes_[256] = {};
  bool word_first_bytes_[256] = {};  // of words_: exact, so in any language
};

}  // namespace mailvault
