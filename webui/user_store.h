// UserStore: the people who may use the web UI, with their role and, for the
// role `user`, the POP3 accounts whose mail they may read. Kept in the
// catalog's `users` and `user_accounts` tables (operational data: a rebuild
// carries them over). Passwords are stored only as argon2id hashes
// (webui/password.h).
//
// Roles (ARCHITECTURE.md, webui/):
//   admin    accounts, users, settings, audit log; may also read all mail
//   auditor  reads (searches, views, exports) all mail; reads the audit log
//   user     reads the mail of the accounts granted to them, nothing else
//
// The store refuses to remove or demote the last admin, so the appliance can
// always be administered from the web UI.
//
// Thread-safety: as thread-safe as Archive::WithCatalog (every call is
// serialised there; password hashing runs outside it). The Archive and Clock
// are borrowed and must outlive the store.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "webui/password.h"

namespace mailvault {

enum class Role { kAdmin, kAuditor, kUser };
std::string_view RoleName(Role role);  // "admin", "auditor", "user"
// kInvalidArgument naming the allowed values.
Result<Role> ParseRole(std::string_view text);

struct User {
  std::string name;  // [A-Za-z0-9._@-], 1-64 characters, not starting with '.'
  Role role = Role::kUser;
  std::vector<std::string> accounts;  // granted accounts (role user), sorted
  int64_t created_at = 0;
  int64_t updated_at = 0;

  // Reads all mail (admin, auditor) rather than only granted accounts.
  bool reads_all_mail() const { return role != Role::kUser; }
};

class UserStore {
 public:
  UserStore(Archive* archive, const Clock* clock = nullptr, PasswordHashParams params = {});

  // kAlreadyExists when the name is taken; kInvalidArgument for a bad name,
  // an empty password or an account name that is not valid.
  Status Add(const std::string& name, Role role, std::string_view password,
             std::vector<std::string> accounts);
  Status SetPassword(const std::string& name, std::string_view password);
  // Changes the role and/or the granted accounts (nullopt: unchanged).
  Status Update(const std::string& name, std::optional<Role> role,
                std::optional<std::vector<std::string>> accounts);
  // kNotFound when there is no such user.
  Status Remove(const std::string& name);
  Result<User> Get(const std::string& name);
  // In name order.
  Result<std::vector<User>> List();
  Result<uint64_t> Count();

  // The user when `password` is theirs. kAuthFailed with the same message
  // whether the user is unknown or the password wrong, and about the same
  // time (an unknown user still costs one hash verification).
  Result<User> Authenticate(const std::string& name, std::string_view password);

  // At first start: when no user exists, creates `admin` with a generated
  // password and returns that password (to be printed once, never stored in
  // plain text). nullopt when users exist already.
  Result<std::optional<std::string>> EnsureFirstAdmin();

 private:
  Result<std::optional<User>> Find(Catalog& c, const std::string& name);
  Result<uint64_t> CountAdmins(Catalog& c);

  Archive* archive_;
  const Clock* clock_;
  PasswordHashParams params_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // verified for unknown users, so they cost the same
};

// kInvalidArgument when `name` is not a valid user (or account) name.
Status ValidateUserName(std::string_view name, std::string_view what = "user name");

}  // namespace mailvault
