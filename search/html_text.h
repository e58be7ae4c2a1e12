// HTML to plain text for indexing: a small, bounded, single-pass converter.
//
// Not a browser: no network, no scripts, no CSS. Drops <script>, <style>, <head>
// (incl. <title>), comments, CDATA and processing instructions; turns block
// elements (p, div, br, li, tr, h1-h6, table, blockquote, pre, hr, ...) into line
// breaks and cells into spaces; keeps link and image-alt-free text as it reads;
// decodes character references (the common named entities and all numeric ones;
// unknown names are kept literally); collapses runs of white space. Malformed
// markup (unclosed tags, stray `<`) degrades to text, never to a loop: time is
// linear in the input and the output is cut at `max_output_bytes` (at a UTF-8
// boundary).
//
// Pure function; thread-safe. Input must be UTF-8 (convert the charset first);
// invalid sequences pass through unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailvault {

std::string HtmlToText(std::string_view html, size_t max_output_bytes);

// Decodes character references in `text` (`&amp;`, `&eacute;`, `&#233;`, `&#xE9;`).
std::string DecodeHtmlEntities(std::string_view text);

// The charset an HTML document declares in a <meta> tag within its first 4 KiB
// (`<meta charset="koi8-r">` or `content="text/html; charset=koi8-r"`), or "".
std::string SniffHtmlCharset(std::string_view html);

}  // namespace mailvault
