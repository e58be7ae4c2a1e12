// MimeDecoder: one archived message's canonical bytes -> what the indexer needs.
//
// Parses with GMime 3 (every GMime/GLib handle owned by an RAII wrapper) and adds
// what GMime 3.2.13 lacks or gets wrong: header decoding with mailvault's own
// RFC 2047 decoder (search/rfc2047.h; GMime's loses text after a `=`-padded base64
// word, see doc/search.md), charset fallbacks (search/charset.h), tolerant dates
// (search/mail_date.h), HTML to text (search/html_text.h) and attachment text
// through converters (search/attachment_text.h).
//
// Robustness contract: DecodeMessage never fails on message content. Hostile or
// broken input (garbage, NUL bytes, absurd header lines, thousands of nested
// parts, no header block, broken boundaries) yields what can be read, with
// problems listed in DecodedMessage::problems; a message GMime cannot parse at all
// yields its raw header fields and raw text, flagged `structure_failed`. Work is
// bounded by DecodeOptions: output bytes, parts, nesting depth and wall time; when
// a bound is reached decoding stops, sets `budget_exceeded` and returns what it
// has. No exception leaves this API.
//
// Memory: DecodeMessage(string_view) does not copy the input (GMime reads it in
// place); the parser keeps only the MIME tree (offsets into the input), and decoded
// content is streamed in 64 KiB chunks into outputs capped by the budget. Peak
// memory is therefore about input + O(parts) + max_output_bytes + one attachment
// handed to a converter (at most max_converter_input_bytes). DecodeMessageFile
// reads a file through a seekable GMime stream instead, so a huge message need not
// be in memory at all (the page cache serves it).
//
// Thread-safety: the functions are reentrant and may run concurrently on different
// threads; GMime is initialised once, thread-safely, on first use and never shut
// down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mailvault {

struct DecodeOptions {
  // Wall time for one message, converters included. Default 20 s.
  std::chrono::milliseconds time_budget{20000};
  // Text produced for one message, all fields and inner messages together
  // (bodies, attachment text, header text). Default 16 MiB.
  size_t max_output_bytes = size_t{16} << 20;
  // Text extracted from attachments (converters and text/* attachments) for one
  // message, inner messages included. Default 4 MiB.
  size_t max_attachment_text_bytes = size_t{4} << 20;
  // One header value is decoded from at most this many bytes. Default 64 KiB.
  size_t max_header_bytes = size_t{64} << 10;
  // MIME parts visited, and nesting depth (multiparts and message/rfc822).
  // Defaults 1000 and 32.
  size_t max_parts = 1000;
  size_t max_depth = 32;
  // Attachments larger than this (decoded) are not handed to a converter. 32 MiB.
  size_t max_converter_input_bytes = size_t{32} << 20;
  // Per converter run. Default 10 s (also cut to the time left in time_budget).
  std::chrono::milliseconds converter_timeout{10000};
  // Run converters (pdftotext, ...) at all. Default true.
  bool extract_attachment_text = true;
  // Charset for undeclared or unknown charsets when the bytes are not UTF-8.
  std::string fallback_charset = "windows-1252";
  // Directory for converter input files; "" = $TMPDIR or /tmp.
  std::string temp_dir;
};

// One address: display name (UTF-8, may be empty) and addr-spec (may be empty
// when the header held only a name or could not be parsed).
struct MailAddress {
  std::string name;
  std::string address;
  bool operator==(const MailAddress&) const = default;
};

struct DecodedAttachment {
  std::string filename;       // UTF-8, decoded from RFC 2231 / RFC 2047; may be empty
  std::string content_type;   // lowercase "type/subtype"
  uint64_t decoded_size = 0;  // bytes after transfer decoding (counted in full)
  std::string text;           // extracted text (UTF-8); empty when none
  std::string converter;      // what produced `text`: "pdftotext", "text", "html", ""
};

// The decoded form of one message (or of an inner message/rfc822 part).
struct DecodedMessage {
  std::vector<MailAddress> from, to, cc, bcc;
  std::string subject;     // UTF-8
  std::string message_id;  // without angle brackets; "" when absent
  std::string date_raw;    // the Date header as written (decoded to UTF-8)
  int64_t date = 0;        // unix seconds; valid only when date_valid
  bool date_valid = false;
  std::string in_reply_to;              // first message-id in In-Reply-To
  std::vector<std::string> references;  // message-ids in References, in order
  std::string body_text;                // UTF-8; text parts and HTML-as-text, in order
  std::vector<DecodedAttachment> attachments;
  std::vector<DecodedMessage> inner_messages;  // message/rfc822 parts, decoded the same way

  // Set on the top-level message only:
  // Everything that went wrong or was guessed, one line each, e.g.
  // "charset x-unknown: fell back to windows-1252", "decode budget exceeded: time".
  std::vector<std::string> problems;
  bool structure_failed = false;  // GMime could not parse; raw headers and text used
  bool budget_exceeded = false;   // a DecodeOptions bound stopped decoding early
  bool truncated = false;         // some text was cut at a size cap

  bool HasProblem(std::string_view prefix) const;
};

// Calls `fn(field, text)` for every text field of `m` and of its inner messages:
// addresses, subject, ids, date_raw, body_text, attachment fields and problems.
// `field` names it ("subject", "to.name", "attachments.text", ...). `Message` is
// DecodedMessage or const DecodedMessage. Every such text is valid UTF-8 whatever
// the input: DecodeMessage checks them all on the way out.
template <typename Message, typename Fn>
void ForEachTextField(Message& m, Fn&& fn) {
  const std::pair<const char*, decltype(&m.from)> address_lists[] = {
      {"from", &m.from}, {"to", &m.to}, {"cc", &m.cc}, {"bcc", &m.bcc}};
  for (const auto& [name, list] : address_lists) {
    for (auto& a : *list) {
      fn(std::string(name) + ".name", a.name);
      fn(std::string(name) + ".address", a.address);
    }
  }
  fn("subject", m.subject);
  fn("message_id", m.message_id);
  fn("date_raw", m.date_raw);
  fn("in_reply_to", m.in_reply_to);
  for (auto& r : m.references) fn("references", r);
  fn("body_text", m.body_text);
  for (auto& a : m.attachments) {
    fn("attachments.filename", a.filename);
    fn("attachments.content_type", a.content_type);
    fn("attachments.text", a.text);
    fn("attachments.converter", a.converter);
  }
  for (auto& p : m.problems) fn("problems", p);
  for (auto& inner : m.inner_messages) ForEachTextField(inner, fn);
}

// The problem line DecodeMessage adds when its final check had to repair invalid
// UTF-8 that escaped the decoding of a field (a decoder bug: the fuzz target
// treats it as a crash), followed by the field's name.
inline constexpr std::string_view kRepairedUtf8Problem = "internal: invalid UTF-8 repaired in ";

// Decodes `canonical_bytes` (CRLF lines; LF alone is accepted too). Never returns
// an error for bad content; errors are only for the caller's mistakes (none today),
// kept for the interface's future.
Result<DecodedMessage> DecodeMessage(std::string_view canonical_bytes,
                                     const DecodeOptions& options);

// The same, reading the message from `path` without loading it whole.
// Errors: kNotFound / kIoError / kPermissionDenied when the file cannot be opened.
Result<DecodedMessage> DecodeMessageFile(const std::string& path, const DecodeOptions& options);

}  // namespace mailvault
