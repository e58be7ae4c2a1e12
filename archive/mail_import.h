// Importing mail files into the archive: mbox (mboxrd or mboxo quoting),
// Maildir, single .eml files, and folders of them, detected automatically.
//
// Detection of a path:
//   - a directory with cur/ and new/ is a Maildir: the files in cur/ and new/
//     are messages; its other subdirectories (Maildir++ folders) are walked too;
//   - any other directory is walked recursively; files named *.eml, *.msg,
//     *.mail, *.mbox or *.mbx, files with a Maildir ":2," suffix or in a folder
//     named cur or new, and files whose first line is a header field or an mbox
//     "From " line are imported; others (README, JSON, ...) are skipped and counted;
//   - a file that starts (after an optional UTF-8 byte order mark) with "From "
//     is an mbox; any other file is one message.
// In an mbox every line that starts with "From " begins a message (inside
// messages such lines are quoted as ">From ", which is the point of the format;
// real mboxes often lack the empty line before it). The "From " line and one
// empty line before the next are removed, and one level of ">From " quoting is
// undone (mboxrd: any number of '>'; mboxo: exactly one). Content-Length based
// mboxes (mboxcl) are read like mboxrd.
//
// A message is refused, with the path, the byte offset and the reason, when it is
// empty or blank, or when it is binary data rather than text (NUL or control
// bytes and no header line at its start). Anything else, valid MIME or not, is
// archived byte-exact in canonical form. Memory stays bounded: files are streamed
// in fixed blocks, whatever the size of a message or a line.
//
// Not thread-safe; one importer per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "archive/archive.h"

namespace mailvault {

enum class MboxQuoting { kMboxrd, kMboxo };

struct ImportOptions {
  MboxQuoting quoting = MboxQuoting::kMboxrd;
  size_t commit_every_messages = 1000;      // a durable commit at least this often
  uint64_t commit_every_bytes = 64ull << 20;
  // Called after each commit returned, with the ids it made durable.
  std::function<void(const std::vector<Digest>&)> on_commit;
  // Called now and then with bytes read so far.
  std::function<void(uint64_t bytes_read)> on_progress;
};

struct ImportRefusal {
  std::string path;
  uint64_t offset = 0;  // byte offset of the refused message in its file
  std::string reason;
};

struct ImportSummary {
  uint64_t read = 0;       // messages read (new + duplicate + refused)
  uint64_t added = 0;      // new to the archive
  uint64_t duplicate = 0;  // the archive already held them
  uint64_t skipped_files = 0;  // files in folders whose names do not look like mail
  uint64_t bytes = 0;      // bytes read from files
  std::vector<ImportRefusal> refused;
};

class MailImporter {
 public:
  // `archive` is borrowed and must outlive the importer.
  MailImporter(Archive* archive, ImportOptions options);
  ~MailImporter();

  // Imports a file or directory. Bad input is refused into the summary and the
  // import goes on; the Status is an error only when the archive itself fails
  // (e.g. a full disk), after which nothing more should be imported.
  Status Import(const std::string& path);
  // Commits what is pending. Call once at the end.
  Status Finish();

  const ImportSummary& summary() const { return summary_; }

  // Sum of the sizes of the files Import(path) would read (for progress bars).
  static uint64_t TotalBytes(const std::string& path);

 private:
  Status ImportFile(const std::string& path);
  Status ImportDirectory(const std::string& path);
  Status ImportMbox(const std::string& path, int fd, uint64_t start);
  Status ImportSingle(const std::string& path, int fd, const std::string& head, uint64_t size);
  Status Finished(const std::string& path, uint64_t offset);
  Status MaybeCommit();
  Status Commit();
  void Refuse(const std::string& path, uint64_t offset, std::string reason);

  Archive* archive_;
  ImportOptions options_;
  std::unique_ptr<IngestBatch> batch_;
  std::vector<Digest> uncommitted_;
  ImportSummary summary_;
};

// Why `head` (the first bytes of a message) is not mail, or "" when it may be.
std::string WhyNotMail(std::string_view head);

}  // namespace mailvault
