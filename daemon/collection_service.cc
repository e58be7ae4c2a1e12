#include "daemon/collection_service.h"

#include <algorithm>
#include <utility>

#include "base/log.h"

namespace mailvault {
namespace {

struct RunHistory {
  std::optional<int64_t> last_start;
  std::optional<int64_t> last_success;
};

// The start of each account's last run and the end of its last successful one.
Result<std::map<std::string, RunHistory>> LoadRunHistory(Archive& archive) {
  std::map<std::string, RunHistory> out;
  MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(
        SqliteStatement st,
        c.database().Prepare("SELECT account, max(started_at), "
                             "max(CASE WHEN state='ok' THEN ended_at END) "
                             "FROM collection_runs GROUP BY account"));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      RunHistory& h = out[std::string(st.ColumnText(0))];
      if (!st.ColumnIsNull(1)) h.last_start = st.ColumnInt(1);
      if (!st.ColumnIsNull(2)) h.last_success = st.ColumnInt(2);
    }
  }));
  return out;
}

std::string RunSummary(const RunReport& r, double seconds) {
  std::string s = "run end account=" + r.account + " run=" + std::to_string(r.run_id) +
                  " state=" +
                  (r.status.ok()                                     ? "ok"
                   : r.status.code() == StatusCode::kCancelled ? "interrupted"
                                                               : "failed") +
                  " seen=" + std::to_string(r.seen) + " new=" + std::to_string(r.new_messages) +
                  " duplicate=" + std::to_string(r.duplicate) +
                  " failed=" + std::to_string(r.failed) + " skipped=" + std::to_string(r.skipped) +
                  " deleted=" + std::to_string(r.deleted) + " bytes=" + std::to_string(r.bytes);
  char secs[32];
  std::snprintf(secs, sizeof secs, " seconds=%.3f", seconds);
  s += secs;
  if (!r.status.ok()) s += " error=\"" + r.status.ToString() + "\"";
  return s;
}

}  // namespace

CollectionService::CollectionService(CollectionServiceOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : SystemClock::Instance()),
      store_(options_.archive, options_.box, &clock_),
      core_(options_.scheduler, clock_, options_.random) {}

Result<std::unique_ptr<CollectionService>> CollectionService::Start(
    CollectionServiceOptions options) {
  if (options.archive == nullptr || options.box == nullptr) {
    return Status::Internal("CollectionService needs an archive and a secret box");
  }
  if (!options.archive->writable()) {
    return Status::PermissionDenied("the archive is open read-only: collection needs it writable");
  }
  MV_RETURN_IF_ERROR(CronExpression::Parse(options.default_schedule)
                         .status()
                         .WithContext("[collector] schedule"));
  std::unique_ptr<CollectionService> service(new CollectionService(std::move(options)));
  {
    std::lock_guard<std::mutex> lock(service->mu_);
    MV_RETURN_IF_ERROR(service->LoadAccounts());
  }
  service->dispatcher_ = std::thread([s = service.get()] { s->DispatchLoop(); });
  return service;
}

CollectionService::~CollectionService() {
  Stop(std::chrono::milliseconds(0));
  // Runs that did not stop in time still use this object: wait for them.
  std::unique_lock<std::mutex> lock(mu_);
  run_ended_.wait(lock, [&] { return running_.empty(); });
  std::vector<std::thread> threads = std::move(finished_threads_);
  lock.unlock();
  for (std::thread& t : threads) t.join();
}

Status CollectionService::LoadAccounts() {
  MV_ASSIGN_OR_RETURN(std::vector<Account> accounts, store_.List());
  MV_ASSIGN_OR_RETURN(auto history, LoadRunHistory(*options_.archive));
  std::map<std::string, Known> fresh;
  for (Account& a : accounts) {
    std::string name = a.name;  // not fresh[a.name] = ...move(a): the right side goes first
    fresh[name] = Known{std::move(a), true};
  }

  // Forget what is gone or changed in a way the core must hear of.
  for (auto it = known_.begin(); it != known_.end();) {
    auto f = fresh.find(it->first);
    bool same = f != fresh.end() && f->second.account.host == it->second.account.host &&
                f->second.account.schedule == it->second.account.schedule;
    if (!same && it->second.schedulable) {
      core_.RemoveAccount(it->first).IgnoreError();
    }
    if (f == fresh.end()) {
      it = known_.erase(it);
    } else {
      if (!same) it->second.schedulable = false;  // re-added below
      ++it;
    }
  }
  for (auto& [name, k] : fresh) {
    auto old = known_.find(name);
    bool in_core = old != known_.end() && old->second.schedulable;
    if (!in_core) {
      const std::string& text =
          k.account.schedule.empty() ? options_.default_schedule : k.account.schedule;
      auto cron = CronExpression::Parse(text);
      Status added = cron.status();
      if (cron.ok()) {
        const RunHistory& h = history[name];
        std::optional<TimePoint> last_start;
        if (h.last_start) last_start = TimePoint(std::chrono::seconds(*h.last_start));
        added = core_.AddAccount(ScheduledAccount{name, k.account.host, *cron, last_start});
      }
      if (!added.ok()) {
        LogError("account " + name + ": cannot be scheduled: " + added.ToString());
        k.schedulable = false;
      }
    }
    if (history[name].last_success && !last_success_.count(name)) {
      last_success_[name] = *history[name].last_success;
    }
    known_[name] = std::move(k);
  }
  return Status::Ok();
}

Status CollectionService::AccountsChanged() {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadAccounts();
  wake_.notify_all();
  return s;
}

Status CollectionService::RunNow(const std::string& account) {
  std::lock_guard<std::mutex> lock(mu_);
  auto k = known_.find(account);
  if (k == known_.end()) return Status::NotFound("no account named " + account);
  if (!k->second.schedulable) {
    return Status::InvalidArgument("account " + account +
                                   " cannot be scheduled (its schedule is invalid)");
  }
  MV_RETURN_IF_ERROR(core_.RunNow(account));
  wake_.notify_all();
  return Status::Ok();
}

void CollectionService::RunNowAll() {
  std::lock_guard<std::mutex> lock(mu_);
  core_.RunNowAll();
  wake_.notify_all();
}

void CollectionService::DispatchLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    ReapFinished();
    if (!paused_) {
      for (const std::string& name : core_.TakeDue()) StartRun(name);
    }
    metrics_.queue_length = core_.queue_length();
    auto wait = options_.max_wait;
    if (auto next = core_.NextWakeup(); next && !paused_) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
      wait = std::clamp(until, std::chrono::milliseconds(1), options_.max_wait);
    }
    wake_.wait_for(lock, wait);
  }
  ReapFinished();
}

void CollectionService::StartRun(const std::string& name) {
  auto k = known_.find(name);
  if (k == known_.end()) {
    // Removed between the grant and now: the core still counts it running.
    core_.Finished(name, RunOutcome::Cancelled()).IgnoreError();
    return;
  }
  Running& r = running_[name];
  r.live = LiveRun{name, clock_.NowUnixSeconds(), 0, 0, 0};
  r.done = false;
  metrics_.running = static_cast<int>(running_.size());
  metrics_.running_peak = std::max(metrics_.running_peak, metrics_.running);
  r.thread = std::thread([this, name, account = k->second.account] { RunOne(name, account); });
}

void CollectionService::RunOne(const std::string& name, Account account) {
  LogInfo("run start account=" + name + " host=" + account.host);
  auto started = std::chrono::steady_clock::now();
  RunReport report;
  auto password = store_.Password(name);
  if (!password.ok()) {
    report.account = name;
    report.status = password.status();
  } else {
    CollectionOptions o = options_.collection;
    o.clock = &clock_;
    o.should_stop = [this] { return stopping_.load(); };
    o.on_progress = [this, name](const RunProgress& p) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_.find(name);
      if (it == running_.end()) return;
      it->second.live.to_fetch = p.to_fetch;
      it->second.live.fetched = p.fetched;
      it->second.live.bytes = p.bytes;
    };
    report = RunCollection(*options_.archive, account, *password, o);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string summary = RunSummary(report, seconds);
  if (report.status.ok()) {
    LogInfo(summary);
  } else {
    LogWarning(summary);
  }
  // A duplicate is a new link of a message archived before: the index adds
  // the account to its document (search/late_account_links.h).
  if ((report.new_messages > 0 || report.duplicate > 0) && options_.on_new_messages) {
    options_.on_new_messages();
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (report.status.ok()) {
    ++metrics_.runs_ok;
    last_success_[name] = report.ended_at != 0 ? report.ended_at : clock_.NowUnixSeconds();
  } else if (report.status.code() == StatusCode::kCancelled) {
    ++metrics_.runs_interrupted;
  } else {
    ++metrics_.runs_failed;
  }
  metrics_.messages_new += report.new_messages;
  metrics_.messages_duplicate += report.duplicate;
  metrics_.messages_failed += report.failed;
  metrics_.bytes += report.bytes;
  Status finished = core_.Finished(name, RunOutcome::FromStatus(report.status, report.retry_after));
  if (!finished.ok()) LogError("scheduler: " + finished.ToString());
  auto it = running_.find(name);
  finished_threads_.push_back(std::move(it->second.thread));
  running_.erase(it);
  metrics_.running = static_cast<int>(running_.size());
  wake_.notify_all();
  run_ended_.notify_all();
}

void CollectionService::ReapFinished() {
  std::vector<std::thread> threads = std::move(finished_threads_);
  finished_threads_.clear();
  // Joining waits only for the last instructions of RunOne, after its unlock.
  mu_.unlock();
  for (std::thread& t : threads) t.join();
  mu_.lock();
}

bool CollectionService::Stop(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!stopped_) {
    stopped_ = true;
    stopping_ = true;
    wake_.notify_all();
    lock.unlock();
    if (dispatcher_.joinable()) dispatcher_.join();
    lock.lock();
  }
  bool all = run_ended_.wait_for(lock, grace, [&] { return running_.empty(); });
  if (!all) {
    std::string names;
    for (const auto& [name, r] : running_) names += (names.empty() ? "" : ", ") + name;
    LogError("shutdown: runs still in progress after the grace period: " + names);
  }
  std::vector<std::thread> threads = std::move(finished_threads_);
  finished_threads_.clear();
  lock.unlock();
  for (std::thread& t : threads) t.join();
  return all;
}

bool CollectionService::PauseIfIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  if (paused_ || !running_.empty() || core_.queue_length() > 0) return false;
  if (auto next = core_.NextWakeup(); next && *next <= clock_.Now()) return false;
  paused_ = true;
  LogInfo("collection: new runs held back while the archive is compacted");
  return true;
}

void CollectionService::Resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!paused_) return;
  paused_ = false;
  LogInfo("collection: runs may start again");
  wake_.notify_all();
}

std::vector<LiveRun> CollectionService::LiveRuns() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LiveRun> out;
  for (const auto& [name, r] : running_) out.push_back(r.live);
  std::sort(out.begin(), out.end(), [](const LiveRun& a, const LiveRun& b) {
    return std::tie(a.started_at, a.account) < std::tie(b.started_at, b.account);
  });
  return out;
}

std::vector<AccountSchedule> CollectionService::Schedules() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AccountSchedule> out;
  for (const auto& [name, k] : known_) {
    AccountSchedule s;
    s.account = name;
    auto state = core_.State(name);
    if (!k.schedulable || !state.ok()) {
      s.failing = true;
    } else {
      s.running = state->running;
      s.failing = state->failing;
      s.run_now_pending = state->run_now_pending;
      s.consecutive_failures = state->consecutive_failures;
      if (state->next_due) {
        s.next_run = std::chrono::duration_cast<std::chrono::seconds>(
                         state->next_due->time_since_epoch())
                         .count();
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

CollectionMetrics CollectionService::Metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  CollectionMetrics m = metrics_;
  m.queue_length = core_.queue_length();
  for (const auto& [name, k] : known_) {
    CollectionMetrics::PerAccount a;
    a.account = name;
    auto last = last_success_.find(name);
    if (last != last_success_.end()) a.last_success = last->second;
    auto state = core_.State(name);
    a.failing = !k.schedulable || (state.ok() && state->failing);
    if (state.ok()) a.consecutive_failures = state->consecutive_failures;
    m.accounts.push_back(std::move(a));
  }
  return m;
}

}  // namespace mailvault
