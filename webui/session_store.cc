#include "webui/session_store.h"

#include <algorithm>
#include <vector>

#include "webui/password.h"

namespace mailvault {

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  return out;
}

SessionStore::SessionStore(const Clock* clock, WebSessionOptions options)
    : clock_(clock ? clock : &SystemClock::Instance()), options_(options) {}

Result<std::string> SessionStore::Create(const std::string& user) {
  MV_ASSIGN_OR_RETURN(std::string token_bytes, RandomBytes(32));
  MV_ASSIGN_OR_RETURN(std::string csrf_bytes, RandomBytes(32));
  std::string token = Base64Url(token_bytes);
  Session s;
  s.user = user;
  s.csrf_token = Base64Url(csrf_bytes);
  s.created_at = s.last_used = clock_->NowUnixSeconds();
  std::lock_guard lock(mutex_);
  ExpireLocked(s.created_at);
  if (sessions_.size() >= options_.max_sessions && !sessions_.empty()) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    sessions_.erase(oldest);
  }
  sessions_[Sha256::Of(token)] = std::move(s);
  return token;
}

std::optional<Session> SessionStore::Touch(const std::string& token) {
  if (token.size() != 43) return std::nullopt;
  const int64_t now = clock_->NowUnixSeconds();
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(Sha256::Of(token));
  if (it == sessions_.end()) return std::nullopt;
  Session& s = it->second;
  if (now - s.last_used > options_.idle.count() || now - s.created_at > options_.absolute.count()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  s.last_used = now;
  return s;
}

void SessionStore::Revoke(const std::string& token) {
  std::lock_guard lock(mutex_);
  sessions_.erase(Sha256::Of(token));
}

void SessionStore::RevokeUser(const std::string& user) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.user == user; });
}

size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void SessionStore::ExpireLocked(int64_t now) {
  std::erase_if(sessions_, [&](const auto& kv) {
    return now - kv.second.last_used > options_.idle.count() ||
           now - kv.second.created_at > options_.absolute.count();
  });
}

}  // namespace mailvault
