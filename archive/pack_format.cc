#include "archive/pack_format.h"

#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <optional>

#include "base/varint.h"

namespace mailvault {
namespace {

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutDigest(std::string* out, const Digest& d) { out->append(AsBytes(d)); }
void PutStr(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

uint32_t Crc(std::string_view a, std::string_view b) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(a.data()), static_cast<uInt>(a.size()));
  // Payloads are at most 64 MiB, below uInt's range.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
  return static_cast<uint32_t>(crc);
}

// Reads fields from a payload; any read past the end sets failed().
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool failed() const { return failed_; }
  bool done() const { return data_.empty(); }
  std::string_view rest() const { return data_; }

  uint8_t U8() { return static_cast<uint8_t>(Take(1)[0]); }
  uint32_t U32() {
    std::string_view b = Take(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  uint64_t U64() {
    std::string_view b = Take(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  uint64_t Varint() {
    std::optional<uint64_t> v = failed_ ? std::nullopt : TakeVarint(&data_);
    if (v) return *v;
    failed_ = true;
    data_ = {};
    return 0;
  }
  Digest D() {
    Digest d{};
    std::string_view b = Take(32);
    std::memcpy(d.data(), b.data(), 32);
    return d;
  }
  std::string Str() {
    uint32_t n = U32();
    return std::string(Take(n));
  }
  void Prov(Provenance* p) {
    p->kind = static_cast<ProvenanceKind>(U8());
    p->seen_at = static_cast<int64_t>(U64());
    p->source = Str();
    p->key = Str();
  }

 private:
  // Past the end: marks the reader failed and returns zeros (callers check failed()).
  std::string_view Take(size_t n) {
    static const char kZeros[32] = {};
    if (failed_ || n > data_.size()) {
      failed_ = true;
      data_ = {};
      return std::string_view(kZeros, n < sizeof kZeros ? n : sizeof kZeros);
    }
    std::string_view r = data_.substr(0, n);
    data_.remove_prefix(n);
    return r;
  }
  std::string_view data_;
  bool failed_ = false;
};

void PutProv(std::string* out, const Provenance& p) {
  PutU8(out, static_cast<uint8_t>(p.kind));
  PutU64(out, static_cast<uint64_t>(p.seen_at));
  PutStr(out, p.source);
  PutStr(out, p.key);
}

Status Malformed(std::string_view what) {
  return Status::Corruption(std::string(what) + " record does not follow the pack grammar");
}

// Message and located message records differ only in how a segment is named.
template <typename SegmentName, typename PutSegment>
std::string EncodeMessageWith(const BasicMessageRecord<SegmentName>& m, PutSegment put_segment) {
  std::string out;
  PutDigest(&out, m.id);
  PutU64(&out, m.raw_length);
  PutU64(&out, static_cast<uint64_t>(m.archived_at));
  PutU32(&out, static_cast<uint32_t>(m.segments.size()));
  for (const SegmentName& s : m.segments) put_segment(&out, s);
  PutProv(&out, m.provenance);
  return out;
}

// `min_size`: the fewest bytes one segment name takes (bounds the count).
template <typename SegmentName, typename GetSegment>
Result<BasicMessageRecord<SegmentName>> DecodeMessageWith(std::string_view payload, std::string_view what,
                                                          size_t min_size, GetSegment get_segment) {
  Reader r(payload);
  BasicMessageRecord<SegmentName> m;
  m.id = r.D();
  m.raw_length = r.U64();
  m.archived_at = static_cast<int64_t>(r.U64());
  uint32_t count = r.U32();
  if (r.failed() || count > r.rest().size() / min_size) return Malformed(what);
  m.segments.resize(count);
  for (SegmentName& s : m.segments) {
    if (!get_segment(r, &s)) return Malformed(what);
  }
  r.Prov(&m.provenance);
  if (r.failed() || !r.done()) return Malformed(what);
  return m;
}

}  // namespace

std::string_view RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kSegment: return "segment";
    case RecordType::kMessage: return "message";
    case RecordType::kLink: return "link";
    case RecordType::kDictionary: return "dictionary";
    case RecordType::kEvent: return "event";
    case RecordType::kDeltaSegment: return "delta segment";
    case RecordType::kManifests: return "manifests";
    case RecordType::kBlock: return "block";
    case RecordType::kLocatedMessage: return "located message";
    case RecordType::kCompacted: return "compacted";
  }
  return "unknown";
}

std::string EncodeRecord(RecordType type, std::string_view payload) {
  std::string out;
  out.reserve(kRecordHeaderSize + payload.size());
  PutU8(&out, static_cast<uint8_t>(type));
  PutU8(&out, 0);
  PutU8(&out, 0);
  PutU8(&out, 0);
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  PutU32(&out, Crc(std::string_view(out).substr(0, 8), payload));
  out.append(payload);
  return out;
}

Status DecodeRecordHeader(std::string_view header, RecordType* type, uint32_t* length) {
  if (header.size() < kRecordHeaderSize) return Status::Corruption("record header cut short");
  Reader r(header);
  uint8_t t = r.U8();
  // Type 9 (located message) lives only inside manifests records.
  if (t < 1 || t > 10 || t == 9) return Status::Corruption("unknown record type " + std::to_string(t));
  r.U8();
  r.U8();
  r.U8();
  uint32_t len = r.U32();
  if (len > kMaxRecordPayload) {
    return Status::Corruption("record length " + std::to_string(len) + " exceeds the limit");
  }
  *type = static_cast<RecordType>(t);
  *length = len;
  return Status::Ok();
}

bool RecordChecksumMatches(std::string_view header, std::string_view payload) {
  Reader r(header.substr(8, 4));
  return r.U32() == Crc(header.substr(0, 8), payload);
}

std::string EncodeSegment(const Digest& hash, uint32_t raw_length, uint32_t dictionary,
                          std::string_view frame) {
  std::string out;
  out.reserve(40 + frame.size());
  PutDigest(&out, hash);
  PutU32(&out, raw_length);
  PutU32(&out, dictionary);
  out.append(frame);
  return out;
}

std::string EncodeMessage(const MessageRecord& m) {
  return EncodeMessageWith(m, [](std::string* out, const Digest& d) { PutDigest(out, d); });
}

std::string EncodeLocatedMessage(const LocatedMessageRecord& m) {
  return EncodeMessageWith(m, [](std::string* out, const SegmentRef& ref) {
    PutVarint(out, ref.pack);
    PutVarint(out, ref.offset);
    PutVarint(out, static_cast<uint64_t>(ref.block_offset + 1));
  });
}

std::string EncodeLink(const LinkRecord& l) {
  std::string out;
  PutDigest(&out, l.id);
  PutProv(&out, l.provenance);
  return out;
}

std::string EncodeDictionary(uint32_t id, uint32_t sample_count, std::string_view dictionary) {
  std::string out;
  PutU32(&out, id);
  PutU32(&out, sample_count);
  out.append(dictionary);
  return out;
}

std::string EncodeEvent(const EventRecord& e) {
  std::string out;
  PutU8(&out, e.kind);
  PutU64(&out, static_cast<uint64_t>(e.at));
  PutStr(&out, e.source);
  PutStr(&out, e.key);
  PutStr(&out, e.detail);
  return out;
}

std::string EncodeCompacted(const CompactedRecord& c) {
  std::string out;
  PutU32(&out, c.first_pack);
  PutU32(&out, c.last_pack);
  PutU64(&out, static_cast<uint64_t>(c.at));
  return out;
}

std::string EncodeDeltaSegment(const Digest& hash, uint32_t raw_length, const Digest& base,
                               std::string_view frame) {
  std::string out;
  out.reserve(72 + frame.size());
  PutDigest(&out, hash);
  PutU32(&out, raw_length);
  PutDigest(&out, base);
  out.append(frame);
  return out;
}

std::string EncodeBlock(uint32_t dictionary, uint32_t raw_length, const std::vector<BlockEntry>& entries,
                        std::string_view frame) {
  std::string out;
  out.reserve(13 + entries.size() * 36 + frame.size());
  PutU8(&out, kBlockVersion);
  PutU32(&out, dictionary);
  PutU32(&out, raw_length);
  PutU32(&out, static_cast<uint32_t>(entries.size()));
  for (const BlockEntry& e : entries) {
    PutDigest(&out, e.hash);
    PutU32(&out, e.length);
  }
  out.append(frame);
  return out;
}

Result<std::string> EncodeManifests(const std::vector<ManifestEntry>& entries, int level) {
  std::string plain;
  for (const ManifestEntry& e : entries) {
    PutU8(&plain, static_cast<uint8_t>(e.type));
    PutStr(&plain, e.payload);
  }
  std::string out;
  PutU32(&out, static_cast<uint32_t>(entries.size()));
  PutU32(&out, static_cast<uint32_t>(plain.size()));
  size_t header = out.size();
  out.resize(header + ZSTD_compressBound(plain.size()));
  size_t n = ZSTD_compress(out.data() + header, out.size() - header, plain.data(), plain.size(), level);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(header + n);
  return out;
}

Result<DeltaSegmentRecord> DecodeDeltaSegment(std::string_view payload) {
  Reader r(payload);
  DeltaSegmentRecord d;
  d.hash = r.D();
  d.raw_length = r.U32();
  d.base = r.D();
  if (r.failed()) return Malformed("delta segment");
  d.frame = r.rest();
  return d;
}

Result<BlockRecord> DecodeBlock(std::string_view payload) {
  Reader r(payload);
  BlockRecord b;
  uint8_t version = r.U8();
  if (!r.failed() && version != kBlockVersion) {
    return Status::Corruption("block record of unknown version " + std::to_string(version));
  }
  b.dictionary = r.U32();
  b.raw_length = r.U32();
  uint32_t count = r.U32();
  if (r.failed() || count > r.rest().size() / 36) return Malformed("block");
  b.entries.reserve(count);
  uint64_t sum = 0;
  for (uint32_t i = 0; i < count; ++i) {
    BlockEntry e;
    e.hash = r.D();
    e.length = r.U32();
    sum += e.length;
    b.entries.push_back(e);
  }
  if (r.failed() || sum != b.raw_length) return Malformed("block");
  b.frame = r.rest();
  return b;
}

Result<std::vector<ManifestEntry>> DecodeManifests(std::string_view payload) {
  Reader r(payload);
  uint32_t count = r.U32();
  uint32_t raw_length = r.U32();
  if (r.failed() || raw_length > kMaxRecordPayload * 4ull) return Malformed("manifests");
  std::string plain(raw_length, '\0');
  std::string_view frame = r.rest();
  size_t n = ZSTD_decompress(plain.data(), plain.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != raw_length) return Malformed("manifests");
  Reader entries(plain);
  std::vector<ManifestEntry> out;
  for (uint32_t i = 0; i < count; ++i) {
    ManifestEntry e;
    uint8_t type = entries.U8();
    e.payload = entries.Str();
    if (entries.failed() || (type != 2 && type != 3 && type != 9)) return Malformed("manifests");
    e.type = static_cast<RecordType>(type);
    out.push_back(std::move(e));
  }
  if (!entries.done()) return Malformed("manifests");
  return out;
}

Result<SegmentRecord> DecodeSegment(std::string_view payload) {
  Reader r(payload);
  SegmentRecord s;
  s.hash = r.D();
  s.raw_length = r.U32();
  s.dictionary = r.U32();
  if (r.failed()) return Malformed("segment");
  s.frame = r.rest();
  return s;
}

Result<MessageRecord> DecodeMessage(std::string_view payload) {
  return DecodeMessageWith<Digest>(payload, "message", 32, [](Reader& r, Digest* d) {
    *d = r.D();
    return true;
  });
}

Result<LocatedMessageRecord> DecodeLocatedMessage(std::string_view payload) {
  return DecodeMessageWith<SegmentRef>(payload, "located message", 3, [](Reader& r, SegmentRef* ref) {
    uint64_t pack = r.Varint();
    ref->offset = r.Varint();
    uint64_t in_block = r.Varint();
    if (r.failed() || pack == 0 || pack > UINT32_MAX || in_block > UINT32_MAX) return false;
    ref->pack = static_cast<uint32_t>(pack);
    ref->block_offset = static_cast<int64_t>(in_block) - 1;
    return true;
  });
}

Result<LinkRecord> DecodeLink(std::string_view payload) {
  Reader r(payload);
  LinkRecord l;
  l.id = r.D();
  r.Prov(&l.provenance);
  if (r.failed() || !r.done()) return Malformed("link");
  return l;
}

Result<DictionaryRecord> DecodeDictionary(std::string_view payload) {
  Reader r(payload);
  DictionaryRecord d;
  d.id = r.U32();
  d.sample_count = r.U32();
  if (r.failed() || d.id == 0) return Malformed("dictionary");
  d.dictionary = r.rest();
  return d;
}

Result<EventRecord> DecodeEvent(std::string_view payload) {
  Reader r(payload);
  EventRecord e;
  e.kind = r.U8();
  e.at = static_cast<int64_t>(r.U64());
  e.source = r.Str();
  e.key = r.Str();
  e.detail = r.Str();
  if (r.failed() || !r.done()) return Malformed("event");
  return e;
}

Result<CompactedRecord> DecodeCompacted(std::string_view payload) {
  Reader r(payload);
  CompactedRecord c;
  c.first_pack = r.U32();
  c.last_pack = r.U32();
  c.at = static_cast<int64_t>(r.U64());
  if (r.failed() || !r.done()) return Malformed("compacted");
  if (c.first_pack == 0 || c.first_pack > c.last_pack) return Malformed("compacted");
  return c;
}

}  // namespace mailvault
