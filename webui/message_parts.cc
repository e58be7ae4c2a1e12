#include "webui/message_parts.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>

#include "search/charset.h"
#include "search/gmime_handle.h"

namespace mailvault {
namespace {

constexpr size_t kMaxParts = 1000;
constexpr size_t kMaxDepth = 32;
constexpr size_t kChunk = 64 * 1024;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Visits attachment leaves in tree order; `visit` returns false to stop.
class AttachmentWalk {
 public:
  explicit AttachmentWalk(std::function<bool(GMimePart*, const AttachmentPart&)> visit)
      : visit_(std::move(visit)) {}

  void Walk(GMimeObject* object, size_t depth) {
    if (object == nullptr || stopped_ || ++parts_ > kMaxParts || depth > kMaxDepth) return;
    if (GMIME_IS_MESSAGE_PART(object)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
      if (inner != nullptr) Walk(g_mime_message_get_mime_part(inner), depth + 1);
      return;
    }
    if (GMIME_IS_MULTIPART(object)) {
      GMimeMultipart* multipart = GMIME_MULTIPART(object);
      int count = g_mime_multipart_get_count(multipart);
      for (int i = 0; i < count && !stopped_; ++i) {
        Walk(g_mime_multipart_get_part(multipart, i), depth + 1);
      }
      return;
    }
    if (!GMIME_IS_PART(object)) return;
    GMimePart* part = GMIME_PART(object);
    AttachmentPart info;
    const char* filename = g_mime_part_get_filename(part);
    if (filename != nullptr) info.filename = filename;
    GMimeContentType* type = g_mime_object_get_content_type(object);
    GCharPtr mime(type != nullptr ? g_mime_content_type_get_mime_type(type) : nullptr);
    info.content_type = mime ? Lower(mime.get()) : "application/octet-stream";
    const bool readable_text =
        info.content_type == "text/plain" || info.content_type == "text/html";
    if (readable_text && info.filename.empty() && !g_mime_part_is_attachment(part)) return;
    info.index = next_index_++;
    if (!visit_(part, info)) stopped_ = true;
  }

 private:
  std::function<bool(GMimePart*, const AttachmentPart&)> visit_;
  size_t parts_ = 0;
  size_t next_index_ = 0;
  bool stopped_ = false;
};

// Streams the decoded content of `part` to `sink`; returns the byte count.
Result<uint64_t> DecodeContent(GMimePart* part,
                               const std::function<Status(std::string_view)>& sink) {
  GObjectPtr<GMimeStream> filtered = DecodedContentStream(part);
  if (!filtered) return uint64_t{0};
  uint64_t total = 0;
  std::array<char, kChunk> buf;
  for (;;) {
    ssize_t n = g_mime_stream_read(filtered.get(), buf.data(), buf.size());
    if (n <= 0) break;
    total += static_cast<uint64_t>(n);
    if (sink) MV_RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
  return total;
}

// Parses the message in `file` and hands its top-level MIME part to `use`
// (not called when the file is not a message at all).
Status ParseFile(const MessageFile& file, const std::function<void(GMimeObject*)>& use) {
  EnsureGMimeInitialized();
  // A file description of its own: GMime moves the offset as it reads.
  int fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "reopen the spooled message");
  GObjectPtr<GMimeStream> stream(g_mime_stream_fs_new(fd));  // owns fd
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (message) use(g_mime_message_get_mime_part(message.get()));
  return Status::Ok();
}

// Parses the message in `file` and walks its attachments.
Status WalkFile(const MessageFile& file,
                const std::function<bool(GMimePart*, const AttachmentPart&)>& visit) {
  return ParseFile(file, [&](GMimeObject* top) { AttachmentWalk(visit).Walk(top, 0); });
}

// The first text/html leaf of the message's own body (not inside attached
// messages, not an attachment), depth-first.
GMimePart* FindHtmlBody(GMimeObject* object, size_t depth, size_t* parts) {
  if (object == nullptr || ++*parts > kMaxParts || depth > kMaxDepth) return nullptr;
  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      if (GMimePart* found = FindHtmlBody(g_mime_multipart_get_part(multipart, i), depth + 1, parts)) {
        return found;
      }
    }
    return nullptr;
  }
  if (!GMIME_IS_PART(object)) return nullptr;
  GMimePart* part = GMIME_PART(object);
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr || !g_mime_content_type_is_type(type, "text", "html")) return nullptr;
  if (g_mime_part_is_attachment(part) || g_mime_part_get_filename(part) != nullptr) return nullptr;
  return part;
}

}  // namespace

Result<MessageFile> MessageFile::Spool(Archive& archive, const Digest& id,
                                       const std::string& temp_dir) {
  std::string dir = temp_dir;
  if (dir.empty()) {
    const char* env = std::getenv("TMPDIR");
    dir = env != nullptr && *env != '\0' ? env : "/tmp";
  }
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    // Filesystems without O_TMPFILE: a named file, unlinked at once.
    std::string path = dir + "/mailvault-view-XXXXXX";
    fd.Reset(::mkostemp(path.data(), O_CLOEXEC));
    if (!fd.valid()) return ErrnoToStatus(errno, "create a temporary file in " + dir);
    ::unlink(path.c_str());
  }
  MV_RETURN_IF_ERROR(archive.ReadMessage(
      id, [&](std::string_view chunk) { return WriteAll(fd.get(), chunk, "spool message"); }));
  return MessageFile(std::move(fd));
}

Result<MessageOutline> ReadOutline(const MessageFile& file) {
  MessageOutline out;
  MV_RETURN_IF_ERROR(ParseFile(file, [&](GMimeObject* top) {
    size_t parts = 0;
    out.has_html_body = FindHtmlBody(top, 0, &parts) != nullptr;
    AttachmentWalk([&](GMimePart* part, const AttachmentPart& info) {
      out.attachments.push_back(info);
      auto size = DecodeContent(part, nullptr);
      if (size.ok()) out.attachments.back().size = *size;
      return true;
    }).Walk(top, 0);
  }));
  return out;
}

Status ReadAttachment(const MessageFile& file, size_t index, AttachmentPart* info,
                      const std::function<Status(std::string_view)>& sink) {
  bool found = false;
  Status result;
  MV_RETURN_IF_ERROR(WalkFile(file, [&](GMimePart* part, const AttachmentPart& a) {
    if (a.index != index) return true;
    found = true;
    if (info != nullptr) *info = a;
    auto size = DecodeContent(part, sink);
    if (!size.ok()) result = size.status();
    if (info != nullptr && size.ok()) info->size = *size;
    return false;
  }));
  if (!found) return Status::NotFound("no attachment " + std::to_string(index));
  return result;
}

Result<std::optional<std::string>> ReadHtmlBody(const MessageFile& file, size_t max_bytes) {
  std::optional<std::string> html;
  Status decoded;
  MV_RETURN_IF_ERROR(ParseFile(file, [&](GMimeObject* top) {
    size_t parts = 0;
    GMimePart* part = FindHtmlBody(top, 0, &parts);
    if (part == nullptr) return;
    std::string bytes;
    // Read a little past the budget: the charset conversion may shrink it.
    const size_t read_limit = max_bytes + max_bytes / 2 + 16;
    auto size = DecodeContent(part, [&](std::string_view chunk) -> Status {
      bytes.append(chunk.substr(0, read_limit - std::min(read_limit, bytes.size())));
      return Status::Ok();
    });
    if (!size.ok()) {
      decoded = size.status();
      return;
    }
    GMimeContentType* type = g_mime_object_get_content_type(GMIME_OBJECT(part));
    const char* charset = g_mime_content_type_get_parameter(type, "charset");
    std::string text = ConvertToUtf8(bytes, charset != nullptr ? charset : "").utf8;
    text.resize(Utf8PrefixLength(text, max_bytes));
    html = std::move(text);
  }));
  MV_RETURN_IF_ERROR(decoded);
  return html;
}

}  // namespace mailvault
