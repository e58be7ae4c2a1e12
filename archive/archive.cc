#include "archive/archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "archive/segment_ref_resolver.h"
#include "base/log.h"

namespace mailvault {
namespace {

constexpr size_t kBaseCacheEntries = 256;
constexpr size_t kSimilarHeadersLimit = 500000;
constexpr size_t kManifestsPerRecord = 4096;

}  // namespace

std::optional<Digest> HeaderSimilarityKey(std::string_view block) {
  std::string_view date, from, subject;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find('\n', pos);
    std::string_view line = block.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? block.size() : end + 1;
    if (line.empty() || line == "\r") break;  // end of the header block
    auto value_of = [&](std::string_view name) -> std::optional<std::string_view> {
      if (line.size() <= name.size()) return std::nullopt;
      for (size_t i = 0; i < name.size(); ++i) {
        // ASCII only: header names are ASCII, and std::tolower is a call per byte.
        char c = line[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != name[i]) return std::nullopt;
      }
      return line.substr(name.size());
    };
    if (auto v = value_of("date:"); v && date.empty()) date = *v;
    else if (auto f = value_of("from:"); f && from.empty()) from = *f;
    else if (auto t = value_of("subject:"); t && subject.empty()) subject = *t;
  }
  if (date.empty() || from.empty()) return std::nullopt;
  Sha256 h;
  h.Update("mailvault similar header\n");
  for (std::string_view part : {date, from, subject}) {
    h.Update(part);
    h.Update(std::string_view("\0", 1));
  }
  return h.Finish();
}

// ---------------------------------------------------------------- IngestBatch

IngestBatch::IngestBatch(Archive* archive)
    : archive_(archive),
      registration_(archive->batches_),
      segmenter_(archive->options_.segmenter,
                 [this](std::string_view segment) { return StoreSegment(segment); }),
      compressor_(archive->options_.level,
                  [archive] {
                    std::unique_lock lock(archive->mutex_);
                    archive->WaitForTrainingLocked(lock);
                    return archive->dictionaries_.Newest();
                  },
                  [archive](const BlockCompressor::Block& block, std::string_view frame) {
                    const uint32_t dictionary = block.dictionary ? block.dictionary->id() : 0;
                    std::lock_guard lock(archive->mutex_);
                    if (block.single) {
                      return archive->StoreSegmentLocked(block.entries[0].hash, block.entries[0].length,
                                                         dictionary, frame, nullptr);
                    }
                    return archive->StoreBlockLocked(dictionary, static_cast<uint32_t>(block.plain.size()),
                                                     block.entries, frame);
                  }) {}

IngestBatch::~IngestBatch() = default;

Status IngestBatch::BeginMessage() {
  if (open_) return Status::Internal("BeginMessage while a message is open");
  if (!archive_->writable_) return Status::PermissionDenied("the archive is open read-only");
  {
    std::lock_guard lock(archive_->mutex_);
    if (!archive_->broken_.ok()) return archive_->broken_;
    if (archive_->compacting_) {
      return Status::Unavailable("the archive in " + archive_->options_.data_dir +
                                 " is being compacted; write again when it ends");
    }
  }
  open_ = true;
  failure_ = Status::Ok();
  length_ = 0;
  segments_.clear();
  return Status::Ok();
}

Status IngestBatch::Write(std::string_view raw) {
  if (!open_) return Status::Internal("Write without an open message");
  if (!failure_.ok()) return failure_;
  canonical_.clear();
  canonicalizer_.Feed(raw, &canonical_);
  message_hash_.Update(canonical_);
  length_ += canonical_.size();
  failure_ = segmenter_.Feed(canonical_);
  return failure_;
}

Status IngestBatch::StoreSegment(std::string_view segment) {
  const bool header_block = segments_.empty();
  segment_hash_.Update(segment);
  Digest hash = segment_hash_.Finish();
  segments_.push_back(hash);
  if (submitted_.count(hash)) return Status::Ok();  // handed to the compressor by this batch already
  Archive& a = *archive_;
  const bool small = segment.size() <= a.options_.small_segment_bytes;
  const bool to_block = small && a.options_.block_bytes > 0;
  std::optional<Digest> key;
  if (header_block && small) key = HeaderSimilarityKey(segment);
  std::optional<std::pair<Digest, std::optional<SegmentLocation>>> base;
  {
    std::unique_lock lock(a.mutex_);
    MV_ASSIGN_OR_RETURN(bool known, a.SegmentKnownLocked(hash));
    if (known) return Status::Ok();
    if (key) base = a.SimilarBaseLocked(*key);
    // Judged against a frame with the newest dictionary, as when training ran on this thread.
    if (base) a.WaitForTrainingLocked(lock);
  }
  // A base not stored yet is usable while its block is being compressed (its
  // bytes are at hand), not while it waits in an open block of this batch.
  if (base && !base->second && !RecentHeaderPlain(base->first)) base.reset();
  std::shared_ptr<const Dictionary> dict;
  if (small) dict = a.dictionaries_.Newest();
  if (!base && (to_block || !small)) {
    // Compressed on the compressor's thread: with others in a block, or a large
    // segment alone. (Small segments outside blocks are stored right here: a
    // header block must be locatable at once to serve as a delta base.)
    if (to_block) {
      MV_RETURN_IF_ERROR(AddToBlock(header_block ? header_block_ : other_block_, hash, segment));
    } else {
      submitted_.insert(hash);
      compressor_.Submit(BlockCompressor::Block{std::string(segment),
                                                {BlockEntry{hash, static_cast<uint32_t>(segment.size())}},
                                                /*single=*/true, nullptr});
    }
    std::lock_guard lock(a.mutex_);
    if (to_block) {
      ++a.small_segments_;  // counted when buffered, so training is due at the same point
      a.NoteSmallSegmentLocked(segment);
    }
    if (key) {
      if (a.similar_headers_.size() >= kSimilarHeadersLimit) a.similar_headers_.clear();
      a.similar_headers_.emplace(*key, hash);
    }
    return Status::Ok();
  }
  // Stored alone; with a base (a near-duplicate of a header block seen before)
  // compressed also to judge a delta.
  MV_RETURN_IF_ERROR(codec_.Compress(segment, dict.get(), a.options_.level, &frame_));
  bool use_delta = false;
  if (base) {
    // A near-duplicate header block: store the difference to the first copy when smaller.
    auto base_plain = BasePlain(base->first, base->second);
    if (base_plain.ok()) {
      MV_RETURN_IF_ERROR(codec_.CompressDelta(segment, *base_plain, a.options_.dictionary_level, &delta_frame_));
      use_delta = delta_frame_.size() + 32 < frame_.size();
    }
  }
  if (use_delta) {
    std::lock_guard lock(a.mutex_);
    return a.StoreSegmentLocked(hash, static_cast<uint32_t>(segment.size()), 0, delta_frame_, &base->first);
  }
  if (to_block) {
    MV_RETURN_IF_ERROR(AddToBlock(header_block ? header_block_ : other_block_, hash, segment));
    std::lock_guard lock(a.mutex_);
    ++a.small_segments_;
    a.NoteSmallSegmentLocked(segment);
    return Status::Ok();
  }
  std::lock_guard lock(a.mutex_);
  MV_RETURN_IF_ERROR(a.StoreSegmentLocked(hash, static_cast<uint32_t>(segment.size()),
                                          dict ? dict->id() : 0, frame_, nullptr));
  if (small) a.NoteSmallSegmentLocked(segment);
  if (key && !base) {
    if (a.similar_headers_.size() >= kSimilarHeadersLimit) a.similar_headers_.clear();
    a.similar_headers_.emplace(*key, hash);
  }
  return Status::Ok();
}

Status IngestBatch::AddToBlock(OpenBlock& block, const Digest& hash, std::string_view segment) {
  if (!block.plain.empty() && block.plain.size() + segment.size() > archive_->options_.block_bytes) {
    MV_RETURN_IF_ERROR(FlushBlock(block));
  }
  block.plain.append(segment);
  block.entries.push_back(BlockEntry{hash, static_cast<uint32_t>(segment.size())});
  submitted_.insert(hash);
  return Status::Ok();
}

Status IngestBatch::FlushBlock(OpenBlock& block) {
  if (block.entries.empty()) return Status::Ok();
  if (&block == &header_block_) {
    // Blocks submitted before the last two are written (Submit waits while two
    // are in flight): only these two may hold bases that cannot be located yet.
    recent_header_blocks_.push_back(block);
    if (recent_header_blocks_.size() > 2) recent_header_blocks_.pop_front();
  }
  // Compressed with the newest dictionary when its turn comes (one being
  // trained while the block filled is waited for, as when training ran on this
  // thread).
  BlockCompressor::Block out{std::move(block.plain), std::move(block.entries), /*single=*/false, nullptr,
                             /*with_newest_dictionary=*/true};
  block.plain.clear();
  block.entries.clear();
  compressor_.Submit(std::move(out));
  return Status::Ok();
}

Status IngestBatch::DrainBlocks() { return compressor_.Drain(); }

std::optional<std::string_view> IngestBatch::RecentHeaderPlain(const Digest& hash) const {
  for (const OpenBlock& block : recent_header_blocks_) {
    size_t offset = 0;
    for (const BlockEntry& e : block.entries) {
      if (e.hash == hash) return std::string_view(block.plain).substr(offset, e.length);
      offset += e.length;
    }
  }
  return std::nullopt;
}

Result<std::string_view> IngestBatch::BasePlain(const Digest& hash, const std::optional<SegmentLocation>& location) {
  auto it = base_cache_.find(hash);
  if (it != base_cache_.end()) return std::string_view(it->second);
  if (!location) {
    std::optional<std::string_view> recent = RecentHeaderPlain(hash);
    if (!recent) return Status::NotFound("delta base " + ToHex(hash) + " is not at hand");
    return *recent;
  }
  std::string plain;
  MV_RETURN_IF_ERROR(archive_->ReadSegment(hash, *location, codec_, &plain));
  if (base_cache_.size() >= kBaseCacheEntries) base_cache_.erase(base_cache_.begin());
  auto [inserted, _] = base_cache_.emplace(hash, std::move(plain));
  return std::string_view(inserted->second);
}

Result<IngestedMessage> IngestBatch::FinishMessage(const Provenance& provenance) {
  if (!open_) return Status::Internal("FinishMessage without an open message");
  Status s = failure_;
  if (s.ok()) {
    canonical_.clear();
    canonicalizer_.Finish(&canonical_);
    message_hash_.Update(canonical_);
    length_ += canonical_.size();
    s = segmenter_.Feed(canonical_);
  }
  if (s.ok()) s = segmenter_.Finish();
  if (!s.ok()) {
    AbortMessage();
    return s;
  }
  open_ = false;
  IngestedMessage result;
  result.id = message_hash_.Finish();
  result.raw_length = length_;

  Pending p;
  p.record.id = result.id;
  p.record.raw_length = length_;
  p.record.archived_at = archive_->options_.clock->NowUnixSeconds();
  p.record.provenance = provenance;
  if (p.record.provenance.seen_at == 0) p.record.provenance.seen_at = p.record.archived_at;

  if (pending_ids_.count(result.id)) {
    result.duplicate = true;
  } else {
    std::lock_guard lock(archive_->mutex_);
    MV_ASSIGN_OR_RETURN(bool known, archive_->MessageKnownLocked(result.id));
    result.duplicate = known;
    if (known) {
      // Seen before from this very place: nothing new to record (idempotent re-import).
      MV_ASSIGN_OR_RETURN(bool linked, archive_->catalog_->HasProvenance(result.id, p.record.provenance));
      if (linked) {
        segments_.clear();
        return result;
      }
    }
  }
  p.is_new = !result.duplicate;
  if (p.is_new) {
    p.record.segments = std::move(segments_);
    pending_ids_[result.id] = pending_.size();
  }
  segments_.clear();
  pending_bytes_ += length_;
  pending_.push_back(std::move(p));
  return result;
}

void IngestBatch::AbortMessage() {
  open_ = false;
  canonical_.clear();
  std::string ignored;
  canonicalizer_.Finish(&ignored);
  segmenter_.Reset();
  message_hash_.Finish();
  segments_.clear();
  failure_ = Status::Ok();
}

void IngestBatch::RecordEvent(EventRecord event) { events_.push_back(std::move(event)); }

Result<CommitReport> IngestBatch::Commit() {
  if (open_) return Status::Internal("Commit while a message is open");
  // The batch's messages may name segments still waiting in its blocks.
  MV_RETURN_IF_ERROR(FlushBlock(header_block_));
  MV_RETURN_IF_ERROR(FlushBlock(other_block_));
  MV_RETURN_IF_ERROR(DrainBlocks());
  submitted_.clear();
  recent_header_blocks_.clear();  // written now: located like any other segment
  std::unique_lock lock(archive_->mutex_);
  // A dictionary trained during the batch is durable with it, as when it was
  // trained on the batch's own thread.
  archive_->WaitForTrainingLocked(lock);
  MV_ASSIGN_OR_RETURN(CommitReport report, archive_->CommitLocked(pending_, events_));
  pending_.clear();
  pending_ids_.clear();
  pending_bytes_ = 0;
  events_.clear();
  return report;
}

// ---------------------------------------------------------------- Archive

Archive::~Archive() {
  {
    std::unique_lock lock(mutex_);
    WaitForTrainingLocked(lock);
  }
  if (trainer_.joinable()) trainer_.join();
}

Result<std::unique_ptr<Archive>> Archive::Open(ArchiveOptions options) {
  if (options.fs == nullptr) options.fs = &FileSystem::Posix();
  if (options.clock == nullptr) options.clock = &SystemClock::Instance();
  std::unique_ptr<Archive> archive(new Archive(std::move(options)));
  MV_RETURN_IF_ERROR(archive->Initialize());
  return archive;
}

Status Archive::Initialize() {
  const std::string& dir = options_.data_dir;
  if (!IsDirectory(dir)) {
    if (!options_.create) {
      return Status::NotFound("no archive at " + dir + " (run `mailvault init` or pass --data)");
    }
    MV_RETURN_IF_ERROR(MakeDirs(dir));
  }
  if (options_.create && !PathExists(dir + "/compact.commit")) MV_RETURN_IF_ERROR(MakeDirs(packs_dir()));

  if (options_.mode != ArchiveOptions::Mode::kReadOnly) {
    std::string lock_path = dir + "/lock";
    UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
    if (!fd.valid()) {
      if (options_.mode == ArchiveOptions::Mode::kReadWrite) return ErrnoToStatus(errno, "open " + lock_path);
    } else if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      lock_fd_ = std::move(fd);
      writable_ = true;
    } else if (options_.mode == ArchiveOptions::Mode::kReadWrite) {
      return Status::Unavailable("the archive in " + dir +
                                 " is being written by another mailvault process");
    }
  }
  if (writable_) {
    MV_RETURN_IF_ERROR(FinishCompaction(dir, *options_.fs));
  } else if (PathExists(dir + "/compact.commit")) {
    return Status::Unavailable("a compaction of " + dir +
                               " is being completed; open it read-write (any command that writes) to finish it");
  }
  if (!IsDirectory(packs_dir())) {
    return Status::NotFound(dir + " is not a mailvault data directory (no packs/)");
  }
  packs_inode_ = PacksInode();

  MV_ASSIGN_OR_RETURN(catalog_, Catalog::Open(CatalogPath(dir)));
  MV_RETURN_IF_ERROR(LoadDictionaries());
  if (writable_) {
    Status replayed = Replay(/*rebuild=*/false, nullptr);
    if (!replayed.ok() && options_.mode == ArchiveOptions::Mode::kReadWriteIfFree) {
      // E.g. a full disk: what is committed can still be read, verified and exported.
      LogWarning("opening the archive read-only: recovering uncommitted records failed: " +
                 replayed.ToString());
      writable_ = false;
      lock_fd_.Reset();
      return Status::Ok();
    }
    MV_RETURN_IF_ERROR(replayed);
    MV_RETURN_IF_ERROR(OpenWriter());
    MV_ASSIGN_OR_RETURN(small_segments_, catalog_->CountSmallSegments(options_.small_segment_bytes));
    small_segments_at_training_ = small_segments_;
    if (dictionaries_.NewestId() == 0) small_segments_at_training_ = 0;
  }
  return Status::Ok();
}

Status Archive::OpenWriter() {
  const std::vector<uint32_t> packs = ListPacks();
  uint32_t id = packs.empty() ? 1 : packs.back();
  if (!packs.empty()) {
    // A compacted pack takes no appends: the next compaction starts after it.
    MV_ASSIGN_OR_RETURN(bool compacted, PackIsCompacted(id));
    if (compacted) ++id;
  }
  MV_ASSIGN_OR_RETURN(writer_, PackWriter::Open(*options_.fs, packs_dir(), id));
  return Status::Ok();
}

Result<bool> Archive::PackIsCompacted(uint32_t id) {
  // The type byte of the first record only: a damaged pack must still open
  // (verify names the damage; compaction refuses to rewrite it).
  const std::string path = packs_dir() + "/" + PackFileName(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  std::string header;
  MV_RETURN_IF_ERROR(ReadAt(fd.get(), kPackMagic.size(), 1, &header));
  return header.size() == 1 && static_cast<uint8_t>(header[0]) == static_cast<uint8_t>(RecordType::kCompacted);
}

uint32_t Archive::FirstUncompactedPack(const std::vector<uint32_t>& packs) {
  for (auto it = packs.rbegin(); it != packs.rend(); ++it) {
    Result<bool> compacted = PackIsCompacted(*it);
    if (compacted.ok() && *compacted) return *it + 1;
  }
  return 1;
}

std::vector<uint32_t> Archive::ListPacks() const {
  std::vector<uint32_t> ids;
  DIR* d = ::opendir(packs_dir().c_str());
  if (d == nullptr) return ids;
  while (dirent* e = ::readdir(d)) {
    uint32_t id = ParsePackFileName(e->d_name);
    if (id != 0) ids.push_back(id);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status Archive::LoadDictionaries() {
  MV_ASSIGN_OR_RETURN(auto locations, catalog_->Dictionaries());
  for (const auto& [id, location] : locations) {
    if (dictionaries_.Get(id)) continue;
    MV_ASSIGN_OR_RETURN(auto reader, Reader(location.pack));
    std::string payload;
    MV_RETURN_IF_ERROR(reader->ReadRecord(location.offset, RecordType::kDictionary, &payload));
    MV_ASSIGN_OR_RETURN(DictionaryRecord rec, DecodeDictionary(payload));
    MV_ASSIGN_OR_RETURN(auto dict, Dictionary::Load(rec.id, std::string(rec.dictionary),
                                                    options_.dictionary_level));
    dictionaries_.Add(std::move(dict));
  }
  return Status::Ok();
}

Result<std::shared_ptr<PackReader>> Archive::Reader(uint32_t pack) {
  // Callers may or may not hold mutex_; readers_ has its own small critical section.
  std::lock_guard lock(readers_mutex_);
  auto it = readers_.find(pack);
  if (it != readers_.end()) return it->second;
  MV_ASSIGN_OR_RETURN(std::unique_ptr<PackReader> reader,
                      PackReader::Open(packs_dir() + "/" + PackFileName(pack), pack));
  std::shared_ptr<PackReader> shared(std::move(reader));
  readers_[pack] = shared;
  return shared;
}

// Brings the catalog up to date with what the packs hold past each pack's
// watermark (or everything, for a rebuild), and cuts torn tails.
Status Archive::Replay(bool rebuild, VerifyReport* damage) {
  MV_ASSIGN_OR_RETURN(auto watermarks, catalog_->Watermarks());
  std::vector<uint32_t> packs = ListPacks();
  SegmentRefResolver refs(this);
  MV_RETURN_IF_ERROR(catalog_->Begin());
  bool replayed_any = false;
  uint64_t messages = 0;
  for (uint32_t id : packs) {
    std::string path = packs_dir() + "/" + PackFileName(id);
    ScanOptions scan;
    auto wm = watermarks.find(id);
    if (!rebuild && wm != watermarks.end()) scan.from = wm->second;
    scan.skip_bad_records = rebuild;
    if (!rebuild && FileSizeOrZero(path) <= scan.from) continue;

    // A message (or link) manifest: catalogue it if its segments are all there.
    auto apply_manifest = [&](RecordType type, std::string_view payload, const RecordLocation& loc,
                              uint64_t offset) -> Status {
      if (type == RecordType::kLink) {
        MV_ASSIGN_OR_RETURN(LinkRecord l, DecodeLink(payload));
        MV_ASSIGN_OR_RETURN(auto row, catalog_->FindMessage(l.id));
        if (!row) return Status::Ok();  // its message record was lost with a torn tail
        return catalog_->InsertProvenance(row->seq, l.provenance).status();
      }
      auto report = [&](const std::string& problem) {
        std::string where = path + " offset " + std::to_string(offset);
        LogError(where + ": " + problem);
        if (damage) damage->faults.push_back({where, problem});
      };
      MessageRecord m;
      if (type == RecordType::kLocatedMessage) {
        // Segments named by location: their hashes are in the records named.
        MV_ASSIGN_OR_RETURN(LocatedMessageRecord located, DecodeLocatedMessage(payload));
        m = MessageRecord{located.id, located.raw_length, located.archived_at, {}, located.provenance};
        for (const SegmentRef& ref : located.segments) {
          Result<Digest> hash = refs.Resolve(ref);
          if (!hash.ok()) {
            report("message " + ToHex(m.id) + " names a segment that cannot be read: " + hash.status().message());
            return Status::Ok();
          }
          m.segments.push_back(*hash);
        }
      } else {
        MV_ASSIGN_OR_RETURN(m, DecodeMessage(payload));
      }
      for (const Digest& seg : m.segments) {
        MV_ASSIGN_OR_RETURN(auto found, catalog_->FindSegment(seg));
        if (!found) {
          report("message " + ToHex(m.id) + " names segment " + ToHex(seg) + " that no pack holds");
          return Status::Ok();
        }
      }
      MV_ASSIGN_OR_RETURN(int64_t seq, catalog_->InsertMessage(m, loc));
      ++messages;
      return catalog_->InsertProvenance(seq, m.provenance).status();
    };
    ScanOutcome outcome;
    Status s = ScanPack(path, scan, [&](const ScannedRecord& r) -> Status {
      replayed_any = true;
      RecordLocation loc{id, r.offset, r.length};
      switch (r.type) {
        case RecordType::kSegment: {
          MV_ASSIGN_OR_RETURN(SegmentRecord seg, DecodeSegment(r.payload));
          return catalog_->InsertSegment(seg.hash, SegmentLocation{loc, seg.raw_length, seg.dictionary});
        }
        case RecordType::kDictionary: {
          MV_ASSIGN_OR_RETURN(DictionaryRecord d, DecodeDictionary(r.payload));
          MV_RETURN_IF_ERROR(catalog_->InsertDictionary(d.id, d.sample_count, loc));
          MV_ASSIGN_OR_RETURN(auto dict, Dictionary::Load(d.id, std::string(d.dictionary),
                                                          options_.dictionary_level));
          dictionaries_.Add(std::move(dict));
          return Status::Ok();
        }
        case RecordType::kDeltaSegment: {
          MV_ASSIGN_OR_RETURN(DeltaSegmentRecord seg, DecodeDeltaSegment(r.payload));
          return catalog_->InsertSegment(seg.hash, SegmentLocation{loc, seg.raw_length, 0});
        }
        case RecordType::kBlock: {
          MV_ASSIGN_OR_RETURN(BlockRecord block, DecodeBlock(r.payload));
          int64_t offset = 0;
          for (const BlockEntry& e : block.entries) {
            MV_RETURN_IF_ERROR(catalog_->InsertSegment(
                e.hash, SegmentLocation{loc, e.length, block.dictionary, offset}));
            offset += e.length;
          }
          return Status::Ok();
        }
        case RecordType::kMessage:
        case RecordType::kLink:
          return apply_manifest(r.type, r.payload, loc, r.offset);
        case RecordType::kLocatedMessage:
          return Status::Corruption("a located message record outside a manifests record");
        case RecordType::kManifests: {
          MV_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, DecodeManifests(r.payload));
          for (const ManifestEntry& e : entries) {
            MV_RETURN_IF_ERROR(apply_manifest(e.type, e.payload, loc, r.offset));
          }
          return Status::Ok();
        }
        case RecordType::kEvent: {
          MV_ASSIGN_OR_RETURN(EventRecord e, DecodeEvent(r.payload));
          return catalog_->ApplyEvent(e);
        }
        case RecordType::kCompacted:
          return DecodeCompacted(r.payload).status();
      }
      return Status::Ok();
    }, &outcome);
    if (!s.ok()) {
      catalog_->Rollback();
      return s.WithContext("replay " + path);
    }
    for (const auto& [offset, reason] : outcome.skipped) {
      LogError(path + " offset " + std::to_string(offset) + ": " + reason + " (record skipped)");
      if (damage) damage->faults.push_back({path + " offset " + std::to_string(offset), reason});
    }
    uint64_t end = outcome.end;
    if (outcome.damaged) {
      if (!outcome.damage_is_tail && rebuild) {
        // Damage inside a pack we cannot read past: keep the file as it is.
        std::string where = path + " offset " + std::to_string(outcome.damage_offset);
        LogError(where + ": " + outcome.damage_reason + "; the rest of this pack is unreadable");
        if (damage) damage->faults.push_back({where, outcome.damage_reason});
      } else {
        // Past the watermark nothing was committed: the damaged rest is a torn tail.
        uint64_t size = FileSizeOrZero(path);
        LogWarning(path + ": torn tail at offset " + std::to_string(outcome.damage_offset) + " (" +
                   outcome.damage_reason + "); cutting " +
                   std::to_string(size - outcome.damage_offset) + " bytes");
        MV_ASSIGN_OR_RETURN(auto w, PackWriter::Open(*options_.fs, packs_dir(), id));
        Status ts = w->Truncate(outcome.damage_offset);
        if (!ts.ok()) {
          catalog_->Rollback();
          return ts;
        }
        end = outcome.damage_offset;
      }
    }
    if (rebuild && !outcome.damaged && !outcome.skipped.empty()) {
      // Records skipped by a rebuild are damage that verify reports, not a torn
      // tail: the watermark goes past them, or the next open would cut every
      // committed record that follows them.
      end = FileSizeOrZero(path);
    }
    if (!rebuild || !outcome.damaged) {
      // What we replayed must be durable before the catalog says so.
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid() || ::fdatasync(fd.get()) != 0) {
        Status ss = ErrnoToStatus(errno, "fdatasync " + path);
        catalog_->Rollback();
        return ss;
      }
      MV_RETURN_IF_ERROR(catalog_->SetWatermark(id, end));
    }
  }
  MV_RETURN_IF_ERROR(catalog_->Commit());
  if (replayed_any && !rebuild && messages > 0) {
    LogInfo("recovered " + std::to_string(messages) + " message(s) written before an interrupted commit");
  }
  return Status::Ok();
}

Status Archive::Rebuild(ArchiveOptions options, VerifyReport* damage) {
  if (options.fs == nullptr) options.fs = &FileSystem::Posix();
  if (options.clock == nullptr) options.clock = &SystemClock::Instance();
  options.mode = ArchiveOptions::Mode::kReadWrite;
  options.create = false;
  const std::string dir = options.data_dir;
  if (!IsDirectory(dir + "/packs") && !PathExists(dir + "/compact.commit")) {
    return Status::NotFound("no archive at " + dir);
  }
  // Hold the lock for the whole rebuild.
  std::string lock_path = dir + "/lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!lock.valid()) return ErrnoToStatus(errno, "open " + lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("the archive in " + dir + " is being written by another mailvault process");
  }
  MV_RETURN_IF_ERROR(FinishCompaction(dir, *options.fs));
  std::string fresh = dir + "/catalog.rebuild.sqlite";
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((fresh + suffix).c_str());
  {
    std::unique_ptr<Archive> a(new Archive(options));
    MV_ASSIGN_OR_RETURN(a->catalog_, Catalog::Open(fresh));
    MV_RETURN_IF_ERROR(a->Replay(/*rebuild=*/true, damage));
    // Accounts and run history are not in the packs: keep them from the old
    // catalog when it can still be read (its WAL is still in place here).
    if (PathExists(CatalogPath(dir))) {
      Status carried = a->catalog_->CarryOverOperationalData(CatalogPath(dir));
      if (!carried.ok()) {
        LogWarning("rebuild: " + carried.ToString() +
                   "; accounts and run history are lost, add the accounts again");
      }
    }
    MV_RETURN_IF_ERROR(a->catalog_->database().Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  std::string target = CatalogPath(dir);
  for (const char* suffix : {"-wal", "-shm"}) ::unlink((target + suffix).c_str());
  if (::rename(fresh.c_str(), target.c_str()) != 0) return ErrnoToStatus(errno, "rename " + fresh);
  for (const char* suffix : {"-wal", "-shm"}) ::unlink((fresh + suffix).c_str());
  return options.fs->SyncDir(dir);
}

std::unique_ptr<IngestBatch> Archive::NewBatch() {
  return std::unique_ptr<IngestBatch>(new IngestBatch(this));
}

Result<bool> Archive::SegmentKnownLocked(const Digest& hash) {
  if (pending_segments_.count(hash)) return true;
  return catalog_->LookupSegment(hash);
}

Result<bool> Archive::MessageKnownLocked(const Digest& id) { return catalog_->LookupMessage(id); }

Result<RecordLocation> Archive::AppendLocked(RecordType type, std::string_view payload) {
  if (!writer_) return Status::PermissionDenied("the archive is open read-only");
  const uint64_t record_size = kRecordHeaderSize + payload.size();
  if (writer_->size() > kPackMagic.size() && writer_->size() + record_size > options_.pack_size_limit) {
    // Seal the full pack: it must be durable before its records count as committed.
    MV_RETURN_IF_ERROR(writer_->Sync());
    touched_packs_[writer_->id()] = writer_->size();
    MV_ASSIGN_OR_RETURN(auto next, PackWriter::Open(*options_.fs, packs_dir(), writer_->id() + 1));
    writer_ = std::move(next);
  }
  MV_ASSIGN_OR_RETURN(RecordLocation loc, writer_->Append(type, payload));
  touched_packs_[loc.pack] = loc.offset + loc.length;
  return loc;
}

Status Archive::StoreSegmentLocked(const Digest& hash, uint32_t raw_length, uint32_t dictionary,
                                   std::string_view frame, const Digest* base) {
  MV_ASSIGN_OR_RETURN(bool known, SegmentKnownLocked(hash));  // another batch may have won
  if (known) return Status::Ok();
  Result<RecordLocation> loc =
      base ? AppendLocked(RecordType::kDeltaSegment, EncodeDeltaSegment(hash, raw_length, *base, frame))
           : AppendLocked(RecordType::kSegment, EncodeSegment(hash, raw_length, dictionary, frame));
  if (!loc.ok()) return loc.status();
  pending_segments_[hash] = SegmentLocation{*loc, raw_length, dictionary};
  if (raw_length <= options_.small_segment_bytes) ++small_segments_;
  return Status::Ok();
}

Status Archive::StoreBlockLocked(uint32_t dictionary, uint32_t raw_length,
                                 const std::vector<BlockEntry>& entries, std::string_view frame) {
  MV_ASSIGN_OR_RETURN(RecordLocation loc,
                      AppendLocked(RecordType::kBlock, EncodeBlock(dictionary, raw_length, entries, frame)));
  int64_t offset = 0;
  for (const BlockEntry& e : entries) {
    // Another batch may have stored the same segment meanwhile: the first one stays.
    MV_ASSIGN_OR_RETURN(bool known, SegmentKnownLocked(e.hash));
    if (!known) pending_segments_[e.hash] = SegmentLocation{loc, e.length, dictionary, offset};
    offset += e.length;
  }
  return Status::Ok();
}

std::optional<std::pair<Digest, std::optional<SegmentLocation>>> Archive::SimilarBaseLocked(const Digest& key) {
  auto it = similar_headers_.find(key);
  if (it == similar_headers_.end()) return std::nullopt;
  auto location = LocateSegmentLocked(it->second);
  if (!location.ok()) return std::nullopt;
  return std::make_pair(it->second, *location);
}

Result<std::optional<SegmentLocation>> Archive::LocateSegmentLocked(const Digest& hash) {
  auto pending = pending_segments_.find(hash);
  if (pending != pending_segments_.end()) return std::optional<SegmentLocation>(pending->second);
  return catalog_->FindSegment(hash);
}

Result<CommitReport> Archive::CommitLocked(std::vector<IngestBatch::Pending>& pending,
                                           const std::vector<EventRecord>& events) {
  // Lookups after this commit must see its rows.
  catalog_->EndLookups();
  CommitReport report;
  report.messages = pending.size();
  // One compressed manifests record per (up to) kManifestsPerRecord messages: their
  // paths and headers compress well together, and it is one write instead of many.
  std::vector<RecordLocation> locations;
  locations.reserve(pending.size());
  for (size_t start = 0; start < pending.size(); start += kManifestsPerRecord) {
    size_t end = std::min(pending.size(), start + kManifestsPerRecord);
    std::vector<ManifestEntry> entries;
    entries.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
      const auto& p = pending[i];
      if (!p.is_new) {
        entries.push_back(ManifestEntry{RecordType::kLink, EncodeLink(LinkRecord{p.record.id, p.record.provenance})});
        continue;
      }
      // Segments named by location: a few bytes each instead of a 32-byte hash.
      LocatedMessageRecord m{p.record.id, p.record.raw_length, p.record.archived_at, {}, p.record.provenance};
      m.segments.reserve(p.record.segments.size());
      for (const Digest& seg : p.record.segments) {
        MV_ASSIGN_OR_RETURN(auto location, LocateSegmentLocked(seg));
        if (!location) return Status::Internal("commit: segment " + ToHex(seg) + " of message " + ToHex(m.id) + " is not stored");
        m.segments.push_back(SegmentRef{location->record.pack, location->record.offset, location->block_offset});
      }
      entries.push_back(ManifestEntry{RecordType::kLocatedMessage, EncodeLocatedMessage(m)});
    }
    MV_ASSIGN_OR_RETURN(std::string payload, EncodeManifests(entries, options_.dictionary_level));
    MV_ASSIGN_OR_RETURN(RecordLocation loc, AppendLocked(RecordType::kManifests, payload));
    locations.insert(locations.end(), end - start, loc);
  }
  // After the messages, so that replay finds the ledger rows they change.
  for (const EventRecord& e : events) {
    MV_RETURN_IF_ERROR(AppendLocked(RecordType::kEvent, EncodeEvent(e)).status());
  }
  if (writer_) MV_RETURN_IF_ERROR(writer_->Sync().WithContext("commit"));

  MV_RETURN_IF_ERROR(catalog_->Begin());
  auto fail = [&](Status s) {
    catalog_->Rollback();
    return s.WithContext("commit");
  };
  for (const auto& [hash, location] : pending_segments_) {
    Status s = catalog_->InsertSegment(hash, location);
    if (!s.ok()) return fail(s);
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    const auto& p = pending[i];
    int64_t seq = 0;
    if (p.is_new) {
      auto r = catalog_->InsertMessage(p.record, locations[i]);
      if (!r.ok()) return fail(r.status());
      seq = *r;
      ++report.new_messages;
    } else {
      auto row = catalog_->FindMessage(p.record.id);
      if (!row.ok()) return fail(row.status());
      if (!row->has_value()) return fail(Status::Internal("linked message is not in the catalog"));
      seq = (*row)->seq;
    }
    auto linked = catalog_->InsertProvenance(seq, p.record.provenance);
    if (!linked.ok()) return fail(linked.status());
    if (*linked) ++report.new_links;
  }
  for (const EventRecord& e : events) {
    Status s = catalog_->ApplyEvent(e);
    if (!s.ok()) return fail(s);
  }
  for (const auto& [pack, end] : touched_packs_) {
    Status s = catalog_->SetWatermark(pack, end);
    if (!s.ok()) return fail(s);
  }
  Status s = catalog_->Commit();
  if (!s.ok()) return fail(s);
  pending_segments_.clear();
  touched_packs_.clear();

  Status train = MaybeTrainDictionaryLocked(/*in_background=*/false);
  if (!train.ok()) LogWarning("dictionary training skipped: " + train.ToString());
  return report;
}

void Archive::NoteSmallSegmentLocked(std::string_view plain) {
  // Reservoir sampling: every small segment seen by this process has the same
  // chance to be a training sample, in bounded memory.
  ++samples_seen_;
  const size_t capacity = static_cast<size_t>(options_.dictionary_samples);
  if (samples_.size() < capacity) {
    samples_.emplace_back(plain);
  } else {
    uint64_t slot = sample_rng_() % samples_seen_;
    if (slot < capacity) samples_[slot].assign(plain);
  }
  if (small_segments_ >= NextTrainingThreshold()) {
    Status s = MaybeTrainDictionaryLocked(/*in_background=*/true);
    if (!s.ok()) LogWarning("dictionary training skipped: " + s.ToString());
  }
}

uint64_t Archive::NextTrainingThreshold() const {
  return small_segments_at_training_ == 0 ? options_.first_dictionary_after
                                          : small_segments_at_training_ * options_.retrain_growth;
}

Status Archive::MaybeTrainDictionaryLocked(bool in_background) {
  if (small_segments_ < NextTrainingThreshold()) return Status::Ok();
  if (training_) return Status::Ok();  // one at a time
  small_segments_at_training_ = small_segments_;  // also when training fails: no retry storm
  std::vector<std::string> samples;
  if (samples_.size() >= std::min<size_t>(static_cast<size_t>(options_.dictionary_samples), 200)) {
    samples = samples_;
  } else {
    // Too few seen by this process (e.g. just restarted): sample the archive.
    MV_ASSIGN_OR_RETURN(auto sample, catalog_->SampleSmallSegments(options_.dictionary_samples,
                                                                   options_.small_segment_bytes));
    SegmentCodec codec;
    for (const SegmentLocation& loc : sample) {
      std::string plain;
      // The hash is not known here; ReadSegment checks it only when given.
      MV_RETURN_IF_ERROR(ReadSegment(Digest{}, loc, codec, &plain, /*mutex_held=*/true));
      samples.push_back(std::move(plain));
    }
  }
  const uint32_t id = dictionaries_.NewestId() + 1;
  if (!in_background || id == 1) {
    // The first dictionary at once: until it exists blocks are compressed without one.
    MV_ASSIGN_OR_RETURN(std::string dict, TrainDictionary(samples, id, options_.dictionary_capacity));
    return PublishDictionaryLocked(id, static_cast<uint32_t>(samples.size()), dict);
  }
  // A retraining (tens of milliseconds of zstd) off the ingesting thread; until
  // it is published, blocks use the previous dictionary.
  if (trainer_.joinable()) trainer_.join();  // ended: training_ is false
  training_ = true;
  trainer_ = std::thread([this, id, samples = std::move(samples)] {
    Result<std::string> dict = TrainDictionary(samples, id, options_.dictionary_capacity);
    std::lock_guard lock(mutex_);
    Status s = dict.ok() ? PublishDictionaryLocked(id, static_cast<uint32_t>(samples.size()), *dict)
                         : dict.status();
    if (!s.ok()) LogWarning("dictionary training skipped: " + s.ToString());
    training_ = false;
    training_done_.notify_all();
  });
  return Status::Ok();
}

void Archive::WaitForTrainingLocked(std::unique_lock<std::mutex>& lock) {
  training_done_.wait(lock, [&] { return !training_; });
}

Status Archive::PublishDictionaryLocked(uint32_t id, uint32_t samples, const std::string& dict) {
  MV_ASSIGN_OR_RETURN(auto loaded, Dictionary::Load(id, dict, options_.dictionary_level));
  MV_ASSIGN_OR_RETURN(RecordLocation loc,
                      AppendLocked(RecordType::kDictionary, EncodeDictionary(id, samples, dict)));
  MV_RETURN_IF_ERROR(writer_->Sync());
  MV_RETURN_IF_ERROR(catalog_->Begin());
  Status s = catalog_->InsertDictionary(id, samples, loc);
  if (s.ok()) s = catalog_->SetWatermark(loc.pack, loc.offset + loc.length);
  if (s.ok()) s = catalog_->Commit();
  if (!s.ok()) {
    catalog_->Rollback();
    return s;
  }
  touched_packs_.erase(loc.pack);
  // Only now may new segments use it: it is durable and catalogued.
  dictionaries_.Add(std::move(loaded));
  LogInfo("trained compression dictionary " + std::to_string(id) + " from " + std::to_string(samples) +
          " segments (" + std::to_string(dict.size()) + " bytes)");
  return Status::Ok();
}

Result<std::shared_ptr<const DecodedBlock>> Archive::DecodeBlockPayload(std::string_view payload,
                                                                          SegmentCodec& codec,
                                                                          const std::string& where,
                                                                          size_t prefix) {
  MV_ASSIGN_OR_RETURN(BlockRecord rec, DecodeBlock(payload));
  std::shared_ptr<const Dictionary> dict;
  if (rec.dictionary != 0) {
    dict = dictionaries_.Get(rec.dictionary);
    if (!dict) return Status::Corruption(where + ": block needs unknown dictionary " + std::to_string(rec.dictionary));
  }
  auto block = std::make_shared<DecodedBlock>();
  MV_RETURN_IF_ERROR(
      codec.DecompressPrefix(rec.frame, dict.get(), rec.raw_length, prefix, &block->plain).WithContext(where));
  block->raw_length = rec.raw_length;
  block->entries = std::move(rec.entries);
  block->offsets.reserve(block->entries.size());
  uint32_t offset = 0;
  for (const BlockEntry& e : block->entries) {
    block->offsets.push_back(offset);
    offset += e.length;
  }
  return std::shared_ptr<const DecodedBlock>(std::move(block));
}

Result<std::shared_ptr<const DecodedBlock>> Archive::LoadBlock(const RecordLocation& location, size_t needed,
                                                               SegmentCodec& codec) {
  auto cached = block_cache_.Get(location.pack, location.offset);
  if (cached && cached->plain.size() >= needed) return cached;
  // A first read decompresses only as far as its segment ends (a random read
  // needs half a block on average); a second one that needs more decompresses the
  // whole block, so reading a block's segments in order costs one extra partial
  // pass at most.
  const size_t prefix = cached ? SIZE_MAX : needed;
  MV_ASSIGN_OR_RETURN(auto reader, Reader(location.pack));
  std::string payload;
  std::string where = PackFileName(location.pack) + " offset " + std::to_string(location.offset);
  RecordType type;
  MV_RETURN_IF_ERROR(reader->ReadAnyRecord(location.offset, &type, &payload));
  if (type != RecordType::kBlock) {
    return Status::Corruption(where + ": expected a block record, found " + std::string(RecordTypeName(type)));
  }
  MV_ASSIGN_OR_RETURN(auto block, DecodeBlockPayload(payload, codec, where, prefix));
  block_cache_.Put(location.pack, location.offset, block);
  return block;
}

Status Archive::ReadSegment(const Digest& hash, const SegmentLocation& location, SegmentCodec& codec,
                            std::string* plain, bool mutex_held, bool allow_delta) {
  const bool check = hash != Digest{};
  std::string where = PackFileName(location.record.pack) + " offset " + std::to_string(location.record.offset);
  Digest stored_hash{};
  if (location.in_block()) {
    const size_t end = static_cast<size_t>(location.block_offset) + location.raw_length;
    MV_ASSIGN_OR_RETURN(auto block, LoadBlock(location.record, end, codec));
    // The block's table says which segment starts at this offset.
    auto at = std::lower_bound(block->offsets.begin(), block->offsets.end(),
                               static_cast<uint32_t>(location.block_offset));
    size_t i = static_cast<size_t>(at - block->offsets.begin());
    if (at == block->offsets.end() || *at != location.block_offset ||
        block->entries[i].length != location.raw_length || block->plain.size() < end) {
      return Status::Corruption(where + ": no segment of " + std::to_string(location.raw_length) +
                                " bytes at offset " + std::to_string(location.block_offset) + " of this block");
    }
    stored_hash = block->entries[i].hash;
    plain->assign(block->plain, static_cast<size_t>(location.block_offset), location.raw_length);
  } else {
    MV_ASSIGN_OR_RETURN(auto reader, Reader(location.record.pack));
    std::string payload;
    RecordType type;
    MV_RETURN_IF_ERROR(reader->ReadAnyRecord(location.record.offset, &type, &payload));
    if (type == RecordType::kSegment) {
      MV_ASSIGN_OR_RETURN(SegmentRecord rec, DecodeSegment(payload));
      stored_hash = rec.hash;
      std::shared_ptr<const Dictionary> dict;
      if (rec.dictionary != 0) {
        dict = dictionaries_.Get(rec.dictionary);
        if (!dict) return Status::Corruption(where + ": segment needs unknown dictionary " + std::to_string(rec.dictionary));
      }
      MV_RETURN_IF_ERROR(codec.Decompress(rec.frame, dict.get(), rec.raw_length, plain).WithContext(where));
    } else if (type == RecordType::kDeltaSegment) {
      if (!allow_delta) return Status::Corruption(where + ": a delta segment's base must be a plain segment");
      MV_ASSIGN_OR_RETURN(DeltaSegmentRecord rec, DecodeDeltaSegment(payload));
      stored_hash = rec.hash;
      std::optional<SegmentLocation> base_location;
      if (mutex_held) {
        MV_ASSIGN_OR_RETURN(base_location, LocateSegmentLocked(rec.base));
      } else {
        std::lock_guard lock(mutex_);
        MV_ASSIGN_OR_RETURN(base_location, LocateSegmentLocked(rec.base));
      }
      if (!base_location) return Status::Corruption(where + ": the base of this delta segment is missing");
      std::string base;
      MV_RETURN_IF_ERROR(ReadSegment(rec.base, *base_location, codec, &base, mutex_held, /*allow_delta=*/false));
      MV_RETURN_IF_ERROR(codec.DecompressDelta(rec.frame, base, rec.raw_length, plain).WithContext(where));
    } else {
      return Status::Corruption(where + ": expected a segment record, found " + std::string(RecordTypeName(type)));
    }
  }
  if (check && stored_hash != hash) return Status::Corruption(where + ": segment record holds another segment");
  if (Sha256::Of(*plain) != stored_hash) {
    return Status::Corruption(where + ": segment content does not match its SHA-256");
  }
  return Status::Ok();
}

Result<Digest> Archive::Resolve(std::string_view text) {
  std::string prefix(text);
  for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (prefix.size() < 12 || prefix.size() > 64 || !IsHex(prefix)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a message id (64 hex characters, or a unique prefix of at least 12)");
  }
  std::vector<Digest> found;
  {
    std::lock_guard lock(mutex_);
    if (!broken_.ok()) return broken_;
    MV_ASSIGN_OR_RETURN(found, catalog_->FindByPrefix(prefix, 2));
  }
  if (found.empty()) return Status::NotFound("no message with id " + prefix);
  if (found.size() > 1) return Status::InvalidArgument("id prefix " + prefix + " is ambiguous; give more characters");
  return found[0];
}

namespace {

MessageInfo InfoOfRow(const MessageRow& row) {
  MessageInfo info;
  info.id = row.id;
  info.seq = row.seq;
  info.raw_length = row.raw_length;
  info.archived_at = row.archived_at;
  info.segments = row.segments.size();
  return info;
}

}  // namespace

Result<MessageInfo> Archive::Info(const Digest& id) {
  std::lock_guard lock(mutex_);
  if (!broken_.ok()) return broken_;
  MV_ASSIGN_OR_RETURN(auto row, catalog_->FindMessage(id));
  if (!row) return Status::NotFound("no message with id " + ToHex(id));
  MessageInfo info = InfoOfRow(*row);
  MV_ASSIGN_OR_RETURN(info.provenance, catalog_->ProvenanceOf(row->seq));
  return info;
}

Status Archive::ReadMessage(const Digest& id, const std::function<Status(std::string_view)>& sink) {
  SwapGate::Shared in(gate_);
  return Explain(ReadMessageInGate(id, sink));
}

ino_t Archive::PacksInode() const {
  struct stat st;
  return ::stat(packs_dir().c_str(), &st) == 0 ? st.st_ino : 0;
}

Status Archive::Explain(Status failure) const {
  if (failure.ok() || failure.code() == StatusCode::kInvalidArgument) return failure;
  if (PacksInode() != packs_inode_) {
    return Status::Unavailable("the archive in " + options_.data_dir +
                               " was compacted while this read it (" + failure.message() + "); try again");
  }
  return failure;
}

Status Archive::ReadMessageInGate(const Digest& id, const std::function<Status(std::string_view)>& sink) {
  std::vector<std::pair<Digest, SegmentLocation>> parts;
  {
    std::lock_guard lock(mutex_);
    if (!broken_.ok()) return broken_;
    MV_ASSIGN_OR_RETURN(auto row, catalog_->FindMessage(id));
    if (!row) return Status::NotFound("no message with id " + ToHex(id));
    for (const Digest& seg : row->segments) {
      MV_ASSIGN_OR_RETURN(auto loc, LocateSegmentLocked(seg));
      if (!loc) return Status::Corruption("message " + ToHex(id) + ": segment " + ToHex(seg) + " is missing");
      parts.emplace_back(seg, *loc);
    }
  }
  SegmentCodec codec;
  Sha256 whole;
  std::string plain;
  for (const auto& [hash, loc] : parts) {
    MV_RETURN_IF_ERROR(ReadSegment(hash, loc, codec, &plain).WithContext("message " + ToHex(id)));
    whole.Update(plain);
    MV_RETURN_IF_ERROR(sink(plain));
  }
  if (whole.Finish() != id) {
    return Status::Corruption("message " + ToHex(id) + ": content does not match its SHA-256");
  }
  return Status::Ok();
}

Status Archive::ForEachMessage(const std::function<Status(const MessageInfo&)>& visit) {
  std::vector<MessageInfo> all;
  {
    std::lock_guard lock(mutex_);
    if (!broken_.ok()) return broken_;
    MV_RETURN_IF_ERROR(catalog_->ForEachMessage([&](const MessageRow& row) {
      all.push_back(InfoOfRow(row));
      return Status::Ok();
    }));
  }
  for (const MessageInfo& info : all) MV_RETURN_IF_ERROR(visit(info));
  return Status::Ok();
}

Result<std::vector<MessageInfo>> Archive::MessagesAfter(int64_t after_seq, size_t limit) {
  std::lock_guard lock(mutex_);
  if (!broken_.ok()) return broken_;
  MV_ASSIGN_OR_RETURN(std::vector<MessageRow> rows, catalog_->MessagesAfter(after_seq, limit));
  std::vector<MessageInfo> page;
  page.reserve(rows.size());
  for (const MessageRow& row : rows) {
    page.push_back(InfoOfRow(row));
    MV_ASSIGN_OR_RETURN(page.back().provenance, catalog_->ProvenanceOf(row.seq));
  }
  return page;
}

Result<std::optional<Archive::ArrivalPosition>> Archive::ArrivalPositionOf(const Digest& id) {
  std::lock_guard lock(mutex_);
  if (!broken_.ok()) return broken_;
  MV_ASSIGN_OR_RETURN(auto row, catalog_->FindMessage(id));
  if (!row) return std::optional<ArrivalPosition>();
  ArrivalPosition position;
  position.seq = row->seq;
  MV_ASSIGN_OR_RETURN(position.count, catalog_->CountUpTo(row->seq));
  return std::optional<ArrivalPosition>(position);
}

Status Archive::WithCatalog(const std::function<Status(Catalog&)>& fn) {
  std::lock_guard lock(mutex_);
  if (!broken_.ok()) return broken_;
  // Also ends the lookups' read transaction of a batch that never committed
  // (e.g. a run that failed): it would hold back checkpoints until the next commit.
  catalog_->EndLookups();
  return fn(*catalog_);
}

Result<ArchiveStats> Archive::Stats() {
  ArchiveStats stats;
  {
    std::lock_guard lock(mutex_);
    if (!broken_.ok()) return broken_;
    MV_ASSIGN_OR_RETURN(CatalogTotals t, catalog_->Totals());
    stats.messages = t.messages;
    stats.raw_bytes = t.raw_bytes;
    stats.segments = t.segments;
    stats.unique_bytes = t.segment_raw_bytes;
    stats.provenance_links = t.provenance_links;
    stats.dictionaries = t.dictionaries;
  }
  const std::vector<uint32_t> packs = ListPacks();
  const uint32_t first_uncompacted = FirstUncompactedPack(packs);
  for (uint32_t id : packs) {
    const uint64_t size = FileSizeOrZero(packs_dir() + "/" + PackFileName(id));
    stats.stored_bytes += size;
    ++stats.packs;
    if (id >= first_uncompacted && size > kPackMagic.size()) stats.uncompacted_bytes += size;
  }
  std::string catalog = CatalogPath(options_.data_dir);
  stats.catalog_bytes = FileSizeOrZero(catalog) + FileSizeOrZero(catalog + "-wal");
  return stats;
}

Status Archive::Verify(VerifyReport* report, const std::function<void(uint64_t, uint64_t)>& progress) {
  SwapGate::Shared in(gate_);
  const ino_t packs_inode = PacksInode();
  Status verified = VerifyInGate(report, progress);
  // Faults seen while the writer swapped in a compaction (this object only
  // reads) are those of a moving target, not damage.
  if (PacksInode() != packs_inode || packs_inode != packs_inode_) {
    *report = VerifyReport{};
    return Status::Unavailable("the archive in " + options_.data_dir +
                               " was compacted while verify ran; run verify again");
  }
  return verified;
}

Status Archive::VerifyInGate(VerifyReport* report, const std::function<void(uint64_t, uint64_t)>& progress) {
  *report = VerifyReport{};
  // Read what is on disk now, not what an earlier read decompressed.
  block_cache_.Clear();
  SegmentCodec codec;
  // 1. Every record of every pack: checksums and grammar.
  for (uint32_t id : ListPacks()) {
    std::string path = packs_dir() + "/" + PackFileName(id);
    ScanOptions scan;
    scan.skip_bad_records = true;
    ScanOutcome outcome;
    MV_RETURN_IF_ERROR(ScanPack(path, scan, [&](const ScannedRecord& r) {
      ++report->records_checked;
      Status s;
      switch (r.type) {
        case RecordType::kSegment: s = DecodeSegment(r.payload).status(); break;
        case RecordType::kMessage: s = DecodeMessage(r.payload).status(); break;
        case RecordType::kLink: s = DecodeLink(r.payload).status(); break;
        case RecordType::kDictionary: s = DecodeDictionary(r.payload).status(); break;
        case RecordType::kEvent: s = DecodeEvent(r.payload).status(); break;
        case RecordType::kDeltaSegment: s = DecodeDeltaSegment(r.payload).status(); break;
        case RecordType::kCompacted: s = DecodeCompacted(r.payload).status(); break;
        case RecordType::kManifests: {
          auto entries = DecodeManifests(r.payload);
          s = entries.status();
          for (size_t i = 0; s.ok() && i < entries->size(); ++i) {
            const ManifestEntry& e = (*entries)[i];
            s = e.type == RecordType::kLink             ? DecodeLink(e.payload).status()
                : e.type == RecordType::kLocatedMessage ? DecodeLocatedMessage(e.payload).status()
                                                        : DecodeMessage(e.payload).status();
          }
          break;
        }
        case RecordType::kLocatedMessage:
          s = Status::Corruption("a located message record outside a manifests record");
          break;
        case RecordType::kBlock: {
          // Decompress it and check every segment it holds against its SHA-256.
          std::string where = path + " offset " + std::to_string(r.offset);
          auto block = DecodeBlockPayload(r.payload, codec, where);
          s = block.status();
          for (size_t i = 0; s.ok() && i < (*block)->entries.size(); ++i) {
            const BlockEntry& e = (*block)->entries[i];
            if (Sha256::Of(std::string_view((*block)->plain).substr((*block)->offsets[i], e.length)) != e.hash) {
              s = Status::Corruption("segment " + ToHex(e.hash) + " in this block does not match its SHA-256");
            }
          }
          break;
        }
      }
      if (!s.ok()) report->faults.push_back({path + " offset " + std::to_string(r.offset), s.message()});
      return Status::Ok();
    }, &outcome));
    for (const auto& [offset, reason] : outcome.skipped) {
      report->faults.push_back({path + " offset " + std::to_string(offset), reason});
    }
    if (outcome.damaged) {
      report->faults.push_back({path + " offset " + std::to_string(outcome.damage_offset),
                                outcome.damage_reason + (outcome.damage_is_tail ? " (torn tail)" : "")});
    }
  }
  // 2. Every message: re-read, re-hash, compare with its id.
  MV_ASSIGN_OR_RETURN(ArchiveStats stats, Stats());
  uint64_t done = 0;
  return ForEachMessage([&](const MessageInfo& info) {
    Status s = ReadMessageInGate(info.id, [](std::string_view) { return Status::Ok(); });
    if (!s.ok()) report->faults.push_back({"message " + ToHex(info.id), s.message()});
    ++report->messages_checked;
    if (progress) progress(++done, stats.messages);
    return Status::Ok();
  });
}

}  // namespace mailvault
