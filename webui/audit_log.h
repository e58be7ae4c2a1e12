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
// Thread-safety: thread-safe; appends are serialised by Archive::WithCatalog
// and, across processes (CLI next to the daemon), by an IMMEDIATE transaction.
#pragma once

#include <cstdint>
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

  // Appends `entry` (id, at and hashes are assigned here) and returns its id.
  Result<int64_t> Append(AuditEntry entry);
  // Newest first.
  Result<std::vector<AuditEntry>> List(const AuditQuery& query);
  // Re-derives every hash from the first entry on.
  Result<AuditVerifyReport> Verify();

  // The hash of `entry` as Append computes it (exposed for tests).
  static Digest HashOf(const AuditEntry& entry);

 private:
  Archive* archive_;
  const Clock* clock_;
};

}  // namespace mailvault
