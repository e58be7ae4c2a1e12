// UserStore and AuditLog on a real archive's catalog, and that a rebuild of
// the catalog from the packs keeps users, grants and the audit log.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "tests/testing.h"
#include "webui/audit_log.h"
#include "webui/user_store.h"

namespace mailvault {
namespace {

const PasswordHashParams kFast{1, 1024, 1};

class UsersTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto a = Archive::Open(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    archive_ = std::move(*a);
    users_ = std::make_unique<UserStore>(archive_.get(), &clock_, kFast);
    audit_ = std::make_unique<AuditLog>(archive_.get(), &clock_);
  }
  void Close() {
    users_.reset();
    audit_.reset();
    archive_.reset();
  }
  Status RunSql(const std::string& sql) {
    return archive_->WithCatalog([&](Catalog& c) { return c.database().Exec(sql); });
  }

  testing::TempDir dir_;
  ManualClock clock_{1700000000};
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(UsersTest, AddGetListAuthenticate) {
  ASSERT_TRUE(users_->Add("alice", Role::kUser, "pw-alice", {"box2", "box1", "box1"}).ok());
  ASSERT_TRUE(users_->Add("audrey", Role::kAuditor, "pw-audrey", {}).ok());
  EXPECT_EQ(users_->Add("alice", Role::kUser, "x", {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(users_->Add("../etc", Role::kUser, "x", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(users_->Add("bob", Role::kUser, "", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(users_->Add("bob", Role::kUser, "x", {"bad/name"}).code(),
            StatusCode::kInvalidArgument);

  auto alice = users_->Get("alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->role, Role::kUser);
  EXPECT_EQ(alice->accounts, (std::vector<std::string>{"box1", "box2"}));
  EXPECT_FALSE(alice->reads_all_mail());
  EXPECT_EQ(users_->Get("nobody").status().code(), StatusCode::kNotFound);

  auto list = users_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].name, "audrey");
  EXPECT_TRUE((*list)[1].reads_all_mail());

  EXPECT_TRUE(users_->Authenticate("alice", "pw-alice").ok());
  auto wrong = users_->Authenticate("alice", "pw-audrey");
  auto unknown = users_->Authenticate("nobody", "pw-alice");
  EXPECT_EQ(wrong.status().code(), StatusCode::kAuthFailed);
  EXPECT_EQ(unknown.status().code(), StatusCode::kAuthFailed);
  EXPECT_EQ(wrong.status().message(), unknown.status().message())
      << "an unknown user and a wrong password must look the same";

  // The hash, not the password, is stored.
  std::string stored;
  ASSERT_TRUE(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(auto st, c.database().Prepare("SELECT password_hash FROM users "
                                                       "WHERE name='alice'"));
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) stored = std::string(st.ColumnText(0));
    return Status::Ok();
  }).ok());
  EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(stored.find("pw-alice"), std::string::npos);
}

TEST_F(UsersTest, PasswordRoleGrantsAndRemove) {
  ASSERT_TRUE(users_->Add("root", Role::kAdmin, "pw", {}).ok());
  ASSERT_TRUE(users_->Add("alice", Role::kUser, "old", {"box1"}).ok());
  ASSERT_TRUE(users_->SetPassword("alice", "new").ok());
  EXPECT_FALSE(users_->Authenticate("alice", "old").ok());
  EXPECT_TRUE(users_->Authenticate("alice", "new").ok());
  EXPECT_EQ(users_->SetPassword("nobody", "x").code(), StatusCode::kNotFound);

  ASSERT_TRUE(users_->Update("alice", Role::kAuditor, std::vector<std::string>{"box3"}).ok());
  auto a = users_->Get("alice");
  EXPECT_EQ(a->role, Role::kAuditor);
  EXPECT_EQ(a->accounts, std::vector<std::string>{"box3"});
  ASSERT_TRUE(users_->Update("alice", std::nullopt, std::vector<std::string>{}).ok());
  EXPECT_TRUE(users_->Get("alice")->accounts.empty());

  // The last admin can be neither removed nor demoted.
  EXPECT_EQ(users_->Remove("root").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(users_->Update("root", Role::kUser, std::nullopt).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(users_->Update("alice", Role::kAdmin, std::nullopt).ok());
  EXPECT_TRUE(users_->Remove("root").ok());
  EXPECT_EQ(users_->Remove("root").code(), StatusCode::kNotFound);
  EXPECT_EQ(*users_->Count(), 1u);
}

TEST_F(UsersTest, EnsureFirstAdminOnlyOnce) {
  auto first = users_->EnsureFirstAdmin();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->size(), 20u);
  auto admin = users_->Authenticate("admin", **first);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->role, Role::kAdmin);
  auto second = users_->EnsureFirstAdmin();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
}

AuditEntry Entry(std::string user, std::string action, std::string target) {
  AuditEntry e;
  e.user = std::move(user);
  e.address = "127.0.0.1";
  e.action = std::move(action);
  e.target = std::move(target);
  e.outcome = "ok";
  return e;
}

TEST_F(UsersTest, AuditChainVerifiesAndListsNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1);
    auto id = audit_->Append(Entry(i % 2 ? "alice" : "bob", "search", "q" + std::to_string(i)));
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, i + 1);
  }
  auto report = audit_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->entries, 5u);
  EXPECT_EQ(report->last_id, 5);

  auto all = audit_->List({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].id, 5);
  EXPECT_EQ((*all)[0].target, "q4");
  EXPECT_EQ((*all)[0].at, 1700000005);
  EXPECT_EQ((*all)[1].prev_hash, (*all)[2].hash);
  AuditQuery q;
  q.user = "alice";
  q.before_id = 4;
  auto some = audit_->List(q);
  ASSERT_EQ(some->size(), 1u);
  EXPECT_EQ((*some)[0].id, 2);
}

// Concurrent appends are grouped into shared transactions (group commit): every
// caller still gets its own id, in one unbroken chain, with its own fields.
TEST_F(UsersTest, ConcurrentAppendsFormOneChain) {
  constexpr int kThreads = 8, kEach = 100;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto id = audit_->Append(Entry("u" + std::to_string(t), "search", std::to_string(i)));
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        ids[t].push_back(*id);
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  ASSERT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach);
  auto report = audit_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->entries, uint64_t{kThreads * kEach});

  AuditQuery q;
  q.limit = 1000;
  auto entries = audit_->List(q);
  ASSERT_TRUE(entries.ok());
  std::map<int64_t, const AuditEntry*> by_id;
  for (const AuditEntry& e : *entries) by_id[e.id] = &e;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const AuditEntry* e = by_id[ids[t][i]];
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->user, "u" + std::to_string(t));
      EXPECT_EQ(e->target, std::to_string(i));
    }
    // One thread's appends are in its own order in the chain.
    EXPECT_TRUE(std::is_sorted(ids[t].begin(), ids[t].end()));
  }
}

// A group that cannot be written is rolled back whole: its callers get the
// error, nothing of it is kept, and the chain goes on unbroken after it.
TEST_F(UsersTest, FailedAppendLeavesNoGapInTheChain) {
  ASSERT_TRUE(audit_->Append(Entry("bob", "view", "m")).ok());
  ASSERT_TRUE(RunSql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN NEW.target='boom' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END").ok());
  auto failed = audit_->Append(Entry("bob", "view", "boom"));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("audit log"), std::string::npos)
      << failed.status().ToString();
  auto next = audit_->Append(Entry("bob", "view", "m2"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, 2);
  auto report = audit_->Verify();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->entries, 2u);
}

TEST_F(UsersTest, AuditVerifyNamesTheFirstChangedEntry) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(audit_->Append(Entry("bob", "view", "m")).ok());
  ASSERT_TRUE(RunSql("UPDATE audit_log SET target='other' WHERE id=3").ok());
  auto report = audit_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_broken_id, 3);
  EXPECT_NE(report->problem.find("changed"), std::string::npos) << report->problem;

  // Recomputing the changed entry's own hash moves the break to the next entry.
  ASSERT_TRUE(RunSql("UPDATE audit_log SET hash=zeroblob(32) WHERE id=3").ok());
  report = audit_->Verify();
  EXPECT_EQ(report->first_broken_id, 3);
}

TEST_F(UsersTest, AuditVerifyDetectsDeletionAndRewrittenHash) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(audit_->Append(Entry("bob", "view", "m")).ok());
  // A forger who rewrites entry 2 and its hash consistently breaks entry 3.
  auto entries = audit_->List({});
  AuditEntry e2 = (*entries)[4];
  ASSERT_EQ(e2.id, 2);
  e2.target = "forged";
  Digest forged = AuditLog::HashOf(e2);
  ASSERT_TRUE(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(auto st, c.database().Prepare("UPDATE audit_log SET target='forged', "
                                                       "hash=? WHERE id=2"));
    st.BindBlob(1, AsBytes(forged));
    return st.Run();
  }).ok());
  auto report = audit_->Verify();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_broken_id, 3);

  ASSERT_TRUE(RunSql("UPDATE audit_log SET target='m', hash=(SELECT prev_hash FROM audit_log "
                     "WHERE id=3) WHERE id=2").ok());
  ASSERT_TRUE(audit_->Verify()->ok) << "restored";
  ASSERT_TRUE(RunSql("DELETE FROM audit_log WHERE id=4").ok());
  report = audit_->Verify();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_broken_id, 5);
  EXPECT_NE(report->problem.find("entry 4 is missing"), std::string::npos) << report->problem;
}

TEST_F(UsersTest, RebuildCarriesUsersGrantsAndAuditLogOver) {
  ASSERT_TRUE(users_->Add("alice", Role::kUser, "pw", {"box1"}).ok());
  ASSERT_TRUE(audit_->Append(Entry("alice", "search", "hello")).ok());
  ASSERT_TRUE(audit_->Append(Entry("alice", "view", "abc")).ok());
  const std::string data = archive_->options().data_dir;
  Close();
  ArchiveOptions o;
  o.data_dir = data;
  VerifyReport damage;
  Status s = Archive::Rebuild(o, &damage);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Open();
  auto alice = users_->Authenticate("alice", "pw");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(alice->accounts, std::vector<std::string>{"box1"});
  auto report = audit_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
  EXPECT_EQ(report->entries, 2u);
  ASSERT_TRUE(audit_->Append(Entry("alice", "search", "after")).ok());
  EXPECT_TRUE(audit_->Verify()->ok);
}

}  // namespace
}  // namespace mailvault
