// CompactionWorker: `serve`'s compaction of the archive's tail
// (Archive::CompactInPlace), so that the archive at rest is as small as
// `mailvault compact` makes it without anybody stopping the service.
//
// At each slot of `schedule` (default 04:00, after the nightly collections)
// when CompactionDue, and at once after RequestNow() whatever the tail's size: it waits until no
// collection runs, is queued or due (CollectionService::PauseIfIdle, tried again every
// `idle_retry`), holds new runs back while it compacts, then lets them go.
// Searches and the web UI read on throughout; only the swap at the end makes
// reads wait (for as long as a few renames and reopening the catalog take).
//
// Stop() makes a compaction in progress give up (the archive stays as it was)
// and joins the thread.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "collector/schedule/cron.h"
#include "collector/schedule/timezone.h"
#include "daemon/collection_service.h"

namespace mailvault {

// Whether a slot compacts: when the tail (ArchiveStats::uncompacted_bytes) is
// at least `min_bytes`, or at least half of all packs. The second rule lets a
// small archive be compacted too, while keeping the number of compacted packs
// logarithmic in the archive's size below `min_bytes` (the archive doubles
// between two such compactions).
bool CompactionDue(const ArchiveStats& stats, uint64_t min_bytes);

struct CompactionWorkerOptions {
  Archive* archive = nullptr;               // borrowed, writable
  CollectionService* collection = nullptr;  // borrowed: paused while it compacts
  const Clock* clock = nullptr;             // nullptr: the system clock
  std::optional<CronExpression> schedule;   // nullopt: only on request
  TimeZone zone = TimeZone::Utc();
  uint64_t min_bytes = 8u << 20;
  std::chrono::milliseconds idle_retry{5000};  // wall time between tries to find the collector idle
  std::chrono::milliseconds max_wait{1000};    // the loop re-checks at least this often (wall time)
};

// What /metrics and the control channel show.
struct CompactionState {
  bool running = false;  // compacting (or waiting for the collector to be idle)
  std::string phase;     // "waiting for collections", "segments", "messages checked"
  uint64_t done = 0;
  uint64_t total = 0;
  uint64_t attempts = 0;     // since start: compactions begun and ended, however
  uint64_t compactions = 0;  // since start: completed with something to compact
  uint64_t failures = 0;
  int64_t last_ended_at = 0;  // unix seconds; 0: none since start
  uint64_t last_bytes_before = 0;
  uint64_t last_bytes_after = 0;
  std::string last_error;            // of the last attempt; empty when it succeeded
  std::optional<int64_t> next_slot;  // unix seconds
};

class CompactionWorker {
 public:
  static Result<std::unique_ptr<CompactionWorker>> Start(CompactionWorkerOptions options);
  ~CompactionWorker();  // Stop()
  CompactionWorker(const CompactionWorker&) = delete;
  CompactionWorker& operator=(const CompactionWorker&) = delete;

  // A compaction as soon as the collector is idle, however small the tail.
  void RequestNow();
  CompactionState State() const;
  // Gives up a compaction in progress and joins. Idempotent.
  void Stop();

 private:
  explicit CompactionWorker(CompactionWorkerOptions options);
  void Loop();
  // One attempt; `forced`: whatever the tail's size.
  void RunOnce(bool forced, std::unique_lock<std::mutex>& lock);
  std::optional<TimePoint> NextSlotAfter(TimePoint t) const;

  CompactionWorkerOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool requested_ = false;
  CompactionState state_;
  std::thread thread_;
};

}  // namespace mailvault
