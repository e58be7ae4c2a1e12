#include "daemon/compaction_worker.h"

#include <algorithm>
#include <cstdio>

#include "base/log.h"

namespace mailvault {
namespace {

std::string Megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

bool CompactionDue(const ArchiveStats& stats, uint64_t min_bytes) {
  if (stats.uncompacted_bytes == 0) return false;
  return stats.uncompacted_bytes >= min_bytes || stats.uncompacted_bytes * 2 >= stats.stored_bytes;
}

Result<std::unique_ptr<CompactionWorker>> CompactionWorker::Start(CompactionWorkerOptions options) {
  if (options.archive == nullptr || options.collection == nullptr) {
    return Status::Internal("CompactionWorker needs an archive and the collection service");
  }
  if (!options.archive->writable()) {
    return Status::PermissionDenied("the archive is open read-only: compaction needs it writable");
  }
  std::unique_ptr<CompactionWorker> worker(new CompactionWorker(std::move(options)));
  worker->thread_ = std::thread([w = worker.get()] { w->Loop(); });
  return worker;
}

CompactionWorker::CompactionWorker(CompactionWorkerOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : SystemClock::Instance()) {}

CompactionWorker::~CompactionWorker() { Stop(); }

void CompactionWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void CompactionWorker::RequestNow() {
  std::lock_guard lock(mu_);
  requested_ = true;
  wake_.notify_all();
}

CompactionState CompactionWorker::State() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::optional<TimePoint> CompactionWorker::NextSlotAfter(TimePoint t) const {
  if (!options_.schedule) return std::nullopt;
  auto next = options_.schedule->NextFireAfter(t, options_.zone);
  if (!next.ok()) {
    LogError("compaction: no next slot for schedule " + options_.schedule->text() + ": " +
             next.status().ToString());
    return std::nullopt;
  }
  return *next;
}

void CompactionWorker::Loop() {
  std::unique_lock lock(mu_);
  std::optional<TimePoint> next;
  auto schedule_after = [&](TimePoint t) {
    next = NextSlotAfter(t);
    state_.next_slot = next ? std::optional<int64_t>(UnixSeconds(*next)) : std::nullopt;
  };
  schedule_after(clock_.Now());
  while (!stopping_) {
    const TimePoint now = clock_.Now();
    const bool slot = next && now >= *next;
    if (!slot && !requested_) {
      auto wait = options_.max_wait;
      if (next) {
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now),
                          std::chrono::milliseconds(1), options_.max_wait);
      }
      wake_.wait_for(lock, wait);
      continue;
    }
    const bool forced = requested_;
    requested_ = false;
    if (slot) schedule_after(now);
    RunOnce(forced, lock);
  }
}

void CompactionWorker::RunOnce(bool forced, std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  auto stats = options_.archive->Stats();
  lock.lock();
  if (!stats.ok()) {
    ++state_.attempts;
    ++state_.failures;
    state_.last_error = stats.status().ToString();
    LogError("compaction: cannot read the archive's stats: " + state_.last_error);
    return;
  }
  if (!forced && !CompactionDue(*stats, options_.min_bytes)) {
    LogDebug("compaction: the tail is " + Megabytes(stats->uncompacted_bytes) + " of " +
             Megabytes(stats->stored_bytes) + ", below " + Megabytes(options_.min_bytes) +
             "; not compacting");
    return;
  }
  state_.running = true;
  state_.phase = "waiting for collections";
  state_.done = state_.total = 0;
  // Collections have the archive first: wait until none runs or is due.
  while (!stopping_ && !options_.collection->PauseIfIdle())
    wake_.wait_for(lock, options_.idle_retry);
  if (stopping_) {
    state_.running = false;
    state_.phase.clear();
    return;
  }
  LogInfo("compaction: starting on a tail of " + Megabytes(stats->uncompacted_bytes) +
          (forced ? " (requested)" : ""));
  lock.unlock();
  const auto started = std::chrono::steady_clock::now();
  Result<CompactReport> report = options_.archive->CompactInPlace(
      [this](std::string_view what, uint64_t done, uint64_t total) {
        std::lock_guard progress(mu_);
        if (state_.phase != what) state_.phase = std::string(what);
        state_.done = done;
        state_.total = total;
      },
      [this] {
        std::lock_guard check(mu_);
        return stopping_;
      });
  options_.collection->Resume();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  lock.lock();
  state_.running = false;
  state_.phase.clear();
  state_.last_ended_at = clock_.NowUnixSeconds();
  ++state_.attempts;
  if (!report.ok()) {
    state_.last_error = report.status().ToString();
    if (report.status().code() == StatusCode::kCancelled) {
      LogInfo("compaction: stopped at shutdown; the archive is as it was");
    } else {
      ++state_.failures;
      LogError("compaction failed (the archive is as it was unless said otherwise): " +
               state_.last_error);
    }
    return;
  }
  state_.last_error.clear();
  if (!report->compacted) {
    LogInfo("compaction: nothing written since the last one");
    return;
  }
  ++state_.compactions;
  state_.last_bytes_before = report->bytes_before;
  state_.last_bytes_after = report->bytes_after;
  char line[256];
  std::snprintf(line, sizeof line,
                "compaction: packs %u..%u, %s -> %s in %u packs, %llu messages checked, in %.1f s",
                report->first_pack, report->last_pack, Megabytes(report->bytes_before).c_str(),
                Megabytes(report->bytes_after).c_str(), report->packs_written,
                static_cast<unsigned long long>(report->messages), seconds);
  LogInfo(line);
}

}  // namespace mailvault
