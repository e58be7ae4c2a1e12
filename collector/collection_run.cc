#include "collector/collection_run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "base/log.h"
#include "base/sha256.h"
#include "collector/message_queue.h"

namespace mailvault {
namespace {

constexpr const char* kFallbackPrefix = "top0:";
// Between the POP3 reader and the archive: pieces of up to kPieceBytes (a
// queue operation per message or per 64 KiB, not per received chunk), and at
// most kQueueBytes waiting, enough to ride out a commit's fsyncs.
constexpr size_t kPieceBytes = 64 * 1024;
constexpr size_t kQueueBytes = 4 * 1024 * 1024;

Pop3Tls ToPop3Tls(TlsMode mode) {
  switch (mode) {
    case TlsMode::kPop3s:
      return Pop3Tls::kPop3s;
    case TlsMode::kStarttls:
      return Pop3Tls::kStartTls;
    case TlsMode::kNone:
      return Pop3Tls::kNone;
  }
  return Pop3Tls::kPop3s;
}

// One message the server listed, and what became of it in this run.
struct ServerMessage {
  uint32_t number = 0;
  uint64_t octets = 0;
  std::string key;  // UIDL or fallback key
  enum class Outcome { kPending, kArchivedBefore, kNew, kDuplicate, kFailed, kSkipped };
  Outcome outcome = Outcome::kPending;
  std::string reason;
};

// Everything about one run that outlives its steps.
class Run {
 public:
  Run(Archive& archive, const Account& account, const CollectionOptions& options)
      : archive_(archive),
        account_(account),
        options_(options),
        clock_(options.clock ? options.clock : &SystemClock::Instance()) {
    report_.account = account.name;
  }

  RunReport Execute(std::string_view password);

 private:
  Status Body(std::string_view password);
  Status Begin();
  Status ListServer(Pop3Session& session);
  Status Diff();
  Status Fetch(Pop3Session& session);
  Status CommitBatch();
  Status DeleteAndQuit(Pop3Session& session);
  void Fail(ServerMessage& m, ServerMessage::Outcome outcome, std::string reason);
  // Fails every message still pending with `reason`.
  void FailPending(const std::string& reason);
  void Finish();
  void Progress();
  bool StopRequested() const { return options_.should_stop && options_.should_stop(); }

  Archive& archive_;
  const Account& account_;
  const CollectionOptions& options_;
  const Clock* clock_;
  RunReport report_;
  std::vector<ServerMessage> server_;
  std::map<std::string, LedgerEntry> ledger_;
  std::unique_ptr<IngestBatch> batch_;
  // Finished but not yet committed: index into server_ and whether new.
  std::vector<std::pair<size_t, bool>> uncommitted_;
  RunProgress progress_;
  std::optional<int> login_delay_;  // CAPA LOGIN-DELAY
  bool quiet_ = false;              // Fail() does not log (FailPending logs once)
  std::chrono::steady_clock::time_point last_progress_{};
};

// The pause a server asked for with a response code (RFC 2449, 3206).
std::optional<std::chrono::seconds> RetryAfter(const Status& status,
                                               std::optional<int> login_delay) {
  if (status.code() != StatusCode::kUnavailable) return std::nullopt;
  if (status.message().find("[LOGIN-DELAY") != std::string::npos) {
    return std::chrono::seconds(login_delay.value_or(15 * 60));
  }
  if (status.message().find("[IN-USE]") != std::string::npos) return std::chrono::minutes(5);
  return std::nullopt;
}

RunReport Run::Execute(std::string_view password) {
  report_.started_at = clock_->NowUnixSeconds();
  auto lock = AccountLock::Acquire(archive_.options().data_dir, account_.name);
  if (!lock.ok()) {
    report_.status = lock.status();
    Finish();
    return report_;
  }
  report_.status = Body(password);
  report_.retry_after = RetryAfter(report_.status, login_delay_);
  Finish();
  return report_;
}

Status Run::Body(std::string_view password) {
  if (!archive_.writable()) return Status::PermissionDenied("the archive is open read-only");
  MV_RETURN_IF_ERROR(Begin());
  batch_ = archive_.NewBatch();

  if (StopRequested()) return Status::Cancelled("not started: mailvault is stopping");
  Pop3Session session(SessionOptions(account_, options_));
  MV_RETURN_IF_ERROR(session.Connect().WithContext("account " + account_.name));
  login_delay_ = session.capabilities().login_delay_seconds;
  MV_RETURN_IF_ERROR(
      session.Login(account_.user, password).WithContext("account " + account_.name));
  MV_RETURN_IF_ERROR(ListServer(session));
  MV_RETURN_IF_ERROR(Diff());

  Status fetched = Fetch(session);
  // Whatever arrived complete is worth keeping, also when the session broke.
  Status committed = CommitBatch();
  if (fetched.code() == StatusCode::kCancelled && StopRequested()) {
    // Stopped between messages: the dialog is in step, so end it properly.
    FailPending("not fetched: the run was stopped (mailvault is stopping); the next run fetches it");
    MV_RETURN_IF_ERROR(committed);
    MV_RETURN_IF_ERROR(DeleteAndQuit(session));
    return Status::Cancelled("stopped: mailvault is stopping; " + fetched.message());
  }
  if (!fetched.ok()) {
    FailPending("not fetched: the run stopped: " + fetched.ToString());
    if (!committed.ok()) LogError("account " + account_.name + ": " + committed.ToString());
    session.Close();  // no QUIT: nothing is deleted
    return fetched;
  }
  MV_RETURN_IF_ERROR(committed);
  return DeleteAndQuit(session);
}

// Marks runs of this account that never ended as interrupted (we hold the
// account lock, so none of them is still running) and records this one.
Status Run::Begin() {
  return archive_.WithCatalog([&](Catalog& c) -> Status {
    SqliteDatabase& db = c.database();
    MV_ASSIGN_OR_RETURN(SqliteStatement stale,
                        db.Prepare("UPDATE collection_runs SET state='interrupted', "
                                   "error=coalesce(error, 'interrupted: the process ended during "
                                   "the run') WHERE account=? AND state='running'"));
    stale.Bind(1, account_.name);
    MV_RETURN_IF_ERROR(stale.Run());
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        db.Prepare("INSERT INTO collection_runs(account, started_at, state) "
                                   "VALUES(?, ?, 'running')"));
    st.Bind(1, account_.name).Bind(2, report_.started_at);
    MV_RETURN_IF_ERROR(st.Run());
    MV_ASSIGN_OR_RETURN(report_.run_id, db.QueryInt("SELECT last_insert_rowid()"));
    return Status::Ok();
  });
}

Status Run::ListServer(Pop3Session& session) {
  MV_ASSIGN_OR_RETURN(std::vector<Pop3ListEntry> list, session.List());
  auto uidl = session.Uidl();
  std::map<uint32_t, std::string> keys;
  if (uidl.ok()) {
    for (const Pop3UidlEntry& e : *uidl) keys[e.number] = e.uid;
  } else if (uidl.status().code() == StatusCode::kUnsupported) {
    // No UIDL: the key is the size plus a hash of the header block (TOP n 0).
    report_.uidl_fallback = true;
    LogInfo("account " + account_.name + ": the server has no UIDL; keys from size + TOP n 0");
    for (const Pop3ListEntry& e : list) {
      Sha256 hash;
      auto top = session.Top(e.number, 0, [&](std::string_view chunk) {
        hash.Update(chunk);
        return Status::Ok();
      });
      if (!top.ok()) {
        return top.status().WithContext("the server has no UIDL, and TOP " +
                                        std::to_string(e.number) +
                                        " 0 for the fallback key failed");
      }
      keys[e.number] = kFallbackPrefix + std::to_string(e.octets) + ":" + ToHex(hash.Finish());
    }
  } else {
    return uidl.status();
  }
  std::map<std::string, uint32_t> seen_keys;
  for (const Pop3ListEntry& e : list) {
    auto k = keys.find(e.number);
    if (k == keys.end()) {
      return Status::Protocol("message " + std::to_string(e.number) +
                              " is in LIST but not in UIDL: the server's listings disagree");
    }
    ServerMessage m;
    m.number = e.number;
    m.octets = e.octets;
    m.key = k->second;
    server_.push_back(std::move(m));
  }
  if (keys.size() != list.size()) {
    return Status::Protocol("UIDL lists " + std::to_string(keys.size()) + " messages, LIST " +
                            std::to_string(list.size()) + ": the server's listings disagree");
  }
  report_.seen = server_.size();
  report_.listed = true;
  return Status::Ok();
}

Status Run::Diff() {
  MV_RETURN_IF_ERROR(archive_.WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(std::vector<LedgerEntry> entries, c.LedgerOf(account_.name));
    for (LedgerEntry& e : entries) ledger_[e.uidl] = std::move(e);
    return Status::Ok();
  }));
  const int64_t now = clock_->NowUnixSeconds();
  std::map<std::string, size_t> on_server;
  for (size_t i = 0; i < server_.size(); ++i) {
    ServerMessage& m = server_[i];
    auto [it, first] = on_server.emplace(m.key, i);
    if (!first) {
      // Two messages under one key (only possible with the fallback key: the
      // same headers and size). The content hash stores them once anyway.
      if (!report_.uidl_fallback)
        return Status::Protocol("the server lists UIDL " + m.key + " twice");
    }
    auto l = ledger_.find(m.key);
    if (l != ledger_.end()) {
      m.outcome = ServerMessage::Outcome::kArchivedBefore;
      ++report_.archived_before;
      if (l->second.removed_at) {
        batch_->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kUidlSeenAgain), now,
                                        account_.name, m.key, "listed by the server again"});
      }
      continue;
    }
    if (m.octets > options_.max_message_size) {
      Fail(m, ServerMessage::Outcome::kSkipped,
           "larger than max_message_size (" + std::to_string(m.octets) + " > " +
               std::to_string(options_.max_message_size) + " octets by LIST)");
    }
  }
  // UIDLs gone from the server: marked removed, never forgotten.
  for (const auto& [key, entry] : ledger_) {
    if (on_server.count(key) || entry.removed_at) continue;
    batch_->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kUidlRemoved), now,
                                    account_.name, key, "no longer listed by the server"});
    ++report_.removed;
  }
  return Status::Ok();
}

void Run::Fail(ServerMessage& m, ServerMessage::Outcome outcome, std::string reason) {
  m.outcome = outcome;
  m.reason = reason;
  if (outcome == ServerMessage::Outcome::kFailed) ++report_.failed;
  if (outcome == ServerMessage::Outcome::kSkipped) ++report_.skipped;
  report_.items.push_back(RunItem{
      m.key, m.number, m.octets, outcome == ServerMessage::Outcome::kSkipped ? "skipped" : "failed",
      std::move(reason)});
  if (quiet_) return;
  LogWarning("account " + account_.name + ": message " + std::to_string(m.number) + " (" + m.key +
             ") " + report_.items.back().outcome + ": " + report_.items.back().reason);
}

void Run::FailPending(const std::string& reason) {
  // One log line for all of them: a stop can leave thousands.
  size_t count = 0;
  quiet_ = true;
  for (ServerMessage& m : server_) {
    if (m.outcome == ServerMessage::Outcome::kPending) {
      Fail(m, ServerMessage::Outcome::kFailed, reason);
      ++count;
    }
  }
  quiet_ = false;
  if (count > 0) {
    LogWarning("account " + account_.name + ": " + std::to_string(count) + " messages " + reason);
  }
}

Status Run::Fetch(Pop3Session& session) {
  std::vector<Pop3RetrRequest> requests;
  std::map<uint32_t, size_t> index_of;
  for (size_t i = 0; i < server_.size(); ++i) {
    const ServerMessage& m = server_[i];
    if (m.outcome != ServerMessage::Outcome::kPending) continue;
    requests.push_back(Pop3RetrRequest{m.number, m.octets});
    index_of[m.number] = i;
  }
  progress_.account = account_.name;
  progress_.to_fetch = requests.size();
  Progress();
  if (requests.empty()) return Status::Ok();

  bool open = false;
  uint32_t open_number = 0;
  uint64_t open_bytes = 0;
  // The archive side: runs on this thread, fed by the reader thread below.
  auto on_chunk = [&](uint32_t number, std::string_view chunk) -> Status {
    if (!open) {
      MV_RETURN_IF_ERROR(batch_->BeginMessage());
      open = true;
      open_number = number;
      open_bytes = 0;
    }
    if (number != open_number) return Status::Internal("RETR chunks of two messages interleaved");
    open_bytes += chunk.size();
    progress_.bytes += chunk.size();
    if (open_bytes > options_.max_message_size) {
      return Status::Protocol(
          "message " + std::to_string(number) + " grew past max_message_size (" +
          std::to_string(options_.max_message_size) + " octets) although LIST said " +
          std::to_string(server_[index_of[number]].octets));
    }
    return batch_->Write(chunk);
  };
  auto on_done = [&](const Result<Pop3Message>& result, uint32_t number) -> Status {
    ServerMessage& m = server_[index_of[number]];
    ++progress_.fetched;
    if (!result.ok() || result->size_mismatch) {
      if (open) batch_->AbortMessage();
      open = false;
      if (!result.ok()) {
        Fail(m, ServerMessage::Outcome::kFailed, "RETR failed: " + result.status().ToString());
      } else {
        // Complete but not what LIST promised: a truncating or lying server.
        // Not stored and so never deleted; the next run tries again.
        Fail(m, ServerMessage::Outcome::kFailed,
             "size mismatch: LIST said " + std::to_string(m.octets) + " octets, RETR delivered " +
                 std::to_string(result->canonical_bytes) + " (canonical); not stored");
      }
      Progress();
      return Status::Ok();
    }
    if (!open) MV_RETURN_IF_ERROR(batch_->BeginMessage());  // an empty message: no chunks
    open = false;
    Provenance provenance{ProvenanceKind::kPop3, clock_->NowUnixSeconds(), account_.name, m.key};
    MV_ASSIGN_OR_RETURN(IngestedMessage ingested, batch_->FinishMessage(provenance));
    report_.bytes += result->bytes;
    uncommitted_.emplace_back(index_of[number], !ingested.duplicate);
    Progress();
    if (batch_->pending_messages() >= options_.commit_every_messages ||
        batch_->pending_bytes() >= options_.commit_every_bytes) {
      return CommitBatch();
    }
    return Status::Ok();
  };

  // The network side: a reader thread receives the replies into the queue, in
  // pieces of up to kPieceBytes, while this thread archives them; the queue
  // bounds what is held between the two (see collector/message_queue.h).
  MessageQueue queue(kQueueBytes);
  std::thread reader([&] {
    MessagePiece piece;
    Pop3RetrCallbacks callbacks;
    callbacks.on_chunk = [&](uint32_t number, std::string_view chunk) -> Status {
      if (number != piece.number && !piece.bytes.empty()) {
        MV_RETURN_IF_ERROR(queue.Push(std::exchange(piece, MessagePiece{})));
      }
      piece.number = number;
      piece.bytes.append(chunk);
      if (piece.bytes.size() < kPieceBytes) return Status::Ok();
      return queue.Push(std::exchange(piece, MessagePiece{number, {}, {}}));
    };
    callbacks.on_done = [&](const Result<Pop3Message>& result, uint32_t number) -> Status {
      if (number != piece.number && !piece.bytes.empty()) {
        MV_RETURN_IF_ERROR(queue.Push(std::exchange(piece, MessagePiece{})));
      }
      piece.number = number;
      piece.done = result;
      return queue.Push(std::exchange(piece, MessagePiece{}));
    };
    callbacks.stop = [this] { return StopRequested(); };
    Status s = session.RetrMany(requests, callbacks);
    if (!piece.bytes.empty()) {
      // The start of a message that was cut off: the archive side reports it.
      Status pushed = queue.Push(std::exchange(piece, MessagePiece{}));
      if (s.ok()) s = pushed;
    }
    queue.Close(s);
  });
  Status archived;
  while (std::optional<MessagePiece> piece = queue.Pop()) {
    if (!piece->bytes.empty()) archived = on_chunk(piece->number, piece->bytes);
    if (archived.ok() && piece->done) archived = on_done(*piece->done, piece->number);
    if (!archived.ok()) queue.Fail(archived);  // the reader stops at its next piece
  }
  reader.join();
  // An archive error stopped the transfer (as the reader's error would have).
  Status s = archived.ok() ? queue.close_status() : archived;
  if (open) {
    // The transfer stopped inside a message: what arrived of it is dropped.
    batch_->AbortMessage();
    ServerMessage& m = server_[index_of[open_number]];
    if (m.outcome == ServerMessage::Outcome::kPending) {
      Fail(m, ServerMessage::Outcome::kFailed,
           "cut off: " + s.ToString() + "; nothing of it stored");
    }
  }
  return s;
}

Status Run::CommitBatch() {
  if (batch_->pending_messages() == 0 && batch_->pending_events() == 0) return Status::Ok();
  auto report = batch_->Commit();
  if (!report.ok()) {
    for (const auto& [index, is_new] : uncommitted_) {
      Fail(server_[index], ServerMessage::Outcome::kFailed,
           "commit failed: " + report.status().ToString());
    }
    uncommitted_.clear();
    return report.status().WithContext("account " + account_.name);
  }
  std::vector<std::string> keys;
  for (const auto& [index, is_new] : uncommitted_) {
    ServerMessage& m = server_[index];
    m.outcome = is_new ? ServerMessage::Outcome::kNew : ServerMessage::Outcome::kDuplicate;
    ++(is_new ? report_.new_messages : report_.duplicate);
    keys.push_back(m.key);
  }
  uncommitted_.clear();
  if (options_.on_commit && !keys.empty()) options_.on_commit(keys);
  return Status::Ok();
}

Status Run::DeleteAndQuit(Pop3Session& session) {
  std::vector<uint32_t> numbers;
  std::vector<std::string> keys;
  if (account_.policy.kind != DeletePolicy::Kind::kKeep) {
    // Eligibility from the ledger as committed, never from this run's memory:
    // only a message whose commit returned is in it.
    std::map<std::string, LedgerEntry> ledger;
    MV_RETURN_IF_ERROR(archive_.WithCatalog([&](Catalog& c) -> Status {
      MV_ASSIGN_OR_RETURN(std::vector<LedgerEntry> entries, c.LedgerOf(account_.name));
      for (LedgerEntry& e : entries) ledger[e.uidl] = std::move(e);
      return Status::Ok();
    }));
    const int64_t now = clock_->NowUnixSeconds();
    std::map<std::string, int> key_count;
    for (const ServerMessage& m : server_) ++key_count[m.key];
    for (const ServerMessage& m : server_) {
      if (m.outcome != ServerMessage::Outcome::kArchivedBefore &&
          m.outcome != ServerMessage::Outcome::kNew &&
          m.outcome != ServerMessage::Outcome::kDuplicate) {
        continue;
      }
      if (key_count[m.key] > 1) continue;  // a fallback key that is not unique: never delete
      auto l = ledger.find(m.key);
      if (l == ledger.end()) continue;
      bool due = account_.policy.kind == DeletePolicy::Kind::kDeleteWhenArchived ||
                 now - l->second.first_seen >= int64_t{account_.policy.days} * 86400;
      if (!due) continue;
      numbers.push_back(m.number);
      keys.push_back(m.key);
    }
  }
  std::vector<Status> marked;
  if (!numbers.empty()) {
    MV_ASSIGN_OR_RETURN(marked, session.DeleMany(numbers));
  }
  Status quit = session.Quit();
  if (numbers.empty()) {
    if (!quit.ok()) LogWarning("account " + account_.name + ": QUIT: " + quit.ToString());
    return Status::Ok();
  }
  if (!quit.ok()) {
    // The server may or may not have removed the marked messages; all of them
    // are archived, and the next run's listing settles the ledger.
    return quit.WithContext("QUIT after DELE was not confirmed (deletions uncertain)");
  }
  const int64_t now = clock_->NowUnixSeconds();
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (!marked[i].ok()) {
      LogWarning("account " + account_.name + ": DELE " + std::to_string(numbers[i]) + ": " +
                 marked[i].ToString());
      continue;
    }
    batch_->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kDeletedByPolicy), now,
                                    account_.name, keys[i], account_.policy.ToString()});
    ++report_.deleted;
  }
  return CommitBatch();
}

void Run::Progress() {
  if (!options_.on_progress) return;
  auto now = std::chrono::steady_clock::now();
  if (progress_.fetched != progress_.to_fetch &&
      now - last_progress_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_progress_ = now;
  options_.on_progress(progress_);
}

// Records the outcome. Best effort: a failure here is logged and reported in
// the status, never hides the run's own error.
void Run::Finish() {
  report_.ended_at = clock_->NowUnixSeconds();
  if (!report_.status.ok()) {
    LogWarning("account " + account_.name + ": run failed: " + report_.status.ToString());
  }
  if (report_.run_id == 0) {
    // Refused before it began (e.g. the lock): still leave a trace.
    Status s = archive_.WithCatalog([&](Catalog& c) -> Status {
      MV_ASSIGN_OR_RETURN(
          SqliteStatement st,
          c.database().Prepare("INSERT INTO collection_runs(account, started_at, "
                               "ended_at, state, error) VALUES(?, ?, ?, 'failed', ?)"));
      st.Bind(1, account_.name)
          .Bind(2, report_.started_at)
          .Bind(3, report_.ended_at)
          .Bind(4, report_.status.ToString());
      MV_RETURN_IF_ERROR(st.Run());
      MV_ASSIGN_OR_RETURN(report_.run_id, c.database().QueryInt("SELECT last_insert_rowid()"));
      return Status::Ok();
    });
    if (!s.ok()) LogError("account " + account_.name + ": recording the run: " + s.ToString());
    return;
  }
  Status s = archive_.WithCatalog([&](Catalog& c) -> Status {
    SqliteDatabase& db = c.database();
    MV_RETURN_IF_ERROR(c.Begin());
    auto body = [&]() -> Status {
      MV_ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare("UPDATE collection_runs SET ended_at=?, state=?, seen=?, "
                     "archived_before=?, new=?, duplicate=?, failed=?, skipped=?, "
                     "deleted=?, removed=?, bytes=?, complete=?, error=? WHERE id=?"));
      st.Bind(1, report_.ended_at)
          .Bind(2, report_.status.ok()                              ? "ok"
                   : report_.status.code() == StatusCode::kCancelled ? "interrupted"
                                                                     : "failed")
          .Bind(3, static_cast<int64_t>(report_.seen))
          .Bind(4, static_cast<int64_t>(report_.archived_before))
          .Bind(5, static_cast<int64_t>(report_.new_messages))
          .Bind(6, static_cast<int64_t>(report_.duplicate))
          .Bind(7, static_cast<int64_t>(report_.failed))
          .Bind(8, static_cast<int64_t>(report_.skipped))
          .Bind(9, static_cast<int64_t>(report_.deleted))
          .Bind(10, static_cast<int64_t>(report_.removed))
          .Bind(11, static_cast<int64_t>(report_.bytes))
          .Bind(12, report_.complete() ? 1 : 0)
          .Bind(14, report_.run_id);
      if (!report_.status.ok()) st.Bind(13, report_.status.ToString());
      MV_RETURN_IF_ERROR(st.Run());
      MV_ASSIGN_OR_RETURN(
          SqliteStatement item,
          db.Prepare("INSERT INTO run_items(run, uidl, number, octets, outcome, reason) "
                     "VALUES(?,?,?,?,?,?)"));
      for (const RunItem& i : report_.items) {
        item.Bind(1, report_.run_id)
            .Bind(2, i.uidl)
            .Bind(3, static_cast<int64_t>(i.number))
            .Bind(4, static_cast<int64_t>(i.octets))
            .Bind(5, i.outcome)
            .Bind(6, i.reason);
        MV_RETURN_IF_ERROR(item.Run());
        item.Reset();
      }
      return Status::Ok();
    };
    Status b = body();
    if (!b.ok()) {
      c.Rollback();
      return b;
    }
    return c.Commit();
  });
  if (!s.ok()) LogError("account " + account_.name + ": recording the run: " + s.ToString());
}

}  // namespace

CollectionOptions CollectionOptionsFrom(const CollectorSettings& c) {
  CollectionOptions o;
  o.max_message_size = c.max_message_size;
  o.connect_timeout = c.connect_timeout;
  o.io_timeout = c.read_timeout;
  o.session_timeout = c.session_deadline;
  return o;
}

Pop3Options SessionOptions(const Account& account, const CollectionOptions& options) {
  Pop3Options o;
  o.host = account.host;
  o.port = static_cast<uint16_t>(account.EffectivePort());
  o.tls = ToPop3Tls(account.tls);
  o.ca_file = account.ca;
  o.fingerprint = account.fingerprint;
  o.connect_timeout = options.connect_timeout;
  o.io_timeout = options.io_timeout;
  o.session_timeout = options.session_timeout;
  o.pipeline_window = options.pipeline_window;
  return o;
}

RunReport RunCollection(Archive& archive, const Account& account, std::string_view password,
                        const CollectionOptions& options) {
  Run run(archive, account, options);
  return run.Execute(password);
}

Result<AccountProbe> ProbeAccount(const Account& account, std::string_view password,
                                  const CollectionOptions& options) {
  Pop3Session session(SessionOptions(account, options));
  MV_RETURN_IF_ERROR(session.Connect());
  MV_RETURN_IF_ERROR(session.Login(account.user, password));
  MV_ASSIGN_OR_RETURN(Pop3Stat stat, session.Stat());
  AccountProbe probe;
  probe.tls = session.tls_active();
  probe.peer_fingerprint = session.peer_fingerprint();
  probe.implementation = session.capabilities().implementation;
  probe.capabilities = session.capabilities().lines;
  probe.messages = stat.count;
  probe.octets = stat.octets;
  // Nothing was marked: QUIT changes nothing. A failed QUIT does not make the
  // probe wrong.
  session.Quit().IgnoreError();
  return probe;
}

Result<AccountLock> AccountLock::Acquire(const std::string& data_dir, const std::string& account) {
  const std::string dir = data_dir + "/locks";
  MV_RETURN_IF_ERROR(MakeDirs(dir));
  const std::string path = dir + "/" + account + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable("account " + account +
                                 ": another collection run of this account is in progress");
    }
    return ErrnoToStatus(errno, "flock " + path);
  }
  return AccountLock(std::move(fd));
}

namespace {

// The runs `where` selects (with `bind` binding its parameters), newest first.
Result<std::vector<RunRecord>> SelectRuns(Archive& archive, const std::string& where,
                                          const std::function<void(SqliteStatement&)>& bind) {
  std::vector<RunRecord> out;
  MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(
        SqliteStatement st,
        c.database().Prepare(
            "SELECT id, account, started_at, ended_at, state, seen, archived_before, "
            "new, duplicate, failed, skipped, deleted, removed, bytes, complete, "
            "error FROM collection_runs " + where));
    bind(st);
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      RunRecord r;
      r.id = st.ColumnInt(0);
      r.account = std::string(st.ColumnText(1));
      r.started_at = st.ColumnInt(2);
      if (!st.ColumnIsNull(3)) r.ended_at = st.ColumnInt(3);
      r.state = std::string(st.ColumnText(4));
      uint64_t* counts[] = {&r.seen,      &r.archived_before, &r.new_messages,
                            &r.duplicate, &r.failed,          &r.skipped,
                            &r.deleted,   &r.removed,         &r.bytes};
      for (int i = 0; i < 9; ++i) *counts[i] = static_cast<uint64_t>(st.ColumnInt(5 + i));
      r.complete = st.ColumnInt(14) != 0;
      if (!st.ColumnIsNull(15)) r.error = std::string(st.ColumnText(15));
      out.push_back(std::move(r));
    }
  }));
  return out;
}

}  // namespace

Result<std::vector<RunRecord>> RecentRuns(Archive& archive, std::string_view account, int limit) {
  return SelectRuns(archive, "WHERE (?1='' OR account=?1) ORDER BY id DESC LIMIT ?2",
                    [&](SqliteStatement& st) { st.Bind(1, account).Bind(2, static_cast<int64_t>(limit)); });
}

Result<std::vector<RunRecord>> LatestRunOfEachAccount(Archive& archive) {
  // collection_runs_by_account(account, id) answers the inner query.
  return SelectRuns(archive,
                    "WHERE id IN (SELECT max(id) FROM collection_runs GROUP BY account) "
                    "ORDER BY id DESC",
                    [](SqliteStatement&) {});
}

Result<std::vector<RunItem>> RunItems(Archive& archive, int64_t run_id) {
  std::vector<RunItem> out;
  MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare("SELECT uidl, number, octets, outcome, reason FROM "
                                             "run_items WHERE run=? ORDER BY rowid"));
    st.Bind(1, run_id);
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      out.push_back(RunItem{std::string(st.ColumnText(0)), static_cast<uint32_t>(st.ColumnInt(1)),
                            static_cast<uint64_t>(st.ColumnInt(2)), std::string(st.ColumnText(3)),
                            std::string(st.ColumnText(4))});
    }
  }));
  return out;
}

}  // namespace mailvault
