// SchedulerCore: the collection scheduler's decisions, without threads or I/O.
//
// It knows each account's cron schedule, host, failures and whether it is
// running, and answers one question: which accounts may start a collection run
// now? The daemon owns the threads and sessions; it feeds the core what
// happened and asks it what to do next:
//
//   core.AddAccount({.id, .host, .schedule, .last_run_start});   // at start
//   loop:
//     for (id : core.TakeDue()) start a run of id (the core counts it running)
//     ... a run ends:  core.Finished(id, RunOutcome::FromStatus(status, hint));
//     ... run-now:     core.RunNow(id) / core.RunNowAll();
//     sleep until core.NextWakeup(), or until a run ends or a run-now arrives.
//
// Rules (doc/scheduler.md says them at length):
//  - Slots: an account is due at each firing of its cron expression (see
//    cron.h for DST), delayed by a random jitter in [0, options.jitter], drawn
//    anew for every slot from the injected random source.
//  - Coalescing: slots that pass while an account waits, runs or is down are
//    served by one run. When a run starts, every slot up to that moment counts
//    as served and the next slot is the first firing after the start.
//  - Catch-up: AddAccount with the start time of the account's last run makes
//    the account due at once if a slot fell between that run and now (one run,
//    however many slots were missed). An account that never ran waits for its
//    first slot.
//  - Limits: at most options.max_sessions runs at once in all, at most
//    options.max_sessions_per_host per host (compared case-insensitively). Due
//    accounts wait in a queue ordered by the time they became due (ties by the
//    order they were added); a host at its limit does not hold up others.
//  - No overlap: an account is never granted while it runs.
//  - Failures: after the n-th consecutive failure the account retries after
//    min(retry_initial_delay * 2^(n-1), retry_max_delay), or later if the
//    server asked for that ([LOGIN-DELAY], [IN-USE]: RunOutcome::retry_after).
//    After more than options.retry_limit consecutive failures the account is
//    marked failing and runs only at its schedule slots until a run succeeds.
//  - Run-now: makes an account due at once (ahead of its schedule, its back-off
//    and its failing mark), still within the limits. A request for a running
//    account is kept and served by one more run after the current one ends.
//
// Thread-safety: none; the daemon serializes calls (one mutex around the core).
// Time comes from the injected Clock, which must outlive the core.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "collector/schedule/cron.h"
#include "collector/schedule/timezone.h"

namespace mailvault {

struct SchedulerOptions {
  // Concurrent runs in all. Default 8 (config: [collector] max_sessions).
  int max_sessions = 8;
  // Concurrent runs against one host. Default 2 ([collector] max_sessions_per_host).
  int max_sessions_per_host = 2;
  // Each slot is delayed by a random time in [0, jitter]. Default 0 (the
  // config's default is 10 minutes: [collector] jitter).
  std::chrono::seconds jitter{0};
  // Back-off after the first failure; doubles per consecutive failure. Default 1 min.
  std::chrono::seconds retry_initial_delay{60};
  // Back-off cap. Default 1 hour.
  std::chrono::seconds retry_max_delay{3600};
  // Retries after a failure before the account is marked failing. Default 5.
  int retry_limit = 5;
  // Zone the cron expressions are evaluated in. Default: the system's zone.
  TimeZone zone = TimeZone::Local();
};

// Returns a uniformly distributed integer in [0, bound]. Injected for tests.
using RandomSource = std::function<int64_t(int64_t bound)>;
// A Mersenne Twister seeded from std::random_device.
RandomSource DefaultRandomSource();

// How a run ended, as the scheduler needs to know it.
struct RunOutcome {
  enum class Kind {
    kSucceeded,
    kFailed,     // counts towards back-off and the failing mark
    kCancelled,  // stopped by shutdown: not a failure; retried after retry_initial_delay
  };
  Kind kind = Kind::kSucceeded;
  // The server's wish not to be contacted for this long ([LOGIN-DELAY n],
  // [IN-USE]); the next attempt is no earlier than end + retry_after.
  std::optional<std::chrono::seconds> retry_after;

  static RunOutcome Succeeded() { return {Kind::kSucceeded, std::nullopt}; }
  static RunOutcome Failed(std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    return {Kind::kFailed, retry_after};
  }
  static RunOutcome Cancelled() { return {Kind::kCancelled, std::nullopt}; }
  // OK -> kSucceeded, kCancelled -> kCancelled, any other error -> kFailed.
  static RunOutcome FromStatus(const Status& status,
                               std::optional<std::chrono::seconds> retry_after = std::nullopt);
};

// What the core is told about an account.
struct ScheduledAccount {
  std::string id;    // unique account name
  std::string host;  // the server; the per-host limit counts by it
  CronExpression schedule;
  // Start of the account's last recorded run (from the run history), for
  // catch-up after downtime; nullopt when it never ran.
  std::optional<TimePoint> last_run_start;
};

// An account's state, for status pages and metrics.
struct AccountScheduleState {
  std::string id;
  std::string host;
  bool running = false;
  bool failing = false;  // more than retry_limit consecutive failures
  bool run_now_pending = false;
  int consecutive_failures = 0;
  std::optional<TimePoint> next_due;  // when it next becomes due (nullopt while running)
  TimePoint next_slot;                // next cron firing, before jitter
  std::optional<TimePoint> last_start;
  std::optional<TimePoint> last_finish;
};

class SchedulerCore {
 public:
  // `clock` is borrowed and must outlive the core.
  SchedulerCore(SchedulerOptions options, const Clock& clock,
                RandomSource random = DefaultRandomSource());
  SchedulerCore(const SchedulerCore&) = delete;
  SchedulerCore& operator=(const SchedulerCore&) = delete;

  // Adds an account (see catch-up above). kAlreadyExists for a known id;
  // kInternal if its schedule has no next firing.
  Status AddAccount(ScheduledAccount account);
  // Forgets an account. A running account is forgotten when its run finishes.
  // kNotFound for an unknown id.
  Status RemoveAccount(const std::string& id);

  // The accounts that may start now, in queue order. Each is counted as
  // running from this moment: the caller must start it and, whatever happens,
  // report Finished() for it (a run that could not even start is a failure).
  std::vector<std::string> TakeDue();

  // A run granted by TakeDue() ended. kNotFound if the account is not running.
  Status Finished(const std::string& id, const RunOutcome& outcome);

  // Run-now for one account or for all. kNotFound for an unknown id.
  Status RunNow(const std::string& id);
  void RunNowAll();

  // The earliest time after now at which TakeDue() can grant a run that it
  // cannot grant now (an account's due time); nullopt when nothing is
  // scheduled. Runs ending and run-now requests also make grants possible: call
  // TakeDue() after each of those too.
  std::optional<TimePoint> NextWakeup() const;

  int running_total() const { return running_total_; }
  int running_on_host(const std::string& host) const;
  // Accounts due now but held back by the limits.
  int queue_length() const;
  Result<AccountScheduleState> State(const std::string& id) const;
  std::vector<AccountScheduleState> States() const;

 private:
  struct Account {
    explicit Account(ScheduledAccount c) : config(std::move(c)) {}
    ScheduledAccount config;
    std::string host_key;  // lowercase host
    uint64_t order = 0;    // insertion sequence, breaks due-time ties
    TimePoint next_slot;   // next cron firing after the last run's start
    TimePoint slot_due;    // next_slot plus its jitter
    TimePoint next_due;    // when idle: when it becomes due
    bool running = false;
    bool removed = false;  // remove when the run finishes
    bool failing = false;
    bool run_now = false;
    TimePoint run_now_at;
    int failures = 0;
    std::optional<TimePoint> last_start;
    std::optional<TimePoint> last_finish;
  };

  TimePoint Now() const { return clock_.Now(); }
  // next_slot := first firing after `after`; slot_due := it plus a fresh jitter.
  Status AdvanceSlot(Account& account, TimePoint after);
  std::chrono::seconds Backoff(int failures) const;
  // When an idle account joins the queue: the earlier of its due time and its run-now request.
  TimePoint QueueTime(const Account& account) const;
  bool IsDue(const Account& account, TimePoint now) const;
  AccountScheduleState StateOf(const Account& account) const;

  SchedulerOptions options_;
  const Clock& clock_;
  RandomSource random_;
  std::map<std::string, Account> accounts_;
  std::map<std::string, int> running_per_host_;
  int running_total_ = 0;
  uint64_t next_order_ = 0;
};

}  // namespace mailvault
