// Archive::SegmentRefResolver: turns the segment references of located
// messages (pack_format.h, type 9) back into SHA-256 hashes. Internal to the
// archive (archive.cc and compaction.cc); not part of its interface.
#pragma once

#include <map>
#include <utility>

#include "archive/archive.h"

namespace mailvault {

// Turns the SegmentRefs of located messages back into hashes by reading the
// records they name (a block's table, or a segment or delta record's hash). Keeps
// the tables of recently named blocks: a commit's messages name few blocks.
class Archive::SegmentRefResolver {
 public:
  explicit SegmentRefResolver(Archive* archive) : archive_(archive) {}

  Result<Digest> Resolve(const SegmentRef& ref) {
    std::string where = PackFileName(ref.pack) + " offset " + std::to_string(ref.offset);
    auto key = std::make_pair(ref.pack, ref.offset);
    auto it = tables_.find(key);
    if (it == tables_.end()) {
      MV_ASSIGN_OR_RETURN(auto reader, archive_->Reader(ref.pack));
      RecordType type;
      std::string payload;
      MV_RETURN_IF_ERROR(reader->ReadAnyRecord(ref.offset, &type, &payload));
      std::map<int64_t, Digest> table;  // offset in the block (-1: whole record) → hash
      if (type == RecordType::kBlock) {
        MV_ASSIGN_OR_RETURN(BlockRecord block, DecodeBlock(payload));
        int64_t offset = 0;
        for (const BlockEntry& e : block.entries) {
          table.emplace(offset, e.hash);
          offset += e.length;
        }
      } else if (type == RecordType::kSegment) {
        MV_ASSIGN_OR_RETURN(SegmentRecord seg, DecodeSegment(payload));
        table.emplace(-1, seg.hash);
      } else if (type == RecordType::kDeltaSegment) {
        MV_ASSIGN_OR_RETURN(DeltaSegmentRecord seg, DecodeDeltaSegment(payload));
        table.emplace(-1, seg.hash);
      } else {
        return Status::Corruption(where + ": a segment reference names a " + std::string(RecordTypeName(type)) +
                                  " record");
      }
      if (tables_.size() >= kTables) tables_.clear();
      it = tables_.emplace(key, std::move(table)).first;
    }
    auto found = it->second.find(ref.block_offset);
    if (found == it->second.end()) {
      return Status::Corruption(where + ": no segment at offset " + std::to_string(ref.block_offset) +
                                " of this record");
    }
    return found->second;
  }

 private:
  static constexpr size_t kTables = 256;
  Archive* archive_;  // borrowed
  std::map<std::pair<uint32_t, uint64_t>, std::map<int64_t, Digest>> tables_;
};

}  // namespace mailvault
