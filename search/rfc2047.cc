#include "search/rfc2047.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "search/charset.h"

namespace mailvault {
namespace {

// One piece of a header value: literal text, or the bytes of one encoded word.
struct Segment {
  bool encoded = false;
  std::string charset;  // encoded words only, as written
  std::string bytes;    // literal text or decoded word bytes
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string DecodeQ(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void AddProblem(std::vector<std::string>* problems, std::string problem) {
  if (problems == nullptr || problem.empty()) return;
  if (std::find(problems->begin(), problems->end(), problem) == problems->end()) {
    problems->push_back(std::move(problem));
  }
}

// Parses an encoded word starting at s[start] ("=?"). On success sets `segment`
// and `*end` (one past "?=").
bool ParseEncodedWord(std::string_view s, size_t start, Segment* segment, size_t* end) {
  constexpr size_t kMaxCharsetLength = 64;
  size_t pos = start + 2;
  size_t q = s.find('?', pos);
  if (q == std::string_view::npos || q == pos || q - pos > kMaxCharsetLength) return false;
  std::string_view charset = s.substr(pos, q - pos);
  if (std::any_of(charset.begin(), charset.end(), [](char c) { return IsSpace(c) || c == '='; })) {
    return false;
  }
  if (q + 2 >= s.size() || s[q + 2] != '?') return false;
  char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(s[q + 1])));
  if (encoding != 'B' && encoding != 'Q') return false;
  size_t text_start = q + 3;
  size_t close = s.find("?=", text_start);
  if (close == std::string_view::npos) return false;
  std::string_view text = s.substr(text_start, close - text_start);
  // "=?" cannot occur inside a real encoded text; it means this word is unclosed.
  if (text.find("=?") != std::string_view::npos) return false;
  segment->encoded = true;
  segment->charset = std::string(charset);
  segment->bytes = encoding == 'B' ? DecodeBase64Lenient(text) : DecodeQ(text);
  *end = close + 2;
  return true;
}

std::vector<Segment> Tokenize(std::string_view raw) {
  std::vector<Segment> segments;
  Segment literal;
  for (size_t i = 0; i < raw.size();) {
    if (raw[i] == '\r' || raw[i] == '\n') {  // unfold
      ++i;
      continue;
    }
    Segment word;
    size_t end = 0;
    if (raw[i] == '=' && i + 1 < raw.size() && raw[i + 1] == '?' &&
        ParseEncodedWord(raw, i, &word, &end)) {
      if (!literal.bytes.empty()) segments.push_back(std::move(literal));
      literal = Segment();
      segments.push_back(std::move(word));
      i = end;
      continue;
    }
    literal.bytes += raw[i] == '\t' ? ' ' : raw[i];
    ++i;
  }
  if (!literal.bytes.empty()) segments.push_back(std::move(literal));
  return segments;
}

bool AllSpace(const std::string& s) { return std::all_of(s.begin(), s.end(), IsSpace); }

std::string LiteralToUtf8(const std::string& bytes, std::string_view fallback,
                          std::vector<std::string>* problems) {
  if (IsValidUtf8(bytes)) return bytes;
  ConvertedText t = ConvertToUtf8(bytes, "", fallback);
  AddProblem(problems, "raw 8-bit header text: " + t.problem);
  return std::move(t.utf8);
}

// Calls emit_literal(utf8) and emit_words(utf8) in order; a run of encoded words
// (separated by white space only) is decoded as one piece, adjacent words in the
// same charset joined before conversion so split multi-byte characters survive.
template <typename LiteralFn, typename WordsFn>
void Walk(std::string_view raw, std::string_view fallback, std::vector<std::string>* problems,
          LiteralFn emit_literal, WordsFn emit_words) {
  std::vector<Segment> segments = Tokenize(raw);
  for (size_t i = 0; i < segments.size();) {
    if (!segments[i].encoded) {
      emit_literal(LiteralToUtf8(segments[i].bytes, fallback, problems));
      ++i;
      continue;
    }
    std::string run_utf8;
    while (i < segments.size()) {
      // Join words of one charset.
      std::string charset = segments[i].charset;
      std::string bytes;
      while (i < segments.size()) {
        if (segments[i].encoded && segments[i].charset == charset) {
          bytes += segments[i].bytes;
          ++i;
        } else if (!segments[i].encoded && AllSpace(segments[i].bytes) && i + 1 < segments.size() &&
                   segments[i + 1].encoded) {
          ++i;  // white space between encoded words is not part of the text
        } else {
          break;
        }
      }
      ConvertedText t = ConvertToUtf8(bytes, charset, fallback);
      if (!t.problem.empty()) AddProblem(problems, "encoded word: " + t.problem);
      run_utf8 += t.utf8;
      if (i >= segments.size() || !segments[i].encoded) break;
    }
    emit_words(run_utf8);
  }
}

void AppendQEncoded(std::string_view utf8, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *out += "=?UTF-8?Q?";
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/') {
      *out += ch;
    } else if (c == ' ') {
      *out += '_';
    } else {
      *out += '=';
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
    }
  }
  *out += "?=";
}

std::string TrimSpaces(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string DecodeBase64Lenient(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') {
      v = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      v = ch - 'a' + 26;
    } else if (ch >= '0' && ch <= '9') {
      v = ch - '0' + 52;
    } else if (ch == '+') {
      v = 62;
    } else if (ch == '/') {
      v = 63;
    } else if (ch == '=') {
      acc = 0;  // padding ends the group; drop its leftover bits
      bits = 0;
      continue;
    } else {
      continue;  // white space and stray characters
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
    acc &= (1u << bits) - 1;
  }
  return out;
}

std::string DecodeHeaderText(std::string_view raw, std::string_view fallback_charset,
                             std::vector<std::string>* problems) {
  std::string out;
  auto append = [&out](const std::string& s) { out += s; };
  Walk(raw, fallback_charset, problems, append, append);
  return TrimSpaces(std::move(out));
}

std::string NormalizeEncodedWords(std::string_view raw, std::string_view fallback_charset,
                                  std::vector<std::string>* problems) {
  std::string out;
  Walk(
      raw, fallback_charset, problems, [&out](const std::string& s) { out += s; },
      [&out](const std::string& s) {
        // Keep the word a separate token for the address parser.
        if (!out.empty() && !IsSpace(out.back()) && out.back() != '"') out += ' ';
        AppendQEncoded(s, &out);
      });
  return out;
}

}  // namespace mailvault
