// Archive::Compact: rewriting the archive's tail at a high zstd level.
//
// Ingest compresses each batch's small segments at a fast level in blocks of
// 256 KiB, because it must keep up with collection. Compaction rewrites, once,
// the packs written since the last compaction: every segment a message names,
// small ones in blocks of ArchiveOptions::compact_block_bytes at
// compact_level (header blocks that share Date/From/Subject placed side by
// side, so that copies of one mail cost a few bytes each), large ones alone;
// then the tail's manifests, events and newest dictionary in their order.
// Segments no message names (a batch that was never committed) are left out.
//
// The swap is all or nothing: the new packs go to compact.tmp/packs beside hard
// links to the older packs, a catalog is rebuilt from that directory by the
// same replay as `rebuild`, and every moved message is read back from it and
// checked before the marker compact.commit is written. FinishCompaction then
// renames the directories; an open that finds the marker finishes the renames.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "archive/archive.h"
#include "archive/segment_ref_resolver.h"
#include "archive/sqlite.h"
#include "base/log.h"

namespace mailvault {
namespace {

std::string MarkerPath(const std::string& dir) { return dir + "/compact.commit"; }
std::string WorkDir(const std::string& dir) { return dir + "/compact.tmp"; }
std::string OldPacksDir(const std::string& dir) { return dir + "/packs.old"; }

// Header blocks gathered (in compact_block_bytes) before those alike are put
// side by side: copies of one mail usually arrive close together.
constexpr size_t kHeaderRunBlocks = 8;
// A large segment whose frame at the ingest level is larger than this share of
// its plain bytes is stored as that frame: base64 of compressed data (most
// attachments) comes to ~0.76 at any level, and level 19 would only cost time.
constexpr double kIncompressible = 0.8;

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoToStatus(errno, "rename " + from + " to " + to);
  return Status::Ok();
}

// A hash kept in the scratch database (a 32-byte blob), or nullopt.
std::optional<Digest> DigestOfColumn(std::string_view blob) {
  if (blob.size() != Digest().size()) return std::nullopt;
  Digest d;
  std::copy(blob.begin(), blob.end(), d.begin());
  return d;
}

// The entries of a record that holds manifests: a manifests record's, or a
// standalone message or link record as one entry; none for other records.
Result<std::vector<ManifestEntry>> ManifestEntriesOf(const ScannedRecord& r) {
  if (r.type == RecordType::kManifests) return DecodeManifests(r.payload);
  if (r.type == RecordType::kMessage || r.type == RecordType::kLink) {
    return std::vector<ManifestEntry>{ManifestEntry{r.type, std::string(r.payload)}};
  }
  return std::vector<ManifestEntry>{};
}

}  // namespace

// Appends to the packs compaction writes: ids from `first_id` on, each opened
// by a compacted record and sealed at the archive's pack size limit.
class Archive::CompactionWriter {
 public:
  CompactionWriter(FileSystem& fs, std::string dir, uint32_t first_id, CompactedRecord what, uint64_t size_limit)
      : fs_(fs), dir_(std::move(dir)), next_id_(first_id), what_(what), size_limit_(size_limit) {}

  Result<RecordLocation> Append(RecordType type, std::string_view payload) {
    if (!writer_ || (writer_->size() > header_end_ &&
                     writer_->size() + kRecordHeaderSize + payload.size() > size_limit_)) {
      MV_RETURN_IF_ERROR(OpenNext());
    }
    return writer_->Append(type, payload);
  }

  // Makes every pack written durable, with its directory entry.
  Status Finish() {
    if (!writer_) MV_RETURN_IF_ERROR(OpenNext());  // a tail of links and events only
    MV_RETURN_IF_ERROR(writer_->Sync());
    return fs_.SyncDir(dir_);
  }

  uint32_t packs() const { return packs_; }
  uint32_t last_id() const { return writer_ ? writer_->id() : 0; }

 private:
  Status OpenNext() {
    if (writer_) MV_RETURN_IF_ERROR(writer_->Sync());
    const uint32_t id = next_id_++;
    MV_ASSIGN_OR_RETURN(writer_, PackWriter::Open(fs_, dir_, id));
    MV_RETURN_IF_ERROR(writer_->Append(RecordType::kCompacted, EncodeCompacted(what_)).status());
    header_end_ = writer_->size();
    ++packs_;
    return Status::Ok();
  }

  FileSystem& fs_;
  std::string dir_;
  uint32_t next_id_;
  CompactedRecord what_;
  uint64_t size_limit_;
  std::unique_ptr<PackWriter> writer_;
  uint64_t header_end_ = 0;
  uint32_t packs_ = 0;
};

Status Archive::FinishCompaction(const std::string& dir, FileSystem& fs) {
  const std::string marker = MarkerPath(dir);
  const std::string work = WorkDir(dir);
  const std::string old_packs = OldPacksDir(dir);
  const std::string packs = dir + "/packs";
  if (!PathExists(marker)) {
    if (PathExists(work)) {
      LogWarning("removing " + work + ", a compaction that stopped before it was committed "
                 "(the archive is as it was before it)");
      MV_RETURN_IF_ERROR(RemoveTree(work));
    }
    return Status::Ok();
  }
  LogInfo("completing the compaction committed in " + marker);
  // Each step is done at most once: its source is gone once it is done.
  if (IsDirectory(work + "/packs")) {
    if (IsDirectory(packs)) {
      if (PathExists(old_packs)) {
        return Status::Internal("cannot complete the compaction: both " + packs + " and " + old_packs +
                                " exist; move " + old_packs + " away and open the archive again");
      }
      MV_RETURN_IF_ERROR(Rename(packs, old_packs));
    }
    MV_RETURN_IF_ERROR(Rename(work + "/packs", packs));
    MV_RETURN_IF_ERROR(fs.SyncDir(dir));
  }
  const std::string catalog = CatalogPath(dir);
  if (PathExists(CatalogPath(work))) {
    // The rebuilt catalog was checkpointed and closed: it is whole without a WAL.
    for (const char* suffix : {"-wal", "-shm"}) ::unlink((catalog + suffix).c_str());
    MV_RETURN_IF_ERROR(Rename(CatalogPath(work), catalog));
    MV_RETURN_IF_ERROR(fs.SyncDir(dir));
  }
  MV_RETURN_IF_ERROR(RemoveTree(old_packs));
  MV_RETURN_IF_ERROR(RemoveTree(work));
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoToStatus(errno, "remove " + marker);
  return fs.SyncDir(dir);
}

Result<CompactReport> Archive::Compact(ArchiveOptions options, const CompactProgress& progress) {
  if (options.fs == nullptr) options.fs = &FileSystem::Posix();
  if (options.clock == nullptr) options.clock = &SystemClock::Instance();
  options.mode = ArchiveOptions::Mode::kReadWrite;
  options.create = false;
  const std::string dir = options.data_dir;
  // Opening finishes an interrupted compaction and recovers uncommitted records.
  MV_ASSIGN_OR_RETURN(std::unique_ptr<Archive> live, Archive::Open(options));
  // The write lock must outlive `live`, which is closed before the swap.
  UniqueFd lock(::fcntl(live->lock_fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!lock.valid()) return ErrnoToStatus(errno, "keep the lock of " + dir);
  MV_ASSIGN_OR_RETURN(CompactReport report, live->RewriteTail(progress, nullptr));
  if (!report.compacted) return report;
  live.reset();
  MV_RETURN_IF_ERROR(WriteCompactionMarker(dir, *options.fs, report));
  MV_RETURN_IF_ERROR(FinishCompaction(dir, *options.fs));
  return report;
}

Status Archive::WriteCompactionMarker(const std::string& dir, FileSystem& fs, const CompactReport& report) {
  const std::string work = WorkDir(dir);
  // What the marker commits must be durable first: the new catalog's and
  // packs' directory entries.
  Status marked = fs.SyncDir(work);
  // From the marker on an interrupted swap is completed, not undone.
  if (marked.ok()) {
    marked = WriteFileAtomically(MarkerPath(dir),
                                 "packs " + std::to_string(report.first_pack) + ".." +
                                     std::to_string(report.last_pack) + " compacted into " +
                                     std::to_string(report.packs_written) + "\n",
                                 0640);
  }
  if (!marked.ok()) RemoveTree(work).IgnoreError();
  return marked;
}

Result<CompactReport> Archive::CompactInPlace(const CompactProgress& progress,
                                              const std::function<bool()>& should_stop) {
  const std::string& dir = options_.data_dir;
  {
    std::unique_lock lock(mutex_);
    if (!broken_.ok()) return broken_;
    if (!writable_ || !writer_) return Status::PermissionDenied("the archive is open read-only");
    if (compacting_) return Status::Unavailable("a compaction of " + dir + " is running already");
    // A batch made after this check is refused when it begins a message
    // (compacting_ is set under the same lock it checks it under).
    if (const int batches = *batches_; batches > 0) {
      return Status::Unavailable("the archive in " + dir + " is being written (" + std::to_string(batches) +
                                 " batches); compact when writes are paused");
    }
    // A retraining appends its dictionary to the tail.
    WaitForTrainingLocked(lock);
    compacting_ = true;
  }
  struct EndCompacting {
    Archive* archive;
    ~EndCompacting() {
      std::lock_guard lock(archive->mutex_);
      archive->compacting_ = false;
    }
  } end{this};
  MV_ASSIGN_OR_RETURN(CompactReport report, RewriteTail(progress, should_stop));
  if (!report.compacted) return report;
  SwapGate::Exclusive alone(gate_);  // no read holds a location into the old packs
  std::lock_guard lock(mutex_);      // no catalog use meanwhile
  MV_RETURN_IF_ERROR(SwapInCompactionLocked(report));
  return report;
}

Status Archive::SwapInCompactionLocked(const CompactReport& report) {
  const std::string& dir = options_.data_dir;
  const std::string work = WorkDir(dir);
  // What other components wrote to the catalog since the check (the audit
  // log, accounts, runs): nothing more can be written until this returns.
  Status carried = [&]() -> Status {
    MV_ASSIGN_OR_RETURN(std::unique_ptr<Catalog> candidate, Catalog::Open(CatalogPath(work)));
    MV_RETURN_IF_ERROR(candidate->CarryOverOperationalData(CatalogPath(dir), /*replace=*/true));
    return candidate->database().Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }();
  if (!carried.ok()) {
    RemoveTree(work).IgnoreError();
    return carried.WithContext("compaction");
  }
  // Every handle on the old packs and catalog is closed before they go. The
  // marker is written first, so a failure to write it leaves them usable.
  MV_RETURN_IF_ERROR(WriteCompactionMarker(dir, *options_.fs, report));
  writer_.reset();
  catalog_.reset();
  {
    std::lock_guard readers(readers_mutex_);
    readers_.clear();
  }
  block_cache_.Clear();
  pending_segments_.clear();
  touched_packs_.clear();
  similar_headers_.clear();
  Status reopened = [&]() -> Status {
    MV_RETURN_IF_ERROR(FinishCompaction(dir, *options_.fs));
    packs_inode_ = PacksInode();
    MV_ASSIGN_OR_RETURN(catalog_, Catalog::Open(CatalogPath(dir)));
    MV_RETURN_IF_ERROR(LoadDictionaries());
    return OpenWriter();
  }();
  if (!reopened.ok()) {
    // The marker is written: the next open completes what is missing.
    broken_ = Status::Unavailable("the compaction of " + dir + " was committed but could not be swapped in (" +
                                  reopened.ToString() + "); restart mailvault to complete it");
    catalog_.reset();
    writer_.reset();
    LogError(broken_.message());
    return broken_;
  }
  LogInfo("compaction: packs " + std::to_string(report.first_pack) + ".." + std::to_string(report.last_pack) +
          " swapped in place");
  return Status::Ok();
}

Result<CompactReport> Archive::RewriteTail(const CompactProgress& progress,
                                           const std::function<bool()>& should_stop) {
  const ArchiveOptions& options = options_;
  const std::string& dir = options.data_dir;
  auto stopped = [&]() -> Status {
    if (should_stop && should_stop()) return Status::Cancelled("compaction of " + dir + " stopped");
    return Status::Ok();
  };

  CompactReport report;
  const std::vector<uint32_t> packs = ListPacks();
  const uint32_t first = FirstUncompactedPack(packs);
  std::vector<uint32_t> tail;
  uint64_t tail_records = 0;
  for (uint32_t id : packs) {
    if (id < first) continue;
    tail.push_back(id);
    const uint64_t size = FileSizeOrZero(packs_dir() + "/" + PackFileName(id));
    report.bytes_before += size;
    tail_records += size > kPackMagic.size() ? 1 : 0;
  }
  if (tail_records == 0) return report;  // nothing written since the last compaction
  report.first_pack = first;
  report.last_pack = tail.back();

  const std::string work = WorkDir(dir);
  MV_RETURN_IF_ERROR(RemoveTree(work));
  // A compaction that fails (a full disk, damage) leaves nothing behind; on
  // success the work directory is what the commit needs.
  bool keep = false;
  struct RemoveWorkUnlessKept {
    const std::string& work;
    const bool& keep;
    ~RemoveWorkUnlessKept() {
      if (!keep) RemoveTree(work).IgnoreError();
    }
  } cleanup{work, keep};
  MV_RETURN_IF_ERROR(MakeDirs(work + "/packs"));
  // The packs before the tail stay as they are: the new directory links them.
  for (uint32_t id : packs) {
    if (id >= first) break;
    std::string from = packs_dir() + "/" + PackFileName(id);
    std::string to = work + "/packs/" + PackFileName(id);
    if (::link(from.c_str(), to.c_str()) != 0) return ErrnoToStatus(errno, "link " + from + " to " + to);
  }

  // Visits every record of the tail in order; damage stops the compaction.
  auto scan_tail = [&](const std::function<Status(const ScannedRecord&)>& visit) -> Status {
    for (uint32_t id : tail) {
      const std::string path = packs_dir() + "/" + PackFileName(id);
      ScanOutcome outcome;
      auto visit_unless_stopped = [&](const ScannedRecord& r) -> Status {
        Status stop = stopped();
        return stop.ok() ? visit(r) : stop;
      };
      MV_RETURN_IF_ERROR(ScanPack(path, ScanOptions{}, visit_unless_stopped, &outcome));
      if (outcome.damaged) {
        return Status::Corruption(path + " offset " + std::to_string(outcome.damage_offset) + ": " +
                                  outcome.damage_reason +
                                  "; compaction leaves a damaged pack alone (see `mailvault verify`)");
      }
    }
    return Status::Ok();
  };
  SegmentRefResolver refs(this);
  // The segment hashes of a message entry (located or not).
  auto message_of = [&](const ManifestEntry& e) -> Result<MessageRecord> {
    if (e.type == RecordType::kMessage) return DecodeMessage(e.payload);
    MV_ASSIGN_OR_RETURN(LocatedMessageRecord located, DecodeLocatedMessage(e.payload));
    MessageRecord m{located.id, located.raw_length, located.archived_at, {}, located.provenance};
    m.segments.reserve(located.segments.size());
    for (const SegmentRef& ref : located.segments) {
      MV_ASSIGN_OR_RETURN(Digest hash, refs.Resolve(ref));
      m.segments.push_back(hash);
    }
    return m;
  };

  // The tail's lists (the segments named, where they are, where they went)
  // live in a scratch database in the work directory, not in memory: a first
  // compaction of years of mail names millions of segments, and memory must
  // not grow with the archive (ARCHITECTURE.md invariant 6). Not durable: it
  // is gone with the work directory.
  MV_ASSIGN_OR_RETURN(SqliteDatabase scratch, SqliteDatabase::Open(work + "/scratch.sqlite", true));
  MV_RETURN_IF_ERROR(scratch.Exec(
      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
      "CREATE TABLE named(hash BLOB PRIMARY KEY) WITHOUT ROWID;"
      "CREATE TABLE stored(pack INTEGER, offset INTEGER, block_offset INTEGER, length INTEGER,"
      "                    raw_length INTEGER, dictionary INTEGER, hash BLOB);"
      "CREATE TABLE moved(hash BLOB PRIMARY KEY, pack INTEGER, offset INTEGER, block_offset INTEGER)"
      "  WITHOUT ROWID;"
      "CREATE TABLE moved_messages(id BLOB);"
      "BEGIN"));

  // 1. Which segments the tail's messages name, and where the catalog has them.
  MV_ASSIGN_OR_RETURN(SqliteStatement name, scratch.Prepare("INSERT OR IGNORE INTO named VALUES(?)"));
  Status named = scan_tail([&](const ScannedRecord& r) -> Status {
    MV_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ManifestEntriesOf(r));
    for (const ManifestEntry& e : entries) {
      if (e.type == RecordType::kLink) continue;
      MV_ASSIGN_OR_RETURN(MessageRecord m, message_of(e));
      for (const Digest& hash : m.segments) {
        name.BindBlob(1, AsBytes(hash));
        MV_RETURN_IF_ERROR(name.Run());
        name.Reset();
      }
    }
    return Status::Ok();
  });
  MV_RETURN_IF_ERROR(named);
  uint64_t stored_count = 0;  // named segments whose catalogued copy is in the tail
  {
    MV_ASSIGN_OR_RETURN(SqliteStatement each, scratch.Prepare("SELECT hash FROM named"));
    MV_ASSIGN_OR_RETURN(SqliteStatement store, scratch.Prepare("INSERT INTO stored VALUES(?,?,?,?,?,?,?)"));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, each.Step());
      if (!row) break;
      std::optional<Digest> hash = DigestOfColumn(each.ColumnBlob(0));
      if (!hash) return Status::Internal("compaction: a malformed hash in the scratch database");
      MV_ASSIGN_OR_RETURN(std::optional<SegmentLocation> l, FindSegmentInCatalog(*hash));
      if (!l) return Status::Corruption("compaction: segment " + ToHex(*hash) + " is named but not stored");
      if (l->record.pack < first) continue;  // before the tail: stays where it is
      store.Bind(1, l->record.pack).Bind(2, static_cast<int64_t>(l->record.offset)).Bind(3, l->block_offset);
      store.Bind(4, l->record.length).Bind(5, l->raw_length).Bind(6, l->dictionary).BindBlob(7, AsBytes(*hash));
      MV_RETURN_IF_ERROR(store.Run());
      store.Reset();
      ++stored_count;
    }
  }
  int64_t catalogued_in_tail = 0;
  {
    std::lock_guard lock(mutex_);
    MV_ASSIGN_OR_RETURN(catalogued_in_tail,
                        catalog_->database().QueryInt("SELECT count(*) FROM segments WHERE pack >= " +
                                                            std::to_string(first)));
  }
  report.unreferenced_segments =
      catalogued_in_tail > static_cast<int64_t>(stored_count) ? catalogued_in_tail - stored_count : 0;

  // 2. The segments, recompressed.
  const CompactedRecord what{first, tail.back(), options.clock->NowUnixSeconds()};
  CompactionWriter out(*options.fs, work + "/packs", first, what, options.pack_size_limit);
  const size_t block_bytes = std::max<size_t>(options.compact_block_bytes, 1);
  const int level = options.compact_level;
  MV_ASSIGN_OR_RETURN(SqliteStatement move, scratch.Prepare("INSERT OR REPLACE INTO moved VALUES(?,?,?,?)"));
  auto record_move = [&](const Digest& hash, const SegmentRef& ref) -> Status {
    move.BindBlob(1, AsBytes(hash)).Bind(2, ref.pack).Bind(3, static_cast<int64_t>(ref.offset));
    move.Bind(4, ref.block_offset);
    Status st = move.Run();
    move.Reset();
    return st;
  };
  SegmentCodec codec;
  std::string frame;
  auto write_block = [&](std::string& plain, std::vector<BlockEntry>& entries) -> Status {
    if (entries.empty()) return Status::Ok();
    MV_RETURN_IF_ERROR(codec.Compress(plain, nullptr, level, &frame));
    MV_ASSIGN_OR_RETURN(RecordLocation loc, out.Append(RecordType::kBlock,
                                                       EncodeBlock(0, static_cast<uint32_t>(plain.size()),
                                                                   entries, frame)));
    int64_t offset = 0;
    for (const BlockEntry& e : entries) {
      MV_RETURN_IF_ERROR(record_move(e.hash, SegmentRef{loc.pack, loc.offset, offset}));
      offset += e.length;
    }
    plain.clear();
    entries.clear();
    return Status::Ok();
  };
  struct HeaderBlock {
    Digest hash;
    std::string plain;
    size_t group;  // position of the first header block alike in this run
  };
  std::vector<HeaderBlock> headers;
  size_t header_bytes = 0;
  std::map<Digest, size_t> groups;  // HeaderSimilarityKey → group
  auto flush_headers = [&]() -> Status {
    std::stable_sort(headers.begin(), headers.end(),
                     [](const HeaderBlock& a, const HeaderBlock& b) { return a.group < b.group; });
    std::string plain;
    std::vector<BlockEntry> entries;
    for (const HeaderBlock& h : headers) {
      if (!plain.empty() && plain.size() + h.plain.size() > block_bytes) {
        MV_RETURN_IF_ERROR(write_block(plain, entries));
      }
      plain += h.plain;
      entries.push_back(BlockEntry{h.hash, static_cast<uint32_t>(h.plain.size())});
    }
    MV_RETURN_IF_ERROR(write_block(plain, entries));
    headers.clear();
    header_bytes = 0;
    groups.clear();
    return Status::Ok();
  };
  std::string other;
  std::vector<BlockEntry> other_entries;
  std::string plain;
  uint64_t done = 0;
  // In stored order: each old block is decompressed once, and arrival order is kept.
  MV_ASSIGN_OR_RETURN(SqliteStatement in_order,
                      scratch.Prepare("SELECT pack, offset, block_offset, length, raw_length, dictionary, hash "
                                      "FROM stored ORDER BY pack, offset, block_offset"));
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, in_order.Step());
    if (!row) break;
    SegmentLocation location;
    location.record.pack = static_cast<uint32_t>(in_order.ColumnInt(0));
    location.record.offset = static_cast<uint64_t>(in_order.ColumnInt(1));
    location.block_offset = in_order.ColumnInt(2);
    location.record.length = static_cast<uint32_t>(in_order.ColumnInt(3));
    location.raw_length = static_cast<uint32_t>(in_order.ColumnInt(4));
    location.dictionary = static_cast<uint32_t>(in_order.ColumnInt(5));
    const std::optional<Digest> hash = DigestOfColumn(in_order.ColumnBlob(6));
    if (!hash) return Status::Internal("compaction: a malformed hash in the scratch database");
    // Checked against its SHA-256 on the way.
    MV_RETURN_IF_ERROR(stopped());
    MV_RETURN_IF_ERROR(ReadSegment(*hash, location, codec, &plain));
    const auto length = static_cast<uint32_t>(plain.size());
    if (progress) progress("segments", ++done, stored_count);
    ++report.segments;
    if (plain.size() > options.small_segment_bytes) {
      MV_RETURN_IF_ERROR(codec.Compress(plain, nullptr, options.level, &frame));
      if (static_cast<double>(frame.size()) < kIncompressible * static_cast<double>(plain.size())) {
        MV_RETURN_IF_ERROR(codec.Compress(plain, nullptr, level, &frame));
      }
      MV_ASSIGN_OR_RETURN(RecordLocation loc,
                          out.Append(RecordType::kSegment, EncodeSegment(*hash, length, 0, frame)));
      MV_RETURN_IF_ERROR(record_move(*hash, SegmentRef{loc.pack, loc.offset, -1}));
      continue;
    }
    if (std::optional<Digest> key = HeaderSimilarityKey(plain)) {
      const size_t group = groups.emplace(*key, headers.size()).first->second;
      header_bytes += plain.size();
      headers.push_back(HeaderBlock{*hash, plain, group});
      if (header_bytes >= kHeaderRunBlocks * block_bytes) MV_RETURN_IF_ERROR(flush_headers());
      continue;
    }
    if (!other.empty() && other.size() + plain.size() > block_bytes) {
      MV_RETURN_IF_ERROR(write_block(other, other_entries));
    }
    other += plain;
    other_entries.push_back(BlockEntry{*hash, length});
  }
  MV_RETURN_IF_ERROR(flush_headers());
  MV_RETURN_IF_ERROR(write_block(other, other_entries));

  // 3. Manifests (segments named where they are now), events and the newest
  // dictionary, in the tail's order.
  const uint32_t newest_dictionary = dictionaries_.NewestId();
  MV_ASSIGN_OR_RETURN(SqliteStatement where_now,
                      scratch.Prepare("SELECT pack, offset, block_offset FROM moved WHERE hash=?"));
  MV_ASSIGN_OR_RETURN(SqliteStatement note_moved, scratch.Prepare("INSERT INTO moved_messages VALUES(?)"));
  uint64_t moved_messages = 0;
  Status rewritten = scan_tail([&](const ScannedRecord& r) -> Status {
    if (r.type == RecordType::kEvent) return out.Append(RecordType::kEvent, r.payload).status();
    if (r.type == RecordType::kDictionary) {
      // Older dictionaries of the tail served only segments recompressed without one.
      MV_ASSIGN_OR_RETURN(DictionaryRecord d, DecodeDictionary(r.payload));
      if (d.id != newest_dictionary) return Status::Ok();
      return out.Append(RecordType::kDictionary, r.payload).status();
    }
    MV_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ManifestEntriesOf(r));
    if (entries.empty()) return Status::Ok();
    for (ManifestEntry& e : entries) {
      if (e.type == RecordType::kLink) continue;
      MV_ASSIGN_OR_RETURN(MessageRecord m, message_of(e));
      LocatedMessageRecord located{m.id, m.raw_length, m.archived_at, {}, m.provenance};
      for (const Digest& hash : m.segments) {
        where_now.BindBlob(1, AsBytes(hash));
        MV_ASSIGN_OR_RETURN(bool found, where_now.Step());
        if (found) {
          located.segments.push_back(SegmentRef{static_cast<uint32_t>(where_now.ColumnInt(0)),
                                                static_cast<uint64_t>(where_now.ColumnInt(1)),
                                                where_now.ColumnInt(2)});
        }
        where_now.Reset();
        if (found) continue;
        // Stored before the tail, which does not change.
        MV_ASSIGN_OR_RETURN(std::optional<SegmentLocation> location, FindSegmentInCatalog(hash));
        if (!location || location->record.pack >= first) {
          return Status::Internal("compaction: segment " + ToHex(hash) + " of message " + ToHex(m.id) +
                                  " was not rewritten");
        }
        located.segments.push_back(
            SegmentRef{location->record.pack, location->record.offset, location->block_offset});
      }
      e = ManifestEntry{RecordType::kLocatedMessage, EncodeLocatedMessage(located)};
      note_moved.BindBlob(1, AsBytes(m.id));
      MV_RETURN_IF_ERROR(note_moved.Run());
      note_moved.Reset();
      ++moved_messages;
    }
    MV_ASSIGN_OR_RETURN(std::string payload, EncodeManifests(entries, level));
    return out.Append(RecordType::kManifests, payload).status();
  });
  MV_RETURN_IF_ERROR(rewritten);
  MV_RETURN_IF_ERROR(out.Finish());
  report.packs_written = out.packs();
  for (uint32_t id = first; id <= out.last_id(); ++id) {
    report.bytes_after += FileSizeOrZero(work + "/packs/" + PackFileName(id));
  }

  // 4. A catalog for the new directory, by the replay `rebuild` uses, checked
  // against the live one before anything is swapped.
  {
    ArchiveOptions work_options = options;
    work_options.data_dir = work;
    std::unique_ptr<Archive> fresh(new Archive(work_options));
    fresh->packs_inode_ = fresh->PacksInode();  // its failures are its own, not a swap's
    MV_ASSIGN_OR_RETURN(fresh->catalog_, Catalog::Open(CatalogPath(work)));
    VerifyReport damage;
    MV_RETURN_IF_ERROR(fresh->Replay(/*rebuild=*/true, &damage));
    if (!damage.ok()) {
      return Status::Corruption("compaction: the rewritten packs do not replay cleanly: " +
                                damage.faults.front().where + ": " + damage.faults.front().problem);
    }
    MV_RETURN_IF_ERROR(fresh->catalog_->CarryOverOperationalData(CatalogPath(dir)));
    CatalogTotals before;
    {
      std::lock_guard lock(mutex_);
      MV_ASSIGN_OR_RETURN(before, catalog_->Totals());
    }
    MV_ASSIGN_OR_RETURN(CatalogTotals after, fresh->catalog_->Totals());
    if (before.messages != after.messages || before.raw_bytes != after.raw_bytes ||
        before.provenance_links != after.provenance_links) {
      return Status::Internal("compaction: the rewritten packs hold " + std::to_string(after.messages) +
                              " messages and " + std::to_string(after.provenance_links) +
                              " provenance links, the archive " + std::to_string(before.messages) + " and " +
                              std::to_string(before.provenance_links));
    }
    // Every moved message, read back from the new packs, whole and with its provenance.
    done = 0;
    MV_ASSIGN_OR_RETURN(SqliteStatement each, scratch.Prepare("SELECT id FROM moved_messages ORDER BY rowid"));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, each.Step());
      if (!row) break;
      const std::optional<Digest> moved_id = DigestOfColumn(each.ColumnBlob(0));
      if (!moved_id) return Status::Internal("compaction: a malformed id in the scratch database");
      const Digest& id = *moved_id;
      MV_RETURN_IF_ERROR(stopped());
      MV_ASSIGN_OR_RETURN(MessageInfo was, Info(id));
      MV_ASSIGN_OR_RETURN(MessageInfo is, fresh->Info(id));
      // The seq too: the search index's queue pages by it.
      if (was.raw_length != is.raw_length || was.archived_at != is.archived_at || was.seq != is.seq ||
          was.provenance != is.provenance) {
        return Status::Internal("compaction: message " + ToHex(id) + " differs in the rewritten packs");
      }
      uint64_t length = 0;
      MV_RETURN_IF_ERROR(fresh->ReadMessage(id, [&](std::string_view bytes) {
        length += bytes.size();
        return Status::Ok();
      }).WithContext("compaction check"));
      if (length != was.raw_length) {
        return Status::Internal("compaction: message " + ToHex(id) + " reads back with another length");
      }
      ++report.messages;
      if (progress) progress("messages checked", ++done, moved_messages);
    }
    MV_RETURN_IF_ERROR(fresh->catalog_->database().Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  report.compacted = true;
  keep = true;
  return report;
}

Result<std::optional<SegmentLocation>> Archive::FindSegmentInCatalog(const Digest& hash) {
  std::lock_guard lock(mutex_);
  return catalog_->FindSegment(hash);
}

}  // namespace mailvault
