// Collection runs against the scripted fault-injecting POP3 server
// (tests/scripted_pop3_server.h): a cut mid-RETR, a stall, garbage and
// over-long lines, [IN-USE], a size lie, a UIDL list that changes between
// runs, a server without UIDL, oversize messages and the account lock. Each
// run must fail or skip with a clear recorded reason, store nothing partial,
// delete nothing, and the next run must recover.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "archive/archive.h"
#include "collector/collection_run.h"
#include "tests/scripted_pop3_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using testing::ScriptedPop3Server;

constexpr char kCapa[] = "+OK\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n.\r\n";

std::string Mail(const std::string& tag) {
  return "From: a@example.org\r\nSubject: " + tag + "\r\n\r\nbody of " + tag + "\r\n";
}
std::string Size(const std::string& tag) { return std::to_string(Mail(tag).size()); }
std::string RetrReply(const std::string& tag) { return "+OK\r\n" + Mail(tag) + ".\r\n"; }

ScriptedPop3Server& Login(ScriptedPop3Server& s) {
  return s.Reply("+OK ready")
      .Expect("CAPA")
      .Send(kCapa)
      .Expect("USER alice")
      .Reply("+OK")
      .Expect("PASS s3cret")
      .Reply("+OK logged in")
      .Expect("CAPA")
      .Send(kCapa);
}

class CollectorFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto a = Archive::Open(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    archive_ = std::move(a).value();
    options_.connect_timeout = milliseconds(2'000);
    options_.io_timeout = milliseconds(1'000);
    options_.session_timeout = milliseconds(20'000);
  }

  RunReport Collect(uint16_t port, DeletePolicy::Kind policy = DeletePolicy::Kind::kKeep) {
    Account a;
    a.name = "acct";
    a.host = "127.0.0.1";
    a.port = port;
    a.user = "alice";
    a.tls = TlsMode::kNone;
    a.policy.kind = policy;
    return RunCollection(*archive_, a, "s3cret", options_);
  }

  uint64_t Messages() { return archive_->Stats()->messages; }
  std::vector<LedgerEntry> Ledger() {
    std::vector<LedgerEntry> rows;
    EXPECT_TRUE(archive_
                    ->WithCatalog([&](Catalog& c) -> Status {
                      MV_ASSIGN_OR_RETURN(rows, c.LedgerOf("acct"));
                      return Status::Ok();
                    })
                    .ok());
    return rows;
  }
  // The recorded run, as the catalog holds it.
  RunRecord Recorded(const RunReport& r) {
    auto runs = RecentRuns(*archive_, "acct", 1);
    EXPECT_TRUE(runs.ok());
    EXPECT_FALSE(runs->empty());
    EXPECT_EQ((*runs)[0].id, r.run_id);
    return runs->empty() ? RunRecord{} : (*runs)[0];
  }

  testing::TempDir dir_;
  std::unique_ptr<Archive> archive_;
  CollectionOptions options_;
};

TEST_F(CollectorFaultTest, CutMidRetrStoresNothingPartialAndTheNextRunRecovers) {
  {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n2 " + Size("two") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 U1\r\n2 U2\r\n.\r\n")
        .Expect("RETR 1")
        .Send(RetrReply("one"))
        .Expect("RETR 2")
        .Send("+OK\r\nFrom: a@example.org\r\nSubject: tw")
        .Close();
    RunReport r = Collect(server.Start(), DeletePolicy::Kind::kDeleteWhenArchived);
    EXPECT_EQ(server.Finish(), "");
    EXPECT_EQ(r.status.code(), StatusCode::kIoError) << r.status.ToString();
    EXPECT_EQ(r.new_messages, 1u);  // the complete one is kept
    EXPECT_EQ(r.failed, 1u);
    EXPECT_TRUE(r.accounted());
    EXPECT_FALSE(r.complete());
    ASSERT_EQ(r.items.size(), 1u);
    EXPECT_EQ(r.items[0].uidl, "U2");
    EXPECT_NE(r.items[0].reason.find("terminating"), std::string::npos) << r.items[0].reason;
    EXPECT_EQ(Messages(), 1u);
    RunRecord rec = Recorded(r);
    EXPECT_EQ(rec.state, "failed");
    ASSERT_TRUE(rec.error.has_value());
    auto items = RunItems(*archive_, r.run_id);
    ASSERT_TRUE(items.ok());
    EXPECT_EQ(items->size(), 1u);
    for (const auto& line : server.received()) EXPECT_NE(line.substr(0, 4), "DELE");
  }
  {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n2 " + Size("two") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 U1\r\n2 U2\r\n.\r\n")
        .Expect("RETR 2")
        .Send(RetrReply("two"))
        .Expect("DELE 1")
        .Reply("+OK")
        .Expect("DELE 2")
        .Reply("+OK")
        .Expect("QUIT")
        .Reply("+OK bye");
    RunReport r = Collect(server.Start(), DeletePolicy::Kind::kDeleteWhenArchived);
    EXPECT_EQ(server.Finish(), "");
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.archived_before, 1u);
    EXPECT_EQ(r.new_messages, 1u);
    EXPECT_EQ(r.deleted, 2u);
    EXPECT_TRUE(r.complete());
    EXPECT_EQ(Messages(), 2u);
    auto ledger = Ledger();
    ASSERT_EQ(ledger.size(), 2u);
    EXPECT_TRUE(ledger[0].deleted_at.has_value());
  }
}

TEST_F(CollectorFaultTest, StalledServerTimesOutAndNothingIsStored) {
  ScriptedPop3Server server;
  Login(server)
      .Expect("LIST")
      .Send("+OK\r\n1 " + Size("one") + "\r\n.\r\n")
      .Expect("UIDL")
      .Send("+OK\r\n1 U1\r\n.\r\n")
      .Expect("RETR 1")
      .Send("+OK\r\nFrom: a@example.org\r\n")
      .Stall(milliseconds(3'000));
  auto start = std::chrono::steady_clock::now();
  RunReport r = Collect(server.Start());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.status.code(), StatusCode::kTimeout) << r.status.ToString();
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(Messages(), 0u);
  EXPECT_TRUE(Recorded(r).error.has_value());
  server.Finish();
}

TEST_F(CollectorFaultTest, GarbageAndOverLongLinesAreProtocolErrors) {
  {
    ScriptedPop3Server server;
    Login(server).Expect("LIST").Reply("HELLO? \x01\x02 garbage");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(r.status.code(), StatusCode::kProtocol) << r.status.ToString();
    EXPECT_FALSE(r.listed);
    EXPECT_FALSE(r.accounted());
    server.Finish();
  }
  {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 " + std::string(20'000, 'x') + "\r\n.\r\n");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(r.status.code(), StatusCode::kProtocol) << r.status.ToString();
    server.Finish();
  }
  EXPECT_EQ(Messages(), 0u);
}

TEST_F(CollectorFaultTest, InUseIsTemporaryNotAWrongPassword) {
  ScriptedPop3Server server;
  server.Reply("+OK ready")
      .Expect("CAPA")
      .Send(kCapa)
      .Expect("USER alice")
      .Reply("+OK")
      .Expect("PASS s3cret")
      .Reply("-ERR [IN-USE] mailbox locked by another session");
  RunReport r = Collect(server.Start());
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  EXPECT_NE(Recorded(r).error->find("IN-USE"), std::string::npos);
  // The scheduler waits before the next attempt: mailvault's choice for IN-USE.
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, std::chrono::minutes(5));
  server.Finish();
}

TEST_F(CollectorFaultTest, LoginDelayWaitsAsLongAsTheServerAdvertised) {
  ScriptedPop3Server server;
  server.Reply("+OK ready")
      .Expect("CAPA")
      .Send("+OK\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\n.\r\n")
      .Expect("USER alice")
      .Reply("+OK")
      .Expect("PASS s3cret")
      .Reply("-ERR [LOGIN-DELAY] too soon");
  RunReport r = Collect(server.Start());
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, std::chrono::seconds(900));
  server.Finish();
}

TEST_F(CollectorFaultTest, SizeLieIsRecordedNotStoredNotDeleted) {
  {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 5\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 U1\r\n.\r\n")
        .Expect("RETR 1")
        .Send(RetrReply("one"))
        .Expect("QUIT")
        .Reply("+OK");
    RunReport r = Collect(server.Start(), DeletePolicy::Kind::kDeleteWhenArchived);
    EXPECT_EQ(server.Finish(), "");
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(r.deleted, 0u);
    ASSERT_EQ(r.items.size(), 1u);
    EXPECT_NE(r.items[0].reason.find("size mismatch"), std::string::npos);
    EXPECT_EQ(Messages(), 0u);
  }
  {
    // The server tells the truth again: the next run archives it.
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 U1\r\n.\r\n")
        .Expect("RETR 1")
        .Send(RetrReply("one"))
        .Expect("QUIT")
        .Reply("+OK");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(server.Finish(), "");
    EXPECT_TRUE(r.complete());
    EXPECT_EQ(Messages(), 1u);
  }
}

TEST_F(CollectorFaultTest, UidlListChangingBetweenRunsMarksRemovedAndStoresNoDuplicate) {
  {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n2 " + Size("two") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 A\r\n2 B\r\n.\r\n")
        .Expect("RETR 1")
        .Send(RetrReply("one"))
        .Expect("RETR 2")
        .Send(RetrReply("two"))
        .Expect("QUIT")
        .Reply("+OK");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(server.Finish(), "");
    EXPECT_EQ(r.new_messages, 2u);
  }
  {
    // A is gone, B stays, C is message "one" again under a new UIDL.
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("two") + "\r\n2 " + Size("one") + "\r\n.\r\n")
        .Expect("UIDL")
        .Send("+OK\r\n1 B\r\n2 C\r\n.\r\n")
        .Expect("RETR 2")
        .Send(RetrReply("one"))
        .Expect("QUIT")
        .Reply("+OK");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(server.Finish(), "");
    EXPECT_TRUE(r.complete()) << r.status.ToString();
    EXPECT_EQ(r.archived_before, 1u);
    EXPECT_EQ(r.duplicate, 1u);
    EXPECT_EQ(r.new_messages, 0u);
    EXPECT_EQ(r.removed, 1u);
  }
  EXPECT_EQ(Messages(), 2u);
  auto ledger = Ledger();
  ASSERT_EQ(ledger.size(), 3u);
  EXPECT_EQ(ledger[0].uidl, "A");
  EXPECT_TRUE(ledger[0].removed_at.has_value());
  EXPECT_FALSE(ledger[0].deleted_at.has_value());
  EXPECT_EQ(ledger[0].message, ledger[2].message);  // A and C: one stored message
}

TEST_F(CollectorFaultTest, WithoutUidlTheKeyComesFromSizeAndHeaders) {
  for (int round = 0; round < 2; ++round) {
    ScriptedPop3Server server;
    Login(server)
        .Expect("LIST")
        .Send("+OK\r\n1 " + Size("one") + "\r\n.\r\n")
        .Expect("UIDL")
        .Reply("-ERR command not supported")
        .Expect("TOP 1 0")
        .Send("+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n");
    if (round == 0) server.Expect("RETR 1").Send(RetrReply("one"));
    server.Expect("QUIT").Reply("+OK");
    RunReport r = Collect(server.Start());
    EXPECT_EQ(server.Finish(), "") << "round " << round;
    EXPECT_TRUE(r.uidl_fallback);
    EXPECT_TRUE(r.complete()) << r.status.ToString();
    EXPECT_EQ(r.new_messages, round == 0 ? 1u : 0u);
    EXPECT_EQ(r.archived_before, round == 0 ? 0u : 1u);
  }
  auto ledger = Ledger();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].uidl.substr(0, 5), "top0:");
}

TEST_F(CollectorFaultTest, OversizeMessagesAreSkippedWithAReason) {
  options_.max_message_size = 100;
  ScriptedPop3Server server;
  Login(server)
      .Expect("LIST")
      .Send("+OK\r\n1 " + Size("one") + "\r\n2 500\r\n.\r\n")
      .Expect("UIDL")
      .Send("+OK\r\n1 U1\r\n2 BIG\r\n.\r\n")
      .Expect("RETR 1")
      .Send(RetrReply("one"))
      .Expect("QUIT")
      .Reply("+OK");
  RunReport r = Collect(server.Start());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(r.new_messages, 1u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_TRUE(r.accounted());
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].uidl, "BIG");
  EXPECT_EQ(r.items[0].outcome, "skipped");
  EXPECT_NE(r.items[0].reason.find("max_message_size"), std::string::npos);
}

TEST_F(CollectorFaultTest, OverlappingRunOfOneAccountIsRefusedByTheLock) {
  {
    auto held = AccountLock::Acquire(archive_->options().data_dir, "acct");
    ASSERT_TRUE(held.ok());
    RunReport r = Collect(1);  // refused before it connects
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
    EXPECT_NE(r.status.message().find("in progress"), std::string::npos);
    EXPECT_EQ(Recorded(r).state, "failed");
  }

  // A real overlap: the first run stalls at the greeting while the second starts.
  ScriptedPop3Server server;
  server.Stall(milliseconds(800)).Reply("+OK ready");
  uint16_t port = server.Start();
  RunReport first;
  std::thread t([&] { first = Collect(port); });
  std::this_thread::sleep_for(milliseconds(200));
  RunReport second = Collect(port);
  t.join();
  EXPECT_EQ(second.status.code(), StatusCode::kUnavailable) << second.status.ToString();
  server.Finish();
}

}  // namespace
}  // namespace mailvault
