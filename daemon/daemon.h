// Daemon: what `mailvault serve` runs — the archive opened for writing, the
// accounts declared in the configuration applied, the collection scheduler
// (CollectionService), the nightly compaction (CompactionWorker), the
// background indexer (IndexWorker) and the HTTP
// listener with GET /healthz, GET /metrics and the web UI's routes.
//
// Start() does everything that can fail before anything runs, so a bad
// configuration or an unusable data directory ends the process with a clear
// error and no thread started. Stop() is the clean shutdown of SIGTERM: the
// listener stops, running collections finish what is in flight, commit and
// QUIT (bounded by `grace`), the indexer stops between steps.
//
// Thread-safety: Start/Stop from one thread; collection() is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "collector/secret_box.h"
#include "config/settings.h"
#include "daemon/collection_service.h"
#include "daemon/compaction_worker.h"
#include "daemon/http_listener.h"
#include "daemon/index_worker.h"

namespace mailvault {

// Builds the web UI's router once the archive and the collection service are
// up (the web UI issue); may be empty (then only /healthz and /metrics).
using WebRouterFactory =
    std::function<Result<HttpRouter>(Archive& archive, CollectionControl& control)>;

struct DaemonOptions {
  Settings settings;
  std::string config_file;  // for messages; empty: the built-in defaults
  const Clock* clock = nullptr;  // nullptr: the system clock
  std::chrono::milliseconds dispatch_max_wait{1000};
  WebRouterFactory web;
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();  // Stop(0)
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Returns true when every collection run stopped within `grace`.
  bool Stop(std::chrono::milliseconds grace);

  int port() const { return listener_ ? listener_->port() : 0; }
  bool tls() const { return listener_ && listener_->tls(); }
  CollectionService& collection() { return *collection_; }
  CompactionWorker& compaction() { return *compaction_; }
  Archive& archive() { return *archive_; }

 private:
  Daemon() = default;
  HttpRouter Router(HttpRouter web);

  DaemonOptions options_;
  int64_t started_at_ = 0;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<IndexWorker> index_;
  std::unique_ptr<CollectionService> collection_;
  std::unique_ptr<CompactionWorker> compaction_;
  std::unique_ptr<HttpListener> listener_;
  std::unique_ptr<HttpListener> control_listener_;
  bool stopped_ = false;
};

// [collector] settings as the scheduler's options.
SchedulerOptions SchedulerOptionsFrom(const CollectorSettings& c, TimeZone zone);

}  // namespace mailvault
