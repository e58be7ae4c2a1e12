// CollectionService against a real Dovecot on 127.0.0.1, with a ManualClock:
// nothing runs before the schedule's slot, every account runs at it, the limits
// hold, run-now and AccountsChanged work, catch-up after downtime runs an
// account once at start, and Stop() ends a run in progress cleanly.
#include "daemon/collection_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/dovecot_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using testing::DovecotSuite;

constexpr char kPassword[] = "service-secret";

// 2026-03-02 01:59:00 UTC.
constexpr int64_t kBefore = 1772416740;

std::string Mail(const std::string& user, int i) {
  return "From: Sender <sender@example.org>\nTo: " + user + "@example.org\nSubject: message " +
         std::to_string(i) + "\nMessage-ID: <" + std::to_string(i) + "." + user +
         "@example.org>\n\nbody " + std::to_string(i) + " for " + user + "\n" +
         std::string(static_cast<size_t>(200 + 37 * i), 'x') + "\n";
}

// Waits (bounded: 30 s) until `done` holds.
template <typename Pred>
bool WaitFor(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

class CollectionServiceTest : public DovecotSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AddTestUser("s", kPassword));
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto a = Archive::Open(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    archive_ = std::move(a).value();
    auto box = SecretBox::Open(o.data_dir);
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_ = std::move(box).value();
  }

  // Adds Dovecot users user_-0 .. user_-(n-1) with `messages` mails each, and
  // their accounts (schedule "0 2 * * *" unless given).
  void AddAccounts(int n, int messages, const std::string& schedule = "") {
    AccountStore store(archive_.get(), box_.get(), &clock_);
    for (int i = 0; i < n; ++i) {
      std::string user = user_ + "-" + std::to_string(i);
      ASSERT_TRUE(server_->AddUser(user, kPassword).ok());
      for (int m = 0; m < messages; ++m) ASSERT_TRUE(server_->Deliver(user, Mail(user, m)).ok());
      Account a;
      a.name = user;
      a.host = "127.0.0.1";
      a.port = server_->pop3_port();
      a.user = user;
      a.tls = TlsMode::kNone;
      a.schedule = schedule;
      ASSERT_TRUE(store.Add(a, kPassword).ok());
      names_.push_back(user);
    }
  }

  void StartService(int max_sessions = 8, int per_host = 2) {
    CollectionServiceOptions o;
    o.archive = archive_.get();
    o.box = box_.get();
    o.clock = &clock_;
    o.scheduler.max_sessions = max_sessions;
    o.scheduler.max_sessions_per_host = per_host;
    o.scheduler.zone = TimeZone::Utc();
    o.default_schedule = "0 2 * * *";
    o.collection.connect_timeout = milliseconds(5'000);
    o.collection.io_timeout = milliseconds(10'000);
    o.max_wait = milliseconds(20);
    o.on_new_messages = [this] { ++new_message_calls_; };
    auto s = CollectionService::Start(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(s).value();
  }

  uint64_t RunsFinished() {
    CollectionMetrics m = service_->Metrics();
    return m.runs_ok + m.runs_failed + m.runs_interrupted;
  }

  testing::TempDir dir_;
  ManualClock clock_{kBefore};
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<CollectionService> service_;
  std::vector<std::string> names_;
  std::atomic<int> new_message_calls_{0};
};

TEST_F(CollectionServiceTest, NothingBeforeTheSlotEveryAccountAtItWithinTheLimits) {
  AddAccounts(6, 12);
  StartService(/*max_sessions=*/8, /*per_host=*/2);
  std::this_thread::sleep_for(milliseconds(200));  // many dispatcher rounds
  EXPECT_EQ(RunsFinished(), 0u);
  EXPECT_TRUE(service_->LiveRuns().empty());
  for (const AccountSchedule& s : service_->Schedules()) {
    ASSERT_TRUE(s.next_run.has_value()) << s.account;
    EXPECT_EQ(*s.next_run, kBefore + 60) << s.account;  // 02:00
  }

  clock_.Advance(61);
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 6; })) << RunsFinished();
  CollectionMetrics m = service_->Metrics();
  EXPECT_EQ(m.runs_ok, 6u);
  EXPECT_EQ(m.messages_new, 6u * 12u);
  EXPECT_GE(m.running_peak, 1);
  EXPECT_LE(m.running_peak, 2);  // one host: its limit
  EXPECT_EQ(archive_->Stats()->messages, 6u * 12u);
  EXPECT_GE(new_message_calls_.load(), 6);
  for (const auto& a : m.accounts) EXPECT_TRUE(a.last_success.has_value()) << a.account;

  // Served: the next slot is tomorrow.
  ASSERT_TRUE(WaitFor([&] { return service_->LiveRuns().empty(); }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(RunsFinished(), 6u);
  for (const AccountSchedule& s : service_->Schedules()) {
    ASSERT_TRUE(s.next_run.has_value());
    EXPECT_EQ(*s.next_run, kBefore + 60 + 86400) << s.account;
  }
}

TEST_F(CollectionServiceTest, GlobalLimitHoldsAcrossHosts) {
  // Two host names for the same server: the per-host limit does not bind.
  AddAccounts(6, 40);
  {
    AccountStore store(archive_.get(), box_.get(), &clock_);
    for (size_t i = 0; i < names_.size(); i += 2) {
      Account a = *store.Get(names_[i]);
      a.host = "localhost";
      ASSERT_TRUE(store.Update(a, std::nullopt).ok());
    }
  }
  StartService(/*max_sessions=*/3, /*per_host=*/3);
  service_->RunNowAll();
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 6; })) << RunsFinished();
  CollectionMetrics m = service_->Metrics();
  EXPECT_EQ(m.runs_ok, 6u);
  EXPECT_LE(m.running_peak, 3);
  EXPECT_EQ(archive_->Stats()->messages, 6u * 40u);
}

TEST_F(CollectionServiceTest, RunNowAccountsChangedAndUnknownAccounts) {
  AddAccounts(1, 3);
  StartService();
  EXPECT_EQ(service_->RunNow("no-such-account").code(), StatusCode::kNotFound);

  // An account added while the service runs is unknown until AccountsChanged().
  AccountStore store(archive_.get(), box_.get(), &clock_);
  std::string user = user_ + "-late";
  ASSERT_TRUE(server_->AddUser(user, kPassword).ok());
  ASSERT_TRUE(server_->Deliver(user, Mail(user, 1)).ok());
  Account late;
  late.name = user;
  late.host = "127.0.0.1";
  late.port = server_->pop3_port();
  late.user = user;
  late.tls = TlsMode::kNone;
  ASSERT_TRUE(store.Add(late, kPassword).ok());
  EXPECT_EQ(service_->RunNow(user).code(), StatusCode::kNotFound);
  ASSERT_TRUE(service_->AccountsChanged().ok());
  Status run_now = service_->RunNow(user);
  ASSERT_TRUE(run_now.ok()) << run_now.ToString();
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 1; }));
  EXPECT_EQ(service_->Metrics().messages_new, 1u);
  auto runs = RecentRuns(*archive_, user, 5);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].state, "ok");

  // A wrong password: the run fails, is recorded, and counts towards back-off.
  ASSERT_TRUE(store.Update(late, std::string_view("wrong")).ok());
  ASSERT_TRUE(service_->RunNow(user).ok());
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 2; }));
  EXPECT_EQ(service_->Metrics().runs_failed, 1u);
  bool found = false;
  for (const AccountSchedule& s : service_->Schedules()) {
    if (s.account != user) continue;
    found = true;
    EXPECT_EQ(s.consecutive_failures, 1);
    ASSERT_TRUE(s.next_run.has_value());
    EXPECT_EQ(*s.next_run, kBefore + 60);  // retry after 1 min (the default back-off)
  }
  EXPECT_TRUE(found);

  // Removed from the catalog: gone from the schedule.
  ASSERT_TRUE(store.Remove(user).ok());
  ASSERT_TRUE(service_->AccountsChanged().ok());
  EXPECT_EQ(service_->RunNow(user).code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Schedules().size(), 1u);
}

// The daemon's compaction needs the archive without writers: PauseIfIdle holds
// new runs back, but only when nothing runs, is queued or is due.
TEST_F(CollectionServiceTest, PauseIfIdleHoldsNewRunsBackOnlyWhenIdle) {
  AddAccounts(2, 3);
  StartService();
  ASSERT_TRUE(service_->PauseIfIdle());
  EXPECT_FALSE(service_->PauseIfIdle());  // paused already
  clock_.Advance(61);                     // 02:00: both due, held back
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(RunsFinished(), 0u);
  EXPECT_TRUE(service_->LiveRuns().empty());
  service_->Resume();
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 2; })) << RunsFinished();
  EXPECT_EQ(service_->Metrics().messages_new, 6u);

  // A run asked for (then running) is not idle; once it ended, it is.
  ASSERT_TRUE(service_->RunNow(names_[0]).ok());
  EXPECT_FALSE(service_->PauseIfIdle());
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 3; }));
  ASSERT_TRUE(WaitFor([&] { return service_->PauseIfIdle(); }));
  ASSERT_TRUE(service_->RunNow(names_[1]).ok());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(RunsFinished(), 3u);  // held back until Resume
  service_->Resume();
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 4; }));
}

TEST_F(CollectionServiceTest, CatchUpAfterDowntimeRunsOnceAtStart) {
  AddAccounts(2, 2, "*/10 * * * *");
  {
    // The first account last ran a day ago (its slots were missed while the
    // process was down); the second never ran (it waits for its slot).
    ASSERT_TRUE(archive_
                    ->WithCatalog([&](Catalog& c) -> Status {
                      MV_ASSIGN_OR_RETURN(
                          SqliteStatement st,
                          c.database().Prepare("INSERT INTO collection_runs(account, "
                                               "started_at, ended_at, state) VALUES(?,?,?,'ok')"));
                      st.Bind(1, names_[0]).Bind(2, kBefore - 86400).Bind(3, kBefore - 86390);
                      return st.Run();
                    })
                    .ok());
  }
  StartService();
  ASSERT_TRUE(WaitFor([&] { return RunsFinished() == 1; }));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(RunsFinished(), 1u);  // once, not once per missed slot
  auto first = RecentRuns(*archive_, names_[0], 5);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 2u);
  auto second = RecentRuns(*archive_, names_[1], 5);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty());
}

TEST_F(CollectionServiceTest, StopEndsARunInProgressWithoutLosingAnything) {
  constexpr size_t kMessages = 1500;
  AddAccounts(1, kMessages);
  {
    AccountStore store(archive_.get(), box_.get(), &clock_);
    Account a = *store.Get(names_[0]);
    a.policy.kind = DeletePolicy::Kind::kDeleteWhenArchived;
    ASSERT_TRUE(store.Update(a, std::nullopt).ok());
  }
  StartService();
  ASSERT_TRUE(service_->RunNow(names_[0]).ok());
  // Stop as soon as the run has listed the mailbox and begun fetching.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto live = service_->LiveRuns();
    if (!live.empty() && live[0].to_fetch > 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the run never started fetching";
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(service_->Stop(std::chrono::seconds(20)));
  EXPECT_TRUE(service_->LiveRuns().empty());
  auto runs = RecentRuns(*archive_, names_[0], 5);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const RunRecord& r = (*runs)[0];
  EXPECT_EQ(r.state, "interrupted");
  EXPECT_EQ(service_->Metrics().runs_interrupted, 1u);
  // Nothing is lost: what is archived is gone from the server (QUIT was
  // confirmed), everything else is still there for the next run.
  size_t archived = archive_->Stats()->messages;
  EXPECT_EQ(archived, r.new_messages);
  EXPECT_LT(archived, kMessages);
  EXPECT_EQ(r.new_messages + r.failed, kMessages);
  EXPECT_EQ(r.deleted, r.new_messages);
  EXPECT_EQ(*server_->CountMessages(names_[0]), kMessages - archived);
  // Stopped for good: run-now is accepted but nothing starts.
  ASSERT_TRUE(service_->RunNow(names_[0]).ok());
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(RecentRuns(*archive_, names_[0], 5)->size(), 1u);
}

}  // namespace
}  // namespace mailvault
