// CollectionControl: what the rest of the appliance (the web UI) may ask of the
// running collection service — run-now, live progress, schedule state — without
// depending on how the daemon runs its threads.
//
// `mailvault serve` implements it (daemon/collection_service.h); tests of the
// web UI may implement it with a recording fake. Every method is thread-safe
// and returns quickly (no network, no waiting for a run).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace mailvault {

// A run in progress, as a live view shows it.
struct LiveRun {
  std::string account;
  int64_t started_at = 0;  // unix seconds
  uint64_t to_fetch = 0;   // messages this run fetches (0 until the listing is done)
  uint64_t fetched = 0;    // of those, done
  uint64_t bytes = 0;      // bytes received so far
};

// An account as the scheduler sees it, for the dashboard.
struct AccountSchedule {
  std::string account;
  bool running = false;
  bool failing = false;  // kept failing: runs only at its schedule slots until one succeeds
  bool run_now_pending = false;
  int consecutive_failures = 0;
  std::optional<int64_t> next_run;  // unix seconds; nullopt while running
};

class CollectionControl {
 public:
  virtual ~CollectionControl() = default;

  // Starts a run of `account` as soon as the limits allow (kNotFound for an
  // unknown account). A request for a running account is served by one more
  // run after the current one.
  virtual Status RunNow(const std::string& account) = 0;
  virtual void RunNowAll() = 0;

  // Runs in progress, oldest first.
  virtual std::vector<LiveRun> LiveRuns() const = 0;
  // Every scheduled account, by name.
  virtual std::vector<AccountSchedule> Schedules() const = 0;

  // The accounts in the catalog changed (added, edited, removed through the
  // web UI): re-read them. A running account keeps its run.
  virtual Status AccountsChanged() = 0;
};

}  // namespace mailvault
