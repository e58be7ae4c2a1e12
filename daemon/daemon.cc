#include "daemon/daemon.h"

#include <Poco/Net/HTTPServerResponse.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/file.h"
#include "base/log.h"
#include "collector/configured_accounts.h"
#include "daemon/control.h"
#include "daemon/metrics.h"

namespace mailvault {

SchedulerOptions SchedulerOptionsFrom(const CollectorSettings& c, TimeZone zone) {
  SchedulerOptions o;
  o.max_sessions = c.max_sessions;
  o.max_sessions_per_host = c.max_sessions_per_host;
  o.jitter = c.jitter;
  o.retry_initial_delay = c.retry_initial_delay;
  o.retry_max_delay = c.retry_max_delay;
  o.retry_limit = c.retry_limit;
  o.zone = std::move(zone);
  return o;
}

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->options_ = std::move(options);
  const Settings& s = d->options_.settings;
  const Clock& clock = d->options_.clock ? *d->options_.clock : SystemClock::Instance();
  d->started_at_ = clock.NowUnixSeconds();

  TimeZone zone = TimeZone::Local();
  if (!s.collector.timezone.empty()) {
    MV_ASSIGN_OR_RETURN(zone, TimeZone::Load(s.collector.timezone));
  }

  // Everything the configuration names is checked before the data directory is touched.
  MV_ASSIGN_OR_RETURN(std::vector<PreparedAccount> configured,
                      PrepareConfiguredAccounts(s.accounts, d->options_.config_file));

  ArchiveOptions ao;
  ao.data_dir = s.archive.data_dir;
  ao.mode = ArchiveOptions::Mode::kReadWrite;
  ao.create = true;
  MV_ASSIGN_OR_RETURN(d->archive_, Archive::Open(ao));
  if (!d->archive_->writable()) {
    return Status::PermissionDenied("the archive in " + s.archive.data_dir +
                                    " could only be opened read-only; serve needs to write");
  }
  MV_ASSIGN_OR_RETURN(d->box_, SecretBox::Open(s.archive.data_dir));
  if (!configured.empty()) {
    AccountStore store(d->archive_.get(), d->box_.get(), &clock);
    MV_ASSIGN_OR_RETURN(ConfiguredAccountsReport applied,
                        StoreConfiguredAccounts(store, std::move(configured)));
    LogInfo("accounts from the configuration: " + std::to_string(applied.created.size()) +
            " created, " + std::to_string(applied.updated.size()) + " updated");
  }

  IndexWorkerOptions io;
  io.archive = d->archive_.get();
  io.index_dir = IndexDirectory(s.archive.data_dir);
  d->index_ = std::make_unique<IndexWorker>(std::move(io));

  CollectionServiceOptions co;
  co.archive = d->archive_.get();
  co.box = d->box_.get();
  co.clock = &clock;
  co.scheduler = SchedulerOptionsFrom(s.collector, zone);
  co.default_schedule = s.collector.schedule;
  co.collection = CollectionOptionsFrom(s.collector);
  co.max_wait = d->options_.dispatch_max_wait;
  co.on_new_messages = [index = d->index_.get()] { index->Notify(); };
  MV_ASSIGN_OR_RETURN(d->collection_, CollectionService::Start(std::move(co)));

  CompactionWorkerOptions cw;
  cw.archive = d->archive_.get();
  cw.collection = d->collection_.get();
  cw.clock = &clock;
  if (!s.archive.compact_schedule.empty()) {
    auto cron = CronExpression::Parse(s.archive.compact_schedule);
    if (!cron.ok()) {
      d->Stop(std::chrono::milliseconds(0));
      return cron.status().WithContext("[archive] compact_schedule");
    }
    cw.schedule = *cron;
  }
  cw.zone = std::move(zone);
  cw.min_bytes = s.archive.compact_min_size;
  cw.max_wait = d->options_.dispatch_max_wait;
  // Collections end within moments of each other at night; look again soon.
  cw.idle_retry = d->options_.dispatch_max_wait * 5;
  auto compaction = CompactionWorker::Start(std::move(cw));
  if (!compaction.ok()) {
    d->Stop(std::chrono::milliseconds(0));
    return compaction.status();
  }
  d->compaction_ = std::move(compaction).value();

  // The CLI's way in (daemon/control.h): a Unix socket in a 0700 directory.
  const std::string control_dir = ControlDirectory(s.archive.data_dir);
  if (::mkdir(control_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    Status failed = ErrnoToStatus(errno, "mkdir " + control_dir);
    d->Stop(std::chrono::milliseconds(0));
    return failed;
  }
  if (::chmod(control_dir.c_str(), 0700) != 0) {
    Status failed = ErrnoToStatus(errno, "chmod " + control_dir);
    d->Stop(std::chrono::milliseconds(0));
    return failed;
  }
  HttpListenerOptions control;
  control.unix_path = ControlSocketPath(s.archive.data_dir);
  control.max_threads = 2;
  control.max_queued = 16;
  auto control_listener = HttpListener::Start(control, ControlRouter(*d->collection_, *d->compaction_));
  if (!control_listener.ok()) {
    d->Stop(std::chrono::milliseconds(0));
    return control_listener.status();
  }
  d->control_listener_ = std::move(control_listener).value();

  HttpRouter web;
  if (d->options_.web) {
    MV_ASSIGN_OR_RETURN(web, d->options_.web(*d->archive_, *d->collection_));
  }
  HttpListenerOptions lo;
  lo.host = s.web.listen_host;
  lo.port = s.web.listen_port;
  lo.tls_cert = s.web.tls_cert;
  lo.tls_key = s.web.tls_key;
  auto listener = HttpListener::Start(lo, d->Router(std::move(web)));
  if (!listener.ok()) {
    d->Stop(std::chrono::milliseconds(0));
    return listener.status();
  }
  d->listener_ = std::move(listener).value();
  LogInfo(std::string("listening on ") + (d->listener_->tls() ? "https://" : "http://") +
          (lo.host.find(':') != std::string::npos ? "[" + lo.host + "]" : lo.host) + ":" +
          std::to_string(d->listener_->port()));
  return d;
}

HttpRouter Daemon::Router(HttpRouter web) {
  return [this, web = std::move(web)](
             const Poco::Net::HTTPServerRequest& request) -> Poco::Net::HTTPRequestHandler* {
    const std::string& uri = request.getURI();
    std::string path = uri.substr(0, uri.find('?'));
    const std::string& method = request.getMethod();
    bool get = method == "GET" || method == "HEAD";
    if (path == "/healthz") {
      if (!get) return FixedResponse(405, "application/json", "{\"error\":\"use GET\"}\n");
      return FixedResponse(200, "application/json", "{\"status\":\"ok\"}\n");
    }
    if (path == "/metrics") {
      if (!get) return FixedResponse(405, "application/json", "{\"error\":\"use GET\"}\n");
      DaemonFigures f;
      f.started_at = started_at_;
      if (auto stats = archive_->Stats(); stats.ok()) f.archive = *stats;
      f.index_pending = index_->pending();
      if (compaction_) f.compaction = compaction_->State();
      return FixedResponse(200, "text/plain; version=0.0.4; charset=utf-8",
                           RenderMetrics(collection_->Metrics(), f));
    }
    return web ? web(request) : nullptr;
  };
}

bool Daemon::Stop(std::chrono::milliseconds grace) {
  if (stopped_) return true;
  stopped_ = true;
  if (listener_) listener_->Stop();
  if (control_listener_) control_listener_->Stop();
  // First: a compaction in progress gives up and lets collections go.
  if (compaction_) compaction_->Stop();
  bool all = collection_ ? collection_->Stop(grace) : true;
  if (index_) index_->Stop();
  return all;
}

Daemon::~Daemon() {
  Stop(std::chrono::milliseconds(0));
}

}  // namespace mailvault
