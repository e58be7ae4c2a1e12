#include "archive/mail_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace mailvault {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 256 * 1024;
constexpr size_t kPeek = 1024;     // at a line start, at least this much of the line is visible
constexpr size_t kHeadBytes = 4096;  // what the "is this mail" check looks at
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool HasMailName(const std::string& name) {
  for (const char* ext : {".eml", ".msg", ".mail", ".mbox", ".mbx"}) {
    std::string_view e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

bool IsHeaderLine(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] >= 33 && line[i] <= 126 && line[i] != ':') ++i;
  if (i == 0) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

// For files in folders whose names say nothing: mail starts with a header line
// (or an mbox "From " line), which README, JSON or licence files do not.
bool SniffsAsMail(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string head;
  if (!fd.valid() || !ReadAt(fd.get(), 0, 1024, &head).ok()) return false;
  std::string_view h = head;
  if (h.substr(0, 3) == "\xEF\xBB\xBF") h.remove_prefix(3);
  if (h.substr(0, 5) == "From ") return true;
  size_t first = h.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  size_t start = h.rfind('\n', first);
  std::string_view line = h.substr(start == std::string_view::npos ? 0 : start + 1);
  return IsHeaderLine(line.substr(0, line.find('\n')));
}

// Reads a file in blocks and hands out pieces of lines. At the start of a line the
// piece holds the whole line or at least kPeek bytes of it.
class LineReader {
 public:
  LineReader(int fd, uint64_t start) : fd_(fd), file_offset_(start) {}

  // False at end of file.
  Result<bool> Next(std::string_view* piece, bool* line_start, bool* line_end) {
    if (pos_ == buf_.size() || (at_line_start_ && !LineVisible())) MV_RETURN_IF_ERROR(Fill());
    if (pos_ == buf_.size()) return false;
    std::string_view rest = std::string_view(buf_).substr(pos_);
    size_t nl = rest.find('\n');
    size_t take = nl == std::string_view::npos ? rest.size() : nl + 1;
    *piece = rest.substr(0, take);
    *line_start = at_line_start_;
    *line_end = nl != std::string_view::npos;
    piece_offset_ = file_offset_ - (buf_.size() - pos_);
    pos_ += take;
    at_line_start_ = *line_end;
    return true;
  }
  // File offset of the piece last returned.
  uint64_t piece_offset() const { return piece_offset_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool LineVisible() const {
    std::string_view rest = std::string_view(buf_).substr(pos_);
    return rest.find('\n') != std::string_view::npos || rest.size() >= kPeek || eof_;
  }
  Status Fill() {
    buf_.erase(0, pos_);
    pos_ = 0;
    while (!eof_ && buf_.size() < kPeek) {
      size_t old = buf_.size();
      buf_.resize(old + kBlock);
      ssize_t n;
      do {
        n = ::read(fd_, buf_.data() + old, kBlock);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        buf_.resize(old);
        return ErrnoToStatus(errno, "read");
      }
      buf_.resize(old + static_cast<size_t>(n));
      file_offset_ += static_cast<uint64_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      if (n == 0) eof_ = true;
      if (buf_.find('\n', old) != std::string::npos) break;
    }
    return Status::Ok();
  }

  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t file_offset_;  // offset just past buf_'s end
  uint64_t piece_offset_ = 0;
  uint64_t bytes_read_ = 0;
  bool at_line_start_ = true;
  bool eof_ = false;
};

}  // namespace

std::string WhyNotMail(std::string_view head) {
  size_t first = head.find_first_not_of(" \t\r\n\f\v");
  if (first == std::string_view::npos) {
    return head.empty() ? "empty message" : "no content: only blank lines";
  }
  // The first non-blank line.
  size_t line_start = head.rfind('\n', first);
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  std::string_view line = head.substr(line_start);
  line = line.substr(0, line.find('\n'));
  if (IsHeaderLine(line)) return "";
  size_t control = 0;
  bool nul = false;
  for (char c : head) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0) nul = true;
    if (u < 32 && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v' && u != 0x1b) ++control;
  }
  if (nul || control * 20 > head.size()) {
    return "binary data, not mail: no header line at the start and " +
           std::to_string(control) + " control bytes in the first " + std::to_string(head.size());
  }
  return "";  // text without headers: still archived, as invariant 5 asks
}

MailImporter::MailImporter(Archive* archive, ImportOptions options)
    : archive_(archive), options_(std::move(options)), batch_(archive->NewBatch()) {}

MailImporter::~MailImporter() = default;

void MailImporter::Refuse(const std::string& path, uint64_t offset, std::string reason) {
  ++summary_.read;
  summary_.refused.push_back({path, offset, std::move(reason)});
}

Status MailImporter::Import(const std::string& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec) {
    Refuse(path, 0, ec == std::errc::no_such_file_or_directory ? "no such file or directory" : ec.message());
    return Status::Ok();
  }
  if (fs::is_directory(status)) return ImportDirectory(path);
  return ImportFile(path);
}

Status MailImporter::ImportDirectory(const std::string& path) {
  std::error_code ec;
  bool maildir = fs::is_directory(path + "/cur", ec) && fs::is_directory(path + "/new", ec);
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) {
    Refuse(path, 0, "cannot list directory: " + ec.message());
    return Status::Ok();
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  for (const auto& e : entries) {
    std::string name = e.path().filename().string();
    std::error_code e_ec;
    if (e.is_directory(e_ec)) {
      if (maildir && (name == "cur" || name == "new")) {
        std::vector<fs::directory_entry> mails;
        for (fs::directory_iterator it(e.path(), e_ec), end; !e_ec && it != end; it.increment(e_ec)) {
          if (it->is_regular_file()) mails.push_back(*it);
        }
        std::sort(mails.begin(), mails.end(),
                  [](const auto& a, const auto& b) { return a.path() < b.path(); });
        for (const auto& m : mails) MV_RETURN_IF_ERROR(ImportFile(m.path().string()));
      } else if (!(maildir && name == "tmp")) {
        MV_RETURN_IF_ERROR(ImportDirectory(e.path().string()));
      }
    } else if (e.is_regular_file(e_ec)) {
      // A Maildir's own files (dovecot-uidlist, indexes, subscriptions) are not mail;
      // stray messages beside cur/ and new/ still are, and are recognised below.
      if (maildir && (name.rfind("dovecot", 0) == 0 || name.rfind("courier", 0) == 0 ||
                      name == "subscriptions" || name == "maildirfolder")) {
        continue;
      }
      std::string dir_name = fs::path(path).filename().string();
      bool mail = HasMailName(name) || name.find(":2,") != std::string::npos ||
                  dir_name == "cur" || dir_name == "new" || SniffsAsMail(e.path().string());
      if (!mail) {
        ++summary_.skipped_files;
        continue;
      }
      MV_RETURN_IF_ERROR(ImportFile(e.path().string()));
    }
  }
  return Status::Ok();
}

uint64_t MailImporter::TotalBytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    auto size = fs::file_size(path, ec);
    return ec ? 0 : size;
  }
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_regular_file(e)) total += it->file_size(e);
  }
  return total;
}

Status MailImporter::ImportFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    Refuse(path, 0, ErrnoToStatus(errno, "open").message());
    return Status::Ok();
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    Refuse(path, 0, "not a regular file");
    return Status::Ok();
  }
  std::string head;
  Status rs = ReadAt(fd.get(), 0, kHeadBytes, &head);
  if (!rs.ok()) {
    Refuse(path, 0, rs.message());
    return Status::Ok();
  }
  uint64_t start = head.compare(0, kBom.size(), kBom) == 0 ? kBom.size() : 0;
  if (head.compare(start, 5, "From ") == 0) {
    if (::lseek(fd.get(), static_cast<off_t>(start), SEEK_SET) < 0) {
      Refuse(path, 0, ErrnoToStatus(errno, "seek").message());
      return Status::Ok();
    }
    return ImportMbox(path, fd.get(), start);
  }
  std::string name = fs::path(path).filename().string();
  bool mbox_name = name.size() > 5 && (name.ends_with(".mbox") || name.ends_with(".mbx"));
  if (mbox_name && !head.empty()) {
    Refuse(path, 0, "named like an mbox but does not start with a \"From \" line");
    return Status::Ok();
  }
  return ImportSingle(path, fd.get(), head, static_cast<uint64_t>(st.st_size));
}

Status MailImporter::ImportSingle(const std::string& path, int fd, const std::string& head, uint64_t size) {
  std::string why = WhyNotMail(head);
  if (!why.empty()) {
    summary_.bytes += head.size();
    Refuse(path, 0, why);
    return Status::Ok();
  }
  MV_RETURN_IF_ERROR(batch_->BeginMessage());
  std::string buf;
  uint64_t offset = 0;
  for (;;) {
    Status rs = ReadAt(fd, offset, kBlock, &buf);
    if (!rs.ok()) {
      batch_->AbortMessage();
      Refuse(path, offset, "read failed at byte " + std::to_string(offset) + ": " + rs.message());
      return Status::Ok();
    }
    if (buf.empty()) break;
    Status ws = batch_->Write(buf);
    if (!ws.ok()) {
      batch_->AbortMessage();
      return ws.WithContext(path);
    }
    offset += buf.size();
    summary_.bytes += buf.size();
    if (options_.on_progress) options_.on_progress(summary_.bytes);
  }
  if (offset < size) {
    batch_->AbortMessage();
    Refuse(path, offset, "file shrank while being read (" + std::to_string(offset) + " of " +
                             std::to_string(size) + " bytes)");
    return Status::Ok();
  }
  return Finished(path, 0);
}

Status MailImporter::Finished(const std::string& path, uint64_t offset) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  Provenance p;
  p.kind = ProvenanceKind::kImport;
  p.source = ec ? path : absolute.lexically_normal().string();
  p.key = offset == 0 ? "" : std::to_string(offset);
  auto r = batch_->FinishMessage(p);
  if (!r.ok()) return r.status().WithContext(path);
  ++summary_.read;
  if (r->duplicate) {
    ++summary_.duplicate;
  } else {
    ++summary_.added;
  }
  uncommitted_.push_back(r->id);
  return MaybeCommit();
}

Status MailImporter::ImportMbox(const std::string& path, int fd, uint64_t start) {
  LineReader reader(fd, start);
  bool in_message = false;
  bool skipping_line = false;   // inside a "From " separator line
  std::string pending_blank;    // an empty line that may belong to the next separator
  std::string head;             // the first bytes of the current message
  uint64_t message_offset = 0;

  auto write = [&](std::string_view data) -> Status {
    if (head.size() < kHeadBytes) head.append(data.substr(0, kHeadBytes - head.size()));
    return batch_->Write(data);
  };
  auto finish = [&]() -> Status {
    in_message = false;
    pending_blank.clear();
    std::string why = WhyNotMail(head);
    if (!why.empty()) {
      batch_->AbortMessage();
      Refuse(path, message_offset, why);
      return Status::Ok();
    }
    return Finished(path, message_offset);
  };

  std::string_view piece;
  bool line_start = false, line_end = false;
  for (;;) {
    auto next = reader.Next(&piece, &line_start, &line_end);
    if (!next.ok()) {
      if (in_message) batch_->AbortMessage();
      Refuse(path, reader.piece_offset(), "read failed: " + next.status().message());
      return Status::Ok();
    }
    if (!*next) break;
    summary_.bytes += piece.size();
    if (line_start) {
      skipping_line = false;
      bool is_from = piece.substr(0, 5) == "From ";
      if (is_from) {
        if (in_message) MV_RETURN_IF_ERROR(finish().WithContext(path));
        MV_RETURN_IF_ERROR(batch_->BeginMessage());
        in_message = true;
        head.clear();
        message_offset = reader.piece_offset();
        skipping_line = !line_end;
        if (options_.on_progress) options_.on_progress(summary_.bytes);
        continue;
      }
      if (!in_message) continue;
      if (!pending_blank.empty()) {
        MV_RETURN_IF_ERROR(write(pending_blank).WithContext(path));
        pending_blank.clear();
      }
      if (line_end && (piece == "\n" || piece == "\r\n")) {
        pending_blank = std::string(piece);
        continue;
      }
      // Undo one level of quoting of a "From " line.
      size_t quotes = piece.find_first_not_of('>');
      bool quoted = quotes != std::string_view::npos && quotes >= 1 &&
                    piece.substr(quotes, 5) == "From " &&
                    (options_.quoting == MboxQuoting::kMboxrd || quotes == 1);
      MV_RETURN_IF_ERROR(write(quoted ? piece.substr(1) : piece).WithContext(path));
    } else if (!skipping_line && in_message) {
      MV_RETURN_IF_ERROR(write(piece).WithContext(path));
    }
  }
  if (in_message) MV_RETURN_IF_ERROR(finish().WithContext(path));
  return Status::Ok();
}

Status MailImporter::MaybeCommit() {
  if (batch_->pending_messages() >= options_.commit_every_messages ||
      batch_->pending_bytes() >= options_.commit_every_bytes) {
    return Commit();
  }
  return Status::Ok();
}

Status MailImporter::Commit() {
  if (batch_->pending_messages() == 0) return Status::Ok();
  MV_RETURN_IF_ERROR(batch_->Commit().status());
  if (options_.on_commit) options_.on_commit(uncommitted_);
  uncommitted_.clear();
  return Status::Ok();
}

Status MailImporter::Finish() { return Commit(); }

}  // namespace mailvault
