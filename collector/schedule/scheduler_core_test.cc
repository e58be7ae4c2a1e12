#include "collector/schedule/scheduler_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "collector/schedule/schedule_testing.h"

namespace mailvault {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::UnixSeconds;
using testing::Utc;
using testing::UtcString;

ScheduledAccount Account(const std::string& id, const std::string& host,
                         const char* cron = "0 2 * * *",
                         std::optional<TimePoint> last_run = std::nullopt) {
  auto schedule = CronExpression::Parse(cron);
  if (!schedule.ok()) std::abort();
  return {id, host, *schedule, last_run};
}

SchedulerOptions UtcOptions() {
  SchedulerOptions options;
  options.zone = TimeZone::Utc();
  return options;
}

RandomSource Fixed(int64_t value) {
  return [value](int64_t bound) { return std::min(value, bound); };
}

// A scheduler over a ManualClock starting at `start` (UTC).
struct Fixture {
  explicit Fixture(const char* start, SchedulerOptions options = UtcOptions(),
                   RandomSource random = Fixed(0))
      : clock(UnixSeconds(Utc(start))), core(std::move(options), clock, std::move(random)) {}
  void At(const char* when) { clock.Set(UnixSeconds(Utc(when))); }
  ManualClock clock;
  SchedulerCore core;
};

std::vector<std::string> Ids(std::initializer_list<const char*> ids) {
  return std::vector<std::string>(ids.begin(), ids.end());
}

TEST(SchedulerCoreTest, RunsAtTheSlotAndThenTheNext) {
  Fixture f("2024-06-01 12:00");
  ASSERT_TRUE(f.core.AddAccount(Account("a", "pop.example")).ok());
  EXPECT_TRUE(f.core.TakeDue().empty());
  ASSERT_TRUE(f.core.NextWakeup().has_value());
  EXPECT_EQ(UtcString(*f.core.NextWakeup()), "2024-06-02 02:00:00");
  f.At("2024-06-02 02:00");
  EXPECT_EQ(f.core.TakeDue(), Ids({"a"}));
  EXPECT_TRUE(f.core.TakeDue().empty());
  EXPECT_FALSE(f.core.NextWakeup().has_value());  // the only account is running
  f.At("2024-06-02 02:10");
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(UtcString(*f.core.NextWakeup()), "2024-06-03 02:00:00");
  EXPECT_EQ(f.core.AddAccount(Account("a", "x")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(f.core.Finished("a", RunOutcome::Succeeded()).code(), StatusCode::kNotFound);
  EXPECT_EQ(f.core.Finished("zz", RunOutcome::Succeeded()).code(), StatusCode::kNotFound);
}

TEST(SchedulerCoreTest, JitterStaysWithinItsBoundAndUsesTheRandomSource) {
  SchedulerOptions options = UtcOptions();
  options.jitter = minutes(10);
  std::vector<int64_t> bounds;
  int64_t answer = 600;
  Fixture f("2024-06-01 12:00", options, [&](int64_t bound) {
    bounds.push_back(bound);
    return answer;
  });
  ASSERT_TRUE(f.core.AddAccount(Account("max", "h")).ok());
  answer = 0;
  ASSERT_TRUE(f.core.AddAccount(Account("min", "h")).ok());
  EXPECT_EQ(bounds, std::vector<int64_t>({600, 600}));
  EXPECT_EQ(UtcString(*f.core.State("max")->next_due), "2024-06-02 02:10:00");
  EXPECT_EQ(UtcString(*f.core.State("min")->next_due), "2024-06-02 02:00:00");
  EXPECT_EQ(UtcString(f.core.State("max")->next_slot), "2024-06-02 02:00:00");
  f.At("2024-06-02 02:09:59");
  EXPECT_EQ(f.core.TakeDue(), Ids({"min"}));
  f.At("2024-06-02 02:10");
  EXPECT_EQ(f.core.TakeDue(), Ids({"max"}));

  // With the real random source, many accounts spread over [slot, slot + jitter].
  Fixture spread("2024-06-01 12:00", options, DefaultRandomSource());
  std::set<int64_t> distinct;
  for (int i = 0; i < 200; ++i) {
    std::string id = "acct" + std::to_string(i);
    ASSERT_TRUE(spread.core.AddAccount(Account(id, "h")).ok());
    TimePoint due = *spread.core.State(id)->next_due;
    EXPECT_GE(due, Utc("2024-06-02 02:00"));
    EXPECT_LE(due, Utc("2024-06-02 02:10"));
    distinct.insert(UnixSeconds(due));
  }
  EXPECT_GT(distinct.size(), 50u);
}

TEST(SchedulerCoreTest, BackoffDoublesUpToTheCapThenMarksFailing) {
  SchedulerOptions options = UtcOptions();
  options.retry_initial_delay = minutes(1);
  options.retry_max_delay = minutes(10);
  options.retry_limit = 5;
  Fixture f("2024-06-02 01:00", options);
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h")).ok());
  f.At("2024-06-02 02:00");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  const int expected_delays[] = {60, 120, 240, 480, 600};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed()).ok());
    auto state = *f.core.State("a");
    EXPECT_EQ(state.consecutive_failures, i + 1);
    EXPECT_FALSE(state.failing);
    EXPECT_EQ(UnixSeconds(*state.next_due) - f.clock.NowUnixSeconds(), expected_delays[i]);
    f.clock.Advance(expected_delays[i] - 1);
    EXPECT_TRUE(f.core.TakeDue().empty()) << "retry " << i << " came early";
    f.clock.Advance(1);
    ASSERT_EQ(f.core.TakeDue(), Ids({"a"})) << "retry " << i;
  }
  // The sixth consecutive failure exceeds the retry limit: only the schedule remains.
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed()).ok());
  auto state = *f.core.State("a");
  EXPECT_TRUE(state.failing);
  EXPECT_EQ(UtcString(*state.next_due), "2024-06-03 02:00:00");
  f.At("2024-06-03 02:00");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed()).ok());
  EXPECT_TRUE(f.core.State("a")->failing);
  EXPECT_EQ(UtcString(*f.core.State("a")->next_due), "2024-06-04 02:00:00");
  // One success clears everything.
  f.At("2024-06-04 02:00");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  state = *f.core.State("a");
  EXPECT_FALSE(state.failing);
  EXPECT_EQ(state.consecutive_failures, 0);
  EXPECT_EQ(UtcString(*state.next_due), "2024-06-05 02:00:00");
}

TEST(SchedulerCoreTest, ServerRetryHintsAreRespected) {
  Fixture f("2024-06-02 02:00");
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h", "* * * * *")).ok());
  f.At("2024-06-02 02:01");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  // [LOGIN-DELAY 900]: no attempt for 15 minutes, although back-off says 1 minute.
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed(seconds(900))).ok());
  f.At("2024-06-02 02:15:59");
  EXPECT_TRUE(f.core.TakeDue().empty());
  f.At("2024-06-02 02:16:00");
  EXPECT_EQ(f.core.TakeDue(), Ids({"a"}));
  // Status mapping.
  EXPECT_EQ(RunOutcome::FromStatus(Status::Ok()).kind, RunOutcome::Kind::kSucceeded);
  EXPECT_EQ(RunOutcome::FromStatus(Status::Cancelled("stop")).kind, RunOutcome::Kind::kCancelled);
  auto busy = RunOutcome::FromStatus(Status::Unavailable("[IN-USE]"), seconds(60));
  EXPECT_EQ(busy.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(busy.retry_after, seconds(60));
}

TEST(SchedulerCoreTest, HintAlsoDelaysAFailingAccountsNextSlot) {
  SchedulerOptions options = UtcOptions();
  options.retry_limit = 0;  // the first failure marks the account failing
  Fixture f("2024-06-02 01:59", options);
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h", "0 * * * *")).ok());
  f.At("2024-06-02 02:00");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed(seconds(7200))).ok());
  EXPECT_TRUE(f.core.State("a")->failing);
  EXPECT_EQ(UtcString(*f.core.State("a")->next_due), "2024-06-02 04:00:00");
}

TEST(SchedulerCoreTest, CatchUpAfterDowntimeRunsOnce) {
  // Down from day 1 03:00 to day 4 10:00: three 02:00 slots missed.
  Fixture f("2024-06-04 10:00");
  ASSERT_TRUE(f.core.AddAccount(Account("missed", "h", "0 2 * * *", Utc("2024-06-01 02:00"))).ok());
  ASSERT_TRUE(
      f.core.AddAccount(Account("current", "h", "0 2 * * *", Utc("2024-06-04 02:00"))).ok());
  ASSERT_TRUE(f.core.AddAccount(Account("never", "h", "0 2 * * *")).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"missed"}));
  EXPECT_TRUE(f.core.TakeDue().empty());
  f.At("2024-06-04 10:05");
  ASSERT_TRUE(f.core.Finished("missed", RunOutcome::Succeeded()).ok());
  EXPECT_TRUE(f.core.TakeDue().empty());
  auto state = *f.core.State("missed");
  EXPECT_EQ(UtcString(*state.next_due), "2024-06-05 02:00:00");
  EXPECT_EQ(UtcString(*f.core.NextWakeup()), "2024-06-05 02:00:00");
  f.At("2024-06-05 02:00");
  // All three fall due at 02:00 on one host (limit 2): the first two added go first.
  EXPECT_EQ(f.core.TakeDue(), Ids({"missed", "current"}));
}

TEST(SchedulerCoreTest, NeverOverlapsAndCoalescesSlotsMissedWhileRunning) {
  Fixture f("2024-06-02 02:00");
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h", "* * * * *")).ok());
  f.At("2024-06-02 02:01");
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  for (int i = 0; i < 10; ++i) {  // a ten-minute run spans ten slots
    f.clock.Advance(60);
    EXPECT_TRUE(f.core.TakeDue().empty());
    EXPECT_TRUE(f.core.RunNow("a").ok());
    EXPECT_TRUE(f.core.TakeDue().empty());
  }
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"a"}));  // one follow-up run, not ten
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  EXPECT_TRUE(f.core.TakeDue().empty());
  EXPECT_EQ(UtcString(*f.core.NextWakeup()), "2024-06-02 02:12:00");
}

TEST(SchedulerCoreTest, PerHostLimitDoesNotBlockOtherHostsAndQueueIsFifo) {
  SchedulerOptions options = UtcOptions();
  options.max_sessions = 3;
  options.max_sessions_per_host = 2;
  Fixture f("2024-06-02 01:00", options);
  // busy.example's accounts fall due first (02:00), other.example's at 02:05.
  for (const char* id : {"b1", "b2", "b3", "b4"}) {
    ASSERT_TRUE(f.core.AddAccount(Account(id, "Busy.Example", "0 2 * * *")).ok());
  }
  ASSERT_TRUE(f.core.AddAccount(Account("o1", "other.example", "5 2 * * *")).ok());
  ASSERT_TRUE(f.core.AddAccount(Account("o2", "other.example", "5 2 * * *")).ok());
  f.At("2024-06-02 02:10");
  EXPECT_EQ(f.core.TakeDue(), Ids({"b1", "b2", "o1"}));
  EXPECT_EQ(f.core.running_on_host("busy.example"), 2);
  EXPECT_EQ(f.core.queue_length(), 3);
  ASSERT_TRUE(f.core.Finished("o1", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"o2"}));  // busy.example is at its limit
  ASSERT_TRUE(f.core.Finished("b2", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"b3"}));  // first in, first out
  ASSERT_TRUE(f.core.Finished("o2", RunOutcome::Succeeded()).ok());
  EXPECT_TRUE(f.core.TakeDue().empty());  // b4 waits for its host, not for the global limit
  ASSERT_TRUE(f.core.Finished("b1", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"b4"}));
  EXPECT_EQ(f.core.queue_length(), 0);
}

TEST(SchedulerCoreTest, RunNowJumpsTheScheduleButObeysTheLimits) {
  SchedulerOptions options = UtcOptions();
  options.max_sessions = 2;
  options.max_sessions_per_host = 1;
  Fixture f("2024-06-02 12:00", options);
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h1")).ok());
  ASSERT_TRUE(f.core.AddAccount(Account("b", "h1")).ok());
  ASSERT_TRUE(f.core.AddAccount(Account("c", "h2")).ok());
  ASSERT_TRUE(f.core.AddAccount(Account("d", "h3")).ok());
  EXPECT_EQ(f.core.RunNow("nobody").code(), StatusCode::kNotFound);
  ASSERT_TRUE(f.core.RunNow("b").ok());
  EXPECT_TRUE(f.core.State("b")->run_now_pending);
  EXPECT_EQ(f.core.TakeDue(), Ids({"b"}));
  f.core.RunNowAll();
  EXPECT_EQ(f.core.TakeDue(), Ids({"c"}));  // a: host h1 busy; d: global limit
  f.clock.Advance(60);
  ASSERT_TRUE(f.core.Finished("b", RunOutcome::Succeeded()).ok());
  // b had a run-now request while running: it stays queued behind a and d.
  EXPECT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("c", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"d"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"b"}));
  ASSERT_TRUE(f.core.Finished("b", RunOutcome::Succeeded()).ok());
  ASSERT_TRUE(f.core.Finished("d", RunOutcome::Succeeded()).ok());
  EXPECT_TRUE(f.core.TakeDue().empty());
  for (const auto& state : f.core.States()) {
    EXPECT_FALSE(state.run_now_pending) << state.id;
    EXPECT_EQ(UtcString(*state.next_due), "2024-06-03 02:00:00") << state.id;
  }
}

TEST(SchedulerCoreTest, RunNowOverridesBackoffAndFailingMark) {
  SchedulerOptions options = UtcOptions();
  options.retry_limit = 0;
  Fixture f("2024-06-02 02:00", options);
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h")).ok());
  ASSERT_TRUE(f.core.RunNow("a").ok());
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Failed()).ok());
  EXPECT_TRUE(f.core.State("a")->failing);
  ASSERT_TRUE(f.core.RunNow("a").ok());
  EXPECT_EQ(f.core.TakeDue(), Ids({"a"}));
}

TEST(SchedulerCoreTest, RemoveWhileRunningWaitsForTheRun) {
  Fixture f("2024-06-02 02:00");
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h")).ok());
  ASSERT_TRUE(f.core.RunNow("a").ok());
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.RemoveAccount("a").ok());
  EXPECT_EQ(f.core.State("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(f.core.RemoveAccount("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(f.core.running_total(), 1);
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Succeeded()).ok());
  EXPECT_EQ(f.core.running_total(), 0);
  EXPECT_TRUE(f.core.States().empty());
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h")).ok());  // the id is free again
}

TEST(SchedulerCoreTest, CancelledIsNotAFailure) {
  Fixture f("2024-06-02 02:00");
  ASSERT_TRUE(f.core.AddAccount(Account("a", "h")).ok());
  ASSERT_TRUE(f.core.RunNow("a").ok());
  ASSERT_EQ(f.core.TakeDue(), Ids({"a"}));
  ASSERT_TRUE(f.core.Finished("a", RunOutcome::Cancelled()).ok());
  EXPECT_EQ(f.core.State("a")->consecutive_failures, 0);
  EXPECT_EQ(UtcString(*f.core.State("a")->next_due), "2024-06-02 02:01:00");
}

// Many accounts on a few hosts, random schedules, run lengths and outcomes,
// simulated for three days in 20-second steps. At every step: the limits hold,
// no account is granted while it runs, and the dispatcher is work-conserving
// (nothing due is left waiting while its host and the total have room).
TEST(SchedulerCoreTest, RandomizedSimulationNeverExceedsLimits) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    SchedulerOptions options = UtcOptions();
    options.max_sessions = 8;
    options.max_sessions_per_host = 2;
    options.jitter = seconds(300);
    options.retry_initial_delay = seconds(30);
    options.retry_max_delay = seconds(600);
    options.retry_limit = 3;
    std::mt19937_64 jitter_rng(seed);
    Fixture f("2024-06-01 00:00", options, [&](int64_t bound) {
      return std::uniform_int_distribution<int64_t>(0, bound)(jitter_rng);
    });
    const char* schedules[] = {"*/5 * * * *", "0 * * * *",    "*/2 * * * *",
                               "0 2 * * *",   "15 */3 * * *", "* * * * *"};
    const int kAccounts = 120;
    std::map<std::string, std::string> host_of;
    for (int i = 0; i < kAccounts; ++i) {
      std::string id = "acct" + std::to_string(i);
      std::string host = "host" + std::to_string(rng() % 7);
      host_of[id] = host;
      ASSERT_TRUE(f.core.AddAccount(Account(id, host, schedules[rng() % 6])).ok());
    }
    std::map<std::string, int64_t> running;  // id -> end time
    std::map<std::string, int> runs;
    const int64_t end = f.clock.NowUnixSeconds() + 3 * 86400;
    while (f.clock.NowUnixSeconds() < end) {
      int64_t now = f.clock.NowUnixSeconds();
      // Finish the runs whose time is up.
      for (auto it = running.begin(); it != running.end();) {
        if (it->second <= now) {
          int r = static_cast<int>(rng() % 10);
          RunOutcome outcome = r < 7   ? RunOutcome::Succeeded()
                               : r < 9 ? RunOutcome::Failed()
                                       : RunOutcome::Failed(seconds(120));
          ASSERT_TRUE(f.core.Finished(it->first, outcome).ok());
          it = running.erase(it);
        } else {
          ++it;
        }
      }
      if (rng() % 200 == 0) f.core.RunNowAll();
      if (rng() % 20 == 0) {
        ASSERT_TRUE(f.core.RunNow("acct" + std::to_string(rng() % kAccounts)).ok());
      }
      for (const std::string& id : f.core.TakeDue()) {
        ASSERT_EQ(running.count(id), 0u) << id << " granted while running";
        running[id] = now + 10 + static_cast<int64_t>(rng() % 900);
        ++runs[id];
      }
      // Invariants.
      std::map<std::string, int> per_host;
      for (const auto& [id, unused] : running) ++per_host[host_of[id]];
      ASSERT_LE(static_cast<int>(running.size()), options.max_sessions);
      ASSERT_EQ(f.core.running_total(), static_cast<int>(running.size()));
      for (const auto& [host, count] : per_host) {
        ASSERT_LE(count, options.max_sessions_per_host) << host;
        ASSERT_EQ(f.core.running_on_host(host), count);
      }
      if (static_cast<int>(running.size()) < options.max_sessions) {
        for (const auto& state : f.core.States()) {
          bool due = !state.running && state.next_due && *state.next_due <= f.clock.Now();
          if (due) {
            ASSERT_GE(per_host[state.host], options.max_sessions_per_host)
                << state.id << " left waiting with room on its host";
          }
        }
      }
      f.clock.Advance(20);
    }
    for (const auto& [id, host] : host_of) EXPECT_GE(runs[id], 3) << id << " starved";
  }
}

}  // namespace
}  // namespace mailvault
