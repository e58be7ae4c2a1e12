// The archive: mailvault's crash-safe, deduplicated, compressed message store.
//
// Layout of a data directory:
//   catalog.sqlite   derived index (archive/catalog.h), rebuilt from packs on demand
//   packs/           append-only pack files, the truth (archive/pack_format.h)
//   lock             held (flock) by the one process that may write
//   compact.tmp/, compact.commit
//                    a compaction under way, and its commit (Archive::Compact)
//
// Writing: a caller streams messages into an IngestBatch and calls Commit();
// Commit returns OK only when every record of the batch is fsynced in its pack
// and the catalog transaction is committed. Only then may a collector delete the
// messages from their server. Segments are deduplicated by SHA-256 across the
// whole archive; a message already stored gains only a provenance link.
//
// Opening for writing replays records written after the last commit (a crash
// between pack fsync and catalog commit) and cuts a torn tail, logging it.
//
// Thread-safety: Archive is thread-safe; each IngestBatch is used by one thread
// at a time, and several batches may ingest concurrently.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "archive/block_cache.h"
#include "archive/block_compressor.h"
#include "archive/canonical.h"
#include "archive/catalog.h"
#include "archive/pack.h"
#include "archive/pack_format.h"
#include "archive/segment_codec.h"
#include "archive/segmenter.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/sha256.h"
#include "base/status.h"
#include "base/swap_gate.h"

namespace mailvault {

struct ArchiveOptions {
  std::string data_dir = "./mailvault-data";
  enum class Mode {
    kReadWrite,        // take the write lock; kUnavailable when another process holds it
    kReadOnly,         // no lock, no replay; ingest refused
    kReadWriteIfFree,  // read-write when the lock is free, else read-only
  };
  Mode mode = Mode::kReadWrite;
  bool create = false;  // create the data directory when it does not exist

  FileSystem* fs = nullptr;      // durable writes; default: the real file system
  const Clock* clock = nullptr;  // archived_at times; default: the system clock

  uint64_t pack_size_limit = 256ull << 20;  // a pack is sealed past this size
  SegmenterOptions segmenter;               // how messages are cut into segments
  // Ingest levels: fast, because ingest must keep up with collection. Level 2
  // imported 10 KB mails 8-40 % faster than 3 and stored 4 % more (level 1:
  // as fast as 2, 11 % more; bench/README.md); compaction rewrites what
  // ingest stored at compact_level, and `serve` compacts nightly.
  int level = 2;                            // zstd level without a dictionary
  int dictionary_level = 2;                 // zstd level for small segments with a dictionary
  uint32_t small_segment_bytes = 16384;     // segments up to this size use the dictionary
  uint64_t first_dictionary_after = 300;   // small segments stored before the first training
  uint64_t retrain_growth = 8;              // retrain when small segments grew by this factor
  size_t dictionary_capacity = 32768;       // bytes of a trained dictionary
  int dictionary_samples = 2000;            // small segments sampled for training
  // Small segments of one batch are compressed together, with the dictionary at
  // dictionary_level, in block records of up to this many plain bytes (header
  // blocks and other segments in separate blocks), so that what different mails
  // share is compressed once. 0: every segment in a record of its own (the
  // format before blocks; still read either way).
  uint32_t block_bytes = 262144;
  size_t block_cache_bytes = 8u << 20;      // decompressed blocks kept for reads
  // Compaction (Archive::Compact) rewrites what was written since the last one
  // at this zstd level in blocks of up to this many plain bytes, without a
  // dictionary: slower than ingest can afford, but once per byte. Reading a
  // segment decompresses its block up to the segment's end.
  int compact_level = 19;
  uint32_t compact_block_bytes = 2u << 20;
};

struct IngestedMessage {
  Digest id{};
  uint64_t raw_length = 0;  // canonical bytes
  bool duplicate = false;   // the archive (or this batch) already held it
};

struct CommitReport {
  size_t messages = 0;   // messages in the batch
  size_t new_messages = 0;
  size_t new_links = 0;  // provenance links that were new
};

struct ArchiveStats {
  uint64_t messages = 0;
  uint64_t raw_bytes = 0;             // canonical bytes of all messages
  uint64_t stored_bytes = 0;          // pack files on disk
  uint64_t uncompacted_bytes = 0;     // of which packs written since the last compaction
  uint64_t catalog_bytes = 0;         // catalog files on disk
  uint64_t segments = 0;
  uint64_t unique_bytes = 0;          // plain bytes of distinct segments (after dedup)
  uint64_t provenance_links = 0;
  uint64_t dictionaries = 0;
  uint64_t packs = 0;
};

struct MessageInfo {
  Digest id{};
  // Place in arrival order (catalog messages.seq): increasing, with possible
  // gaps; what Archive::MessagesAfter pages by.
  int64_t seq = 0;
  uint64_t raw_length = 0;
  int64_t archived_at = 0;
  size_t segments = 0;
  std::vector<Provenance> provenance;
};

struct VerifyFault {
  std::string where;    // "pack-000001.mvp offset 4096" or "message <id>"
  std::string problem;
};

struct VerifyReport {
  uint64_t records_checked = 0;
  uint64_t messages_checked = 0;
  std::vector<VerifyFault> faults;
  bool ok() const { return faults.empty(); }
};

// What Archive::Compact did.
struct CompactReport {
  bool compacted = false;   // false: nothing was written since the last compaction
  uint32_t first_pack = 0;  // the packs replaced: first_pack..last_pack
  uint32_t last_pack = 0;
  uint32_t packs_written = 0;
  uint64_t bytes_before = 0;  // of the packs replaced
  uint64_t bytes_after = 0;   // of the packs written
  uint64_t messages = 0;      // messages whose manifests moved, all read back and checked
  uint64_t segments = 0;      // segments rewritten
  uint64_t unreferenced_segments = 0;  // left out: no message names them (an aborted batch's)
};

class Archive;

// Compaction's progress: (what, done, total), "segments" rewritten, then
// "messages checked".
using CompactProgress = std::function<void(std::string_view, uint64_t, uint64_t)>;

// For a header block: SHA-256 over its Date, From and Subject values, which copies
// of one mail share even when Received, Delivered-To, Message-ID or X-Folder
// differ. nullopt when the block has no Date or no From.
std::optional<Digest> HeaderSimilarityKey(std::string_view header_block);

// Streams messages into the archive. Use one thread at a time. Dropping a batch
// without Commit() forgets its messages (their segments stay as unreferenced
// data until compaction).
class IngestBatch {
 public:
  ~IngestBatch();
  IngestBatch(const IngestBatch&) = delete;
  IngestBatch& operator=(const IngestBatch&) = delete;

  // Starts a message. REQUIRES: no message is open.
  Status BeginMessage();
  // Feeds the next raw bytes of the open message (LF or CRLF lines; canonicalised here).
  Status Write(std::string_view raw);
  // Ends the open message and records where it came from. Not durable until Commit().
  Result<IngestedMessage> FinishMessage(const Provenance& provenance);
  // Drops the open message (e.g. its source failed midway).
  void AbortMessage();
  // Adds a ledger event (an `event` record, see LedgerEventKind in catalog.h)
  // to the batch: written and applied to the catalog by the next Commit(),
  // after the batch's messages, and replayed by Rebuild.
  void RecordEvent(EventRecord event);
  // Makes every finished message durable. On error nothing is promised durable;
  // the batch keeps its messages and Commit() may be called again.
  Result<CommitReport> Commit();

  size_t pending_messages() const { return pending_.size(); }
  size_t pending_events() const { return events_.size(); }
  uint64_t pending_bytes() const { return pending_bytes_; }
  bool message_open() const { return open_; }

 private:
  friend class Archive;
  explicit IngestBatch(Archive* archive);
  Status StoreSegment(std::string_view segment);
  // Small segments waiting to be compressed together into one block record.
  struct OpenBlock {
    std::string plain;
    std::vector<BlockEntry> entries;
  };
  // Adds a small segment to `block`, flushing the block first when it would grow
  // past ArchiveOptions::block_bytes.
  Status AddToBlock(OpenBlock& block, const Digest& hash, std::string_view segment);
  // Hands `block` (when not empty) to the compressor and empties it.
  Status FlushBlock(OpenBlock& block);
  // Waits until every block handed to the compressor is written; returns the
  // first failure since the last call (the failed blocks are retried next time).
  Status DrainBlocks();
  // The plain bytes of base segment `hash`, from a small cache, the header
  // blocks being compressed, or the packs (at `location`).
  Result<std::string_view> BasePlain(const Digest& hash, const std::optional<SegmentLocation>& location);
  // The bytes of `hash` when it is in one of recent_header_blocks_.
  std::optional<std::string_view> RecentHeaderPlain(const Digest& hash) const;

  struct Pending {
    MessageRecord record;
    bool is_new = false;
  };

  // Counts the batch in Archive::batches_ from before the compressor's
  // thread starts until after it ended (destroyed last). Shares the counter,
  // so that a batch destroyed after its archive (against NewBatch's contract,
  // but harmless before the counter existed) touches nothing freed.
  class Registration {
   public:
    explicit Registration(std::shared_ptr<std::atomic<int>> count) : count_(std::move(count)) { ++*count_; }
    ~Registration() { --*count_; }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    std::shared_ptr<std::atomic<int>> count_;
  };

  Archive* archive_;  // borrowed; outlives the batch
  Registration registration_;
  SegmentCodec codec_;
  Canonicalizer canonicalizer_;
  MessageSegmenter segmenter_;
  Sha256 message_hash_;
  Sha256 segment_hash_;
  std::string canonical_;
  std::string frame_;
  std::string delta_frame_;
  std::map<Digest, std::string> base_cache_;  // recently used delta bases (bounded)
  OpenBlock header_block_;  // header blocks: alike, so they compress best together
  OpenBlock other_block_;   // bodies and small MIME parts
  // Hashes this batch put into a block or handed to the compressor since the
  // last commit (waiting, being compressed or written): not looked up or stored again.
  std::set<Digest> submitted_;
  // Copies of the last two header blocks handed to the compressor: their
  // segments may serve as delta bases before they are written and located.
  std::deque<OpenBlock> recent_header_blocks_;
  BlockCompressor compressor_;
  std::vector<Digest> segments_;
  uint64_t length_ = 0;
  bool open_ = false;
  Status failure_;  // first error of the open message

  std::vector<Pending> pending_;
  std::map<Digest, size_t> pending_ids_;
  uint64_t pending_bytes_ = 0;
  std::vector<EventRecord> events_;
};

class Archive {
 public:
  // Opens (or with options.create, creates) the archive in options.data_dir.
  static Result<std::unique_ptr<Archive>> Open(ArchiveOptions options);
  // Recreates the catalog from the packs alone. Takes the write lock.
  static Status Rebuild(ArchiveOptions options, VerifyReport* damage);
  // Rewrites the packs written since the last compaction (the archive's tail)
  // at ArchiveOptions::compact_level in large blocks, near-duplicate header
  // blocks side by side, and swaps them in. Takes the write lock for the whole
  // run (kUnavailable while another process writes).
  //
  // Crash-safe: the new packs and a catalog rebuilt from them are made in
  // compact.tmp/ beside the live ones; every message is read back from them
  // and checked against its SHA-256 (and its provenance against the live
  // catalog) before a marker file commits the swap, which the next read-write
  // open completes if it was interrupted. Before the marker, an interrupted
  // run leaves the archive as it was (compact.tmp/ is removed at open).
  // `progress(what, done, total)` is optional: "segments" rewritten, then
  // "messages checked".
  static Result<CompactReport> Compact(ArchiveOptions options, const CompactProgress& progress = nullptr);

  // The same compaction of this open, read-write archive while it serves
  // reads: the daemon's nightly compaction. Writers must be paused by the
  // caller (the collection service): refused with kUnavailable while a batch
  // exists, and a batch that begins a message meanwhile gets kUnavailable.
  // Reads go on during the rewrite and wait only for the swap, which also
  // carries over what other components wrote to the catalog meanwhile (audit
  // log, accounts, runs). `should_stop` (optional) is polled as it goes:
  // kCancelled and nothing changed. A failure after the swap was committed
  // leaves this object unusable (every call fails with that error; the next
  // open completes the swap).
  Result<CompactReport> CompactInPlace(const CompactProgress& progress = nullptr,
                                       const std::function<bool()>& should_stop = nullptr);

  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  // REQUIRES: opened read-write (kPermissionDenied otherwise, at first use).
  // The batch must be destroyed before this archive.
  std::unique_ptr<IngestBatch> NewBatch();
  bool writable() const { return writable_; }

  // A full id or a unique hex prefix of at least 12 characters.
  Result<Digest> Resolve(std::string_view id_or_prefix);
  Result<MessageInfo> Info(const Digest& id);
  // Streams the canonical bytes of a message to `sink`, each segment checked
  // against its SHA-256 before it is passed on and the whole message at the end.
  Status ReadMessage(const Digest& id, const std::function<Status(std::string_view)>& sink);
  // Visits every message in arrival order (provenance not filled in).
  Status ForEachMessage(const std::function<Status(const MessageInfo&)>& visit);
  // One page of arrival order: up to `limit` messages with seq > `after_seq`
  // (0: from the first), each with its provenance as Info gives it. Costs the
  // page, not the messages before it: a queue that remembers the last seq it
  // took (the search index) finds what is new without listing the archive.
  Result<std::vector<MessageInfo>> MessagesAfter(int64_t after_seq, size_t limit);
  // Where message `id` is in arrival order: its seq and how many messages
  // arrived up to and including it. nullopt when the archive does not hold it.
  struct ArrivalPosition {
    int64_t seq = 0;
    uint64_t count = 0;
  };
  Result<std::optional<ArrivalPosition>> ArrivalPositionOf(const Digest& id);

  Result<ArchiveStats> Stats();
  // Re-reads every record and re-hashes every message. Faults go to the report;
  // the Status is for failures to run at all. `progress(done, total)` is optional.
  Status Verify(VerifyReport* report,
                const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

  // Runs `fn` on the catalog, serialised with every other use of it. For the
  // tables other components keep in the catalog (the collector's accounts,
  // runs and ledger reads). `fn` must not call back into this Archive, and
  // must leave no transaction open. Works on a read-only archive too (SQLite
  // arbitrates between processes).
  Status WithCatalog(const std::function<Status(Catalog&)>& fn);

  const ArchiveOptions& options() const { return options_; }
  std::string packs_dir() const { return options_.data_dir + "/packs"; }

 private:
  friend class IngestBatch;
  explicit Archive(ArchiveOptions options)
      : options_(std::move(options)), block_cache_(options_.block_cache_bytes) {}

  class SegmentRefResolver;
  class CompactionWriter;
  // Completes a compaction whose marker was written (data_dir/compact.commit),
  // or removes one that stopped before it. REQUIRES: the write lock is held.
  static Status FinishCompaction(const std::string& data_dir, FileSystem& fs);
  // Compaction's steps 1-4 on this archive's tail: the new packs and a
  // checked catalog in compact.tmp/, left there on success for the commit
  // (report.compacted), removed on failure. REQUIRES: no batch writes.
  Result<CompactReport> RewriteTail(const CompactProgress& progress, const std::function<bool()>& should_stop);
  // Commits what RewriteTail left: makes compact.tmp/ durable and writes the
  // marker (FinishCompaction then swaps). A failure removes compact.tmp/
  // (nothing changed).
  static Status WriteCompactionMarker(const std::string& data_dir, FileSystem& fs, const CompactReport& report);
  // The catalog's location of `hash` (takes mutex_).
  Result<std::optional<SegmentLocation>> FindSegmentInCatalog(const Digest& hash);
  // CompactInPlace's swap, with gate_ held exclusively and mutex_ held.
  Status SwapInCompactionLocked(const CompactReport& report);
  Status VerifyInGate(VerifyReport* report, const std::function<void(uint64_t, uint64_t)>& progress);
  // ReadMessage inside gate_ (Verify holds it for its whole run).
  Status ReadMessageInGate(const Digest& id, const std::function<Status(std::string_view)>& sink);
  // broken_, or a message that names the swap of packs/ under a read-only
  // reader (a compaction by the writer) when `failure` may come from it.
  Status Explain(Status failure) const;
  // The inode of packs/ now (0 when it cannot be read).
  ino_t PacksInode() const;
  // Whether pack `id` was written by compaction (its first record says so).
  Result<bool> PackIsCompacted(uint32_t id);
  // The first of `packs` (ascending) that the next compaction rewrites: the
  // one after the newest compacted pack, found from the newest back (only the
  // tail is read). A pack whose first record cannot be read counts as not
  // compacted (compaction then fails reading it; stats are not verify).
  uint32_t FirstUncompactedPack(const std::vector<uint32_t>& packs);
  Status Initialize();
  // writer_ on the newest pack, or a new one after it when that one was
  // compacted (a compacted pack takes no appends).
  Status OpenWriter();
  Status Replay(bool rebuild, VerifyReport* damage);
  Status LoadDictionaries();
  std::vector<uint32_t> ListPacks() const;
  Result<std::shared_ptr<PackReader>> Reader(uint32_t pack);
  // Reads, decompresses and checks one segment. `mutex_held` says whether the
  // caller holds mutex_ (a delta segment must look up its base's location).
  // A segment in a block is sliced from the block, decompressed once and kept
  // in block_cache_.
  Status ReadSegment(const Digest& hash, const SegmentLocation& location, SegmentCodec& codec,
                     std::string* plain, bool mutex_held = false, bool allow_delta = true);
  Result<std::optional<SegmentLocation>> LocateSegmentLocked(const Digest& hash);
  // The block record at `location`, decompressed at least up to `needed` bytes
  // (from block_cache_ or the pack).
  Result<std::shared_ptr<const DecodedBlock>> LoadBlock(const RecordLocation& location, size_t needed,
                                                        SegmentCodec& codec);
  // Decodes a block record's payload and decompresses its first `prefix` bytes
  // (all by default).
  Result<std::shared_ptr<const DecodedBlock>> DecodeBlockPayload(std::string_view payload,
                                                                  SegmentCodec& codec,
                                                                  const std::string& where,
                                                                  size_t prefix = SIZE_MAX);

  // Under mutex_:
  Result<bool> SegmentKnownLocked(const Digest& hash);
  Result<RecordLocation> AppendLocked(RecordType type, std::string_view payload);
  Result<bool> MessageKnownLocked(const Digest& id);
  // Appends a segment record (or, with `base`, a delta segment record).
  Status StoreSegmentLocked(const Digest& hash, uint32_t raw_length, uint32_t dictionary,
                            std::string_view frame, const Digest* base);
  // Appends a block record; its segments not yet stored elsewhere become known.
  Status StoreBlockLocked(uint32_t dictionary, uint32_t raw_length,
                          const std::vector<BlockEntry>& entries, std::string_view frame);
  // The base registered for near-duplicates of header block `key`, if any.
  // Its location is empty while the base is still being compressed.
  std::optional<std::pair<Digest, std::optional<SegmentLocation>>> SimilarBaseLocked(const Digest& key);
  Result<CommitReport> CommitLocked(std::vector<IngestBatch::Pending>& pending,
                                    const std::vector<EventRecord>& events);
  // Trains a dictionary when enough small segments were stored since the last
  // one. `in_background`: a retraining runs on trainer_ and this returns at once.
  Status MaybeTrainDictionaryLocked(bool in_background);
  // Makes dictionary `id` durable and catalogued, then usable.
  Status PublishDictionaryLocked(uint32_t id, uint32_t samples, const std::string& dict);
  // Waits, releasing `lock` (on mutex_) meanwhile, until no retraining runs.
  void WaitForTrainingLocked(std::unique_lock<std::mutex>& lock);
  // Offers a small segment's plain bytes as a training sample; trains when due.
  void NoteSmallSegmentLocked(std::string_view plain);
  uint64_t NextTrainingThreshold() const;

  ArchiveOptions options_;
  bool writable_ = false;
  UniqueFd lock_fd_;
  std::unique_ptr<Catalog> catalog_;
  DictionarySet dictionaries_;

  // Readers of pack locations (ReadMessage, Verify) hold it shared; an
  // in-place compaction's swap of packs/ and the catalog holds it exclusively.
  SwapGate gate_;
  ino_t packs_inode_ = 0;  // of packs/ as this object reads it (a swap by another process changes it)

  std::mutex mutex_;  // guards everything below and the catalog
  // IngestBatch objects alive (shared with them: see IngestBatch::Registration).
  std::shared_ptr<std::atomic<int>> batches_ = std::make_shared<std::atomic<int>>(0);
  bool compacting_ = false;  // CompactInPlace runs: no batch may write
  Status broken_;            // an in-place swap failed after its commit
  std::unique_ptr<PackWriter> writer_;
  std::map<uint32_t, uint64_t> touched_packs_;  // pack → size to mark committed at next commit
  std::map<Digest, SegmentLocation> pending_segments_;  // written, not yet in the catalog
  std::mutex readers_mutex_;  // guards readers_ (taken with or without mutex_)
  std::map<uint32_t, std::shared_ptr<PackReader>> readers_;
  BlockCache block_cache_;  // decompressed blocks for reads (options_.block_cache_bytes)
  // Header blocks seen, by HeaderSimilarityKey → the segment later copies are
  // stored as deltas against. In memory only, bounded; losing it costs ratio only.
  std::map<Digest, Digest> similar_headers_;
  uint64_t small_segments_ = 0;
  uint64_t small_segments_at_training_ = 0;
  std::vector<std::string> samples_;  // reservoir of small segments for training
  uint64_t samples_seen_ = 0;
  std::mt19937_64 sample_rng_{0x6d61696c7661756cull};
  std::thread trainer_;  // the latest retraining (MaybeTrainDictionaryLocked)
  bool training_ = false;  // trainer_ has not published yet
  std::condition_variable training_done_;  // with mutex_
};

}  // namespace mailvault
