#include "search/html_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <utility>
#include <vector>

#include "search/charset.h"

namespace mailvault {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  // Numeric references to C1 controls mean windows-1252 characters (as in browsers).
  static constexpr std::array<uint16_t, 32> kC1 = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  if (cp >= 0x80 && cp <= 0x9F) cp = kC1[cp - 0x80];
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct NamedEntity {
  std::string_view name;
  uint32_t cp;
};
constexpr NamedEntity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},     {"nbsp", 0xA0},     {"copy", 0xA9},    {"reg", 0xAE},
    {"trade", 0x2122},  {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"sbquo", 0x201A}, {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"bdquo", 0x201E},  {"bull", 0x2022},  {"middot", 0xB7},
    {"euro", 0x20AC},   {"pound", 0xA3},    {"yen", 0xA5},     {"cent", 0xA2},
    {"sect", 0xA7},     {"deg", 0xB0},      {"plusmn", 0xB1},  {"times", 0xD7},
    {"divide", 0xF7},   {"laquo", 0xAB},    {"raquo", 0xBB},   {"iexcl", 0xA1},
    {"iquest", 0xBF},   {"shy", 0xAD},      {"para", 0xB6},    {"micro", 0xB5},
    {"frac12", 0xBD},   {"frac14", 0xBC},   {"frac34", 0xBE},  {"sup2", 0xB2},
    {"sup3", 0xB3},     {"ordf", 0xAA},     {"ordm", 0xBA},    {"not", 0xAC},
    {"dagger", 0x2020}, {"permil", 0x2030}, {"larr", 0x2190},  {"rarr", 0x2192},
    {"zwnj", 0x200C},   {"zwj", 0x200D},    {"ensp", 0x2002},  {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"szlig", 0xDF},    {"Agrave", 0xC0},  {"Aacute", 0xC1},
    {"Acirc", 0xC2},    {"Atilde", 0xC3},   {"Auml", 0xC4},    {"Aring", 0xC5},
    {"AElig", 0xC6},    {"Ccedil", 0xC7},   {"Egrave", 0xC8},  {"Eacute", 0xC9},
    {"Ecirc", 0xCA},    {"Euml", 0xCB},     {"Igrave", 0xCC},  {"Iacute", 0xCD},
    {"Icirc", 0xCE},    {"Iuml", 0xCF},     {"ETH", 0xD0},     {"Ntilde", 0xD1},
    {"Ograve", 0xD2},   {"Oacute", 0xD3},   {"Ocirc", 0xD4},   {"Otilde", 0xD5},
    {"Ouml", 0xD6},     {"Oslash", 0xD8},   {"Ugrave", 0xD9},  {"Uacute", 0xDA},
    {"Ucirc", 0xDB},    {"Uuml", 0xDC},     {"Yacute", 0xDD},  {"THORN", 0xDE},
    {"agrave", 0xE0},   {"aacute", 0xE1},   {"acirc", 0xE2},   {"atilde", 0xE3},
    {"auml", 0xE4},     {"aring", 0xE5},    {"aelig", 0xE6},   {"ccedil", 0xE7},
    {"egrave", 0xE8},   {"eacute", 0xE9},   {"ecirc", 0xEA},   {"euml", 0xEB},
    {"igrave", 0xEC},   {"iacute", 0xED},   {"icirc", 0xEE},   {"iuml", 0xEF},
    {"eth", 0xF0},      {"ntilde", 0xF1},   {"ograve", 0xF2},  {"oacute", 0xF3},
    {"ocirc", 0xF4},    {"otilde", 0xF5},   {"ouml", 0xF6},    {"oslash", 0xF8},
    {"ugrave", 0xF9},   {"uacute", 0xFA},   {"ucirc", 0xFB},   {"uuml", 0xFC},
    {"yacute", 0xFD},   {"thorn", 0xFE},    {"yuml", 0xFF},    {"OElig", 0x152},
    {"oelig", 0x153},   {"Scaron", 0x160},  {"scaron", 0x161}, {"Yuml", 0x178},
};

// Decodes the reference at text[i] ('&'). Appends its text to `out` and returns
// the number of input bytes used; 1 (just the '&') when it is not a reference.
size_t DecodeEntityAt(std::string_view text, size_t i, std::string* out) {
  constexpr size_t kMaxEntityLength = 32;
  size_t j = i + 1;
  if (j < text.size() && text[j] == '#') {
    ++j;
    bool hex = j < text.size() && (text[j] == 'x' || text[j] == 'X');
    if (hex) ++j;
    uint32_t cp = 0;
    size_t digits = 0;
    while (j < text.size() && digits < 8 &&
           (hex ? std::isxdigit(static_cast<unsigned char>(text[j]))
                : std::isdigit(static_cast<unsigned char>(text[j])))) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[j])));
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++j;
      ++digits;
    }
    if (digits == 0) {
      *out += '&';
      return 1;
    }
    if (j < text.size() && text[j] == ';') ++j;
    AppendUtf8(cp, out);
    return j - i;
  }
  size_t name_end = j;
  while (name_end < text.size() && name_end - j < kMaxEntityLength &&
         std::isalnum(static_cast<unsigned char>(text[name_end]))) {
    ++name_end;
  }
  std::string_view name = text.substr(j, name_end - j);
  for (const auto& e : kEntities) {
    if (e.name == name) {
      AppendUtf8(e.cp, out);
      if (name_end < text.size() && text[name_end] == ';') ++name_end;
      return name_end - i;
    }
  }
  *out += '&';
  return 1;
}

bool StartsWithNoCase(std::string_view s, size_t pos, std::string_view prefix) {
  if (pos + prefix.size() > s.size()) return false;
  for (size_t k = 0; k < prefix.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(s[pos + k])) != prefix[k]) return false;
  }
  return true;
}

// Position of `needle` (lowercase) in `s` at or after `pos`, ignoring case; npos when absent.
size_t FindNoCase(std::string_view s, size_t pos, std::string_view needle) {
  if (needle.empty()) return pos;
  for (size_t k = pos; k + needle.size() <= s.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(s[k])) == needle[0] &&
        StartsWithNoCase(s, k, needle)) {
      return k;
    }
  }
  return std::string_view::npos;
}

// End of the tag opened at s[pos] (index one past '>'), with quoted attribute
// values skipped; s.size() when the tag is not closed.
size_t TagEnd(std::string_view s, size_t pos) {
  char quote = 0;
  for (size_t k = pos; k < s.size(); ++k) {
    char c = s[k];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      // Quotes only open attribute values (after '='); a stray quote elsewhere
      // must not swallow the rest of the document.
      size_t b = k;
      while (b > pos && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
      if (b > pos && s[b - 1] == '=') quote = c;
    } else if (c == '>') {
      return k + 1;
    }
  }
  return s.size();
}

bool IsBlockTag(std::string_view name) {
  static constexpr std::string_view kBlocks[] = {
      "address", "article", "aside",    "blockquote", "br",         "center", "dd",    "div",
      "dl",      "dt",      "fieldset", "footer",     "form",       "h1",     "h2",    "h3",
      "h4",      "h5",      "h6",       "header",     "hr",         "li",     "main",  "nav",
      "ol",      "p",       "pre",      "section",    "table",      "tbody",  "tfoot", "thead",
      "tr",      "ul",      "caption",  "figure",     "figcaption", "body",   "html"};
  return std::find(std::begin(kBlocks), std::end(kBlocks), name) != std::end(kBlocks);
}

bool IsDroppedTag(std::string_view name) {
  return name == "script" || name == "style" || name == "head" || name == "title" ||
         name == "template" || name == "object" || name == "xml";
}

// Builds text with collapsed white space.
class TextBuilder {
 public:
  explicit TextBuilder(size_t max) : max_(max) {}
  void Space() { space_ = true; }
  void Break(int n) { breaks_ = std::min(2, std::max(breaks_, n)); }
  void Text(std::string_view s) {
    if (!out_.empty()) {
      if (breaks_ > 0) {
        out_.append(static_cast<size_t>(breaks_), '\n');
      } else if (space_) {
        out_ += ' ';
      }
    }
    breaks_ = 0;
    space_ = false;
    out_ += s;
  }
  bool Full() const { return out_.size() >= max_; }
  std::string Take() {
    out_.resize(Utf8PrefixLength(out_, max_));
    return std::move(out_);
  }

 private:
  size_t max_;
  std::string out_;
  bool space_ = false;
  int breaks_ = 0;
};

}  // namespace

std::string DecodeHtmlEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '&') {
      i += DecodeEntityAt(text, i, &out);
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string HtmlToText(std::string_view html, size_t max_output_bytes) {
  TextBuilder text(max_output_bytes);
  std::string piece;
  // Tags whose closing tag is known to be absent after the current position, so
  // that many unclosed <head> tags cost one scan, not one each.
  std::vector<std::string> unclosed;
  size_t i = 0;
  while (i < html.size() && !text.Full()) {
    char c = html[i];
    if (c == '<') {
      if (StartsWithNoCase(html, i, "<!--")) {
        size_t j = html.find("-->", i + 4);
        i = j == std::string_view::npos ? html.size() : j + 3;
        continue;
      }
      if (i + 1 < html.size() && (html[i + 1] == '!' || html[i + 1] == '?')) {
        i = TagEnd(html, i + 2);
        continue;
      }
      size_t k = i + 1;
      bool closing = k < html.size() && html[k] == '/';
      if (closing) ++k;
      size_t name_start = k;
      while (k < html.size() && std::isalnum(static_cast<unsigned char>(html[k]))) ++k;
      if (k == name_start) {  // a stray '<' is text
        text.Text("<");
        ++i;
        continue;
      }
      std::string name(html.substr(name_start, k - name_start));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      size_t end = TagEnd(html, k);
      if (!closing && IsDroppedTag(name)) {
        size_t close = std::string_view::npos;
        if (std::find(unclosed.begin(), unclosed.end(), name) == unclosed.end()) {
          close = FindNoCase(html, end, "</" + name);
          if (close == std::string_view::npos) unclosed.push_back(name);
        }
        if (close != std::string_view::npos) {
          end = TagEnd(html, close + 2);
        } else if (name != "head" && name != "title") {
          end = html.size();  // an unclosed script or style runs to the end
        }
      }
      if (name == "td" || name == "th") {
        text.Space();
      } else if (IsBlockTag(name)) {
        text.Break(name == "p" || name == "table" || name == "blockquote" ||
                           (name.size() == 2 && name[0] == 'h' && std::isdigit(name[1]))
                       ? 2
                       : 1);
      }
      i = end;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
      text.Space();
      ++i;
      continue;
    }
    piece.clear();
    if (c == '&') {
      i += DecodeEntityAt(html, i, &piece);
      if (piece == "\xC2\xA0") {  // &nbsp; is white space for indexing
        text.Space();
        continue;
      }
    } else {
      size_t j = i;
      while (j < html.size() && html[j] != '<' && html[j] != '&' && html[j] != ' ' &&
             html[j] != '\t' && html[j] != '\r' && html[j] != '\n' && html[j] != '\f') {
        ++j;
      }
      piece.assign(html.substr(i, j - i));
      i = j;
    }
    text.Text(piece);
  }
  return text.Take();
}

std::string SniffHtmlCharset(std::string_view html) {
  std::string_view head = html.substr(0, std::min<size_t>(html.size(), 4096));
  for (size_t pos = FindNoCase(head, 0, "<meta"); pos != std::string_view::npos;
       pos = FindNoCase(head, pos + 5, "<meta")) {
    size_t end = TagEnd(head, pos + 5);
    std::string_view tag = head.substr(pos, end - pos);
    size_t cs = FindNoCase(tag, 0, "charset");
    if (cs == std::string_view::npos) continue;
    size_t v = cs + 7;
    while (v < tag.size() && (tag[v] == ' ' || tag[v] == '=' || tag[v] == '"' || tag[v] == '\'')) {
      ++v;
    }
    size_t e = v;
    while (e < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[e])) || tag[e] == '-' ||
                              tag[e] == '_' || tag[e] == ':' || tag[e] == '.')) {
      ++e;
    }
    if (e > v) return std::string(tag.substr(v, e - v));
  }
  return "";
}

}  // namespace mailvault
