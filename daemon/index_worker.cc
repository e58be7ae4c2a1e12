#include "daemon/index_worker.h"

#include <filesystem>
#include <system_error>

#include "base/log.h"

namespace mailvault {

IndexWorker::IndexWorker(IndexWorkerOptions options) : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

IndexWorker::~IndexWorker() { Stop(); }

void IndexWorker::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = true;
  wake_.notify_all();
}

std::optional<uint64_t> IndexWorker::pending() const {
  int64_t p = pending_.load();
  if (p < 0) return std::nullopt;
  return static_cast<uint64_t>(p);
}

void IndexWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void IndexWorker::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.interval, [&] { return notified_ || stopping_; });
    if (stopping_) break;
    notified_ = false;
    lock.unlock();
    Pass();
    lock.lock();
  }
}

void IndexWorker::Pass() {
  auto indexer = Indexer::Open(options_.index_dir, options_.indexer);
  if (!indexer.ok() && indexer.status().code() == StatusCode::kUnsupported) {
    // An index of another schema or Xapian format (mailvault was upgraded):
    // nothing in it can be searched by this version, and everything in it
    // comes from the archive, so it is started over and filled in the usual
    // steps, which Stop() can end and /metrics shows as pending.
    LogWarning("index: " + indexer.status().ToString() +
               "; rebuilding it from the archive in the background");
    const std::string old_dir = options_.index_dir + ".old";
    std::error_code ec;
    std::filesystem::remove_all(old_dir, ec);
    std::filesystem::rename(options_.index_dir, old_dir, ec);
    if (ec) {
      LogError("index: cannot move the old index aside: " + ec.message());
      return;
    }
    std::filesystem::remove_all(old_dir, ec);
    indexer = Indexer::Open(options_.index_dir, options_.indexer);
  }
  if (!indexer.ok()) {
    // Usually the CLI holds the write lock for a moment; the next wake-up retries.
    LogDebug("index: not now: " + indexer.status().ToString());
    return;
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    auto report = (*indexer)->IndexPending(*options_.archive, options_.step);
    if (!report.ok()) {
      LogError("index: " + report.status().ToString());
      break;
    }
    indexed_ += report->indexed;
    pending_ = static_cast<int64_t>(report->pending);
    if (report->indexed > 0) {
      LogInfo("index: " + std::to_string(report->indexed) + " messages indexed, " +
              std::to_string(report->pending) + " pending");
    }
    if (report->pending == 0) break;
  }
}

}  // namespace mailvault
