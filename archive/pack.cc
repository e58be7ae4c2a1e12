#include "archive/pack.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mailvault {

std::string PackFileName(uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "pack-%06u.mvp", id);
  return name;
}

uint32_t ParsePackFileName(const std::string& name) {
  unsigned id = 0;
  char tail = 0;
  if (name.size() < 14 || std::sscanf(name.c_str(), "pack-%u.mv%c", &id, &tail) != 2) return 0;
  if (tail != 'p' || name != PackFileName(id)) return 0;
  return id;
}

Result<std::unique_ptr<PackWriter>> PackWriter::Open(FileSystem& fs, const std::string& dir,
                                                     uint32_t id) {
  std::string path = dir + "/" + PackFileName(id);
  bool exists = PathExists(path);
  MV_ASSIGN_OR_RETURN(std::unique_ptr<AppendFile> file, fs.OpenAppend(path, /*create=*/true));
  if (!exists || file->Size() == 0) {
    Status s = file->Append(kPackMagic);
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = fs.SyncDir(dir);
    if (!s.ok()) {
      ::unlink(path.c_str());
      return s.WithContext("create pack " + path);
    }
  } else if (file->Size() < kPackMagic.size()) {
    return Status::Corruption(path + ": shorter than a pack file header");
  }
  return std::unique_ptr<PackWriter>(new PackWriter(id, path, std::move(file)));
}

Result<RecordLocation> PackWriter::Append(RecordType type, std::string_view payload) {
  if (broken_) {
    return Status::IoError(path_ + ": an earlier failed write could not be undone; reopen the archive");
  }
  if (payload.size() > kMaxRecordPayload) {
    return Status::InvalidArgument("record of " + std::to_string(payload.size()) + " bytes is too large");
  }
  const uint64_t before = file_->Size();
  std::string record = EncodeRecord(type, payload);
  Status s = file_->Append(record);
  if (!s.ok()) {
    Status undo = file_->Truncate(before);
    if (!undo.ok()) broken_ = true;
    return s;
  }
  dirty_ = true;
  return RecordLocation{id_, before, static_cast<uint32_t>(record.size())};
}

Status PackWriter::Sync() {
  if (!dirty_) return Status::Ok();
  MV_RETURN_IF_ERROR(file_->Sync());
  dirty_ = false;
  return Status::Ok();
}

Status PackWriter::Truncate(uint64_t size) {
  if (size < kPackMagic.size()) return Status::Internal("truncate below the pack header");
  MV_RETURN_IF_ERROR(file_->Truncate(size));
  return file_->Sync();
}

Result<std::unique_ptr<PackReader>> PackReader::Open(const std::string& path, uint32_t id) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  std::string magic;
  MV_RETURN_IF_ERROR(ReadAt(fd.get(), 0, kPackMagic.size(), &magic).WithContext(path));
  if (magic != kPackMagic) return Status::Corruption(path + ": not a mailvault pack (bad magic)");
  return std::unique_ptr<PackReader>(new PackReader(id, path, std::move(fd)));
}

Result<uint64_t> PackReader::FileSize() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return ErrnoToStatus(errno, "stat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

Status PackReader::ReadRecord(uint64_t offset, RecordType expected, std::string* payload) const {
  RecordType type;
  MV_RETURN_IF_ERROR(ReadAnyRecord(offset, &type, payload));
  if (type != expected) {
    return Status::Corruption(path_ + " offset " + std::to_string(offset) + ": expected a " +
                              std::string(RecordTypeName(expected)) + " record, found " +
                              std::string(RecordTypeName(type)));
  }
  return Status::Ok();
}

Status PackReader::ReadAnyRecord(uint64_t offset, RecordType* type, std::string* payload) const {
  auto where = [&] { return path_ + " offset " + std::to_string(offset); };
  std::string header;
  MV_RETURN_IF_ERROR(ReadAt(fd_.get(), offset, kRecordHeaderSize, &header).WithContext(where()));
  uint32_t length = 0;
  MV_RETURN_IF_ERROR(DecodeRecordHeader(header, type, &length).WithContext(where()));
  MV_RETURN_IF_ERROR(ReadAt(fd_.get(), offset + kRecordHeaderSize, length, payload).WithContext(where()));
  if (payload->size() != length) return Status::Corruption(where() + ": record cut short");
  if (!RecordChecksumMatches(header, *payload)) {
    return Status::Corruption(where() + ": " + std::string(RecordTypeName(*type)) +
                              " record checksum mismatch");
  }
  return Status::Ok();
}

Status ScanPack(const std::string& path, const ScanOptions& options,
                const std::function<Status(const ScannedRecord&)>& visit, ScanOutcome* outcome) {
  *outcome = ScanOutcome{};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, "stat " + path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::string magic;
  MV_RETURN_IF_ERROR(ReadAt(fd.get(), 0, kPackMagic.size(), &magic));
  if (magic != kPackMagic) return Status::Corruption(path + ": not a mailvault pack (bad magic)");

  uint64_t offset = std::max<uint64_t>(options.from, kPackMagic.size());
  outcome->end = offset;
  std::string header, payload;
  auto damage = [&](std::string reason, bool tail) {
    outcome->damaged = true;
    outcome->damage_offset = offset;
    outcome->damage_is_tail = tail;
    outcome->damage_reason = std::move(reason);
  };
  while (offset < size) {
    if (size - offset < kRecordHeaderSize) {
      damage("record header cut short", true);
      break;
    }
    MV_RETURN_IF_ERROR(ReadAt(fd.get(), offset, kRecordHeaderSize, &header).WithContext(path));
    RecordType type;
    uint32_t length = 0;
    Status hs = DecodeRecordHeader(header, &type, &length);
    if (!hs.ok()) {
      // Without a trustworthy length there is no way to find the next record.
      damage(hs.message(), true);
      break;
    }
    const uint64_t next = offset + kRecordHeaderSize + length;
    if (next > size) {
      damage("record cut short", true);
      break;
    }
    MV_RETURN_IF_ERROR(ReadAt(fd.get(), offset + kRecordHeaderSize, length, &payload).WithContext(path));
    if (!RecordChecksumMatches(header, payload)) {
      std::string reason = std::string(RecordTypeName(type)) + " record checksum mismatch";
      if (next == size || !options.skip_bad_records) {
        damage(std::move(reason), next == size);
        break;
      }
      outcome->skipped.emplace_back(offset, std::move(reason));
      offset = next;
      continue;
    }
    MV_RETURN_IF_ERROR(visit(ScannedRecord{type, offset, static_cast<uint32_t>(next - offset), payload}));
    offset = next;
    if (outcome->skipped.empty()) outcome->end = offset;
  }
  if (!outcome->damaged && outcome->skipped.empty()) outcome->end = offset;
  return Status::Ok();
}

}  // namespace mailvault
