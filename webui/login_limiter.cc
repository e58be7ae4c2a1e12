#include "webui/login_limiter.h"

#include <algorithm>

namespace mailvault {

LoginLimiter::LoginLimiter(const Clock* clock, LoginLimits limits)
    : clock_(clock ? clock : &SystemClock::Instance()), limits_(limits) {}

int64_t LoginLimiter::RetryAfterLocked(const std::string& key, int limit, int64_t now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) return 0;
  Failures& f = it->second;
  while (!f.empty() && now - f.front() >= limits_.window.count()) f.pop_front();
  if (f.empty()) {
    failures_.erase(it);
    return 0;
  }
  if (static_cast<int>(f.size()) < limit) return 0;
  return std::max<int64_t>(1, f.front() + limits_.window.count() - now);
}

void LoginLimiter::AddLocked(const std::string& key, int limit, int64_t now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    if (failures_.size() >= limits_.max_keys) {
      auto stalest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
        return a.second.back() < b.second.back();
      });
      failures_.erase(stalest);
    }
    it = failures_.emplace(key, Failures{}).first;
  }
  it->second.push_back(now);
  while (static_cast<int>(it->second.size()) > limit) it->second.pop_front();
}

int64_t LoginLimiter::RetryAfter(const std::string& user, const std::string& address) {
  const int64_t now = clock_->NowUnixSeconds();
  std::lock_guard lock(mutex_);
  return std::max(RetryAfterLocked("u:" + user, limits_.failures_per_user, now),
                  RetryAfterLocked("a:" + address, limits_.failures_per_address, now));
}

void LoginLimiter::RecordFailure(const std::string& user, const std::string& address) {
  const int64_t now = clock_->NowUnixSeconds();
  std::lock_guard lock(mutex_);
  AddLocked("u:" + user, limits_.failures_per_user, now);
  AddLocked("a:" + address, limits_.failures_per_address, now);
}

void LoginLimiter::RecordSuccess(const std::string& user) {
  std::lock_guard lock(mutex_);
  failures_.erase("u:" + user);
}

}  // namespace mailvault
