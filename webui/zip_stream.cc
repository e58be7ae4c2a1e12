#include "webui/zip_stream.h"

#include <zlib.h>

#include <ctime>

namespace mailvault {
namespace {

constexpr uint16_t kVersion = 45;        // 4.5: ZIP64
constexpr uint16_t kMadeBy = 3 << 8 | 45;  // Unix, 4.5
constexpr uint16_t kFlags = 1 << 3 | 1 << 11;  // data descriptor, UTF-8 names

void Put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}
void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v & 0xffff));
  Put16(out, static_cast<uint16_t>(v >> 16));
}
void Put64(std::string& out, uint64_t v) {
  Put32(out, static_cast<uint32_t>(v & 0xffffffffu));
  Put32(out, static_cast<uint32_t>(v >> 32));
}

void DosTime(int64_t mtime, uint16_t* time, uint16_t* date) {
  std::time_t t = static_cast<std::time_t>(mtime);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (tm.tm_year < 80) {  // DOS dates start in 1980
    *time = 0;
    *date = (1 << 5) | 1;
    return;
  }
  *time = static_cast<uint16_t>(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
  *date = static_cast<uint16_t>((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

}  // namespace

Status ZipStreamWriter::Emit(const std::string& bytes) {
  offset_ += bytes.size();
  return sink_(bytes);
}

Status ZipStreamWriter::BeginEntry(const std::string& name, int64_t mtime) {
  if (open_) return Status::Internal("zip: BeginEntry with an entry open");
  if (name.empty() || name.size() > 0xffff || name[0] == '/' || name.find("..") != std::string::npos)
    return Status::InvalidArgument("zip: unsafe entry name '" + name + "'");
  Entry e;
  e.name = name;
  e.offset = offset_;
  DosTime(mtime, &e.dos_time, &e.dos_date);
  std::string h;
  Put32(h, 0x04034b50);
  Put16(h, kVersion);
  Put16(h, kFlags);
  Put16(h, 0);  // stored
  Put16(h, e.dos_time);
  Put16(h, e.dos_date);
  Put32(h, 0);            // CRC: in the data descriptor
  Put32(h, 0xffffffffu);  // sizes: in the zip64 extra field / data descriptor
  Put32(h, 0xffffffffu);
  Put16(h, static_cast<uint16_t>(name.size()));
  Put16(h, 20);
  h += name;
  Put16(h, 0x0001);  // zip64 extra: uncompressed and compressed size (0: see descriptor)
  Put16(h, 16);
  Put64(h, 0);
  Put64(h, 0);
  entries_.push_back(std::move(e));
  open_ = true;
  return Emit(h);
}

Status ZipStreamWriter::Write(std::string_view data) {
  if (!open_) return Status::Internal("zip: Write without an entry");
  Entry& e = entries_.back();
  // crc32 takes a uInt length: feed it in pieces below 4 GiB.
  for (size_t i = 0; i < data.size(); i += 1u << 30) {
    std::string_view piece = data.substr(i, 1u << 30);
    e.crc = static_cast<uint32_t>(crc32(e.crc, reinterpret_cast<const Bytef*>(piece.data()),
                                        static_cast<uInt>(piece.size())));
  }
  e.size += data.size();
  offset_ += data.size();
  return sink_(data);
}

Status ZipStreamWriter::EndEntry() {
  if (!open_) return Status::Internal("zip: EndEntry without an entry");
  open_ = false;
  const Entry& e = entries_.back();
  std::string d;
  Put32(d, 0x08074b50);
  Put32(d, e.crc);
  Put64(d, e.size);
  Put64(d, e.size);
  return Emit(d);
}

Status ZipStreamWriter::Finish() {
  if (open_) return Status::Internal("zip: Finish with an entry open");
  const uint64_t cd_start = offset_;
  std::string cd;
  for (const Entry& e : entries_) {
    cd.clear();
    Put32(cd, 0x02014b50);
    Put16(cd, kMadeBy);
    Put16(cd, kVersion);
    Put16(cd, kFlags);
    Put16(cd, 0);
    Put16(cd, e.dos_time);
    Put16(cd, e.dos_date);
    Put32(cd, e.crc);
    Put32(cd, 0xffffffffu);
    Put32(cd, 0xffffffffu);
    Put16(cd, static_cast<uint16_t>(e.name.size()));
    Put16(cd, 28);
    Put16(cd, 0);  // comment
    Put16(cd, 0);  // disk
    Put16(cd, 0);  // internal attributes
    Put32(cd, 0100644u << 16);  // external: a regular file, rw-r--r--
    Put32(cd, 0xffffffffu);     // offset: in the zip64 extra field
    cd += e.name;
    Put16(cd, 0x0001);
    Put16(cd, 24);
    Put64(cd, e.size);
    Put64(cd, e.size);
    Put64(cd, e.offset);
    MV_RETURN_IF_ERROR(Emit(cd));
  }
  const uint64_t cd_size = offset_ - cd_start;
  const uint64_t zip64_end = offset_;
  std::string end;
  Put32(end, 0x06064b50);  // zip64 end of central directory record
  Put64(end, 44);
  Put16(end, kMadeBy);
  Put16(end, kVersion);
  Put32(end, 0);
  Put32(end, 0);
  Put64(end, entries_.size());
  Put64(end, entries_.size());
  Put64(end, cd_size);
  Put64(end, cd_start);
  Put32(end, 0x07064b50);  // zip64 end of central directory locator
  Put32(end, 0);
  Put64(end, zip64_end);
  Put32(end, 1);
  Put32(end, 0x06054b50);  // end of central directory: everything in the zip64 record
  Put16(end, 0);
  Put16(end, 0);
  Put16(end, 0xffff);
  Put16(end, 0xffff);
  Put32(end, 0xffffffffu);
  Put32(end, 0xffffffffu);
  Put16(end, 0);
  return Emit(end);
}

}  // namespace mailvault
