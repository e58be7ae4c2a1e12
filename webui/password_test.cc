#include "webui/password.h"

#include <gtest/gtest.h>

#include <set>

#include "base/clock.h"
#include "webui/login_limiter.h"
#include "webui/session_store.h"

namespace mailvault {
namespace {

// Cheap parameters: the tests check behaviour, not cost.
const PasswordHashParams kFast{1, 1024, 1};

TEST(PasswordTest, HashIsArgon2idSaltedAndVerifies) {
  auto a = HashPassword("correct horse", kFast);
  auto b = HashPassword("correct horse", kFast);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u) << *a;
  EXPECT_NE(*a, *b) << "each hash has its own salt";
  EXPECT_TRUE(VerifyPassword("correct horse", *a));
  EXPECT_TRUE(VerifyPassword("correct horse", *b));
  EXPECT_FALSE(VerifyPassword("correct horsE", *a));
  EXPECT_FALSE(VerifyPassword("", *a));
}

TEST(PasswordTest, DefaultsAreSlow) {
  auto h = HashPassword("x");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=65536,t=3,p=1$", 0), 0u) << *h;
}

TEST(PasswordTest, RefusesEmptyAndHugeAndBrokenHashes) {
  EXPECT_EQ(HashPassword("", kFast).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword(std::string(1025, 'x'), kFast).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(VerifyPassword("x", ""));
  EXPECT_FALSE(VerifyPassword("x", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
  EXPECT_FALSE(VerifyPassword("x", "plain text"));
}

TEST(PasswordTest, GeneratedPasswordsAreLongAndDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto p = GeneratePassword();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->size(), 20u);
    EXPECT_EQ(p->find_first_of("0O1lI"), std::string::npos) << *p;
    seen.insert(*p);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(PasswordTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(SessionStoreTest, TokensAreRandomAndOnlyTheirHashIsKept) {
  ManualClock clock(1000);
  SessionStore store(&clock);
  auto t1 = store.Create("alice");
  auto t2 = store.Create("alice");
  ASSERT_TRUE(t1.ok() && t2.ok());
  EXPECT_EQ(t1->size(), 43u);
  EXPECT_NE(*t1, *t2);
  auto s = store.Touch(*t1);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->user, "alice");
  EXPECT_EQ(s->csrf_token.size(), 43u);
  EXPECT_NE(s->csrf_token, store.Touch(*t2)->csrf_token);
  EXPECT_FALSE(store.Touch("x").has_value());
  EXPECT_FALSE(store.Touch(std::string(43, 'A')).has_value());
}

TEST(SessionStoreTest, IdleAndAbsoluteExpiry) {
  ManualClock clock(1000);
  WebSessionOptions o;
  o.idle = std::chrono::seconds(100);
  o.absolute = std::chrono::seconds(250);
  SessionStore store(&clock, o);
  auto t = store.Create("bob");
  ASSERT_TRUE(t.ok());
  clock.Advance(90);
  EXPECT_TRUE(store.Touch(*t).has_value());
  clock.Advance(90);
  EXPECT_TRUE(store.Touch(*t).has_value()) << "use resets the idle timer";
  clock.Advance(90);  // 270 s after login: past the absolute limit though not idle
  EXPECT_FALSE(store.Touch(*t).has_value());
  auto idle = store.Create("bob");
  clock.Advance(101);
  EXPECT_FALSE(store.Touch(*idle).has_value());
  EXPECT_EQ(store.size(), 0u);
}

TEST(SessionStoreTest, RevokeAndBoundedSize) {
  ManualClock clock(1000);
  WebSessionOptions o;
  o.max_sessions = 3;
  SessionStore store(&clock, o);
  auto a = store.Create("a");
  clock.Advance(1);
  auto b = store.Create("b");
  clock.Advance(1);
  auto c = store.Create("c");
  clock.Advance(1);
  store.Touch(*a);  // a is now used more recently than b
  auto d = store.Create("d");
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.Touch(*a).has_value());
  EXPECT_FALSE(store.Touch(*b).has_value()) << "least recently used is evicted";
  store.Revoke(*c);
  EXPECT_FALSE(store.Touch(*c).has_value());
  store.RevokeUser("d");
  EXPECT_FALSE(store.Touch(*d).has_value());
  EXPECT_TRUE(store.Touch(*a).has_value());
}

TEST(LoginLimiterTest, PerUserAndPerAddressWithWindow) {
  ManualClock clock(1000);
  LoginLimits limits;
  limits.window = std::chrono::seconds(600);
  limits.failures_per_user = 3;
  limits.failures_per_address = 5;
  LoginLimiter limiter(&clock, limits);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.RetryAfter("alice", "10.0.0.1"), 0);
    limiter.RecordFailure("alice", "10.0.0.1");
    clock.Advance(10);
  }
  EXPECT_EQ(limiter.RetryAfter("alice", "10.0.0.2"), 600 - 30);
  EXPECT_EQ(limiter.RetryAfter("bob", "10.0.0.2"), 0);
  limiter.RecordFailure("bob", "10.0.0.1");
  limiter.RecordFailure("carol", "10.0.0.1");
  EXPECT_GT(limiter.RetryAfter("dave", "10.0.0.1"), 0) << "five failures from one address";
  clock.Advance(600);
  EXPECT_EQ(limiter.RetryAfter("alice", "10.0.0.1"), 0) << "the window passed";
  limiter.RecordFailure("erin", "10.0.0.3");
  limiter.RecordSuccess("erin");
  EXPECT_EQ(limiter.RetryAfter("erin", "10.0.0.4"), 0);
}

TEST(LoginLimiterTest, MemoryIsBounded) {
  ManualClock clock(1000);
  LoginLimits limits;
  limits.max_keys = 10;
  limits.failures_per_user = 1;
  LoginLimiter limiter(&clock, limits);
  for (int i = 0; i < 1000; ++i) {
    limiter.RecordFailure("user" + std::to_string(i), "addr");
    clock.Advance(1);
  }
  // The newest name is still limited; what was evicted is the oldest.
  EXPECT_GT(limiter.RetryAfter("user999", "other"), 0);
  EXPECT_EQ(limiter.RetryAfter("user0", "other"), 0);
}

}  // namespace
}  // namespace mailvault
