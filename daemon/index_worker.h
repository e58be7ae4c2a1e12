// IndexWorker: keeps the search index up with the archive inside `serve`.
//
// One thread. Woken by Notify() (a collection run archived new mail) and every
// `interval` anyway (imports by the CLI), it opens the index, indexes what is
// pending in bounded steps, and closes it again, so that the CLI's `search`
// and `reindex` can take Xapian's write lock while the daemon is idle. When the
// lock is busy it tries again at the next wake-up. Stop() ends it between steps.
//
// Thread-safety: Notify, pending and Stop from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "archive/archive.h"
#include "search/indexer.h"

namespace mailvault {

struct IndexWorkerOptions {
  Archive* archive = nullptr;  // borrowed; must outlive the worker
  std::string index_dir;
  IndexerOptions indexer;
  uint64_t step = 1000;  // messages per IndexPending call
  std::chrono::milliseconds interval{60'000};
};

class IndexWorker {
 public:
  explicit IndexWorker(IndexWorkerOptions options);  // starts the thread; indexes at once
  ~IndexWorker();                                    // Stop()
  IndexWorker(const IndexWorker&) = delete;
  IndexWorker& operator=(const IndexWorker&) = delete;

  void Notify();
  // Messages not yet searchable, as of the last pass; nullopt before the first.
  std::optional<uint64_t> pending() const;
  // Messages indexed since start.
  uint64_t indexed() const { return indexed_; }
  void Stop();

 private:
  void Loop();
  void Pass();

  IndexWorkerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool notified_ = true;
  bool stopping_ = false;
  std::atomic<int64_t> pending_{-1};
  std::atomic<uint64_t> indexed_{0};
  std::thread thread_;
};

}  // namespace mailvault
