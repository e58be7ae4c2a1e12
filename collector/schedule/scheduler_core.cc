#include "collector/schedule/scheduler_core.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <random>
#include <tuple>

namespace mailvault {
namespace {

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

RandomSource DefaultRandomSource() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine](int64_t bound) {
    if (bound <= 0) return int64_t{0};
    return std::uniform_int_distribution<int64_t>(0, bound)(*engine);
  };
}

RunOutcome RunOutcome::FromStatus(const Status& status,
                                  std::optional<std::chrono::seconds> retry_after) {
  if (status.ok()) return Succeeded();
  if (status.code() == StatusCode::kCancelled) return Cancelled();
  return Failed(retry_after);
}

SchedulerCore::SchedulerCore(SchedulerOptions options, const Clock& clock, RandomSource random)
    : options_(std::move(options)), clock_(clock), random_(std::move(random)) {
  options_.max_sessions = std::max(options_.max_sessions, 1);
  options_.max_sessions_per_host = std::max(options_.max_sessions_per_host, 1);
  options_.jitter = std::max(options_.jitter, std::chrono::seconds(0));
  options_.retry_limit = std::max(options_.retry_limit, 0);
  if (!random_) random_ = DefaultRandomSource();
}

Status SchedulerCore::AdvanceSlot(Account& account, TimePoint after) {
  MV_ASSIGN_OR_RETURN(TimePoint slot, account.config.schedule.NextFireAfter(after, options_.zone));
  account.next_slot = slot;
  int64_t bound = options_.jitter.count();
  int64_t jitter = bound > 0 ? std::clamp<int64_t>(random_(bound), 0, bound) : 0;
  account.slot_due = slot + std::chrono::seconds(jitter);
  return Status::Ok();
}

std::chrono::seconds SchedulerCore::Backoff(int failures) const {
  std::chrono::seconds delay = options_.retry_initial_delay;
  for (int i = 1; i < failures && delay < options_.retry_max_delay; ++i) delay *= 2;
  return std::min(delay, options_.retry_max_delay);
}

Status SchedulerCore::AddAccount(ScheduledAccount config) {
  if (accounts_.count(config.id) != 0) {
    return Status::AlreadyExists("scheduler: account \"" + config.id + "\" is already scheduled");
  }
  TimePoint now = Now();
  Account account(std::move(config));
  account.host_key = Lowercase(account.config.host);
  account.order = next_order_++;
  MV_RETURN_IF_ERROR(AdvanceSlot(account, now).WithContext("account " + account.config.id));
  account.next_due = account.slot_due;
  if (account.config.last_run_start) {
    auto missed =
        account.config.schedule.NextFireAfter(*account.config.last_run_start, options_.zone);
    if (missed.ok() && *missed <= now) account.next_due = now;  // catch up, once
    account.last_start = account.config.last_run_start;
  }
  std::string id = account.config.id;
  accounts_.emplace(std::move(id), std::move(account));
  return Status::Ok();
}

Status SchedulerCore::RemoveAccount(const std::string& id) {
  auto it = accounts_.find(id);
  if (it == accounts_.end() || it->second.removed) {
    return Status::NotFound("scheduler: no account \"" + id + "\"");
  }
  if (it->second.running) {
    it->second.removed = true;
  } else {
    accounts_.erase(it);
  }
  return Status::Ok();
}

TimePoint SchedulerCore::QueueTime(const Account& account) const {
  return account.run_now ? std::min(account.run_now_at, account.next_due) : account.next_due;
}

bool SchedulerCore::IsDue(const Account& account, TimePoint now) const {
  return !account.running && !account.removed && (account.run_now || account.next_due <= now);
}

std::vector<std::string> SchedulerCore::TakeDue() {
  TimePoint now = Now();
  std::vector<Account*> queue;
  for (auto& [id, account] : accounts_) {
    if (IsDue(account, now)) queue.push_back(&account);
  }
  std::sort(queue.begin(), queue.end(), [this](const Account* a, const Account* b) {
    return std::make_tuple(QueueTime(*a), a->order) < std::make_tuple(QueueTime(*b), b->order);
  });
  std::vector<std::string> granted;
  for (Account* account : queue) {
    if (running_total_ >= options_.max_sessions) break;
    int& on_host = running_per_host_[account->host_key];
    if (on_host >= options_.max_sessions_per_host) continue;
    ++on_host;
    ++running_total_;
    account->running = true;
    account->run_now = false;
    account->last_start = now;
    // Every slot up to now is served by this run.
    if (!AdvanceSlot(*account, now).ok()) account->slot_due = TimePoint::max();
    granted.push_back(account->config.id);
  }
  return granted;
}

Status SchedulerCore::Finished(const std::string& id, const RunOutcome& outcome) {
  auto it = accounts_.find(id);
  if (it == accounts_.end() || !it->second.running) {
    return Status::NotFound("scheduler: account \"" + id + "\" has no run in progress");
  }
  Account& account = it->second;
  TimePoint now = Now();
  account.running = false;
  account.last_finish = now;
  --running_total_;
  if (--running_per_host_[account.host_key] <= 0) running_per_host_.erase(account.host_key);
  if (account.removed) {
    accounts_.erase(it);
    return Status::Ok();
  }
  TimePoint hint_time = now + outcome.retry_after.value_or(std::chrono::seconds(0));
  switch (outcome.kind) {
    case RunOutcome::Kind::kSucceeded:
      account.failures = 0;
      account.failing = false;
      account.next_due = account.slot_due;
      break;
    case RunOutcome::Kind::kFailed:
      ++account.failures;
      if (account.failures > options_.retry_limit) {
        account.failing = true;
        account.next_due = std::max(account.slot_due, hint_time);
      } else {
        account.next_due = std::max(now + Backoff(account.failures), hint_time);
      }
      break;
    case RunOutcome::Kind::kCancelled:
      account.next_due = now + options_.retry_initial_delay;
      break;
  }
  return Status::Ok();
}

Status SchedulerCore::RunNow(const std::string& id) {
  auto it = accounts_.find(id);
  if (it == accounts_.end() || it->second.removed) {
    return Status::NotFound("scheduler: no account \"" + id + "\"");
  }
  if (!it->second.run_now) {
    it->second.run_now = true;
    it->second.run_now_at = Now();
  }
  return Status::Ok();
}

void SchedulerCore::RunNowAll() {
  for (auto& [id, account] : accounts_) {
    if (!account.removed) RunNow(id).IgnoreError();
  }
}

std::optional<TimePoint> SchedulerCore::NextWakeup() const {
  TimePoint now = Now();
  std::optional<TimePoint> earliest;
  for (const auto& [id, account] : accounts_) {
    if (account.running || account.removed || account.run_now || account.next_due <= now) continue;
    if (!earliest || account.next_due < *earliest) earliest = account.next_due;
  }
  return earliest;
}

int SchedulerCore::running_on_host(const std::string& host) const {
  auto it = running_per_host_.find(Lowercase(host));
  return it == running_per_host_.end() ? 0 : it->second;
}

int SchedulerCore::queue_length() const {
  TimePoint now = Now();
  return static_cast<int>(std::count_if(accounts_.begin(), accounts_.end(), [&](const auto& entry) {
    return IsDue(entry.second, now);
  }));
}

AccountScheduleState SchedulerCore::StateOf(const Account& account) const {
  AccountScheduleState state;
  state.id = account.config.id;
  state.host = account.config.host;
  state.running = account.running;
  state.failing = account.failing;
  state.run_now_pending = account.run_now;
  state.consecutive_failures = account.failures;
  if (!account.running) state.next_due = account.run_now ? QueueTime(account) : account.next_due;
  state.next_slot = account.next_slot;
  state.last_start = account.last_start;
  state.last_finish = account.last_finish;
  return state;
}

Result<AccountScheduleState> SchedulerCore::State(const std::string& id) const {
  auto it = accounts_.find(id);
  if (it == accounts_.end() || it->second.removed) {
    return Status::NotFound("scheduler: no account \"" + id + "\"");
  }
  return StateOf(it->second);
}

std::vector<AccountScheduleState> SchedulerCore::States() const {
  std::vector<AccountScheduleState> out;
  for (const auto& [id, account] : accounts_) {
    if (!account.removed) out.push_back(StateOf(account));
  }
  return out;
}

}  // namespace mailvault
