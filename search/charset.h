// Charset conversion to UTF-8 for mail text, with the fallbacks real mail needs.
//
// Mail declares charsets wrongly or not at all, uses labels iconv does not know
// (`default`, `x-unknown`, `ks_c_5601-1987`) and carries bytes that are invalid in
// the charset it names. ConvertToUtf8 always returns valid UTF-8: it tries the
// declared charset (after mapping well-known aliases to what glibc's iconv calls
// them), then UTF-8 validity, then a fallback single-byte charset; bytes that
// cannot be converted become U+FFFD and the result says so (nothing is dropped
// silently).
//
// All functions are pure and thread-safe (each call opens its own iconv handle).
#pragma once

#include <string>
#include <string_view>

namespace mailvault {

// The charset mail text falls back to when none is declared or the declared one
// is unusable: a superset of ISO-8859-1 in which every byte means something.
inline constexpr std::string_view kFallbackCharset = "windows-1252";

// What ConvertToUtf8 did.
struct ConvertedText {
  std::string utf8;          // always valid UTF-8
  std::string charset_used;  // the iconv name actually used ("UTF-8", "CP949", ...)
  bool replaced = false;     // some bytes were invalid and became U+FFFD
  // Empty when the declared charset was used cleanly (or none was declared and the
  // text is ASCII/UTF-8); otherwise one line for the message's problem list, e.g.
  // "charset x-unknown: fell back to windows-1252".
  std::string problem;
};

// Maps a charset label from a header to the name glibc's iconv knows, lowercase
// label in, canonical name out: "ks_c_5601-1987" -> "CP949", "gb2312" -> "GB18030",
// "iso-8859-1"/"latin1" -> "WINDOWS-1252", "utf8" -> "UTF-8". Labels meaning "no
// charset" (`default`, `default_charset`, empty, `unknown-8bit`, `x-unknown`) map to
// "". Any other spelling of UTF-8 that iconv would accept (`UTF_8`, `utf 8`, `UTF]8`:
// glibc ignores most punctuation) maps to "UTF-8", so UTF-8 text is always validated
// (glibc's iconv copies UTF-8 to UTF-8 unchecked). Other labels are returned trimmed
// and upper-cased.
std::string NormalizeCharsetLabel(std::string_view label);

// True when `charset` (already normalized) can be opened by iconv. Labels with
// characters outside letters, digits and `-_.:+()` are never known: they could
// carry iconv suffixes such as `//IGNORE` or `//TRANSLIT`.
bool IsKnownCharset(const std::string& charset);

// Converts `bytes` to UTF-8. `declared` is the label from the message (may be
// empty); `fallback` is used when the declared label is missing or unknown and the
// bytes are not valid UTF-8. Never fails.
ConvertedText ConvertToUtf8(std::string_view bytes, std::string_view declared,
                            std::string_view fallback = kFallbackCharset);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// `s` with every byte that does not start a well-formed UTF-8 sequence replaced by
// U+FFFD (valid input is returned unchanged). `*replaced` (when given) is set to
// whether anything was replaced. The last line of defence for text leaving the
// decoder.
std::string ToValidUtf8(std::string_view s, bool* replaced = nullptr);

// Length of the longest prefix of `s` that is at most `max_bytes` long and does not
// end inside a UTF-8 sequence. For cutting text at a budget.
size_t Utf8PrefixLength(std::string_view s, size_t max_bytes);

}  // namespace mailvault
