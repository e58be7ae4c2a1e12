#include "webui/audit_log.h"

#include <algorithm>

namespace mailvault {
namespace {

constexpr const char* kColumns =
    "id, at, user, address, action, target, outcome, detail, prev_hash, hash";

void AddField(Sha256& h, std::string_view field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  h.Update(std::string_view(len, 4));
  h.Update(field);
}

Digest DigestOf(std::string_view blob) {
  Digest d{};
  if (blob.size() == d.size()) std::copy(blob.begin(), blob.end(), d.begin());
  return d;
}

AuditEntry ReadEntry(const SqliteStatement& st) {
  AuditEntry e;
  e.id = st.ColumnInt(0);
  e.at = st.ColumnInt(1);
  e.user = std::string(st.ColumnText(2));
  e.address = std::string(st.ColumnText(3));
  e.action = std::string(st.ColumnText(4));
  e.target = std::string(st.ColumnText(5));
  e.outcome = std::string(st.ColumnText(6));
  e.detail = std::string(st.ColumnText(7));
  e.prev_hash = DigestOf(st.ColumnBlob(8));
  e.hash = DigestOf(st.ColumnBlob(9));
  return e;
}

}  // namespace

AuditLog::AuditLog(Archive* archive, const Clock* clock)
    : archive_(archive), clock_(clock ? clock : &SystemClock::Instance()) {}

Digest AuditLog::HashOf(const AuditEntry& e) {
  Sha256 h;
  h.Update("mailvault-audit-v1");
  h.Update(AsBytes(e.prev_hash));
  AddField(h, std::to_string(e.id));
  AddField(h, std::to_string(e.at));
  AddField(h, e.user);
  AddField(h, e.address);
  AddField(h, e.action);
  AddField(h, e.target);
  AddField(h, e.outcome);
  AddField(h, e.detail);
  return h.Finish();
}

Result<int64_t> AuditLog::Append(AuditEntry e) {
  Pending mine{&e, false, Status::Ok()};
  std::unique_lock lock(mutex_);
  // Stamped in queue order, so that `at` never decreases along the chain.
  e.at = clock_->NowUnixSeconds();
  queue_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      committed_.wait(lock);
      continue;
    }
    // No commit in progress: this caller writes everything queued, its own
    // entry included (it is still queued: only a commit takes entries out).
    committing_ = true;
    std::vector<Pending*> group;
    while (!queue_.empty() && group.size() < kMaxGroup) {
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    Status s = WriteGroup(group);
    lock.lock();
    for (Pending* p : group) {
      p->status = s;
      p->done = true;
    }
    committing_ = false;
    committed_.notify_all();
  }
  if (!mine.status.ok()) return mine.status.WithContext("append to the audit log");
  return e.id;
}

Status AuditLog::WriteGroup(const std::vector<Pending*>& group) {
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_RETURN_IF_ERROR(c.Begin());
    Status body = [&]() -> Status {
      MV_ASSIGN_OR_RETURN(SqliteStatement last, c.database().Prepare(
                                                    "SELECT id, hash FROM audit_log ORDER BY "
                                                    "id DESC LIMIT 1"));
      MV_ASSIGN_OR_RETURN(bool row, last.Step());
      int64_t id = row ? last.ColumnInt(0) : 0;
      Digest prev = row ? DigestOf(last.ColumnBlob(1)) : Digest{};
      MV_ASSIGN_OR_RETURN(SqliteStatement ins,
                          c.database().Prepare(std::string("INSERT INTO audit_log(") + kColumns +
                                               ") VALUES(?,?,?,?,?,?,?,?,?,?)"));
      for (Pending* p : group) {
        AuditEntry& e = *p->entry;
        e.id = ++id;
        e.prev_hash = prev;
        e.hash = HashOf(e);
        prev = e.hash;
        ins.Bind(1, e.id).Bind(2, e.at).Bind(3, e.user).Bind(4, e.address).Bind(5, e.action);
        ins.Bind(6, e.target).Bind(7, e.outcome).Bind(8, e.detail);
        ins.BindBlob(9, AsBytes(e.prev_hash)).BindBlob(10, AsBytes(e.hash));
        MV_RETURN_IF_ERROR(ins.Run());
      }
      return Status::Ok();
    }();
    if (!body.ok()) {
      c.Rollback();
      return body;
    }
    return c.Commit();
  });
}

Result<std::vector<AuditEntry>> AuditLog::List(const AuditQuery& q) {
  std::vector<AuditEntry> out;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(
        SqliteStatement st,
        c.database().Prepare(std::string("SELECT ") + kColumns +
                             " FROM audit_log WHERE (?1=0 OR id<?1) AND (?2='' OR user=?2) "
                             "AND (?3='' OR action=?3) ORDER BY id DESC LIMIT ?4"));
    st.Bind(1, q.before_id).Bind(2, q.user).Bind(3, q.action);
    st.Bind(4, static_cast<int64_t>(std::clamp(q.limit, 1, 1000)));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadEntry(st));
    }
    return Status::Ok();
  }));
  return out;
}

Result<AuditVerifyReport> AuditLog::Verify() {
  AuditVerifyReport report;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare(std::string("SELECT ") + kColumns +
                                             " FROM audit_log ORDER BY id"));
    Digest prev{};
    int64_t expected_id = 1;
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      AuditEntry e = ReadEntry(st);
      ++report.entries;
      report.last_id = e.id;
      if (!report.ok) continue;
      std::string problem;
      if (e.id != expected_id) {
        problem = "entry " + std::to_string(expected_id) + " is missing";
      } else if (e.prev_hash != prev) {
        problem = "its previous-entry hash does not match entry " + std::to_string(e.id - 1) +
                  " (an entry before it was changed, removed or inserted)";
      } else if (AuditLog::HashOf(e) != e.hash) {
        problem = "its fields do not match its hash (the entry was changed)";
      }
      if (!problem.empty()) {
        report.ok = false;
        report.first_broken_id = e.id;
        report.problem = problem;
      }
      prev = e.hash;
      expected_id = e.id + 1;
    }
    return Status::Ok();
  }));
  return report;
}

}  // namespace mailvault
