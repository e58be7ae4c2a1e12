// Reading and writing pack files (format: archive/pack_format.h, doc/pack-format.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "archive/pack_format.h"
#include "base/file.h"
#include "base/status.h"

namespace mailvault {

// Where a record lives: pack id, offset of its header, total length with header.
struct RecordLocation {
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};

// "pack-000001.mvp"
std::string PackFileName(uint32_t id);
// Parses a pack file name; 0 when `name` is not one.
uint32_t ParsePackFileName(const std::string& name);

// Appends records to one pack. Not thread-safe (the Archive serialises writers).
// A failed append leaves the pack as it was before the call (the partial record
// is cut off again); if even that fails, the writer refuses all further appends.
class PackWriter {
 public:
  // Opens pack `id` in `dir`; creates it (file header, fsync, directory fsync) when absent.
  static Result<std::unique_ptr<PackWriter>> Open(FileSystem& fs, const std::string& dir, uint32_t id);

  Result<RecordLocation> Append(RecordType type, std::string_view payload);
  // Everything appended so far is durable when this returns OK.
  Status Sync();
  // Cuts the pack to `size` bytes (a torn tail found at open). REQUIRES: size >= header.
  Status Truncate(uint64_t size);

  uint32_t id() const { return id_; }
  uint64_t size() const { return file_->Size(); }
  bool dirty() const { return dirty_; }

 private:
  PackWriter(uint32_t id, std::string path, std::unique_ptr<AppendFile> file)
      : id_(id), path_(std::move(path)), file_(std::move(file)) {}

  uint32_t id_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  bool dirty_ = false;   // appended since the last Sync
  bool broken_ = false;  // a failed append could not be undone
};

// Random access to a pack's records. Thread-safe (pread only).
class PackReader {
 public:
  static Result<std::unique_ptr<PackReader>> Open(const std::string& path, uint32_t id);

  // Reads the record at `offset`, checks its checksum and type, and returns its payload.
  Status ReadRecord(uint64_t offset, RecordType expected, std::string* payload) const;
  // Reads whatever record is at `offset`, checking its checksum.
  Status ReadAnyRecord(uint64_t offset, RecordType* type, std::string* payload) const;
  Result<uint64_t> FileSize() const;
  uint32_t id() const { return id_; }
  const std::string& path() const { return path_; }

 private:
  PackReader(uint32_t id, std::string path, UniqueFd fd)
      : id_(id), path_(std::move(path)), fd_(std::move(fd)) {}
  uint32_t id_;
  std::string path_;
  UniqueFd fd_;
};

// One record met while scanning.
struct ScannedRecord {
  RecordType type;
  uint64_t offset;
  uint32_t length;  // with header
  std::string_view payload;
};

// What a scan found besides good records.
struct ScanOutcome {
  uint64_t end = 0;            // offset just past the last good record before any damage
  bool damaged = false;        // a record at `damage_offset` could not be read
  uint64_t damage_offset = 0;
  bool damage_is_tail = false; // nothing readable follows the damage (a torn tail)
  std::string damage_reason;
  // Damaged records that were skipped because later records could still be read
  // (only when the scan is asked to skip them): offset and reason.
  std::vector<std::pair<uint64_t, std::string>> skipped;
};

struct ScanOptions {
  uint64_t from = kPackMagic.size();  // where to start (a record boundary)
  // Continue past a checksum failure whose length field still lets us find the next
  // record (verify and rebuild want everything readable; open wants to stop).
  bool skip_bad_records = false;
};

// Reads records in order, calling `visit` for each good one. A visit error stops
// the scan and is returned. Damage is reported in `outcome`, not as an error;
// errors are for I/O failures and a file that is not a pack at all.
Status ScanPack(const std::string& path, const ScanOptions& options,
                const std::function<Status(const ScannedRecord&)>& visit, ScanOutcome* outcome);

}  // namespace mailvault
