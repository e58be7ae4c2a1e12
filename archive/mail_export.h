// Exporting archived messages as an mbox file or a folder of .eml files.
//
// mbox: mboxrd, with the messages' canonical CRLF lines kept as they are (so a
// re-import gives back the same bytes and ids): each message is preceded by
// "From mailvault <asctime of its archival>" and followed by an empty line, and
// every line matching ">*From " gets one more '>'.
// eml: one file per message named <ID>.eml holding its canonical bytes,
// written to a temporary name and renamed, so a file either is whole or absent.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archive/archive.h"

namespace mailvault {

enum class ExportFormat { kMbox, kEml };

struct ExportSummary {
  uint64_t messages = 0;
  uint64_t bytes = 0;  // canonical bytes exported
};

// Exports `ids` (every message when empty) to `out` (a file for mbox, a directory
// for eml, created when missing). Stops at the first failure, naming the message.
Status ExportMessages(Archive& archive, const std::vector<Digest>& ids, ExportFormat format,
                      const std::string& out, const std::function<void(uint64_t done)>& progress,
                      ExportSummary* summary);

// The mbox envelope line ("From mailvault <asctime>\r\n") of a message archived
// at `archived_at` (unix seconds, shown in UTC).
std::string EnvelopeLine(int64_t archived_at);

// Streams message bytes into mboxrd-quoted form (one more '>' on ">*From " lines).
class MboxQuoter {
 public:
  void Feed(std::string_view data, std::string* out);
  void Finish(std::string* out);

 private:
  bool at_line_start_ = true;
  size_t quotes_ = 0;  // '>'s seen at the start of the current line (counted, not kept)
  std::string head_;   // up to five bytes after them, while undecided
};

}  // namespace mailvault
