// Collection runs against a real Dovecot (tests/dovecot_server.h) on
// 127.0.0.1: byte-exact first run, idempotent second run, only new mail after
// new deliveries, the three delete policies (never before commit), one stored
// copy for a message in two accounts and twice in one, a lost dovecot-uidlist,
// pop3s/starttls with a pinned fingerprint or CA file, a wrong pin refused and
// recorded, a wrong password, a 100 MB message through the run's two threads in
// bounded memory, and the `account`/`collect` commands.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "collector/collection_run.h"
#include "tests/dovecot_server.h"
#include "tests/scripted_pop3_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using testing::DovecotServer;
using testing::DovecotSuite;

// Mail as a delivery agent writes it: LF line ends, a long line every 7th.
std::string Mail(const std::string& user, int i) {
  std::string m =
      "Return-Path: <sender@example.org>\nFrom: Sender <sender@example.org>\nTo: " + user +
      "@example.org\nSubject: message " + std::to_string(i) + " for " + user + "\nMessage-ID: <" +
      std::to_string(i) + "." + user + "@example.org>\n\n";
  for (int l = 0; l < 5 + i % 11; ++l)
    m += "line " + std::to_string(l) + " of message " + std::to_string(i) + "\n";
  if (i % 7 == 0) m += std::string(3000, 'x') + "\n";
  m += ".leading dot\n..two dots\n";
  return m;
}

class CollectorDovecotTest : public DovecotSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AddTestUser("c", kPassword));
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto a = Archive::Open(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    archive_ = std::move(a).value();
    options_.connect_timeout = milliseconds(5'000);
    options_.io_timeout = milliseconds(10'000);
    options_.session_timeout = milliseconds(60'000);
    options_.commit_every_messages = 7;  // several commits per run
  }

  Account MakeAccount(const std::string& user, TlsMode tls = TlsMode::kStarttls) {
    Account a;
    a.name = user;
    a.host = "127.0.0.1";
    a.user = user;
    a.tls = tls;
    a.port = tls == TlsMode::kPop3s ? server_->pop3s_port() : server_->pop3_port();
    a.fingerprint = server_->cert_fingerprint();
    return a;
  }
  RunReport Collect(const Account& a, const std::string& password = kPassword) {
    RunReport r = RunCollection(*archive_, a, password, options_);
    return r;
  }
  void Deliver(const std::string& user, int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_TRUE(server_->Deliver(user, Mail(user, i)).ok());
  }
  size_t OnServer(const std::string& user) { return *server_->CountMessages(user); }
  std::string Read(const Digest& id) {
    std::string out;
    EXPECT_TRUE(archive_
                    ->ReadMessage(id,
                                  [&](std::string_view c) {
                                    out.append(c);
                                    return Status::Ok();
                                  })
                    .ok());
    return out;
  }

  static constexpr const char* kPassword = "pw-Collect-7";
  testing::TempDir dir_;
  std::unique_ptr<Archive> archive_;
  CollectionOptions options_;
};


TEST_F(CollectorDovecotTest, FirstRunByteExactSecondRunNothingThenOnlyNewAndKeepKeeps) {
  Deliver(user_, 0, 30);
  Account a = MakeAccount(user_);
  RunReport r1 = Collect(a);
  ASSERT_TRUE(r1.status.ok()) << r1.status.ToString() << "\n" << server_->Log();
  EXPECT_EQ(r1.seen, 30u);
  EXPECT_EQ(r1.new_messages, 30u);
  EXPECT_TRUE(r1.complete());
  // Byte-exact: every Maildir file, canonicalised, is stored under its SHA-256.
  auto stored = server_->Messages(user_);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 30u);
  for (const auto& m : *stored) {
    std::string canonical = testing::CanonicalizeForTest(m.data);
    Digest id = Sha256::Of(canonical);
    ASSERT_TRUE(archive_->Info(id).ok()) << m.path;
    EXPECT_EQ(Read(id), canonical) << m.path;
  }

  RunReport r2 = Collect(a);
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  EXPECT_EQ(r2.archived_before, 30u);
  EXPECT_EQ(r2.new_messages + r2.duplicate, 0u);
  EXPECT_EQ(r2.bytes, 0u);
  EXPECT_TRUE(r2.complete());

  Deliver(user_, 30, 33);
  RunReport r3 = Collect(a);
  ASSERT_TRUE(r3.status.ok()) << r3.status.ToString();
  EXPECT_EQ(r3.new_messages, 3u);
  EXPECT_EQ(r3.archived_before, 30u);
  EXPECT_EQ(r3.deleted, 0u);
  EXPECT_EQ(OnServer(user_), 33u);  // keep: the server still has every message
  EXPECT_EQ(archive_->Stats()->messages, 33u);
}

TEST_F(CollectorDovecotTest, DeleteWhenArchivedDeletesOnlyWhatIsCommitted) {
  Deliver(user_, 0, 20);
  Account a = MakeAccount(user_, TlsMode::kPop3s);
  a.policy.kind = DeletePolicy::Kind::kDeleteWhenArchived;
  size_t commits = 0;
  options_.on_commit = [&](const std::vector<std::string>&) {
    ++commits;
    // Nothing may be gone from the server while commits are still coming in.
    EXPECT_EQ(OnServer(user_), 20u);
  };
  RunReport r = Collect(a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_GE(commits, 3u);
  EXPECT_EQ(r.new_messages, 20u);
  EXPECT_EQ(r.deleted, 20u);
  EXPECT_EQ(OnServer(user_), 0u);
  EXPECT_EQ(archive_->Stats()->messages, 20u);
  std::vector<LedgerEntry> ledger;
  ASSERT_TRUE(archive_
                  ->WithCatalog([&](Catalog& c) -> Status {
                    MV_ASSIGN_OR_RETURN(ledger, c.LedgerOf(user_));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_EQ(ledger.size(), 20u);
  for (const auto& e : ledger) EXPECT_TRUE(e.deleted_at.has_value()) << e.uidl;
  RunReport again = Collect(a);
  EXPECT_TRUE(again.complete());
  EXPECT_EQ(again.seen, 0u);
}

// A shutdown (should_stop) ends a run between messages: what was requested is
// received and committed, the policy's deletions of it are confirmed by QUIT,
// the rest stays on the server for the next run, and the run is "interrupted".
TEST_F(CollectorDovecotTest, StopFinishesWhatIsInFlightCommitsAndQuits) {
  Deliver(user_, 0, 30);
  Account a = MakeAccount(user_);
  a.policy.kind = DeletePolicy::Kind::kDeleteWhenArchived;
  options_.pipeline_window = 4;
  int asked = 0;
  // Asked once before connecting and once before each further RETR: stop
  // after a few messages, with RETRs still outstanding in the pipeline.
  options_.should_stop = [&] { return ++asked > 7; };
  RunReport r = Collect(a);
  EXPECT_EQ(r.status.code(), StatusCode::kCancelled) << r.status.ToString();
  ASSERT_TRUE(r.accounted());
  EXPECT_GE(r.new_messages, 5u);
  EXPECT_LT(r.new_messages, 30u);
  EXPECT_EQ(r.new_messages + r.failed, 30u);
  // QUIT went through: exactly the committed messages are gone from the server.
  EXPECT_EQ(r.deleted, r.new_messages);
  EXPECT_EQ(OnServer(user_), 30u - r.new_messages);
  EXPECT_EQ(archive_->Stats()->messages, r.new_messages);
  auto runs = RecentRuns(*archive_, user_, 1);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].state, "interrupted");

  options_.should_stop = nullptr;
  RunReport rest = Collect(a);
  ASSERT_TRUE(rest.status.ok()) << rest.status.ToString();
  EXPECT_EQ(rest.new_messages, 30u - r.new_messages);
  EXPECT_EQ(OnServer(user_), 0u);
  EXPECT_EQ(archive_->Stats()->messages, 30u);

  // Asked to stop before it even connects: nothing happens on the server.
  Deliver(user_, 30, 33);
  options_.should_stop = [] { return true; };
  RunReport none = Collect(a);
  EXPECT_EQ(none.status.code(), StatusCode::kCancelled);
  EXPECT_EQ(OnServer(user_), 3u);
}

// A message far larger than everything the run holds at once (the reader's
// queue, the compressor's records, a segment) streams from Dovecot into the
// archive: stored byte-exact, and the process's peak memory grows by a small
// fraction of the message.
TEST_F(CollectorDovecotTest, AHundredMegabyteMessageIsArchivedInBoundedMemory) {
  constexpr uint64_t kSize = 100ull << 20;
  const std::string path = server_->dir() + "/big.mailvault-test";
  Digest id{};
  ASSERT_TRUE(testing::WriteGeneratedMailFile(path, "From: a@example.org\r\nSubject: big\r\n\r\n", kSize, &id).ok());
  ASSERT_TRUE(server_->DeliverFile(user_, path).ok());
  ::unlink(path.c_str());

  ASSERT_TRUE(testing::ResetPeakRss());
  const long before = testing::PeakRssKib();
  RunReport r = Collect(MakeAccount(user_));
  const long after = testing::PeakRssKib();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.new_messages, 1u);
  EXPECT_EQ(r.bytes, kSize);
  ASSERT_GT(before, 0);
  std::printf("100 MB message: collection peak RSS grew by %ld KiB\n", after - before);
  EXPECT_LT(after - before, 32 * 1024) << "peak RSS grew by " << (after - before) << " KiB";

  Sha256 stored;
  uint64_t length = 0;
  ASSERT_TRUE(archive_
                  ->ReadMessage(id,
                                [&](std::string_view chunk) {
                                  stored.Update(chunk);
                                  length += chunk.size();
                                  return Status::Ok();
                                })
                  .ok());
  EXPECT_EQ(length, kSize);
  EXPECT_EQ(ToHex(stored.Finish()), ToHex(id));
}

TEST_F(CollectorDovecotTest, DeleteAfterDaysCountsFromWhenWeArchivedIt) {
  ManualClock clock(1'800'000'000);
  options_.clock = &clock;
  Account a = MakeAccount(user_);
  a.policy = *DeletePolicy::Parse("delete-after:2-days");
  Deliver(user_, 0, 5);
  RunReport r1 = Collect(a);
  ASSERT_TRUE(r1.status.ok()) << r1.status.ToString();
  EXPECT_EQ(r1.deleted, 0u);
  clock.Advance(86400 + 3600);  // day 1: five more arrive
  Deliver(user_, 5, 8);
  RunReport r2 = Collect(a);
  EXPECT_EQ(r2.new_messages, 3u);
  EXPECT_EQ(r2.deleted, 0u);
  EXPECT_EQ(OnServer(user_), 8u);
  clock.Advance(86400 - 3600);  // exactly two days after the first run
  RunReport r3 = Collect(a);
  ASSERT_TRUE(r3.status.ok()) << r3.status.ToString();
  EXPECT_EQ(r3.deleted, 5u);
  EXPECT_EQ(OnServer(user_), 3u);
  clock.Advance(86400 + 3600);
  RunReport r4 = Collect(a);
  EXPECT_EQ(r4.deleted, 3u);
  EXPECT_EQ(OnServer(user_), 0u);
  EXPECT_EQ(archive_->Stats()->messages, 8u);
}

TEST_F(CollectorDovecotTest, SameMessageInTwoAccountsAndTwiceInOneIsStoredOnce) {
  std::string other = user_ + "-b";
  ASSERT_TRUE(server_->AddUser(other, kPassword).ok());
  std::string shared = Mail("shared", 1);
  ASSERT_TRUE(server_->Deliver(user_, shared).ok());
  ASSERT_TRUE(server_->Deliver(user_, shared).ok());
  ASSERT_TRUE(server_->Deliver(other, shared).ok());
  RunReport r1 = Collect(MakeAccount(user_));
  RunReport r2 = Collect(MakeAccount(other));
  ASSERT_TRUE(r1.status.ok() && r2.status.ok()) << r1.status.ToString() << r2.status.ToString();
  EXPECT_EQ(r1.new_messages, 1u);
  EXPECT_EQ(r1.duplicate, 1u);
  EXPECT_EQ(r2.duplicate, 1u);
  EXPECT_EQ(archive_->Stats()->messages, 1u);
  auto info = archive_->Info(Sha256::Of(testing::CanonicalizeForTest(shared)));
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->provenance.size(), 3u);
  std::set<std::string> sources;
  for (const auto& p : info->provenance) sources.insert(p.source);
  EXPECT_EQ(sources, (std::set<std::string>{user_, other}));
}

TEST_F(CollectorDovecotTest, LostUidListArchivesNoDuplicates) {
  Deliver(user_, 0, 12);
  Account a = MakeAccount(user_);
  ASSERT_TRUE(Collect(a).status.ok());
  ASSERT_TRUE(server_->WipeUidList(user_).ok());
  RunReport r = Collect(a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.new_messages, 0u);
  EXPECT_EQ(r.duplicate, 12u);  // every UIDL changed; the content did not
  EXPECT_EQ(r.removed, 12u);    // the old UIDLs are marked gone, not forgotten
  EXPECT_EQ(archive_->Stats()->messages, 12u);
}

TEST_F(CollectorDovecotTest, TlsWithPinOrCaWorksAndAWrongPinIsRefusedAndRecorded) {
  Deliver(user_, 0, 2);
  Account pinned = MakeAccount(user_, TlsMode::kPop3s);
  EXPECT_TRUE(Collect(pinned).status.ok());
  Account with_ca = MakeAccount(user_, TlsMode::kStarttls);
  with_ca.fingerprint.clear();
  with_ca.ca = server_->ca_file();
  RunReport r = Collect(with_ca);
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.archived_before, 2u);

  Account wrong = MakeAccount(user_, TlsMode::kStarttls);
  wrong.fingerprint = std::string(64, 'a');
  Deliver(user_, 2, 3);
  RunReport refused = Collect(wrong);
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied) << refused.status.ToString();
  auto runs = RecentRuns(*archive_, user_, 1);
  ASSERT_TRUE(runs.ok());
  ASSERT_TRUE((*runs)[0].error.has_value());
  EXPECT_NE((*runs)[0].error->find("presented sha256 " + server_->cert_fingerprint()),
            std::string::npos)
      << *(*runs)[0].error;
  EXPECT_EQ(archive_->Stats()->messages, 2u);
}

TEST_F(CollectorDovecotTest, WrongPasswordIsAuthFailed) {
  RunReport r = Collect(MakeAccount(user_), "not-the-password");
  EXPECT_EQ(r.status.code(), StatusCode::kAuthFailed) << r.status.ToString();
  EXPECT_EQ(r.status.ToString().find("not-the-password"), std::string::npos);
}

TEST_F(CollectorDovecotTest, AccountAndCollectCommands) {
  archive_.reset();  // the binary takes the archive's lock
  Deliver(user_, 0, 4);
  const std::string data = dir_.path() + "/data";
  const std::string pwfile = dir_.path() + "/pw";
  testing::WriteFile(pwfile, std::string(kPassword) + "\n");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {testing::MailvaultBinary(), "--data", data});
    return testing::RunProcess(args);
  };
  auto add =
      run({"account", "add", "box", "--host", "127.0.0.1", "--port",
           std::to_string(server_->pop3s_port()), "--user", user_, "--password-file", pwfile,
           "--tls", "pop3s", "--fingerprint", server_->cert_fingerprint(), "--policy", "keep"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  // The password is sealed, not stored in the catalog as text.
  std::string catalog = testing::ReadFile(data + "/catalog.sqlite") +
                        (std::filesystem::exists(data + "/catalog.sqlite-wal")
                             ? testing::ReadFile(data + "/catalog.sqlite-wal")
                             : "");
  EXPECT_EQ(catalog.find(kPassword), std::string::npos);
  EXPECT_EQ(
      std::filesystem::status(data + "/secret.key").permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto list = run({"account", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"name\":\"box\""), std::string::npos) << list.out;

  auto test = run({"account", "test", "box"});
  ASSERT_EQ(test.exit_code, 0) << test.err;
  EXPECT_NE(test.out.find("messages: 4"), std::string::npos) << test.out;

  auto collect = run({"collect", "--json"});
  ASSERT_EQ(collect.exit_code, 0) << collect.err;
  EXPECT_NE(collect.out.find("\"runs\":[{"), std::string::npos) << collect.out;
  EXPECT_NE(collect.out.find("\"new\":4"), std::string::npos) << collect.out;
  EXPECT_NE(collect.out.find("\"error\":null"), std::string::npos) << collect.out;
  EXPECT_NE(collect.out.find("\"complete\":true"), std::string::npos) << collect.out;
  EXPECT_EQ(collect.err.find(kPassword), std::string::npos);

  auto remove = run({"account", "remove", "box"});
  ASSERT_EQ(remove.exit_code, 0) << remove.err;
  auto stats = run({"stats", "--json"});
  EXPECT_NE(stats.out.find("\"messages\":4"), std::string::npos) << stats.out;

  // A failing run gives a non-zero exit and says why.
  testing::WriteFile(pwfile, "wrong\n");
  ASSERT_EQ(run({"account", "add", "bad", "--host", "127.0.0.1", "--port",
                 std::to_string(server_->pop3s_port()), "--user", user_, "--password-file", pwfile,
                 "--tls", "pop3s", "--fingerprint", server_->cert_fingerprint()})
                .exit_code,
            0);
  auto failed = run({"collect", "--json", "--account", "bad"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.out.find("auth"), std::string::npos) << failed.out;
}

}  // namespace
}  // namespace mailvault
