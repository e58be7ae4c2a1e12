#include "archive/catalog.h"

#include <algorithm>
#include <cstring>

namespace mailvault {
namespace {

std::string JoinDigests(const std::vector<Digest>& digests) {
  std::string out;
  out.reserve(digests.size() * 32);
  for (const Digest& d : digests) out.append(AsBytes(d));
  return out;
}

Digest DigestFromBlob(std::string_view blob) {
  Digest d{};
  std::memcpy(d.data(), blob.data(), std::min<size_t>(blob.size(), 32));
  return d;
}

constexpr const char* kMessageColumns =
    "seq, id, raw_length, archived_at, segments, pack, offset, length";

MessageRow ReadMessageRow(const SqliteStatement& st) {
  MessageRow row;
  row.seq = st.ColumnInt(0);
  row.id = DigestFromBlob(st.ColumnBlob(1));
  row.raw_length = static_cast<uint64_t>(st.ColumnInt(2));
  row.archived_at = st.ColumnInt(3);
  std::string_view segs = st.ColumnBlob(4);
  for (size_t i = 0; i + 32 <= segs.size(); i += 32) row.segments.push_back(DigestFromBlob(segs.substr(i, 32)));
  row.record.pack = static_cast<uint32_t>(st.ColumnInt(5));
  row.record.offset = static_cast<uint64_t>(st.ColumnInt(6));
  row.record.length = static_cast<uint32_t>(st.ColumnInt(7));
  return row;
}

constexpr const char* kSegmentColumns = "pack, offset, length, raw_length, dictionary, block_offset";

SegmentLocation ReadSegmentLocation(const SqliteStatement& st) {
  SegmentLocation l;
  l.record.pack = static_cast<uint32_t>(st.ColumnInt(0));
  l.record.offset = static_cast<uint64_t>(st.ColumnInt(1));
  l.record.length = static_cast<uint32_t>(st.ColumnInt(2));
  l.raw_length = static_cast<uint32_t>(st.ColumnInt(3));
  l.dictionary = static_cast<uint32_t>(st.ColumnInt(4));
  l.block_offset = st.ColumnInt(5);
  return l;
}

}  // namespace

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path) {
  MV_ASSIGN_OR_RETURN(SqliteDatabase db, SqliteDatabase::Open(path, /*create=*/true));
  MV_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL").WithContext(path));
  // FULL: a commit that returned survives a power loss, not only a process crash.
  MV_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  MV_RETURN_IF_ERROR(MigrateCatalog(db).WithContext(path));
  MV_ASSIGN_OR_RETURN(SqliteDatabase lookup_db, SqliteDatabase::Open(path, /*create=*/false));
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(db), std::move(lookup_db)));
  MV_RETURN_IF_ERROR(catalog->Prepare());
  return catalog;
}

Status Catalog::Prepare() {
  MV_ASSIGN_OR_RETURN(insert_segment_,
                      db_.Prepare("INSERT OR IGNORE INTO segments(hash, pack, offset, length, "
                                  "raw_length, dictionary, block_offset) VALUES(?,?,?,?,?,?,?)"));
  MV_ASSIGN_OR_RETURN(lookup_segment_, lookup_db_.Prepare("SELECT 1 FROM segments WHERE hash=?"));
  MV_ASSIGN_OR_RETURN(lookup_message_, lookup_db_.Prepare("SELECT 1 FROM messages WHERE id=?"));
  MV_ASSIGN_OR_RETURN(find_segment_, db_.Prepare(std::string("SELECT ") + kSegmentColumns +
                                                 " FROM segments WHERE hash=?"));
  MV_ASSIGN_OR_RETURN(insert_message_,
                      db_.Prepare("INSERT OR IGNORE INTO messages(id, raw_length, archived_at, "
                                  "segments, pack, offset, length) VALUES(?,?,?,?,?,?,?)"));
  MV_ASSIGN_OR_RETURN(find_message_, db_.Prepare(std::string("SELECT ") + kMessageColumns +
                                                 " FROM messages WHERE id=?"));
  MV_ASSIGN_OR_RETURN(insert_provenance_,
                      db_.Prepare("INSERT OR IGNORE INTO provenance(message, kind, source, key, "
                                  "seen_at) VALUES(?,?,?,?,?)"));
  MV_ASSIGN_OR_RETURN(insert_ledger_,
                      db_.Prepare("INSERT OR IGNORE INTO pop3_ledger(account, uidl, message, "
                                  "first_seen) VALUES(?,?,?,?)"));
  MV_ASSIGN_OR_RETURN(set_watermark_,
                      db_.Prepare("INSERT INTO packs(id, watermark) VALUES(?,?) "
                                  "ON CONFLICT(id) DO UPDATE SET watermark=excluded.watermark"));
  return Status::Ok();
}

Status Catalog::Begin() { return db_.Exec("BEGIN IMMEDIATE"); }
Status Catalog::Commit() { return db_.Exec("COMMIT"); }
void Catalog::Rollback() { db_.Exec("ROLLBACK").IgnoreError(); }

Status Catalog::InsertSegment(const Digest& hash, const SegmentLocation& l) {
  insert_segment_.BindBlob(1, AsBytes(hash))
      .Bind(2, static_cast<int64_t>(l.record.pack))
      .Bind(3, static_cast<int64_t>(l.record.offset))
      .Bind(4, static_cast<int64_t>(l.record.length))
      .Bind(5, static_cast<int64_t>(l.raw_length))
      .Bind(6, static_cast<int64_t>(l.dictionary))
      .Bind(7, l.block_offset);
  return insert_segment_.Run();
}

Result<std::optional<SegmentLocation>> Catalog::FindSegment(const Digest& hash) {
  find_segment_.BindBlob(1, AsBytes(hash));
  MV_ASSIGN_OR_RETURN(bool row, find_segment_.Step());
  std::optional<SegmentLocation> out;
  if (row) out = ReadSegmentLocation(find_segment_);
  find_segment_.Reset();
  return out;
}

Result<bool> Catalog::Lookup(SqliteStatement& lookup, const Digest& key) {
  if (!lookup_open_) {
    MV_RETURN_IF_ERROR(lookup_db_.Exec("BEGIN"));
    lookup_open_ = true;
  }
  lookup.BindBlob(1, AsBytes(key));
  Result<bool> row = lookup.Step();
  lookup.Reset();
  if (!row.ok()) EndLookups();
  return row;
}

Result<bool> Catalog::LookupSegment(const Digest& hash) { return Lookup(lookup_segment_, hash); }
Result<bool> Catalog::LookupMessage(const Digest& id) { return Lookup(lookup_message_, id); }

void Catalog::EndLookups() {
  if (!lookup_open_) return;
  lookup_open_ = false;
  lookup_db_.Exec("COMMIT").IgnoreError();
}

Result<int64_t> Catalog::InsertMessage(const MessageRecord& m, const RecordLocation& location) {
  insert_message_.BindBlob(1, AsBytes(m.id))
      .Bind(2, static_cast<int64_t>(m.raw_length))
      .Bind(3, m.archived_at)
      .BindBlob(4, JoinDigests(m.segments))
      .Bind(5, static_cast<int64_t>(location.pack))
      .Bind(6, static_cast<int64_t>(location.offset))
      .Bind(7, static_cast<int64_t>(location.length));
  MV_RETURN_IF_ERROR(insert_message_.Run());
  // Inserted: seq is the new rowid (no lookup); ignored: the row that was there.
  if (db_.Changes() == 1) return static_cast<int64_t>(sqlite3_last_insert_rowid(db_.handle()));
  MV_ASSIGN_OR_RETURN(std::optional<MessageRow> row, FindMessage(m.id));
  if (!row) return Status::Internal("message vanished right after insert");
  return row->seq;
}

Result<std::optional<MessageRow>> Catalog::FindMessage(const Digest& id) {
  find_message_.BindBlob(1, AsBytes(id));
  MV_ASSIGN_OR_RETURN(bool row, find_message_.Step());
  std::optional<MessageRow> out;
  if (row) out = ReadMessageRow(find_message_);
  find_message_.Reset();
  return out;
}

Result<std::vector<Digest>> Catalog::FindByPrefix(const std::string& prefix, int limit) {
  if (prefix.empty() || prefix.size() > 64 || !IsHex(prefix)) {
    return Status::InvalidArgument("not a hex message id prefix: '" + prefix + "'");
  }
  // Range [low, high] over the blob ordering: pad the prefix with 0s and with fs.
  std::string low_hex = prefix + std::string(64 - prefix.size(), '0');
  std::string high_hex = prefix + std::string(64 - prefix.size(), 'f');
  Digest low = *DigestFromHex(low_hex);
  Digest high = *DigestFromHex(high_hex);
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("SELECT id FROM messages WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?"));
  st.BindBlob(1, AsBytes(low)).BindBlob(2, AsBytes(high)).Bind(3, static_cast<int64_t>(limit));
  std::vector<Digest> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(DigestFromBlob(st.ColumnBlob(0)));
  }
  return out;
}

Result<bool> Catalog::InsertProvenance(int64_t message_seq, const Provenance& p) {
  insert_provenance_.Bind(1, message_seq)
      .Bind(2, static_cast<int64_t>(p.kind))
      .Bind(3, p.source)
      .Bind(4, p.key)
      .Bind(5, p.seen_at);
  MV_RETURN_IF_ERROR(insert_provenance_.Run());
  const bool inserted = db_.Changes() > 0;
  if (p.kind == ProvenanceKind::kPop3) {
    insert_ledger_.Bind(1, p.source).Bind(2, p.key).Bind(3, message_seq).Bind(4, p.seen_at);
    MV_RETURN_IF_ERROR(insert_ledger_.Run());
  }
  return inserted;
}

Status Catalog::ApplyEvent(const EventRecord& e) {
  const char* sql = nullptr;
  switch (static_cast<LedgerEventKind>(e.kind)) {
    case LedgerEventKind::kUidlRemoved:
      sql = "UPDATE pop3_ledger SET removed_at=coalesce(removed_at, ?1) WHERE account=?2 AND uidl=?3";
      break;
    case LedgerEventKind::kDeletedByPolicy:
      sql = "UPDATE pop3_ledger SET deleted_at=coalesce(deleted_at, ?1), "
            "removed_at=coalesce(removed_at, ?1) WHERE account=?2 AND uidl=?3";
      break;
    case LedgerEventKind::kUidlSeenAgain:
      sql = "UPDATE pop3_ledger SET removed_at=NULL WHERE account=?2 AND uidl=?3";
      break;
  }
  if (sql == nullptr) return Status::Ok();  // a kind from a newer mailvault: not ours to apply
  MV_ASSIGN_OR_RETURN(SqliteStatement st, db_.Prepare(sql));
  st.Bind(1, e.at).Bind(2, e.source).Bind(3, e.key);
  return st.Run();
}

Result<std::vector<LedgerEntry>> Catalog::LedgerOf(std::string_view account) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("SELECT l.uidl, l.message, m.id, l.first_seen, l.removed_at, "
                                  "l.deleted_at FROM pop3_ledger l JOIN messages m ON "
                                  "m.seq=l.message WHERE l.account=? ORDER BY l.uidl"));
  st.Bind(1, account);
  std::vector<LedgerEntry> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    LedgerEntry e;
    e.uidl = std::string(st.ColumnText(0));
    e.message_seq = st.ColumnInt(1);
    e.message = DigestFromBlob(st.ColumnBlob(2));
    e.first_seen = st.ColumnInt(3);
    if (!st.ColumnIsNull(4)) e.removed_at = st.ColumnInt(4);
    if (!st.ColumnIsNull(5)) e.deleted_at = st.ColumnInt(5);
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

Result<std::vector<std::string>> ColumnsOf(SqliteDatabase& db, const std::string& schema,
                                           const std::string& table) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db.Prepare("SELECT name FROM pragma_table_info(?1, ?2)"));
  st.Bind(1, table).Bind(2, schema);
  std::vector<std::string> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.emplace_back(st.ColumnText(0));
  }
  return out;
}

}  // namespace

Status Catalog::CarryOverOperationalData(const std::string& old_path, bool replace) {
  MV_ASSIGN_OR_RETURN(SqliteStatement attach, db_.Prepare("ATTACH DATABASE ? AS old"));
  attach.Bind(1, old_path);
  MV_RETURN_IF_ERROR(attach.Run().WithContext("open the old catalog " + old_path));
  Status s = Begin();
  if (replace) {
    // Children before the rows they refer to.
    const std::vector<std::string>& tables = OperationalTables();
    for (auto it = tables.rbegin(); s.ok() && it != tables.rend(); ++it) s = db_.Exec("DELETE FROM main." + *it);
  }
  for (const std::string& table : OperationalTables()) {
    if (!s.ok()) break;
    // Columns by name: an older catalog may lack columns a newer schema added.
    auto mine = ColumnsOf(db_, "main", table);
    auto theirs = ColumnsOf(db_, "old", table);
    if (!mine.ok() || !theirs.ok()) {
      s = !mine.ok() ? mine.status() : theirs.status();
      break;
    }
    std::string columns;
    for (const std::string& c : *mine) {
      if (std::find(theirs->begin(), theirs->end(), c) == theirs->end()) continue;
      columns += (columns.empty() ? "\"" : ", \"") + c + "\"";
    }
    if (columns.empty()) continue;  // the old catalog predates the table
    s = db_.Exec("INSERT INTO main." + table + "(" + columns + ") SELECT " + columns +
                 " FROM old." + table);
  }
  if (s.ok()) {
    s = Commit();
  } else {
    Rollback();
  }
  db_.Exec("DETACH DATABASE old").IgnoreError();
  return s.WithContext("carry over accounts and run history from " + old_path);
}

Result<std::vector<Provenance>> Catalog::ProvenanceOf(int64_t message_seq) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("SELECT kind, source, key, seen_at FROM provenance WHERE "
                                  "message=? ORDER BY seen_at, rowid"));
  st.Bind(1, message_seq);
  std::vector<Provenance> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Provenance p;
    p.kind = static_cast<ProvenanceKind>(st.ColumnInt(0));
    p.source = std::string(st.ColumnText(1));
    p.key = std::string(st.ColumnText(2));
    p.seen_at = st.ColumnInt(3);
    out.push_back(std::move(p));
  }
  return out;
}

Result<bool> Catalog::HasProvenance(const Digest& id, const Provenance& p) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("SELECT 1 FROM provenance JOIN messages ON provenance.message=messages.seq "
                                  "WHERE messages.id=? AND kind=? AND source=? AND key=?"));
  st.BindBlob(1, AsBytes(id)).Bind(2, static_cast<int64_t>(p.kind)).Bind(3, p.source).Bind(4, p.key);
  return st.Step();
}

namespace {

constexpr const char* kLinkSelect =
    "SELECT provenance.rowid, messages.id, kind, source, key, seen_at FROM provenance "
    "JOIN messages ON provenance.message=messages.seq ";

Result<std::vector<LinkRow>> ReadLinks(SqliteStatement& st) {
  std::vector<LinkRow> links;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    LinkRow link;
    link.rowid = st.ColumnInt(0);
    link.message = DigestFromBlob(st.ColumnBlob(1));
    link.provenance.kind = static_cast<ProvenanceKind>(st.ColumnInt(2));
    link.provenance.source = std::string(st.ColumnText(3));
    link.provenance.key = std::string(st.ColumnText(4));
    link.provenance.seen_at = st.ColumnInt(5);
    links.push_back(std::move(link));
  }
  return links;
}

Result<std::optional<LinkRow>> FirstLink(SqliteStatement& st) {
  MV_ASSIGN_OR_RETURN(std::vector<LinkRow> links, ReadLinks(st));
  if (links.empty()) return std::optional<LinkRow>();
  return std::optional<LinkRow>(std::move(links.front()));
}

}  // namespace

Result<std::vector<LinkRow>> Catalog::LinksAfter(int64_t after_rowid, size_t limit) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare(std::string(kLinkSelect) +
                                  "WHERE provenance.rowid>? ORDER BY provenance.rowid LIMIT ?"));
  st.Bind(1, after_rowid).Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  return ReadLinks(st);
}

Result<std::optional<LinkRow>> Catalog::LinkAt(int64_t rowid) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare(std::string(kLinkSelect) + "WHERE provenance.rowid=?"));
  st.Bind(1, rowid);
  return FirstLink(st);
}

Result<std::optional<LinkRow>> Catalog::LastLink() {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare(std::string(kLinkSelect) +
                                  "ORDER BY provenance.rowid DESC LIMIT 1"));
  return FirstLink(st);
}

Result<std::vector<MessageRow>> Catalog::MessagesAfter(int64_t after_seq, size_t limit) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare(std::string("SELECT ") + kMessageColumns +
                                  " FROM messages WHERE seq>? ORDER BY seq LIMIT ?"));
  st.Bind(1, after_seq).Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<MessageRow> page;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    page.push_back(ReadMessageRow(st));
  }
  return page;
}

Result<uint64_t> Catalog::CountUpTo(int64_t seq) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st, db_.Prepare("SELECT count(*) FROM messages WHERE seq<=?"));
  st.Bind(1, seq);
  MV_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint64_t>(st.ColumnInt(0)) : 0;
}

Status Catalog::ForEachMessage(const std::function<Status(const MessageRow&)>& visit) {
  // Paged by seq so that no statement stays open while `visit` runs.
  int64_t after = 0;
  for (;;) {
    MV_ASSIGN_OR_RETURN(std::vector<MessageRow> page, MessagesAfter(after, 1000));
    if (page.empty()) return Status::Ok();
    for (const MessageRow& row : page) MV_RETURN_IF_ERROR(visit(row));
    after = page.back().seq;
  }
}

Status Catalog::InsertDictionary(uint32_t id, uint32_t sample_count, const RecordLocation& l) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("INSERT OR IGNORE INTO dictionaries(id, pack, offset, length, "
                                  "sample_count) VALUES(?,?,?,?,?)"));
  st.Bind(1, static_cast<int64_t>(id))
      .Bind(2, static_cast<int64_t>(l.pack))
      .Bind(3, static_cast<int64_t>(l.offset))
      .Bind(4, static_cast<int64_t>(l.length))
      .Bind(5, static_cast<int64_t>(sample_count));
  return st.Run();
}

Result<std::map<uint32_t, RecordLocation>> Catalog::Dictionaries() {
  MV_ASSIGN_OR_RETURN(SqliteStatement st, db_.Prepare("SELECT id, pack, offset, length FROM dictionaries"));
  std::map<uint32_t, RecordLocation> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[static_cast<uint32_t>(st.ColumnInt(0))] =
        RecordLocation{static_cast<uint32_t>(st.ColumnInt(1)), static_cast<uint64_t>(st.ColumnInt(2)),
                       static_cast<uint32_t>(st.ColumnInt(3))};
  }
  return out;
}

Result<std::vector<SegmentLocation>> Catalog::SampleSmallSegments(int limit, uint32_t max_raw) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare(std::string("SELECT ") + kSegmentColumns +
                                  " FROM segments WHERE raw_length<=? ORDER BY random() LIMIT ?"));
  st.Bind(1, static_cast<int64_t>(max_raw)).Bind(2, static_cast<int64_t>(limit));
  std::vector<SegmentLocation> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadSegmentLocation(st));
  }
  return out;
}

Result<uint64_t> Catalog::CountSmallSegments(uint32_t max_raw) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st, db_.Prepare("SELECT count(*) FROM segments WHERE raw_length<=?"));
  st.Bind(1, static_cast<int64_t>(max_raw));
  MV_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint64_t>(st.ColumnInt(0)) : 0;
}

Status Catalog::SetWatermark(uint32_t pack, uint64_t offset) {
  set_watermark_.Bind(1, static_cast<int64_t>(pack)).Bind(2, static_cast<int64_t>(offset));
  return set_watermark_.Run();
}

Result<std::map<uint32_t, uint64_t>> Catalog::Watermarks() {
  MV_ASSIGN_OR_RETURN(SqliteStatement st, db_.Prepare("SELECT id, watermark FROM packs"));
  std::map<uint32_t, uint64_t> out;
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[static_cast<uint32_t>(st.ColumnInt(0))] = static_cast<uint64_t>(st.ColumnInt(1));
  }
  return out;
}

Result<Catalog::MessageTail> Catalog::Tail() {
  MessageTail tail;
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      db_.Prepare("SELECT count(*), (SELECT id FROM messages ORDER BY seq DESC "
                                  "LIMIT 1) FROM messages"));
  MV_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    tail.count = static_cast<uint64_t>(st.ColumnInt(0));
    if (tail.count > 0) tail.last_id = DigestFromBlob(st.ColumnBlob(1));
  }
  return tail;
}

Result<CatalogTotals> Catalog::Totals() {
  CatalogTotals t;
  MV_ASSIGN_OR_RETURN(SqliteStatement m, db_.Prepare("SELECT count(*), total(raw_length) FROM messages"));
  MV_ASSIGN_OR_RETURN(bool row, m.Step());
  if (row) {
    t.messages = static_cast<uint64_t>(m.ColumnInt(0));
    t.raw_bytes = static_cast<uint64_t>(m.ColumnInt(1));
  }
  MV_ASSIGN_OR_RETURN(SqliteStatement s,
                      db_.Prepare("SELECT count(*), total(raw_length), "
                                  "total(CASE WHEN block_offset < 0 THEN length ELSE 0 END) + "
                                  "(SELECT total(length) FROM (SELECT DISTINCT pack, offset, length "
                                  "FROM segments WHERE block_offset >= 0)) FROM segments"));
  MV_ASSIGN_OR_RETURN(row, s.Step());
  if (row) {
    t.segments = static_cast<uint64_t>(s.ColumnInt(0));
    t.segment_raw_bytes = static_cast<uint64_t>(s.ColumnInt(1));
    t.segment_stored_bytes = static_cast<uint64_t>(s.ColumnInt(2));
  }
  MV_ASSIGN_OR_RETURN(int64_t links, db_.QueryInt("SELECT count(*) FROM provenance"));
  t.provenance_links = static_cast<uint64_t>(links);
  MV_ASSIGN_OR_RETURN(int64_t dicts, db_.QueryInt("SELECT count(*) FROM dictionaries"));
  t.dictionaries = static_cast<uint64_t>(dicts);
  return t;
}

}  // namespace mailvault
