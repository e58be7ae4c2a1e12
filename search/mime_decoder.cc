#include "search/mime_decoder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <mutex>
#include <utility>

#include "base/file.h"
#include "search/attachment_text.h"
#include "search/charset.h"
#include "search/gmime_handle.h"
#include "search/html_text.h"
#include "search/mail_date.h"
#include "search/rfc2047.h"

namespace mailvault {

GObjectPtr<GMimeStream> DecodedContentStream(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return nullptr;
  GMimeStream* raw = g_mime_data_wrapper_get_stream(wrapper);
  if (raw == nullptr || g_mime_stream_reset(raw) != 0) return nullptr;
  GObjectPtr<GMimeStream> filtered(g_mime_stream_filter_new(raw));
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
      encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    GObjectPtr<GMimeFilter> decoder(g_mime_filter_basic_new(encoding, FALSE));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
  }
  return filtered;
}

void EnsureGMimeInitialized() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

bool DecodedMessage::HasProblem(std::string_view prefix) const {
  return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
    return p.compare(0, prefix.size(), prefix) == 0;
  });
}

namespace {

constexpr size_t kMaxProblems = 64;
constexpr size_t kMaxAddressesPerHeader = 10000;
constexpr size_t kChunk = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Text with CRLF (and lone CR) turned into LF.
std::string NormalizeNewlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') continue;
      out += '\n';
    } else if (s[i] == '\0') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// The raw value of a parameter (`name=value` or `name="value"`) in a raw
// Content-Type or Content-Disposition value; "" when absent. RFC 2231 forms
// (`name*=`, `name*0=`) are not matched: GMime decodes those correctly.
std::string RawParameter(std::string_view header, std::string_view name) {
  std::string lower = Lower(header);
  for (size_t pos = lower.find(name); pos != std::string::npos; pos = lower.find(name, pos + 1)) {
    size_t b = pos;
    while (b > 0 && std::isspace(static_cast<unsigned char>(lower[b - 1]))) --b;
    if (b > 0 && lower[b - 1] != ';') continue;
    size_t e = pos + name.size();
    while (e < lower.size() && std::isspace(static_cast<unsigned char>(lower[e]))) ++e;
    if (e >= lower.size() || lower[e] != '=') continue;
    ++e;
    while (e < lower.size() && std::isspace(static_cast<unsigned char>(lower[e]))) ++e;
    std::string value;
    if (e < header.size() && header[e] == '"') {
      for (size_t k = e + 1; k < header.size() && header[k] != '"'; ++k) {
        if (header[k] == '\\' && k + 1 < header.size()) ++k;
        value += header[k];
      }
    } else {
      for (size_t k = e; k < header.size() && header[k] != ';'; ++k) value += header[k];
      value = Trim(value);
    }
    return value;
  }
  return "";
}

// The raw (undecoded, folded) value of the first header `name`; null when absent.
const char* RawHeaderValue(GMimeObject* object, const char* name) {
  GMimeHeaderList* headers = g_mime_object_get_header_list(object);
  GMimeHeader* header = headers != nullptr ? g_mime_header_list_get_header(headers, name) : nullptr;
  return header != nullptr ? g_mime_header_get_raw_value(header) : nullptr;
}

// Owns a GByteArray that borrows the caller's bytes (freed without its data).
class BorrowedByteArray {
 public:
  explicit BorrowedByteArray(std::string_view bytes) : array_(g_byte_array_new()) {
    array_->data = reinterpret_cast<guint8*>(const_cast<char*>(bytes.data()));
    array_->len = static_cast<guint>(bytes.size());
  }
  ~BorrowedByteArray() { g_byte_array_free(array_, FALSE); }
  BorrowedByteArray(const BorrowedByteArray&) = delete;
  BorrowedByteArray& operator=(const BorrowedByteArray&) = delete;
  GByteArray* get() const { return array_; }

 private:
  GByteArray* array_;
};

// One run of the decoder over one message: budgets and the problem list.
class DecodeRun {
 public:
  DecodeRun(const DecodeOptions& options, DecodedMessage* top)
      : options_(options),
        top_(top),
        deadline_(std::chrono::steady_clock::now() + options.time_budget),
        output_left_(options.max_output_bytes),
        attachment_left_(options.max_attachment_text_bytes),
        header_fallback_(options.fallback_charset) {}

  void Problem(std::string p) {
    if (top_->problems.size() >= kMaxProblems) return;
    if (std::find(top_->problems.begin(), top_->problems.end(), p) == top_->problems.end()) {
      top_->problems.push_back(std::move(p));
    }
  }
  void Exceeded(const std::string& what) {
    top_->budget_exceeded = true;
    Problem("decode budget exceeded: " + what);
  }
  // True when decoding must stop (time or output budget gone).
  bool Stop() {
    if (stopped_) return true;
    if (std::chrono::steady_clock::now() > deadline_) {
      Exceeded("time");
      stopped_ = true;
    } else if (output_left_ == 0) {
      Exceeded("output bytes");
      stopped_ = true;
    }
    return stopped_;
  }
  std::chrono::milliseconds TimeLeft() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  // Appends `text` to `*out` within the output budget (and `*extra_budget` when
  // given), cutting at a UTF-8 boundary. Returns false when it had to cut.
  bool Emit(std::string_view text, std::string* out, size_t* extra_budget = nullptr) {
    size_t room = output_left_;
    if (extra_budget != nullptr) room = std::min(room, *extra_budget);
    size_t n = Utf8PrefixLength(text, room);
    out->append(text.substr(0, n));
    output_left_ -= n;
    if (extra_budget != nullptr) *extra_budget -= n;
    if (n < text.size()) {
      NoteCut();
      return false;
    }
    return true;
  }
  void NoteCut() {
    top_->truncated = true;
    Problem("truncated: text cut at the output budget");
  }

  // Header value, capped at max_header_bytes and decoded to UTF-8.
  std::string HeaderText(std::string_view raw) {
    return DecodeHeaderText(CapHeader(raw), header_fallback_, &top_->problems);
  }
  std::string_view CapHeader(std::string_view raw) {
    if (raw.size() <= options_.max_header_bytes) return raw;
    top_->truncated = true;
    Problem("truncated: header value longer than " + std::to_string(options_.max_header_bytes) +
            " bytes");
    return raw.substr(0, options_.max_header_bytes);
  }

  void DecodeHeaders(GMimeObject* object, DecodedMessage* out);
  void DecodeAddresses(std::string_view raw, const char* field, std::vector<MailAddress>* out);
  void Walk(GMimeObject* object, size_t depth, DecodedMessage* target);
  void DecodeInnerMessage(GMimeMessage* message, size_t depth, DecodedMessage* target);
  void DecodeLeaf(GMimePart* part, size_t depth, DecodedMessage* target);
  // Transfer-decodes a part's content: keeps at most `keep` bytes in `*bytes` and
  // returns the full decoded size (or what was counted before time ran out).
  uint64_t ReadContent(GMimePart* part, size_t keep, std::string* bytes);
  std::string TextOf(std::string_view bytes, const std::string& mime_type, const char* charset,
                     size_t max_output);
  void AppendBody(std::string_view text, DecodedMessage* target);
  void RawFallback(std::string_view bytes, DecodedMessage* out);

  GMimeParserOptions* parser_options() { return parser_options_.get(); }
  void SetParserOptions(ParserOptionsPtr p) { parser_options_ = std::move(p); }

 private:
  const DecodeOptions& options_;
  DecodedMessage* top_;
  ParserOptionsPtr parser_options_;
  std::chrono::steady_clock::time_point deadline_;
  size_t output_left_;
  size_t attachment_left_;
  size_t parts_ = 0;
  bool stopped_ = false;
  bool parts_exceeded_ = false;
  // Raw 8-bit header text is read in the charset the message's body declares (a
  // mailer that wrote it raw used one charset throughout), else the fallback.
  std::string header_fallback_;
};

void DecodeRun::DecodeAddresses(std::string_view raw, const char* field,
                                std::vector<MailAddress>* out) {
  std::string normalized = NormalizeEncodedWords(CapHeader(raw), header_fallback_, &top_->problems);
  std::replace(normalized.begin(), normalized.end(), '\0', ' ');
  GObjectPtr<InternetAddressList> list(
      internet_address_list_parse(parser_options_.get(), normalized.c_str()));
  size_t before = out->size();
  auto add = [&](InternetAddress* address, auto& self, int depth) -> void {
    if (out->size() >= kMaxAddressesPerHeader || depth > 1) return;
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      const char* name = internet_address_get_name(address);
      const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
      MailAddress m;
      m.name = ConvertToUtf8(name != nullptr ? name : "", "UTF-8").utf8;
      m.address = ConvertToUtf8(addr != nullptr ? addr : "", "UTF-8").utf8;
      if (!m.name.empty() || !m.address.empty()) out->push_back(std::move(m));
    } else if (INTERNET_ADDRESS_IS_GROUP(address)) {
      InternetAddressList* members =
          internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address));
      int n = members != nullptr ? internet_address_list_length(members) : 0;
      for (int i = 0; i < n; ++i)
        self(internet_address_list_get_address(members, i), self, depth + 1);
    }
  };
  int n = list != nullptr ? internet_address_list_length(list.get()) : 0;
  for (int i = 0; i < n; ++i) add(internet_address_list_get_address(list.get(), i), add, 0);
  if (out->size() == before && !Trim(raw).empty()) {
    Problem(std::string("unparseable address header ") + field + ": kept as text");
    out->push_back(MailAddress{HeaderText(raw), ""});
  }
}

void DecodeRun::DecodeHeaders(GMimeObject* object, DecodedMessage* out) {
  header_fallback_ = options_.fallback_charset;
  GMimeObject* body =
      GMIME_IS_MESSAGE(object) ? g_mime_message_get_mime_part(GMIME_MESSAGE(object)) : nullptr;
  const char* body_charset =
      body != nullptr ? g_mime_object_get_content_type_parameter(body, "charset") : nullptr;
  if (body_charset != nullptr && IsKnownCharset(NormalizeCharsetLabel(body_charset))) {
    header_fallback_ = body_charset;
  }
  GMimeHeaderList* headers = g_mime_object_get_header_list(object);
  int count = headers != nullptr ? g_mime_header_list_get_count(headers) : 0;
  std::string from, to, cc, bcc;
  bool have_subject = false, have_date = false, have_id = false, have_irt = false,
       have_refs = false;
  std::string received_date;
  auto join = [](std::string* list, const char* value) {
    if (!list->empty()) *list += ", ";
    *list += value;
  };
  for (int i = 0; i < count; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(headers, i);
    const char* name = g_mime_header_get_name(header);
    const char* raw = g_mime_header_get_raw_value(header);
    if (name == nullptr || raw == nullptr) continue;
    std::string_view n(name);
    if (EqualsNoCase(n, "From")) {
      join(&from, raw);
    } else if (EqualsNoCase(n, "To")) {
      join(&to, raw);
    } else if (EqualsNoCase(n, "Cc")) {
      join(&cc, raw);
    } else if (EqualsNoCase(n, "Bcc")) {
      join(&bcc, raw);
    } else if (EqualsNoCase(n, "Subject") && !have_subject) {
      have_subject = true;
      out->subject = HeaderText(raw);
    } else if (EqualsNoCase(n, "Date") && !have_date) {
      have_date = true;
      out->date_raw = HeaderText(raw);
    } else if (EqualsNoCase(n, "Received") && received_date.empty()) {
      std::string_view r(raw);
      size_t semi = r.rfind(';');
      if (semi != std::string_view::npos) received_date = Trim(CapHeader(r.substr(semi + 1)));
    } else if (EqualsNoCase(n, "Message-ID") && !have_id) {
      have_id = true;
      std::string value = Trim(CapHeader(raw));
      GCharPtr id(g_mime_utils_decode_message_id(value.c_str()));
      out->message_id = id != nullptr ? std::string(id.get()) : value;
      out->message_id = ConvertToUtf8(out->message_id, "UTF-8").utf8;
    } else if ((EqualsNoCase(n, "In-Reply-To") && !have_irt) ||
               (EqualsNoCase(n, "References") && !have_refs)) {
      bool irt = EqualsNoCase(n, "In-Reply-To");
      (irt ? have_irt : have_refs) = true;
      std::string value(CapHeader(raw));
      std::replace(value.begin(), value.end(), '\0', ' ');
      ReferencesPtr refs(g_mime_references_parse(parser_options_.get(), value.c_str()));
      int len = refs != nullptr ? g_mime_references_length(refs.get()) : 0;
      for (int k = 0; k < len; ++k) {
        const char* id = g_mime_references_get_message_id(refs.get(), k);
        if (id == nullptr) continue;
        std::string s = ConvertToUtf8(id, "UTF-8").utf8;
        if (irt) {
          out->in_reply_to = s;
          break;
        }
        out->references.push_back(std::move(s));
      }
    }
  }
  if (!from.empty()) DecodeAddresses(from, "From", &out->from);
  if (!to.empty()) DecodeAddresses(to, "To", &out->to);
  if (!cc.empty()) DecodeAddresses(cc, "Cc", &out->cc);
  if (!bcc.empty()) DecodeAddresses(bcc, "Bcc", &out->bcc);

  MailDate date = ParseMailDate(out->date_raw);
  if (!date.ok && !received_date.empty()) {
    date = ParseMailDate(received_date);
    if (date.ok) {
      Problem(out->date_raw.empty() ? "date missing: used the Received header's date"
                                    : "date unparseable: used the Received header's date");
    }
  }
  if (date.ok) {
    out->date = date.unix_seconds;
    out->date_valid = true;
    if (!date.problem.empty()) Problem(date.problem);
  } else {
    Problem(out->date_raw.empty()
                ? "date missing"
                : "date unparseable: " +
                      out->date_raw.substr(0, Utf8PrefixLength(out->date_raw, 80)));
  }
  // Header text counts against the output budget (it cannot be cut usefully).
  size_t header_bytes = out->subject.size() + out->date_raw.size() + out->message_id.size();
  output_left_ -= std::min(output_left_, header_bytes);
}

void DecodeRun::DecodeInnerMessage(GMimeMessage* message, size_t depth, DecodedMessage* target) {
  DecodedMessage inner;
  DecodeHeaders(GMIME_OBJECT(message), &inner);
  Walk(g_mime_message_get_mime_part(message), depth + 1, &inner);
  target->inner_messages.push_back(std::move(inner));
}

void DecodeRun::Walk(GMimeObject* object, size_t depth, DecodedMessage* target) {
  if (object == nullptr || parts_exceeded_ || Stop()) return;
  if (++parts_ > options_.max_parts) {
    parts_exceeded_ = true;
    Exceeded("more than " + std::to_string(options_.max_parts) + " parts");
    return;
  }
  if (depth > options_.max_depth) {
    Exceeded("nesting deeper than " + std::to_string(options_.max_depth));
    return;
  }
  if (GMIME_IS_MESSAGE_PART(object)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    if (inner != nullptr) DecodeInnerMessage(inner, depth, target);
    return;
  }
  if (GMIME_IS_MULTIPART(object)) {
    if (GMIME_IS_MULTIPART_ENCRYPTED(object)) {
      Problem("encrypted part: not indexed");
      return;
    }
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    int count = g_mime_multipart_get_count(multipart);
    if (count == 0) {
      // A missing or broken boundary: GMime keeps everything as the prologue.
      const char* prologue = g_mime_multipart_get_prologue(multipart);
      if (prologue != nullptr && *prologue != '\0') {
        Problem("multipart without parts (boundary missing?): indexed its raw text");
        AppendBody(ConvertToUtf8(NormalizeNewlines(prologue), "", options_.fallback_charset).utf8,
                   target);
      }
      return;
    }
    GMimeContentType* type = g_mime_object_get_content_type(object);
    const char* subtype = type != nullptr ? g_mime_content_type_get_media_subtype(type) : nullptr;
    if (subtype != nullptr && EqualsNoCase(subtype, "alternative")) {
      // Index one version: the plain text when it has any, else the richest (last).
      int plain = -1;
      for (int i = 0; i < count; ++i) {
        GMimeObject* child = g_mime_multipart_get_part(multipart, i);
        GMimeContentType* ct = g_mime_object_get_content_type(child);
        if (ct != nullptr && g_mime_content_type_is_type(ct, "text", "plain")) {
          plain = i;
          break;
        }
      }
      size_t before = target->body_text.size();
      if (plain >= 0) Walk(g_mime_multipart_get_part(multipart, plain), depth + 1, target);
      bool has_text = std::any_of(
          target->body_text.begin() + static_cast<std::ptrdiff_t>(before), target->body_text.end(),
          [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
      if (!has_text) {
        for (int i = count - 1; i >= 0; --i) {
          if (i == plain) continue;
          Walk(g_mime_multipart_get_part(multipart, i), depth + 1, target);
          break;
        }
      }
      return;
    }
    for (int i = 0; i < count && !parts_exceeded_ && !Stop(); ++i) {
      Walk(g_mime_multipart_get_part(multipart, i), depth + 1, target);
    }
    return;
  }
  if (GMIME_IS_PART(object)) DecodeLeaf(GMIME_PART(object), depth, target);
}

uint64_t DecodeRun::ReadContent(GMimePart* part, size_t keep, std::string* bytes) {
  GObjectPtr<GMimeStream> filtered = DecodedContentStream(part);
  if (!filtered) return 0;
  uint64_t total = 0;
  std::array<char, kChunk> buf;
  while (true) {
    ssize_t n = g_mime_stream_read(filtered.get(), buf.data(), buf.size());
    if (n <= 0) break;
    if (bytes->size() < keep) {
      bytes->append(buf.data(), std::min(keep - bytes->size(), static_cast<size_t>(n)));
    }
    total += static_cast<uint64_t>(n);
    if (Stop()) break;
  }
  return total;
}

std::string DecodeRun::TextOf(std::string_view bytes, const std::string& mime_type,
                              const char* charset, size_t max_output) {
  bool html = mime_type == "text/html";
  std::string declared = charset != nullptr ? charset : "";
  if (html && NormalizeCharsetLabel(declared).empty()) declared = SniffHtmlCharset(bytes);
  ConvertedText converted = ConvertToUtf8(bytes, declared, options_.fallback_charset);
  if (!converted.problem.empty()) Problem(converted.problem);
  if (html) return HtmlToText(converted.utf8, max_output);
  return NormalizeNewlines(converted.utf8);
}

void DecodeRun::AppendBody(std::string_view text, DecodedMessage* target) {
  if (Trim(text).empty()) return;
  if (!target->body_text.empty()) Emit("\n\n", &target->body_text);
  Emit(text, &target->body_text);
}

void DecodeRun::DecodeLeaf(GMimePart* part, size_t depth, DecodedMessage* target) {
  GMimeObject* object = GMIME_OBJECT(part);
  GMimeContentType* type = g_mime_object_get_content_type(object);
  GCharPtr mime(type != nullptr ? g_mime_content_type_get_mime_type(type) : nullptr);
  std::string mime_type = mime != nullptr ? Lower(mime.get()) : "text/plain";
  const char* charset = g_mime_object_get_content_type_parameter(object, "charset");
  const char* disposition = g_mime_object_get_disposition(object);
  bool attachment_disposition = disposition != nullptr && EqualsNoCase(disposition, "attachment");

  // File name: GMime decodes RFC 2231 well, but its RFC 2047 decoding has the
  // padding bug, so encoded words in plain parameters are decoded here.
  std::string filename;
  for (const bool disposition_header : {true, false}) {
    const char* header = disposition_header ? "Content-Disposition" : "Content-Type";
    const char* param = disposition_header ? "filename" : "name";
    const char* raw = RawHeaderValue(object, header);
    if (raw == nullptr) continue;
    const char* gmime_value = disposition_header
                                  ? g_mime_object_get_content_disposition_parameter(object, param)
                                  : g_mime_object_get_content_type_parameter(object, param);
    std::string plain = RawParameter(raw, param);
    if (Lower(raw).find(std::string(param) + "*") == std::string::npos &&
        plain.find("=?") != std::string::npos) {
      filename = HeaderText(plain);
    } else if (gmime_value != nullptr) {
      filename = Trim(ConvertToUtf8(gmime_value, "UTF-8", options_.fallback_charset).utf8);
    }
    if (!filename.empty()) break;
  }

  if (mime_type == "message/rfc822" || mime_type == "message/global") {
    // A message part GMime left unparsed (e.g. base64-encoded): parse it here.
    std::string bytes;
    ReadContent(part, output_left_, &bytes);
    BorrowedByteArray array(bytes);
    GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new());
    g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(stream.get()), array.get());
    GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GObjectPtr<GMimeMessage> inner(
        g_mime_parser_construct_message(parser.get(), parser_options_.get()));
    if (inner != nullptr) {
      DecodeInnerMessage(inner.get(), depth, target);
      return;
    }
  }

  const bool textual = mime_type == "text/plain" || mime_type == "text/html" ||
                       mime_type == "text/enriched" || mime_type == "text/richtext";
  if (textual && !attachment_disposition && filename.empty()) {
    std::string bytes;
    if (ReadContent(part, output_left_, &bytes) > bytes.size()) NoteCut();
    AppendBody(TextOf(bytes, mime_type, charset, output_left_), target);
    return;
  }

  DecodedAttachment att;
  att.filename = filename;
  att.content_type = mime_type;
  const bool text_attachment = mime_type.compare(0, 5, "text/") == 0;
  const bool convertible =
      options_.extract_attachment_text && !ConverterFor(mime_type, filename).empty();
  size_t keep = 0;
  if (text_attachment) {
    keep = std::min(output_left_, attachment_left_);
  } else if (options_.extract_attachment_text) {
    // Unknown types are sniffed (a PDF sent as application/octet-stream).
    keep = convertible ? options_.max_converter_input_bytes : 8;
  }
  std::string bytes;
  att.decoded_size = ReadContent(part, keep, &bytes);
  if (text_attachment && att.decoded_size > bytes.size()) NoteCut();
  size_t room = std::min(output_left_, attachment_left_);
  if (text_attachment && room > 0) {
    std::string text = TextOf(bytes, mime_type, charset, room);
    att.converter = mime_type == "text/html" ? "html" : "text";
    Emit(text, &att.text, &attachment_left_);
  } else if (!text_attachment && options_.extract_attachment_text && bytes.size() >= 5 &&
             (convertible || bytes.compare(0, 5, "%PDF-") == 0)) {
    if (convertible && att.decoded_size > bytes.size()) {
      Problem("attachment larger than " + std::to_string(options_.max_converter_input_bytes) +
              " bytes: text not extracted");
    } else if (room == 0) {
      top_->truncated = true;
      Problem("truncated: attachment text budget exhausted");
    } else {
      if (!convertible) {  // only the sniffed prefix was kept: read it all
        bytes.clear();
        ReadContent(part, options_.max_converter_input_bytes, &bytes);
      }
      ConverterLimits limits;
      limits.timeout = std::min(options_.converter_timeout, TimeLeft());
      limits.max_output_bytes = room;
      limits.temp_dir = options_.temp_dir;
      ConverterResult r = ExtractAttachmentText(mime_type, filename, bytes, limits);
      switch (r.outcome) {
        case ConverterOutcome::kMissing:
          Problem(r.detail + ": attachment text skipped");
          break;
        case ConverterOutcome::kTimeout:
          Problem("converter timeout: " + r.detail);
          break;
        case ConverterOutcome::kFailed:
          Problem("converter failed: " + r.detail);
          break;
        case ConverterOutcome::kOk:
        case ConverterOutcome::kNoConverter:
          break;
      }
      if (r.truncated) {
        top_->truncated = true;
        Problem("truncated: " + r.detail);
      }
      if (!r.text.empty()) {
        att.converter = r.converter;
        Emit(NormalizeNewlines(ConvertToUtf8(r.text, "UTF-8").utf8), &att.text, &attachment_left_);
      }
    }
  }
  target->attachments.push_back(std::move(att));
}

// For input GMime cannot parse: header fields by hand, the rest as text.
void DecodeRun::RawFallback(std::string_view bytes, DecodedMessage* out) {
  top_->structure_failed = true;
  Problem("structure unparseable: indexed raw headers and text");
  size_t split = bytes.find("\r\n\r\n");
  size_t body_start = split == std::string_view::npos ? std::string_view::npos : split + 4;
  if (split == std::string_view::npos) {
    split = bytes.find("\n\n");
    body_start = split == std::string_view::npos ? std::string_view::npos : split + 2;
  }
  std::string_view head =
      split == std::string_view::npos ? std::string_view() : bytes.substr(0, split);
  std::string_view body = body_start == std::string_view::npos ? bytes : bytes.substr(body_start);
  // Unfolded header lines.
  std::vector<std::pair<std::string, std::string>> fields;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view line =
        head.substr(pos, eol == std::string_view::npos ? head.size() - pos : eol - pos);
    pos = eol == std::string_view::npos ? head.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      if (fields.back().second.size() < options_.max_header_bytes) fields.back().second += line;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    fields.emplace_back(Trim(line.substr(0, colon)),
                        std::string(line.substr(colon + 1, options_.max_header_bytes)));
  }
  std::string from, to, cc;
  for (const auto& [name, value] : fields) {
    if (EqualsNoCase(name, "Subject") && out->subject.empty()) out->subject = HeaderText(value);
    if (EqualsNoCase(name, "Date") && out->date_raw.empty()) out->date_raw = HeaderText(value);
    if (EqualsNoCase(name, "Message-ID") && out->message_id.empty()) {
      std::string id = Trim(HeaderText(value));
      if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
      out->message_id = id;
    }
    if (EqualsNoCase(name, "From")) from = value;
    if (EqualsNoCase(name, "To")) to = value;
    if (EqualsNoCase(name, "Cc")) cc = value;
  }
  if (!from.empty()) DecodeAddresses(from, "From", &out->from);
  if (!to.empty()) DecodeAddresses(to, "To", &out->to);
  if (!cc.empty()) DecodeAddresses(cc, "Cc", &out->cc);
  MailDate date = ParseMailDate(out->date_raw);
  out->date_valid = date.ok;
  out->date = date.unix_seconds;
  std::string_view capped = body.substr(0, output_left_);
  if (capped.size() < body.size()) NoteCut();
  ConvertedText text = ConvertToUtf8(capped, "", options_.fallback_charset);
  if (!text.problem.empty()) Problem(text.problem);
  AppendBody(NormalizeNewlines(text.utf8), out);
}

ParserOptionsPtr MakeParserOptions() {
  ParserOptionsPtr options(g_mime_parser_options_new());
  g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_allow_addresses_without_domain(options.get(), TRUE);
  g_mime_parser_options_set_parameter_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_rfc2047_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), fallback);
  return options;
}

// Decodes the message on `stream`; `bytes` (may be empty for a file) serves the raw
// fallback.
DecodedMessage DecodeFromStream(GMimeStream* stream, std::string_view bytes,
                                const DecodeOptions& options) {
  DecodedMessage result;
  DecodeRun run(options, &result);
  run.SetParserOptions(MakeParserOptions());
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  g_mime_parser_set_persist_stream(parser.get(), TRUE);
  GObjectPtr<GMimeMessage> message(
      g_mime_parser_construct_message(parser.get(), run.parser_options()));
  GMimeObject* body = message != nullptr ? g_mime_message_get_mime_part(message.get()) : nullptr;
  GMimeHeaderList* headers =
      message != nullptr ? g_mime_object_get_header_list(GMIME_OBJECT(message.get())) : nullptr;
  bool no_headers = headers == nullptr || g_mime_header_list_get_count(headers) == 0;
  if (message == nullptr || (body == nullptr && no_headers)) {
    if (bytes.empty() && g_mime_stream_reset(stream) == 0) {
      // A file: read what the budget allows for the raw fallback.
      std::string buffer;
      std::array<char, kChunk> chunk;
      while (buffer.size() < options.max_output_bytes) {
        ssize_t n = g_mime_stream_read(stream, chunk.data(), chunk.size());
        if (n <= 0) break;
        buffer.append(chunk.data(), static_cast<size_t>(n));
      }
      run.RawFallback(buffer, &result);
    } else {
      run.RawFallback(bytes, &result);
    }
    return result;
  }
  run.DecodeHeaders(GMIME_OBJECT(message.get()), &result);
  run.Walk(body, 0, &result);
  return result;
}

// What comes before the header block and is skipped: an mbox "From " envelope
// line, and lines of white space only (GMime would take them for the end of an
// empty header block).
struct Preamble {
  size_t length = 0;
  bool envelope = false;
  bool blank_lines = false;
};

// REQUIRES: `prefix` is the start of the message (at least 64 KiB of it, or all).
Preamble FindPreamble(std::string_view prefix) {
  Preamble p;
  if (prefix.substr(0, 5) == "From ") {
    size_t eol = prefix.find('\n');
    if (eol != std::string_view::npos) {
      p.envelope = true;
      p.length = eol + 1;
    }
  }
  while (true) {
    size_t k = p.length;
    while (k < prefix.size() && (prefix[k] == ' ' || prefix[k] == '\t' || prefix[k] == '\r')) ++k;
    if (k >= prefix.size() || prefix[k] != '\n') break;
    p.length = k + 1;
    p.blank_lines = true;
  }
  return p;
}

void NotePreamble(const Preamble& p, DecodedMessage* result) {
  if (p.envelope) result->problems.push_back("mbox From_ line skipped");
  if (p.blank_lines) result->problems.push_back("blank lines before the header skipped");
}

// The final guarantee of the API: every text field is valid UTF-8. Each field is
// already decoded to UTF-8 on its own path; a repair here means one of those paths
// let invalid bytes through, and is listed as a problem (the fuzz target fails on it).
void EnsureValidUtf8(DecodedMessage* result) {
  std::vector<std::string> repaired;
  ForEachTextField(*result, [&](const std::string& field, std::string& text) {
    if (IsValidUtf8(text)) return;
    text = ToValidUtf8(text);
    if (std::find(repaired.begin(), repaired.end(), field) == repaired.end()) {
      repaired.push_back(field);
    }
  });
  for (const std::string& field : repaired) {
    result->problems.push_back(std::string(kRepairedUtf8Problem) + field);
  }
}

}  // namespace

Result<DecodedMessage> DecodeMessage(std::string_view canonical_bytes,
                                     const DecodeOptions& options) {
  EnsureGMimeInitialized();
  Preamble preamble = FindPreamble(canonical_bytes.substr(0, kChunk));
  std::string_view bytes = canonical_bytes.substr(preamble.length);
  bool too_big = bytes.size() > G_MAXUINT;
  if (too_big) bytes = bytes.substr(0, G_MAXUINT);
  DecodedMessage result;
  {
    BorrowedByteArray array(bytes);
    GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new());
    g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(stream.get()), array.get());
    result = DecodeFromStream(stream.get(), bytes, options);
    // `stream` (and everything the parser made from it) is released before `array`.
  }
  NotePreamble(preamble, &result);
  if (too_big) {
    result.truncated = true;
    result.problems.push_back("truncated: message larger than 4 GiB");
  }
  EnsureValidUtf8(&result);
  return result;
}

Result<DecodedMessage> DecodeMessageFile(const std::string& path, const DecodeOptions& options) {
  EnsureGMimeInitialized();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "open " + path);
  GObjectPtr<GMimeStream> stream(g_mime_stream_fs_new(fd));  // owns fd
  std::string prefix(kChunk, '\0');
  ssize_t n = g_mime_stream_read(stream.get(), prefix.data(), prefix.size());
  prefix.resize(n > 0 ? static_cast<size_t>(n) : 0);
  Preamble preamble = FindPreamble(prefix);
  GObjectPtr<GMimeStream> body(
      g_mime_stream_substream(stream.get(), static_cast<gint64>(preamble.length), -1));
  DecodedMessage result = DecodeFromStream(body.get(), std::string_view(), options);
  NotePreamble(preamble, &result);
  EnsureValidUtf8(&result);
  return result;
}

}  // namespace mailvault
