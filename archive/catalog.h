// The catalog: SQLite (WAL) index of what the packs hold.
//
// Everything in the catalog about messages is derived from the packs and can be
// rebuilt from them (Archive::Rebuild). The schema and its migrations live in
// catalog_schema.cc and nowhere else; the schema version is PRAGMA user_version,
// and a catalog newer than this program is refused.
//
// Not thread-safe: the Archive serialises every call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "archive/pack.h"
#include "archive/pack_format.h"
#include "archive/sqlite.h"
#include "base/sha256.h"
#include "base/status.h"

namespace mailvault {

// The catalog file of the data directory `data_dir`.
inline std::string CatalogPath(const std::string& data_dir) { return data_dir + "/catalog.sqlite"; }

// The schema version this program writes (see catalog_schema.cc).
int CatalogSchemaVersion();

// Tables that hold configuration and operational history rather than derived
// state (accounts, collection runs). Rebuild cannot recreate them from packs,
// so it copies them over from the old catalog when that is readable.
const std::vector<std::string>& OperationalTables();

// Kinds of `event` records (pack record type 5) that change the POP3 UIDL
// ledger. source = account name, key = UIDL (or fallback key), at = when.
// Numbers are part of the pack format: never reuse one.
enum class LedgerEventKind : uint8_t {
  kUidlRemoved = 1,      // the UIDL is no longer on the server
  kDeletedByPolicy = 2,  // we deleted it from the server (QUIT confirmed)
  kUidlSeenAgain = 3,    // a UIDL marked removed is listed by the server again
};

// One row of the UIDL ledger: a message of a POP3 account that is archived.
struct LedgerEntry {
  std::string uidl;
  int64_t message_seq = 0;
  Digest message{};
  int64_t first_seen = 0;               // when we archived it (unix seconds)
  std::optional<int64_t> removed_at;    // gone from the server
  std::optional<int64_t> deleted_at;    // deleted by us
};

// Where a segment's bytes are: a record of its own (segment or delta), or a
// slice of a block record.
struct SegmentLocation {
  RecordLocation record;  // the segment, delta or block record
  uint32_t raw_length = 0;
  uint32_t dictionary = 0;
  int64_t block_offset = -1;  // >= 0: offset of the plain bytes in the decompressed block
  bool in_block() const { return block_offset >= 0; }
};

struct MessageRow {
  int64_t seq = 0;  // insertion order; the index queue follows it
  Digest id{};
  uint64_t raw_length = 0;
  int64_t archived_at = 0;
  std::vector<Digest> segments;
  RecordLocation record;  // the message record in its pack
};

// A provenance link with its place in the order links were made.
struct LinkRow {
  int64_t rowid = 0;  // ascending in the order of insertion
  Digest message{};
  Provenance provenance;
};

struct CatalogTotals {
  uint64_t messages = 0;
  uint64_t raw_bytes = 0;          // sum of canonical message sizes
  uint64_t segments = 0;
  uint64_t segment_raw_bytes = 0;  // sum of unique segments' plain sizes
  uint64_t segment_stored_bytes = 0;  // their records in the packs (each block once)
  uint64_t provenance_links = 0;
  uint64_t dictionaries = 0;
};

class Catalog {
 public:
  // Opens or creates the catalog at `path`, in WAL mode with synchronous=FULL,
  // and brings its schema up to date. kUnsupported for a newer schema.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path);

  Status Begin();
  Status Commit();
  void Rollback();

  Status InsertSegment(const Digest& hash, const SegmentLocation& location);
  Result<std::optional<SegmentLocation>> FindSegment(const Digest& hash);

  // Ingest's dedup lookups ("is this segment / message stored?"), answered by
  // a second connection from a read transaction kept open until EndLookups():
  // in WAL mode every statement outside a transaction takes and drops SQLite's
  // file locks (several fcntl calls) on its own, and ingest asks several times
  // per message. The answers are as of the transaction's start: the writer
  // calls EndLookups() when it commits, so that later lookups see its rows
  // (and its checkpoint is not held back by this reader).
  Result<bool> LookupSegment(const Digest& hash);
  Result<bool> LookupMessage(const Digest& id);
  void EndLookups();

  // Inserts a message (or finds the existing one) and returns its seq.
  Result<int64_t> InsertMessage(const MessageRecord& message, const RecordLocation& location);
  Result<std::optional<MessageRow>> FindMessage(const Digest& id);
  // Up to `limit` ids starting with the hex `prefix` (any length, either case).
  Result<std::vector<Digest>> FindByPrefix(const std::string& prefix, int limit);
  // True when the link was new. A POP3 link also enters the UIDL ledger (the
  // first message seen under an (account, UIDL) wins).
  Result<bool> InsertProvenance(int64_t message_seq, const Provenance& provenance);
  // Applies a ledger event (LedgerEventKind); unknown kinds and rows that do not
  // exist are ignored, so replaying an event twice changes nothing.
  Status ApplyEvent(const EventRecord& event);
  // The ledger of one account, ordered by UIDL.
  Result<std::vector<LedgerEntry>> LedgerOf(std::string_view account);
  // Copies OperationalTables() from the catalog at `old_path` (same columns by
  // name) into this one, in one transaction. REQUIRES: this catalog holds no
  // rows in those tables, unless `replace` (then its rows are deleted first).
  Status CarryOverOperationalData(const std::string& old_path, bool replace = false);
  Result<std::vector<Provenance>> ProvenanceOf(int64_t message_seq);
  // True when message `id` already has exactly this provenance link.
  Result<bool> HasProvenance(const Digest& id, const Provenance& provenance);
  // Up to `limit` links with rowid > `after_rowid`, by rowid: the links made
  // since the search index last looked (search/late_account_links.h). A
  // rebuilt catalog numbers its links anew.
  Result<std::vector<LinkRow>> LinksAfter(int64_t after_rowid, size_t limit);
  // The link `rowid` (nullopt when there is none), and the newest link.
  Result<std::optional<LinkRow>> LinkAt(int64_t rowid);
  Result<std::optional<LinkRow>> LastLink();
  Status ForEachMessage(const std::function<Status(const MessageRow&)>& visit);
  // One page of the arrival order: up to `limit` messages with seq > `after_seq`,
  // by seq (one indexed range query, however many messages come before).
  Result<std::vector<MessageRow>> MessagesAfter(int64_t after_seq, size_t limit);
  // How many messages have seq <= `seq`.
  Result<uint64_t> CountUpTo(int64_t seq);

  Status InsertDictionary(uint32_t id, uint32_t sample_count, const RecordLocation& location);
  // Dictionary id → location of its record.
  Result<std::map<uint32_t, RecordLocation>> Dictionaries();
  // Locations of up to `limit` random segments of at most `max_raw` bytes.
  Result<std::vector<SegmentLocation>> SampleSmallSegments(int limit, uint32_t max_raw);
  Result<uint64_t> CountSmallSegments(uint32_t max_raw);

  // Offset up to which pack `pack` is known to be committed.
  Status SetWatermark(uint32_t pack, uint64_t offset);
  Result<std::map<uint32_t, uint64_t>> Watermarks();

  Result<CatalogTotals> Totals();

  // How many messages there are and the id of the newest (highest seq), in one
  // cheap query: what the search index checks its queue position against
  // before listing anything (search/indexer.cc).
  struct MessageTail {
    uint64_t count = 0;
    std::optional<Digest> last_id;  // nullopt when there are no messages
  };
  Result<MessageTail> Tail();

  SqliteDatabase& database() { return db_; }

 private:
  Catalog(SqliteDatabase db, SqliteDatabase lookup_db) : db_(std::move(db)), lookup_db_(std::move(lookup_db)) {}
  Status Prepare();
  // Runs `lookup` (a prepared SELECT of lookup_db_ with its key bound) inside
  // the open lookup transaction, beginning one when none is open.
  Result<bool> Lookup(SqliteStatement& lookup, const Digest& key);

  SqliteDatabase db_;
  SqliteStatement insert_segment_, find_segment_, insert_message_, find_message_,
      insert_provenance_, insert_ledger_, set_watermark_;
  SqliteDatabase lookup_db_;
  SqliteStatement lookup_segment_, lookup_message_;
  bool lookup_open_ = false;
};

// Applies the schema migrations to `db` (exposed for tests of the migrations).
Status MigrateCatalog(SqliteDatabase& db);

}  // namespace mailvault
