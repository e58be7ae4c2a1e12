// One collection run of one POP3 account: everything new on the server goes
// into the archive, durably, before anything is deleted from the server.
//
//   lock the account → record the run → connect (TLS per account) → CAPA → STLS
//   → authenticate → UIDL (or the fallback key) and LIST → diff with the UIDL
//   ledger → RETR what is new, pipelined, streamed into an IngestBatch → commit
//   every N messages / bytes → DELE what the policy allows, only for messages
//   whose commit returned → QUIT → record the run's outcome.
//
// The ledger (catalog table pop3_ledger) is derived from the packs: a message's
// pop3 provenance link (account, UIDL, seen_at) is written in the same commit
// as the message, so a message is in the ledger exactly when its commit
// returned; "gone from the server" and "deleted by policy" are `event` records
// (LedgerEventKind). Run history (collection_runs, run_items) is operational
// data in the catalog.
//
// Completeness: every message the server lists gets exactly one outcome —
// archived before, new, duplicate (content already archived: a link only),
// failed (with its reason) or skipped (with its reason) — so
//   seen == archived_before + new + duplicate + failed + skipped
// holds for every run that got as far as the listing, failed runs included
// (messages the run never reached are failed with the run's error).
//
// Errors (RunReport::status): kUnavailable another run of the account holds
// its lock, or the server said [IN-USE]/[LOGIN-DELAY]/[SYS/TEMP] or refused the
// connection (temporary: retry later); kAuthFailed wrong credentials;
// kPermissionDenied certificate refused, [SYS/PERM]; kCancelled stopped by
// CollectionOptions::should_stop (a shutdown); kTimeout, kIoError,
// kProtocol for the transport and server faults of doc/pop3.md; archive errors
// (kNoSpace, kIoError) as they come. What was committed before an error stays.
//
// Thread-safety: RunCollection may run concurrently for different accounts on
// one Archive; a second concurrent run of the same account is refused by the
// account lock (also across processes).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/status.h"
#include "collector/account_store.h"
#include "collector/pop3_session.h"

namespace mailvault {

// Progress of a run, for a progress bar or a live view.
struct RunProgress {
  std::string account;
  uint64_t to_fetch = 0;  // messages this run fetches
  uint64_t fetched = 0;   // of those, done (archived or failed)
  uint64_t bytes = 0;     // bytes received so far
};

struct CollectionOptions {
  // A durable commit at least every this many messages or bytes. Default 500
  // messages / 64 MiB: a crash re-fetches at most that much.
  size_t commit_every_messages = 500;
  uint64_t commit_every_bytes = uint64_t{64} << 20;
  // Larger messages (by LIST size) are skipped with a recorded reason.
  // Default 256 MiB (the [collector] max_message_size default).
  uint64_t max_message_size = uint64_t{256} << 20;
  // POP3 timeouts (see Pop3Options). Defaults: 30 s, 60 s, 6 h.
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds io_timeout{60'000};
  std::chrono::milliseconds session_timeout{6 * 3600 * 1000};
  size_t pipeline_window = 16;
  // Time for ledger entries, run records and the delete-after policy. Borrowed.
  // Default (nullptr): the system clock.
  const Clock* clock = nullptr;
  // Called now and then from the run's thread. Optional.
  std::function<void(const RunProgress&)> on_progress;
  // Asked before the run connects and before each further RETR. Once it returns
  // true the run stops taking on work: the messages already requested are
  // received and committed, the policy's deletions of committed messages are
  // sent, and the session ends with QUIT. The report's status is then
  // kCancelled, the run is recorded as "interrupted", and the messages never
  // requested are failed "not fetched" (the next run takes them). Optional;
  // the daemon's shutdown uses it.
  std::function<bool()> should_stop;
  // Called right after each commit returned, with the keys (UIDLs) it made
  // durable. Optional; tests use it to check "never deleted before commit".
  std::function<void(const std::vector<std::string>&)> on_commit;
};

// The [collector] settings (timeouts, maximum message size) as run options.
CollectionOptions CollectionOptionsFrom(const CollectorSettings& settings);

// A message that did not make it into the archive in this run, and why.
struct RunItem {
  std::string uidl;     // UIDL, or the fallback key
  uint32_t number = 0;  // message number in that session
  uint64_t octets = 0;  // LIST size
  std::string outcome;  // "failed" or "skipped"
  std::string reason;
};

struct RunReport {
  int64_t run_id = 0;  // collection_runs.id; 0 when not even that could be recorded
  std::string account;
  int64_t started_at = 0;
  int64_t ended_at = 0;
  uint64_t seen = 0;             // messages on the server
  uint64_t archived_before = 0;  // already in the ledger
  uint64_t new_messages = 0;     // stored for the first time
  uint64_t duplicate = 0;        // content already archived: a link was added
  uint64_t failed = 0;
  uint64_t skipped = 0;
  uint64_t deleted = 0;        // deleted from the server (QUIT confirmed)
  uint64_t removed = 0;        // ledger UIDLs newly gone from the server
  uint64_t bytes = 0;          // bytes received for new and duplicate messages
  bool listed = false;         // UIDL/LIST succeeded: the counts account for the server
  bool uidl_fallback = false;  // the server has no UIDL: keys from size + TOP n 0
  std::vector<RunItem> items;  // failed and skipped messages
  Status status;               // the run's error, OK when it ran to the end
  // The server asked not to be contacted for this long: [LOGIN-DELAY] (the
  // CAPA LOGIN-DELAY value, else 15 minutes) or [IN-USE] (5 minutes).
  std::optional<std::chrono::seconds> retry_after;

  // Every message on the server is accounted for (see the header comment).
  bool accounted() const {
    return listed && archived_before + new_messages + duplicate + failed + skipped == seen;
  }
  // The archive holds everything the server listed.
  bool complete() const { return accounted() && failed == 0 && skipped == 0; }
};

// Runs one collection of `account` into `archive` (REQUIRES: writable).
// `password` is used for the login only. The run is recorded in the catalog
// whatever happens; the report says what happened (see the header comment).
RunReport RunCollection(Archive& archive, const Account& account, std::string_view password,
                        const CollectionOptions& options);

// What `account test` reports: connects and authenticates, changes nothing.
struct AccountProbe {
  bool tls = false;
  std::string peer_fingerprint;  // empty without TLS
  std::string implementation;
  std::vector<std::string> capabilities;  // CAPA lines after login
  uint64_t messages = 0;
  uint64_t octets = 0;
};
Result<AccountProbe> ProbeAccount(const Account& account, std::string_view password,
                                  const CollectionOptions& options);

// The session options for `account` (host, port, TLS, CA, pin, timeouts).
Pop3Options SessionOptions(const Account& account, const CollectionOptions& options);

// An exclusive lock on one account for the length of a run: flock() on
// `data_dir`/locks/<account>.lock. Works across processes and across threads
// of one process (each Acquire opens its own file description). Released by
// the destructor (and by the kernel if the process dies).
class AccountLock {
 public:
  // kUnavailable when another run holds it.
  static Result<AccountLock> Acquire(const std::string& data_dir, const std::string& account);
  AccountLock(AccountLock&&) noexcept = default;
  AccountLock& operator=(AccountLock&&) noexcept = default;

 private:
  explicit AccountLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The most recent runs (newest first), for `collect` output and the web UI.
struct RunRecord {
  int64_t id = 0;
  std::string account;
  int64_t started_at = 0;
  std::optional<int64_t> ended_at;
  std::string state;  // running, ok, failed, interrupted
  uint64_t seen = 0, archived_before = 0, new_messages = 0, duplicate = 0, failed = 0, skipped = 0,
           deleted = 0, removed = 0, bytes = 0;
  bool complete = false;
  std::optional<std::string> error;
};
Result<std::vector<RunRecord>> RecentRuns(Archive& archive, std::string_view account, int limit);
// The newest run of every account that has one (one query, whatever the
// number of accounts), newest first.
Result<std::vector<RunRecord>> LatestRunOfEachAccount(Archive& archive);
// The failed/skipped items recorded for run `run_id`.
Result<std::vector<RunItem>> RunItems(Archive& archive, int64_t run_id);

}  // namespace mailvault
