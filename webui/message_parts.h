// The attachments of one archived message, for the web UI's message view and
// attachment download.
//
// Attachments are the MIME leaf parts that are not the message's readable
// text: every leaf with a file name or a Content-Disposition of attachment,
// and every leaf that is not text/plain or text/html; inner messages
// (message/rfc822) are walked too. They are numbered 0, 1, ... in tree order,
// and the same bytes always give the same numbering, so an index from the
// listing names the same part in a download.
//
// The message is read from a file descriptor (MessageFile below spools it
// there from the archive), so memory does not grow with the message: content
// is decoded in 64 KiB chunks. Walking stops at 1000 parts or depth 32.
//
// Thread-safety: reentrant (GMime is initialised once, thread-safely).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "base/file.h"
#include "base/status.h"

namespace mailvault {

struct AttachmentPart {
  size_t index = 0;
  std::string filename;      // as declared (GMime decodes RFC 2231/2047); may be empty
  std::string content_type;  // lowercase "type/subtype" as declared
  uint64_t size = 0;         // decoded bytes
};

// One message spooled from the archive into an unlinked temporary file.
class MessageFile {
 public:
  // Streams message `id` from `archive` into a new file in `temp_dir`
  // ("" = $TMPDIR or /tmp); the file has no name once this returns.
  static Result<MessageFile> Spool(Archive& archive, const Digest& id, const std::string& temp_dir);
  int fd() const { return fd_.get(); }
  // /proc/self/fd/N: a path for APIs that want one (DecodeMessageFile).
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

 private:
  explicit MessageFile(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// What the message view lists of the message in `file`, from one parse: its
// attachments and whether it has an HTML body (one ReadHtmlBody would find).
struct MessageOutline {
  std::vector<AttachmentPart> attachments;
  bool has_html_body = false;
};
Result<MessageOutline> ReadOutline(const MessageFile& file);

// Streams the decoded bytes of attachment `index` to `sink`; `info` (optional)
// receives its listing. kNotFound when there is no such attachment.
Status ReadAttachment(const MessageFile& file, size_t index, AttachmentPart* info,
                      const std::function<Status(std::string_view)>& sink);

// The message's HTML body: the first text/html leaf that is not an attachment,
// decoded (transfer encoding, charset to UTF-8) and cut to at most `max_bytes`
// at a character boundary. nullopt when the message has none. The HTML is
// returned as the sender wrote it: it is never inserted into a page, only
// served to a sandboxed frame under a Content-Security-Policy that forbids
// scripts and remote loads (doc/api.md).
Result<std::optional<std::string>> ReadHtmlBody(const MessageFile& file, size_t max_bytes);

}  // namespace mailvault
