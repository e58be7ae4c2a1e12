#include "webui/user_store.h"

#include <algorithm>

namespace mailvault {
namespace {

// Runs `body` inside a transaction on `c`, rolling back on error.
Status InTransaction(Catalog& c, const std::function<Status()>& body) {
  MV_RETURN_IF_ERROR(c.Begin());
  Status s = body();
  if (!s.ok()) {
    c.Rollback();
    return s;
  }
  return c.Commit();
}

Status ValidateAccounts(std::vector<std::string>* accounts) {
  for (const std::string& a : *accounts) MV_RETURN_IF_ERROR(ValidateUserName(a, "account name"));
  std::sort(accounts->begin(), accounts->end());
  accounts->erase(std::unique(accounts->begin(), accounts->end()), accounts->end());
  return Status::Ok();
}

Status WriteGrants(Catalog& c, const std::string& user, const std::vector<std::string>& accounts) {
  MV_ASSIGN_OR_RETURN(SqliteStatement del,
                      c.database().Prepare("DELETE FROM user_accounts WHERE user=?"));
  del.Bind(1, user);
  MV_RETURN_IF_ERROR(del.Run());
  MV_ASSIGN_OR_RETURN(SqliteStatement ins,
                      c.database().Prepare("INSERT INTO user_accounts(user, account) VALUES(?,?)"));
  for (const std::string& a : accounts) {
    ins.Reset();
    ins.Bind(1, user).Bind(2, a);
    MV_RETURN_IF_ERROR(ins.Run());
  }
  return Status::Ok();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kAuditor: return "auditor";
    case Role::kUser: return "user";
  }
  return "user";
}

Result<Role> ParseRole(std::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "auditor") return Role::kAuditor;
  if (text == "user") return Role::kUser;
  return Status::InvalidArgument("role '" + std::string(text) +
                                 "': expected admin, auditor or user");
}

Status ValidateUserName(std::string_view name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '@' || c == '-');
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " '" + std::string(name.substr(0, 80)) +
                                 "': use 1-64 of A-Z a-z 0-9 . _ @ -, not starting with '.'");
}

UserStore::UserStore(Archive* archive, const Clock* clock, PasswordHashParams params)
    : archive_(archive), clock_(clock ? clock : &SystemClock::Instance()), params_(params) {}

Result<std::optional<User>> UserStore::Find(Catalog& c, const std::string& name) {
  MV_ASSIGN_OR_RETURN(SqliteStatement st,
                      c.database().Prepare("SELECT role, created_at, updated_at FROM users "
                                           "WHERE name=?"));
  st.Bind(1, name);
  MV_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<User>();
  User u;
  u.name = name;
  MV_ASSIGN_OR_RETURN(u.role, ParseRole(st.ColumnText(0)));
  u.created_at = st.ColumnInt(1);
  u.updated_at = st.ColumnInt(2);
  MV_ASSIGN_OR_RETURN(SqliteStatement grants,
                      c.database().Prepare("SELECT account FROM user_accounts WHERE user=? "
                                           "ORDER BY account"));
  grants.Bind(1, name);
  for (;;) {
    MV_ASSIGN_OR_RETURN(bool g, grants.Step());
    if (!g) break;
    u.accounts.emplace_back(grants.ColumnText(0));
  }
  return std::optional<User>(std::move(u));
}

Result<uint64_t> UserStore::CountAdmins(Catalog& c) {
  MV_ASSIGN_OR_RETURN(int64_t n,
                      c.database().QueryInt("SELECT count(*) FROM users WHERE role='admin'"));
  return static_cast<uint64_t>(n);
}

Status UserStore::Add(const std::string& name, Role role, std::string_view password,
                      std::vector<std::string> accounts) {
  MV_RETURN_IF_ERROR(ValidateUserName(name));
  MV_RETURN_IF_ERROR(ValidateAccounts(&accounts));
  auto hash = HashPassword(password, params_);
  if (!hash.ok()) return hash.status().WithContext("user " + name);
  const int64_t now = clock_->NowUnixSeconds();
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    return InTransaction(c, [&]() -> Status {
      MV_ASSIGN_OR_RETURN(std::optional<User> existing, Find(c, name));
      if (existing) return Status::AlreadyExists("user " + name + " exists already");
      MV_ASSIGN_OR_RETURN(SqliteStatement st,
                          c.database().Prepare("INSERT INTO users(name, role, password_hash, "
                                               "created_at, updated_at) VALUES(?,?,?,?,?)"));
      st.Bind(1, name).Bind(2, RoleName(role)).Bind(3, *hash).Bind(4, now).Bind(5, now);
      MV_RETURN_IF_ERROR(st.Run());
      return WriteGrants(c, name, accounts);
    });
  });
}

Status UserStore::SetPassword(const std::string& name, std::string_view password) {
  auto hash = HashPassword(password, params_);
  if (!hash.ok()) return hash.status().WithContext("user " + name);
  const int64_t now = clock_->NowUnixSeconds();
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare("UPDATE users SET password_hash=?, updated_at=? "
                                             "WHERE name=?"));
    st.Bind(1, *hash).Bind(2, now).Bind(3, name);
    MV_RETURN_IF_ERROR(st.Run());
    if (c.database().Changes() == 0) return Status::NotFound("no user named " + name);
    return Status::Ok();
  });
}

Status UserStore::Update(const std::string& name, std::optional<Role> role,
                         std::optional<std::vector<std::string>> accounts) {
  if (accounts) MV_RETURN_IF_ERROR(ValidateAccounts(&*accounts));
  const int64_t now = clock_->NowUnixSeconds();
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    return InTransaction(c, [&]() -> Status {
      MV_ASSIGN_OR_RETURN(std::optional<User> existing, Find(c, name));
      if (!existing) return Status::NotFound("no user named " + name);
      if (role && *role != Role::kAdmin && existing->role == Role::kAdmin) {
        MV_ASSIGN_OR_RETURN(uint64_t admins, CountAdmins(c));
        if (admins <= 1) {
          return Status::InvalidArgument("user " + name + " is the last admin; make another "
                                         "user admin first");
        }
      }
      MV_ASSIGN_OR_RETURN(SqliteStatement st,
                          c.database().Prepare("UPDATE users SET role=?, updated_at=? "
                                               "WHERE name=?"));
      st.Bind(1, RoleName(role.value_or(existing->role))).Bind(2, now).Bind(3, name);
      MV_RETURN_IF_ERROR(st.Run());
      if (accounts) MV_RETURN_IF_ERROR(WriteGrants(c, name, *accounts));
      return Status::Ok();
    });
  });
}

Status UserStore::Remove(const std::string& name) {
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    return InTransaction(c, [&]() -> Status {
      MV_ASSIGN_OR_RETURN(std::optional<User> existing, Find(c, name));
      if (!existing) return Status::NotFound("no user named " + name);
      if (existing->role == Role::kAdmin) {
        MV_ASSIGN_OR_RETURN(uint64_t admins, CountAdmins(c));
        if (admins <= 1) {
          return Status::InvalidArgument("user " + name + " is the last admin and cannot be "
                                         "removed");
        }
      }
      MV_RETURN_IF_ERROR(WriteGrants(c, name, {}));
      MV_ASSIGN_OR_RETURN(SqliteStatement st,
                          c.database().Prepare("DELETE FROM users WHERE name=?"));
      st.Bind(1, name);
      return st.Run();
    });
  });
}

Result<User> UserStore::Get(const std::string& name) {
  std::optional<User> user;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(user, Find(c, name));
    return Status::Ok();
  }));
  if (!user) return Status::NotFound("no user named " + name);
  return std::move(*user);
}

Result<std::vector<User>> UserStore::List() {
  std::vector<User> out;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare("SELECT name FROM users ORDER BY name"));
    std::vector<std::string> names;
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      names.emplace_back(st.ColumnText(0));
    }
    for (const std::string& n : names) {
      MV_ASSIGN_OR_RETURN(std::optional<User> u, Find(c, n));
      if (u) out.push_back(std::move(*u));
    }
    return Status::Ok();
  }));
  return out;
}

Result<uint64_t> UserStore::Count() {
  uint64_t n = 0;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(int64_t count, c.database().QueryInt("SELECT count(*) FROM users"));
    n = static_cast<uint64_t>(count);
    return Status::Ok();
  }));
  return n;
}

Result<User> UserStore::Authenticate(const std::string& name, std::string_view password) {
  const Status refused = Status::AuthFailed("wrong user name or password");
  std::optional<std::string> hash;
  std::optional<User> user;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st, c.database().Prepare(
                                                "SELECT password_hash FROM users WHERE name=?"));
    st.Bind(1, name);
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    hash = std::string(st.ColumnText(0));
    MV_ASSIGN_OR_RETURN(user, Find(c, name));
    return Status::Ok();
  }));
  if (!hash || !user) {
    // Same work as a real check, so response time does not tell which names exist.
    std::call_once(dummy_once_, [this] {
      auto dummy = HashPassword("mailvault-no-such-user", params_);
      if (dummy.ok()) dummy_hash_ = *dummy;
    });
    VerifyPassword(password, dummy_hash_);
    return refused;
  }
  if (!VerifyPassword(password, *hash)) return refused;
  return std::move(*user);
}

Result<std::optional<std::string>> UserStore::EnsureFirstAdmin() {
  MV_ASSIGN_OR_RETURN(uint64_t users, Count());
  if (users > 0) return std::optional<std::string>();
  MV_ASSIGN_OR_RETURN(std::string password, GeneratePassword());
  Status s = Add("admin", Role::kAdmin, password, {});
  // Another process created the first admin between Count and Add: theirs stands.
  if (s.code() == StatusCode::kAlreadyExists) return std::optional<std::string>();
  MV_RETURN_IF_ERROR(s);
  return std::optional<std::string>(std::move(password));
}

}  // namespace mailvault
