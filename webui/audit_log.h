// AuditLog: who read or changed what, through the web UI, the API or the CLI
// (ARCHITECTURE.md invariant 7). Kept in the catalog's `audit_log` table
// (operational data: a rebuild carries it over).
//
// Append-only and tamper-evident: entry N stores prev_hash = hash of entry N-1
// (32 zero bytes for entry 1) and
//   hash = SHA-256( "mailvault-audit-v1" || prev_hash || field* )
// where each field (id, at, user, address, action, target, outcome, detail) is
// a 4-byte big-endian length followed by its bytes (numbers as decimal text).
// Changing, deleting or reordering any entry breaks the chain at that entry or
// the next one, and Verify() names the first entry that does not check out.
// (Cutting entries off the end cannot be seen from the chain alone; the id of
// the last entry is reported so that it can be compared with a copy kept
// elsewhere.)
//
// Durability (group commit): Append returns only once its entry is committed
// to the catalog (SQLite WAL, synchronous=FULL: fsynced), so a caller that
// answers after Append has returned can never have its entry lost by a crash.
// Appends from concurrent threads are grouped: while one transaction is being
// committed, the entries that arrive queue up, and the next caller to find no
// commit in progress writes all of them (in arrival order, chained) in one
// transaction with one fsync, then wakes their callers. No timer: the wait is
// at most one commit in progress plus the commit of one's own group, and a
// lone caller commits at once. A group either commits whole or not at all
// (then every caller in it gets the error), so the chain never has a gap.
//
// Thread-safety: thread-safe; groups are serialised by Archive::WithCatalog
// and, across processes (CLI next to the daemon), by an IMMEDIATE transaction.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "base/status.h"

namespace mailvault {

struct AuditEntry {
  int64_t id = 0;       // set by Append
  int64_t at = 0;       // unix seconds; set by Append from the clock
  std::string user;     // who ('' before login)
  std::string address;  // client address, or "cli"
  std::string action;   // login, logout, search, view, raw, attachment, export, user.add, ...
  std::string target;   // the query, message id, user or account acted on
  std::string outcome;  // ok, denied, failed
  std::string detail;   // anything else worth keeping (JSON from the API)
  Digest prev_hash{};
  Digest hash{};
};

struct AuditQuery {
  int64_t before_id = 0;  // entries with id < before_id (0: from the newest)
  int limit = 100;        // newest first
  std::string user;       // only this user ('' any)
  std::string action;     // only this action ('' any)
};

struct AuditVerifyReport {
  uint64_t entries = 0;   // entries checked
  int64_t last_id = 0;    // id of the newest entry (0: empty log)
  bool ok = true;
  int64_t first_broken_id = 0;  // 0 when ok
  std::string problem;          // what is wrong with it
};

class AuditLog {
 public:
  AuditLog(Archive* archive, const Clock* clock = nullptr);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `entry` (id, at and hashes are assigned here) and returns its id
  // once the entry is durable (see "Durability" above).
  Result<int64_t> Append(AuditEntry entry);
  // Newest first.
  Result<std::vector<AuditEntry>> List(const AuditQuery& query);
  // Re-derives every hash from the first entry on.
  Result<AuditVerifyReport> Verify();

  // The hash of `entry` as Append computes it (exposed for tests).
  static Digest HashOf(const AuditEntry& entry);

 private:
  // One caller's entry waiting in the queue (lives on the caller's stack).
  struct Pending {
    AuditEntry* entry;
    bool done = false;
    Status status;
  };
  // Writes `group` in one transaction: ids, prev_hash and hash assigned in order.
  Status WriteGroup(const std::vector<Pending*>& group);

  static constexpr size_t kMaxGroup = 1024;  // entries per transaction

  Archive* archive_;
  const Clock* clock_;
  std::mutex mutex_;  // guards queue_ and committing_
  std::condition_variable committed_;
  std::deque<Pending*> queue_;
  bool committing_ = false;
};

}  // namespace mailvault
