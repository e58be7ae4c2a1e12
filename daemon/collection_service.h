// CollectionService: the scheduler's threads. It drives SchedulerCore
// (collector/schedule/scheduler_core.h, the decisions) with real runs of
// RunCollection (collector/collection_run.h), one thread per running session,
// and implements CollectionControl for the web UI.
//
//   dispatcher thread:  TakeDue() → start a run thread per account granted;
//                       sleep until NextWakeup(), a run ending, run-now or
//                       Stop() (at most options.max_wait at a time)
//   run thread:         password → RunCollection → log → Finished(outcome)
//
// Accounts come from the catalog (AccountStore) at Start() and again on
// AccountsChanged(); the start of each account's last recorded run feeds the
// core's catch-up after downtime. An account whose stored schedule does not
// parse is logged and left out (it cannot be scheduled) but still shown by
// Schedules() as failing.
//
// Shutdown: Stop() stops dispatching and asks every running run to stop
// (CollectionOptions::should_stop: it finishes the messages in flight, commits,
// and QUITs), then waits up to `grace` for them. The processes of a run that
// does not stop in time (a server that does not answer) are the caller's to end;
// nothing committed is lost either way.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "collector/account_store.h"
#include "collector/collection_control.h"
#include "collector/collection_run.h"
#include "collector/schedule/scheduler_core.h"
#include "collector/secret_box.h"

namespace mailvault {

struct CollectionServiceOptions {
  Archive* archive = nullptr;      // borrowed, writable; must outlive the service
  const SecretBox* box = nullptr;  // borrowed: unseals account passwords
  const Clock* clock = nullptr;    // borrowed; nullptr: the system clock
  SchedulerOptions scheduler;
  std::string default_schedule = "0 2 * * *";  // for accounts without their own
  // Timeouts, sizes, commit interval of every run. Its clock, on_progress and
  // should_stop are set by the service.
  CollectionOptions collection;
  // The dispatcher re-checks at least this often (wall time), so a clock that
  // runs faster than real time (tests) is followed closely enough.
  std::chrono::milliseconds max_wait{1000};
  RandomSource random;  // jitter; empty: DefaultRandomSource()
  // Called (from a run thread) after a run that archived new messages or new
  // links of messages archived before (duplicates).
  std::function<void()> on_new_messages;
};

// Counters since the service started, for /metrics.
struct CollectionMetrics {
  uint64_t runs_ok = 0;
  uint64_t runs_failed = 0;
  uint64_t runs_interrupted = 0;
  uint64_t messages_new = 0;
  uint64_t messages_duplicate = 0;
  uint64_t messages_failed = 0;
  uint64_t bytes = 0;
  int running = 0;
  int running_peak = 0;  // most runs at once since start
  int queue_length = 0;  // due accounts held back by the limits
  struct PerAccount {
    std::string account;
    std::optional<int64_t> last_success;  // unix seconds (end of the last ok run)
    bool failing = false;
    int consecutive_failures = 0;
  };
  std::vector<PerAccount> accounts;
};

class CollectionService final : public CollectionControl {
 public:
  // Loads the accounts and starts the dispatcher. Errors: the catalog's.
  static Result<std::unique_ptr<CollectionService>> Start(CollectionServiceOptions options);
  ~CollectionService() override;  // Stop(0 s) if not stopped, then joins what it can
  CollectionService(const CollectionService&) = delete;
  CollectionService& operator=(const CollectionService&) = delete;

  // Stops dispatching, asks running runs to stop, waits up to `grace`.
  // Returns true when every run thread ended. Idempotent.
  bool Stop(std::chrono::milliseconds grace);

  // CollectionControl.
  Status RunNow(const std::string& account) override;
  void RunNowAll() override;
  std::vector<LiveRun> LiveRuns() const override;
  std::vector<AccountSchedule> Schedules() const override;
  Status AccountsChanged() override;

  CollectionMetrics Metrics() const;

  // Holds new runs back, when no run is running, queued or due now: for work
  // that needs the archive without writers (the daemon's compaction). Returns
  // false, holding nothing back, otherwise. Runs that fall due meanwhile wait.
  bool PauseIfIdle();
  // Lets runs start again; those that fell due meanwhile start at once.
  void Resume();

 private:
  explicit CollectionService(CollectionServiceOptions options);
  struct Known {
    Account account;
    bool schedulable = true;  // false: its schedule did not parse
  };
  struct Running {
    std::thread thread;
    LiveRun live;
    bool done = false;
  };

  Status LoadAccounts();  // REQUIRES: mu_ held
  void DispatchLoop();
  void StartRun(const std::string& name);  // REQUIRES: mu_ held
  void RunOne(const std::string& name, Account account);
  void ReapFinished();  // REQUIRES: mu_ held

  CollectionServiceOptions options_;
  const Clock& clock_;
  AccountStore store_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::condition_variable wake_;       // dispatcher: something changed
  std::condition_variable run_ended_;  // Stop(): a run thread ended
  SchedulerCore core_;
  std::map<std::string, Known> known_;
  std::map<std::string, Running> running_;
  std::vector<std::thread> finished_threads_;  // to join
  CollectionMetrics metrics_;
  std::map<std::string, int64_t> last_success_;
  bool stopped_ = false;
  bool paused_ = false;  // PauseIfIdle: no run is started
  std::thread dispatcher_;
};

}  // namespace mailvault
