// SessionStore: logged-in browser sessions, in the serving process's memory.
//
// A session is named by a random 256-bit token (the cookie value, 43
// characters of base64url); only its SHA-256 is kept, so a memory dump or a
// log line of the table does not hand out live sessions. Each session carries
// its own random CSRF token, which every state-changing request must echo in
// the X-CSRF-Token header. A session ends at logout, after `idle` without use,
// after `absolute` since login whatever the use, and when its user is
// removed, changes password or changes role (Revoke*). Sessions do not survive
// a restart: users log in again.
//
// Memory is bounded: at most `max_sessions`; a new login past that evicts the
// session used least recently.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/sha256.h"
#include "base/status.h"

namespace mailvault {

struct WebSessionOptions {
  std::chrono::seconds idle{30 * 60};
  std::chrono::seconds absolute{12 * 3600};
  size_t max_sessions = 10000;
};

struct Session {
  std::string user;
  std::string csrf_token;  // 43 characters of base64url
  int64_t created_at = 0;
  int64_t last_used = 0;
};

class SessionStore {
 public:
  SessionStore(const Clock* clock, WebSessionOptions options = {});

  // Starts a session for `user`; returns the token for the cookie.
  Result<std::string> Create(const std::string& user);
  // The session named by `token` when it is live (and marks it used);
  // nullopt when unknown, expired (and then forgotten) or malformed.
  std::optional<Session> Touch(const std::string& token);
  void Revoke(const std::string& token);
  // Ends every session of `user`.
  void RevokeUser(const std::string& user);
  size_t size() const;

 private:
  void ExpireLocked(int64_t now);

  const Clock* clock_;
  WebSessionOptions options_;
  mutable std::mutex mutex_;
  std::map<Digest, Session> sessions_;  // by SHA-256 of the token
};

// base64url without padding.
std::string Base64Url(std::string_view bytes);

}  // namespace mailvault
