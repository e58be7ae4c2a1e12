#include "archive/mail_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace mailvault {
std::string EnvelopeLine(int64_t archived_at) {
  std::time_t t = static_cast<std::time_t>(archived_at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
  return std::string("From mailvault ") + date + "\r\n";
}

namespace {

class OutputFile {
 public:
  Status Open(const std::string& path) {
    path_ = path;
    fd_.Reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd_.valid()) return ErrnoToStatus(errno, "create " + path);
    return Status::Ok();
  }
  Status Write(std::string_view data) { return WriteAll(fd_.get(), data, "write " + path_); }
  Status Close() {
    if (::fsync(fd_.get()) != 0) return ErrnoToStatus(errno, "fsync " + path_);
    fd_.Reset();
    return Status::Ok();
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace

void MboxQuoter::Feed(std::string_view data, std::string* out) {
  size_t i = 0;
  while (i < data.size()) {
    if (!at_line_start_) {
      size_t nl = data.find('\n', i);
      if (nl == std::string_view::npos) {
        out->append(data.substr(i));
        return;
      }
      out->append(data.substr(i, nl + 1 - i));
      i = nl + 1;
      at_line_start_ = true;
      continue;
    }
    // At a line start: count '>'s, then look at up to five more bytes.
    char c = data[i++];
    if (head_.empty() && c == '>') {
      ++quotes_;
      continue;
    }
    head_.push_back(c);
    bool decided = c == '\n' || head_.size() == 5;
    if (decided) {
      bool from = head_ == "From ";
      out->append(quotes_ + (from ? 1 : 0), '>');
      out->append(head_);
      at_line_start_ = c == '\n';
      head_.clear();
      quotes_ = 0;
    }
  }
}

void MboxQuoter::Finish(std::string* out) {
  out->append(quotes_, '>');
  out->append(head_);
  head_.clear();
  quotes_ = 0;
  at_line_start_ = true;
}

Status ExportMessages(Archive& archive, const std::vector<Digest>& ids, ExportFormat format,
                      const std::string& out, const std::function<void(uint64_t)>& progress,
                      ExportSummary* summary) {
  *summary = ExportSummary{};
  std::vector<Digest> all = ids;
  if (all.empty()) {
    MV_RETURN_IF_ERROR(archive.ForEachMessage([&](const MessageInfo& info) {
      all.push_back(info.id);
      return Status::Ok();
    }));
  }
  OutputFile mbox;
  if (format == ExportFormat::kMbox) {
    MV_RETURN_IF_ERROR(mbox.Open(out));
  } else {
    MV_RETURN_IF_ERROR(MakeDirs(out));
  }
  std::string buffer;
  for (const Digest& id : all) {
    std::string hex = ToHex(id);
    if (format == ExportFormat::kMbox) {
      MV_ASSIGN_OR_RETURN(MessageInfo info, archive.Info(id));
      MV_RETURN_IF_ERROR(mbox.Write(EnvelopeLine(info.archived_at)));
      MboxQuoter quoter;
      MV_RETURN_IF_ERROR(archive.ReadMessage(id, [&](std::string_view chunk) {
        buffer.clear();
        quoter.Feed(chunk, &buffer);
        summary->bytes += chunk.size();
        return mbox.Write(buffer);
      }));
      buffer.clear();
      quoter.Finish(&buffer);
      buffer += "\r\n";
      MV_RETURN_IF_ERROR(mbox.Write(buffer));
    } else {
      std::string final_path = out + "/" + hex + ".eml";
      std::string tmp = final_path + ".part";
      OutputFile file;
      MV_RETURN_IF_ERROR(file.Open(tmp));
      Status s = archive.ReadMessage(id, [&](std::string_view chunk) {
        summary->bytes += chunk.size();
        return file.Write(chunk);
      });
      if (s.ok()) s = file.Close();
      if (s.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) s = ErrnoToStatus(errno, "rename " + tmp);
      if (!s.ok()) {
        ::unlink(tmp.c_str());
        return s;
      }
    }
    ++summary->messages;
    if (progress) progress(summary->messages);
  }
  if (format == ExportFormat::kMbox) MV_RETURN_IF_ERROR(mbox.Close());
  return Status::Ok();
}

}  // namespace mailvault
