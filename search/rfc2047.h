// RFC 2047 encoded words in header values, decoded by mailvault itself.
//
// GMime 3.2.13 loses the rest of a header after a base64 encoded word that ends
// in `=` padding when another encoded word follows (doc/search.md, "The GMime
// RFC 2047 bug"). Unstructured headers (Subject, filenames) are therefore decoded
// here; structured ones (From, To, ...) are first rewritten by
// NormalizeEncodedWords into a form GMime's address parser reads correctly.
//
// The decoder is tolerant of what real mail does: encoded words not separated by
// white space, inside quoted strings or glued to other text, lowercase `b`/`q`,
// `?=` missing (left as literal text), stray characters and bad padding in base64,
// multi-byte characters split across adjacent words (adjacent words in one charset
// are joined before conversion), RFC 2231 language suffixes (`utf-8*en`), unknown
// charsets (fallback, flagged) and raw 8-bit text outside encoded words (UTF-8 if
// valid, else the fallback charset). Work is linear in the input length.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailvault {

// Decodes an unstructured header value to UTF-8. Line folding (CR/LF) is removed
// and white space between adjacent encoded words dropped. Problems (unknown
// charset, invalid bytes, raw 8-bit text) are appended to `problems` when it is
// not null, each once.
std::string DecodeHeaderText(std::string_view raw, std::string_view fallback_charset,
                             std::vector<std::string>* problems);

// Rewrites a structured header value (an address list) so that every run of
// encoded words becomes one `=?UTF-8?Q?...?=` word (no base64, so no padding) and
// raw 8-bit text becomes UTF-8. The result keeps the address syntax intact, for
// GMime's address parser. Same problem reporting as DecodeHeaderText.
std::string NormalizeEncodedWords(std::string_view raw, std::string_view fallback_charset,
                                  std::vector<std::string>* problems);

// Base64 decoding that skips characters outside the alphabet; `=` padding ends a
// group (decoding goes on after it, for glued words); a trailing partial group
// yields the whole bytes it holds.
std::string DecodeBase64Lenient(std::string_view in);

}  // namespace mailvault
