// The catalog's SQL schema: every table and every migration, in one place.
#include <string>
#include <vector>

#include "archive/catalog.h"

namespace mailvault {
namespace {

// Migration N (1-based) takes the schema from version N-1 to N. Never edit a
// migration once released; add a new one.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: the archive's derived state.
      R"sql(
        CREATE TABLE packs(
          id INTEGER PRIMARY KEY,
          watermark INTEGER NOT NULL           -- everything before it is committed
        );
        CREATE TABLE dictionaries(
          id INTEGER PRIMARY KEY,
          pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
          sample_count INTEGER NOT NULL
        );
        CREATE TABLE segments(
          hash BLOB PRIMARY KEY,               -- SHA-256 of the plain bytes
          pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
          raw_length INTEGER NOT NULL,
          dictionary INTEGER NOT NULL          -- 0: none
        ) WITHOUT ROWID;
        CREATE TABLE messages(
          seq INTEGER PRIMARY KEY,             -- arrival order (index queue)
          id BLOB NOT NULL UNIQUE,             -- SHA-256 of the canonical bytes
          raw_length INTEGER NOT NULL,
          archived_at INTEGER NOT NULL,        -- unix seconds
          segments BLOB NOT NULL,              -- concatenated 32-byte segment hashes
          pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL
        );
        CREATE TABLE provenance(
          message INTEGER NOT NULL REFERENCES messages(seq),
          kind INTEGER NOT NULL,               -- 1 import, 2 pop3
          source TEXT NOT NULL,                -- file path or account name
          key TEXT NOT NULL,                   -- mbox offset or UIDL
          seen_at INTEGER NOT NULL,
          UNIQUE(kind, source, key, message)
        );
        CREATE INDEX provenance_by_message ON provenance(message);
      )sql",
  };
  return kMigrations;
}

}  // namespace

int CatalogSchemaVersion() { return static_cast<int>(Migrations().size()); }

Status MigrateCatalog(SqliteDatabase& db) {
  MV_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version"));
  const auto& migrations = Migrations();
  if (version > static_cast<int64_t>(migrations.size())) {
    return Status::Unsupported("catalog schema version " + std::to_string(version) +
                               " is newer than this mailvault (" +
                               std::to_string(migrations.size()) + "); upgrade mailvault");
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    MV_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    Status s = db.Exec(migrations[v]);
    if (s.ok()) s = db.Exec("PRAGMA user_version = " + std::to_string(v + 1));
    if (s.ok()) s = db.Exec("COMMIT");
    if (!s.ok()) {
      db.Exec("ROLLBACK").IgnoreError();
      return s.WithContext("catalog migration to version " + std::to_string(v + 1));
    }
  }
  return Status::Ok();
}

}  // namespace mailvault
