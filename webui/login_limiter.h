// LoginLimiter: slows password guessing. Failed logins are counted per user
// name and per client address in a sliding window; past the limit, logins for
// that name (or from that address) are refused without checking the password
// until the window has passed. A successful login clears the name's count.
//
// Memory is bounded: at most `max_keys` names and addresses are tracked; when
// full, the key whose last failure is oldest is forgotten first (an attacker
// spraying names can evict counts, but then each name gets its own few tries,
// and the per-address count still holds).
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "base/clock.h"

namespace mailvault {

struct LoginLimits {
  std::chrono::seconds window{15 * 60};
  int failures_per_user = 5;      // in one window
  int failures_per_address = 20;  // in one window
  size_t max_keys = 10000;
};

class LoginLimiter {
 public:
  LoginLimiter(const Clock* clock, LoginLimits limits = {});

  // Seconds until a login for `user` from `address` may be tried again; 0: now.
  int64_t RetryAfter(const std::string& user, const std::string& address);
  void RecordFailure(const std::string& user, const std::string& address);
  void RecordSuccess(const std::string& user);

 private:
  using Failures = std::deque<int64_t>;  // times, oldest first, at most the limit
  int64_t RetryAfterLocked(const std::string& key, int limit, int64_t now);
  void AddLocked(const std::string& key, int limit, int64_t now);

  const Clock* clock_;
  LoginLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Failures> failures_;  // "u:" + user, "a:" + address
};

}  // namespace mailvault
