// ZipStreamWriter: writes a zip archive of stored (uncompressed) entries to a
// forward-only sink, for streaming an export of any size over HTTP.
//
// Why its own writer: Poco::Zip wants each entry as a seekable input or buffers
// it, while an export streams each message straight from the archive once.
// Every entry is written as ZIP64 (APPNOTE 6.3.x: version 4.5, zip64 extra
// fields, zip64 end records) with a data descriptor after the data (flag bit
// 3), because its CRC is known only at the end; names are UTF-8 (bit 11). Any
// entry size and any number of entries work; unzip, Python's zipfile and the
// usual desktop tools read it. Mail is stored uncompressed: the result is
// bigger, but costs no CPU on a busy appliance and is byte-exact by design.
//
// Memory: O(number of entries) for the central directory (name + 30 bytes
// each), nothing per byte of data.
//
// Thread-safety: one writer per stream, one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

class ZipStreamWriter {
 public:
  using Sink = std::function<Status(std::string_view)>;
  explicit ZipStreamWriter(Sink sink) : sink_(std::move(sink)) {}

  // Starts entry `name` (a relative path: no leading '/', no "..") with
  // modification time `mtime` (unix seconds, stored as UTC DOS time).
  // REQUIRES: no entry open.
  Status BeginEntry(const std::string& name, int64_t mtime);
  Status Write(std::string_view data);
  Status EndEntry();
  // Writes the central directory and end records. REQUIRES: no entry open.
  Status Finish();

  uint64_t bytes_written() const { return offset_; }

 private:
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t size = 0;
    uint64_t offset = 0;  // of the local header
    uint16_t dos_time = 0, dos_date = 0;
  };
  Status Emit(const std::string& bytes);

  Sink sink_;
  uint64_t offset_ = 0;
  bool open_ = false;
  std::vector<Entry> entries_;
};

}  // namespace mailvault
