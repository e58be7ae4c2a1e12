// The on-disk format of pack files: the archive's source of truth.
//
// A pack is an append-only file of checksummed records. Grammar (integers are
// little-endian; `str` is u32 length + bytes; `digest` is 32 bytes of SHA-256):
//
//   pack        := file_header record*
//   file_header := "MVPACK" 0x00 0x01                  ; magic and format version 1
//   record      := type:u8 flags:u8 reserved:u16 length:u32 crc:u32 payload[length]
//                  ; crc = CRC-32 (zlib) of the first 8 header bytes and the payload
//
//   payload by type:
//   1 segment    := hash:digest raw_length:u32 dictionary:u32 zstd_frame
//                   ; hash = SHA-256 of the plain bytes; dictionary 0 = none
//   2 message    := id:digest raw_length:u64 archived_at:i64 count:u32 hash:digest*count
//                   provenance
//                   ; the canonical message is the concatenation of the segments
//   3 link       := id:digest provenance          ; another place a stored message was seen
//   4 dictionary := id:u32 sample_count:u32 zstd_dictionary
//   5 event      := kind:u8 at:i64 source:str key:str detail:str
//                   ; ledger events (e.g. a POP3 UIDL gone from the server)
//   6 delta      := hash:digest raw_length:u32 base:digest zstd_frame
//                   ; a segment compressed against segment `base` (a type 1 segment,
//                   ; never another delta): near-duplicate header blocks
//   7 manifests  := count:u32 raw_length:u32 zstd_frame
//                   ; the frame holds `count` entries (type:u8 length:u32 payload),
//                   ; each a message (2) or link (3) payload: one commit's manifests
//                   ; compressed together
//   8 block      := version:u8 dictionary:u32 raw_length:u32 count:u32
//                   (hash:digest length:u32)*count zstd_frame
//                   ; version 1. Small segments of one commit batch compressed
//                   ; together: the frame decompresses (with `dictionary`, 0 = none)
//                   ; to exactly raw_length bytes, the segments' plain bytes
//                   ; concatenated in table order (so a segment's offset in the
//                   ; block is the sum of the lengths before it); raw_length is
//                   ; the sum of the lengths
//   9 located message := id:digest raw_length:u64 archived_at:i64 count:u32 ref*count
//                   provenance
//                   ; only inside a manifests record (7), never on its own: a
//                   ; message whose segments are named by where they are stored
//                   ; (6 to 10 bytes) instead of by their SHA-256 (32 bytes)
//   ref         := pack:varint offset:varint in_block:varint
//                   ; the segment, delta or block record at (pack, offset); in_block
//                   ; 0 for a segment or delta record, else 1 + the segment's offset
//                   ; in the decompressed block. varint: LEB128, at most 10 bytes
//   10 compacted := first_pack:u32 last_pack:u32 at:i64
//                   ; only as the first record of a pack written by compaction:
//                   ; it replaces packs first_pack..last_pack, whose messages,
//                   ; links, events and newest dictionary it holds in their order
//   provenance  := kind:u8 seen_at:i64 source:str key:str
//
// A message record is written only after all its segments, and only at batch
// commit. Records never change once written; a pack is sealed at a size limit.
// Compaction never edits a pack either: it writes new packs beside the old ones
// and swaps them in whole (Archive::Compact).
// After a crash, a record cut short (or failing its checksum) past the last
// committed offset is a torn tail: it is cut off when the pack is opened.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/sha256.h"
#include "base/status.h"

namespace mailvault {

inline constexpr std::string_view kPackMagic{"MVPACK\x00\x01", 8};
inline constexpr size_t kRecordHeaderSize = 12;
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;

enum class RecordType : uint8_t {
  kSegment = 1,
  kMessage = 2,
  kLink = 3,
  kDictionary = 4,
  kEvent = 5,
  kDeltaSegment = 6,
  kManifests = 7,
  kBlock = 8,
  kLocatedMessage = 9,  // only as a manifests entry
  kCompacted = 10,      // first record of a pack written by compaction
};

std::string_view RecordTypeName(RecordType type);

// Where a provenance came from.
enum class ProvenanceKind : uint8_t {
  kImport = 1,  // source = file path, key = "" or the byte offset of an mbox message
  kPop3 = 2,    // source = account name, key = UIDL
};

struct Provenance {
  ProvenanceKind kind = ProvenanceKind::kImport;
  int64_t seen_at = 0;  // unix seconds
  std::string source;
  std::string key;
  bool operator==(const Provenance&) const = default;
};

struct SegmentRecord {
  Digest hash{};
  uint32_t raw_length = 0;
  uint32_t dictionary = 0;
  std::string_view frame;  // borrowed from the payload
};

// A segment named by where it is stored: see `ref` in the grammar above.
struct SegmentRef {
  uint32_t pack = 0;
  uint64_t offset = 0;          // of the segment, delta or block record
  int64_t block_offset = -1;    // >= 0: the segment's offset in the decompressed block
  bool operator==(const SegmentRef&) const = default;
};

// A message manifest; its segments named by hash (message record) or by
// location (located message, resolved to hashes through the records named).
template <typename SegmentName>
struct BasicMessageRecord {
  Digest id{};
  uint64_t raw_length = 0;
  int64_t archived_at = 0;
  std::vector<SegmentName> segments;
  Provenance provenance;
};
using MessageRecord = BasicMessageRecord<Digest>;
using LocatedMessageRecord = BasicMessageRecord<SegmentRef>;

struct LinkRecord {
  Digest id{};
  Provenance provenance;
};

struct DeltaSegmentRecord {
  Digest hash{};
  uint32_t raw_length = 0;
  Digest base{};
  std::string_view frame;  // borrowed from the payload
};

// One segment of a block record: its hash and plain length.
struct BlockEntry {
  Digest hash{};
  uint32_t length = 0;
};

inline constexpr uint8_t kBlockVersion = 1;

struct BlockRecord {
  uint32_t dictionary = 0;
  uint32_t raw_length = 0;
  std::vector<BlockEntry> entries;
  std::string_view frame;  // borrowed from the payload
};

// One entry of a manifests record: a message, located message or link payload.
struct ManifestEntry {
  RecordType type = RecordType::kMessage;
  std::string payload;
};

struct DictionaryRecord {
  uint32_t id = 0;
  uint32_t sample_count = 0;
  std::string_view dictionary;  // borrowed from the payload
};

// Says that the pack it opens was written by compaction (Archive::Compact), from
// packs first_pack..last_pack as they were; a compacted pack takes no appends.
struct CompactedRecord {
  uint32_t first_pack = 0;
  uint32_t last_pack = 0;
  int64_t at = 0;  // unix seconds
};

struct EventRecord {
  uint8_t kind = 0;
  int64_t at = 0;
  std::string source;
  std::string key;
  std::string detail;
};

// Builds a whole record (header + payload) ready to append.
std::string EncodeRecord(RecordType type, std::string_view payload);
// Checks a record header; fills type and payload length. kCorruption when the
// header is impossible (unknown type, absurd length).
Status DecodeRecordHeader(std::string_view header, RecordType* type, uint32_t* length);
// True when the checksum in `header` matches `payload`.
bool RecordChecksumMatches(std::string_view header, std::string_view payload);

std::string EncodeSegment(const Digest& hash, uint32_t raw_length, uint32_t dictionary,
                          std::string_view frame);
std::string EncodeMessage(const MessageRecord& m);
std::string EncodeLink(const LinkRecord& l);
std::string EncodeLocatedMessage(const LocatedMessageRecord& m);
std::string EncodeDictionary(uint32_t id, uint32_t sample_count, std::string_view dictionary);
std::string EncodeEvent(const EventRecord& e);
std::string EncodeCompacted(const CompactedRecord& c);
std::string EncodeDeltaSegment(const Digest& hash, uint32_t raw_length, const Digest& base,
                               std::string_view frame);
// REQUIRES: raw_length is the sum of the entries' lengths.
std::string EncodeBlock(uint32_t dictionary, uint32_t raw_length, const std::vector<BlockEntry>& entries,
                        std::string_view frame);
// Entries are compressed with zstd at `level`. kInternal only if zstd fails.
Result<std::string> EncodeManifests(const std::vector<ManifestEntry>& entries, int level);

// Decoders: kCorruption when the payload does not follow the grammar.
Result<SegmentRecord> DecodeSegment(std::string_view payload);
Result<MessageRecord> DecodeMessage(std::string_view payload);
Result<LinkRecord> DecodeLink(std::string_view payload);
Result<LocatedMessageRecord> DecodeLocatedMessage(std::string_view payload);
Result<DictionaryRecord> DecodeDictionary(std::string_view payload);
Result<EventRecord> DecodeEvent(std::string_view payload);
Result<CompactedRecord> DecodeCompacted(std::string_view payload);
Result<DeltaSegmentRecord> DecodeDeltaSegment(std::string_view payload);
Result<std::vector<ManifestEntry>> DecodeManifests(std::string_view payload);
// Also kCorruption for an unknown block version or lengths that do not add up.
Result<BlockRecord> DecodeBlock(std::string_view payload);

}  // namespace mailvault
