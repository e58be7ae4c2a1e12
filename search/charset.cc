#include "search/charset.h"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace mailvault {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Owner of an iconv conversion descriptor.
class IconvHandle {
 public:
  IconvHandle(const std::string& to, const std::string& from)
      : cd_(iconv_open(to.c_str(), from.c_str())) {}
  ~IconvHandle() {
    if (valid()) iconv_close(cd_);
  }
  IconvHandle(const IconvHandle&) = delete;
  IconvHandle& operator=(const IconvHandle&) = delete;
  bool valid() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

std::string Trimmed(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (std::isspace(static_cast<unsigned char>(s[b])) || s[b] == '"')) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == '"')) --e;
  return std::string(s.substr(b, e - b));
}

// A label iconv may be given: no `/` (iconv's `//IGNORE`, `//TRANSLIT` suffixes and
// `ISO-10646/UTF8/` forms) and nothing else outside what charset names are made of.
bool IsSafeIconvLabel(const std::string& label) {
  return !label.empty() && std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':' || c == '+' || c == '(' || c == ')';
  });
}

// Converts with iconv; invalid or unconvertible input bytes become U+FFFD (one per
// byte skipped); the output is checked to be valid UTF-8. Returns false when the
// charset cannot be opened (or is not a safe label). `replaced` is set when any
// replacement happened.
bool IconvToUtf8(std::string_view in, const std::string& from, std::string* out, bool* replaced) {
  if (!IsSafeIconvLabel(from)) return false;
  IconvHandle cd("UTF-8", from);
  if (!cd.valid()) return false;
  out->clear();
  out->reserve(in.size() + in.size() / 2);
  *replaced = false;
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  std::array<char, 16384> buf;
  while (src_left > 0) {
    char* dst = buf.data();
    size_t dst_left = buf.size();
    size_t rc = iconv(cd.get(), &src, &src_left, &dst, &dst_left);
    int err = errno;
    out->append(buf.data(), buf.size() - dst_left);
    if (rc != static_cast<size_t>(-1) || err == E2BIG) continue;
    // EILSEQ (invalid or unconvertible) or EINVAL (incomplete at the end): replace
    // one byte and go on from the next, with the shift state reset.
    *replaced = true;
    out->append(kReplacement);
    if (src_left > 0) {
      ++src;
      --src_left;
    }
    iconv(cd.get(), nullptr, nullptr, nullptr, nullptr);
  }
  char* dst = buf.data();
  size_t dst_left = buf.size();
  iconv(cd.get(), nullptr, nullptr, &dst, &dst_left);  // flush a stateful encoder
  out->append(buf.data(), buf.size() - dst_left);
  // iconv's output is not necessarily valid UTF-8: glibc copies UTF-8 to UTF-8
  // without checking it (for every label that names UTF-8), and writes 5- and
  // 6-byte forms for UCS-4/UTF-32 code points above U+10FFFF.
  if (!IsValidUtf8(*out)) *out = ToValidUtf8(*out, replaced);
  return true;
}

// Charsets in which every byte is one character (where valid UTF-8 text with
// non-ASCII bytes means the label is wrong).
bool IsSingleByte(const std::string& charset) {
  for (std::string_view prefix :
       {"WINDOWS-", "ISO-8859", "ISO8859", "KOI8", "CP125", "CP850", "CP874", "MACINTOSH"}) {
    if (charset.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; });
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t min;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Converts with `charset`, or returns false when iconv does not know it.
bool ConvertWith(std::string_view bytes, const std::string& charset, ConvertedText* result) {
  if (charset == "UTF-8") {
    result->utf8 = ToValidUtf8(bytes, &result->replaced);
  } else if (!IconvToUtf8(bytes, charset, &result->utf8, &result->replaced)) {
    return false;
  }
  result->charset_used = charset;
  return true;
}

}  // namespace

std::string NormalizeCharsetLabel(std::string_view label) {
  std::string l = Trimmed(label);
  // RFC 2231 / RFC 2184 language suffix: "us-ascii*en".
  if (size_t star = l.find('*'); star != std::string::npos) l.resize(star);
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"", ""},
      {"default", ""},
      {"default_charset", ""},
      {"unknown", ""},
      {"unknown-8bit", ""},
      {"x-unknown", ""},
      {"x-user-defined", ""},
      {"utf8", "UTF-8"},
      {"utf-8", "UTF-8"},
      {"us-ascii", "US-ASCII"},
      {"ascii", "US-ASCII"},
      {"ansi_x3.4-1968", "US-ASCII"},
      // Mail labelled Latin-1 is very often windows-1252 (smart quotes); it is a
      // superset for every printable character.
      {"iso-8859-1", "WINDOWS-1252"},
      {"iso8859-1", "WINDOWS-1252"},
      {"latin1", "WINDOWS-1252"},
      {"iso_8859-1", "WINDOWS-1252"},
      {"ks_c_5601-1987", "CP949"},
      {"ks_c_5601", "CP949"},
      {"euc-kr", "CP949"},
      {"gb2312", "GB18030"},
      {"gbk", "GB18030"},
      {"x-gbk", "GB18030"},
      {"shift_jis", "CP932"},
      {"x-sjis", "CP932"},
      {"sjis", "CP932"},
      {"ms932", "CP932"},
      {"big5", "BIG5-HKSCS"},
      {"x-x-big5", "BIG5-HKSCS"},
      {"iso-8859-8-i", "ISO-8859-8"},
      {"unicode-1-1-utf-7", "UTF-7"},
      {"x-mac-roman", "MACINTOSH"},
      {"macintosh", "MACINTOSH"},
      {"cp-850", "CP850"},
      {"windows-874", "CP874"},
  };
  for (const auto& [from, to] : kAliases) {
    if (l == from) return std::string(to);
  }
  // Other spellings of UTF-8 ("utf_8", "UTF]8"): glibc's iconv ignores the
  // punctuation and would copy the bytes through unchecked.
  std::string letters;
  for (char c : l) {
    if (std::isalnum(static_cast<unsigned char>(c))) letters += c;
  }
  if (letters == "utf8") return "UTF-8";
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return l;
}

bool IsKnownCharset(const std::string& charset) {
  if (!IsSafeIconvLabel(charset)) return false;
  IconvHandle cd("UTF-8", charset);
  return cd.valid();
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ToValidUtf8(std::string_view s, bool* replaced) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.append(kReplacement);
      if (replaced != nullptr) *replaced = true;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t Utf8PrefixLength(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  size_t n = max_bytes;
  // Step back over continuation bytes to the start of the sequence that was cut.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

ConvertedText ConvertToUtf8(std::string_view bytes, std::string_view declared,
                            std::string_view fallback) {
  ConvertedText result;
  // The label as the message wrote it, for problem lines (which must be UTF-8 too).
  const std::string label = ToValidUtf8(Trimmed(declared));
  const std::string charset = NormalizeCharsetLabel(declared);
  const bool ascii = IsAscii(bytes);

  if (ascii && (charset.empty() || charset == "US-ASCII" || charset == "UTF-8")) {
    result.utf8.assign(bytes);
    result.charset_used = "US-ASCII";
    return result;
  }
  const bool known = !charset.empty() && charset != "US-ASCII" && IsKnownCharset(charset);
  if (known && IsSingleByte(charset) && IsValidUtf8(bytes)) {
    // Non-ASCII text that is valid UTF-8 is almost never really Latin-1/KOI8/...
    // ("cafÃ©"): the label is wrong.
    ConvertWith(bytes, "UTF-8", &result);
    result.problem = "charset " + label + " does not fit the text: read as UTF-8";
    return result;
  }
  if (known) {
    ConvertWith(bytes, charset, &result);
    if (!result.replaced) return result;
    // The declared charset does not fit the bytes. Mail that says latin-1 or
    // whatever but is really UTF-8 is common: prefer UTF-8 when it is valid.
    if (charset != "UTF-8" && IsValidUtf8(bytes)) {
      result = ConvertedText();
      ConvertWith(bytes, "UTF-8", &result);
      result.problem = "charset " + label + " does not fit the text: read as UTF-8";
      return result;
    }
    result.problem = "charset " + label + ": invalid bytes replaced with U+FFFD";
    return result;
  }
  // No usable declaration: UTF-8 when valid, else the fallback.
  if (IsValidUtf8(bytes)) {
    ConvertWith(bytes, "UTF-8", &result);
    if (!label.empty() && charset != "US-ASCII") {
      result.problem = "charset " + label + ": unknown, read as UTF-8";
    }
    return result;
  }
  std::string fb = NormalizeCharsetLabel(fallback);
  if (fb.empty() || !ConvertWith(bytes, fb, &result)) ConvertWith(bytes, "UTF-8", &result);
  result.problem = (label.empty() ? std::string("no charset") : "charset " + label) +
                   ": fell back to " + ToValidUtf8(fallback);
  if (result.replaced) result.problem += " (invalid bytes replaced with U+FFFD)";
  return result;
}

}  // namespace mailvault
