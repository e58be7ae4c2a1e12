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
      // 2: POP3 collection. pop3_ledger is derived (from pop3 provenance links
      // and ledger event records, rebuilt by replay); accounts, collection_runs
      // and run_items are operational data that a rebuild carries over from the
      // old catalog (OperationalTables below).
      R"sql(
        CREATE TABLE pop3_ledger(
          account TEXT NOT NULL,               -- account name (provenance source)
          uidl TEXT NOT NULL,                  -- UIDL, or the fallback key without UIDL
          message INTEGER NOT NULL REFERENCES messages(seq),
          first_seen INTEGER NOT NULL,         -- unix seconds: when we archived it
          removed_at INTEGER,                  -- gone from the server (event 1)
          deleted_at INTEGER,                  -- deleted by us under the policy (event 2)
          PRIMARY KEY(account, uidl)
        );
        INSERT OR IGNORE INTO pop3_ledger(account, uidl, message, first_seen)
          SELECT source, key, message, min(seen_at) FROM provenance WHERE kind=2
          GROUP BY source, key;
        CREATE TABLE accounts(
          name TEXT PRIMARY KEY,
          host TEXT NOT NULL,
          port INTEGER NOT NULL,
          user TEXT NOT NULL,
          password BLOB NOT NULL,              -- AES-256-GCM sealed (collector/secret_box.h)
          tls TEXT NOT NULL,                   -- pop3s, starttls, none
          ca TEXT NOT NULL,                    -- CA file; '' = system store
          fingerprint TEXT NOT NULL,           -- pinned SHA-256; '' = none
          policy TEXT NOT NULL,                -- keep, delete-after:N-days, delete-when-archived
          schedule TEXT NOT NULL,              -- cron; '' = the [collector] default
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE collection_runs(
          id INTEGER PRIMARY KEY,
          account TEXT NOT NULL,
          started_at INTEGER NOT NULL,
          ended_at INTEGER,                    -- NULL while running (or killed)
          state TEXT NOT NULL,                 -- running, ok, failed, interrupted
          seen INTEGER NOT NULL DEFAULT 0,     -- UIDLs on the server
          archived_before INTEGER NOT NULL DEFAULT 0,
          new INTEGER NOT NULL DEFAULT 0,
          duplicate INTEGER NOT NULL DEFAULT 0,
          failed INTEGER NOT NULL DEFAULT 0,
          skipped INTEGER NOT NULL DEFAULT 0,
          deleted INTEGER NOT NULL DEFAULT 0,
          removed INTEGER NOT NULL DEFAULT 0,  -- UIDLs newly gone from the server
          bytes INTEGER NOT NULL DEFAULT 0,
          complete INTEGER NOT NULL DEFAULT 0, -- every UIDL accounted for
          error TEXT                           -- NULL: none
        );
        CREATE INDEX collection_runs_by_account ON collection_runs(account, id);
        CREATE TABLE run_items(
          run INTEGER NOT NULL,                -- collection_runs.id
          uidl TEXT NOT NULL,
          number INTEGER NOT NULL,             -- message number in that session
          octets INTEGER NOT NULL,             -- LIST size
          outcome TEXT NOT NULL,               -- failed, skipped
          reason TEXT NOT NULL
        );
        CREATE INDEX run_items_by_run ON run_items(run);
      )sql",
      // 3: the web UI's users, their granted accounts and the audit log. All
      // operational (OperationalTables below): a rebuild carries them over.
      // Sessions live in the serving process's memory and are not stored.
      R"sql(
        CREATE TABLE users(
          name TEXT PRIMARY KEY,
          role TEXT NOT NULL,                  -- admin, auditor, user
          password_hash TEXT NOT NULL,         -- argon2id encoded string (webui/password.h)
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE user_accounts(
          user TEXT NOT NULL,                  -- users.name
          account TEXT NOT NULL,               -- accounts.name (may outlive the account)
          PRIMARY KEY(user, account)
        ) WITHOUT ROWID;
        CREATE TABLE audit_log(
          id INTEGER PRIMARY KEY,              -- 1, 2, 3, ... with no gaps
          at INTEGER NOT NULL,                 -- unix seconds
          user TEXT NOT NULL,                  -- '' when nobody is logged in
          address TEXT NOT NULL,               -- client address, or 'cli'
          action TEXT NOT NULL,                -- search, view, download, export, login, ...
          target TEXT NOT NULL,                -- the query, message id, user or account
          outcome TEXT NOT NULL,               -- ok, denied, failed
          detail TEXT NOT NULL,                -- free text (JSON for the API)
          prev_hash BLOB NOT NULL,             -- hash of entry id-1 (32 zero bytes for id 1)
          hash BLOB NOT NULL                   -- SHA-256 over prev_hash and the fields above
        );
      )sql",
      // 4: small segments stored together in block records (pack record type 8).
      // pack/offset/length of such a segment name its block record; block_offset
      // is where its plain bytes start in the decompressed block (raw_length long).
      // -1: the record is the segment itself (segment and delta records).
      R"sql(
        ALTER TABLE segments ADD COLUMN block_offset INTEGER NOT NULL DEFAULT -1;
      )sql",
  };
  return kMigrations;
}

}  // namespace

int CatalogSchemaVersion() { return static_cast<int>(Migrations().size()); }

const std::vector<std::string>& OperationalTables() {
  static const std::vector<std::string> kTables = {"accounts",      "collection_runs", "run_items",
                                                    "users",         "user_accounts",   "audit_log"};
  return kTables;
}

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
