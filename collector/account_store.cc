#include "collector/account_store.h"

#include "collector/pop3_session.h"

namespace mailvault {
namespace {

constexpr const char* kColumns =
    "name, host, port, user, tls, ca, fingerprint, policy, schedule, created_at, updated_at";

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<Account> ReadAccount(const SqliteStatement& st) {
  Account a;
  a.name = std::string(st.ColumnText(0));
  a.host = std::string(st.ColumnText(1));
  a.port = static_cast<int>(st.ColumnInt(2));
  a.user = std::string(st.ColumnText(3));
  std::string_view tls = st.ColumnText(4);
  if (tls == "pop3s") {
    a.tls = TlsMode::kPop3s;
  } else if (tls == "starttls") {
    a.tls = TlsMode::kStarttls;
  } else if (tls == "none") {
    a.tls = TlsMode::kNone;
  } else {
    return Status::Corruption("account " + a.name + ": unknown tls mode '" + std::string(tls) +
                              "'");
  }
  a.ca = std::string(st.ColumnText(5));
  a.fingerprint = std::string(st.ColumnText(6));
  MV_ASSIGN_OR_RETURN(a.policy, DeletePolicy::Parse(st.ColumnText(7)));
  a.schedule = std::string(st.ColumnText(8));
  a.created_at = st.ColumnInt(9);
  a.updated_at = st.ColumnInt(10);
  return a;
}

}  // namespace

Status ValidateAccount(Account* a) {
  if (!ValidName(a->name)) {
    return Status::InvalidArgument("account name '" + a->name +
                                   "': use 1-64 of A-Z a-z 0-9 . _ @ -, not starting with '.'");
  }
  if (a->host.empty())
    return Status::InvalidArgument("account " + a->name + ": --host is required");
  if (a->user.empty())
    return Status::InvalidArgument("account " + a->name + ": --user is required");
  if (a->port < 0 || a->port > 65535) {
    return Status::InvalidArgument("account " + a->name + ": --port must be 1-65535");
  }
  if (!a->fingerprint.empty()) {
    auto normal = NormalizeFingerprint(a->fingerprint);
    if (!normal.ok()) return normal.status().WithContext("account " + a->name + ": --fingerprint");
    a->fingerprint = *normal;
  }
  if (a->tls == TlsMode::kNone && (!a->ca.empty() || !a->fingerprint.empty())) {
    return Status::InvalidArgument("account " + a->name +
                                   ": --ca and --fingerprint need --tls pop3s or starttls");
  }
  return Status::Ok();
}

AccountStore::AccountStore(Archive* archive, const SecretBox* box, const Clock* clock)
    : archive_(archive), box_(box), clock_(clock ? clock : &SystemClock::Instance()) {}

Status AccountStore::Add(Account a, std::string_view password) {
  if (box_ == nullptr) return Status::Internal("AccountStore::Add without a SecretBox");
  MV_RETURN_IF_ERROR(ValidateAccount(&a));
  if (password.empty())
    return Status::InvalidArgument("account " + a.name + ": the password is empty");
  MV_ASSIGN_OR_RETURN(std::string sealed, box_->Seal(password, a.name));
  const int64_t now = clock_->NowUnixSeconds();
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement exists,
                        c.database().Prepare("SELECT 1 FROM accounts WHERE name=?"));
    exists.Bind(1, a.name);
    MV_ASSIGN_OR_RETURN(bool found, exists.Step());
    if (found) {
      return Status::AlreadyExists("account " + a.name +
                                   " exists already (remove it first to change it)");
    }
    MV_ASSIGN_OR_RETURN(
        SqliteStatement st,
        c.database().Prepare("INSERT INTO accounts(name, host, port, user, password, "
                             "tls, ca, fingerprint, policy, schedule, created_at, "
                             "updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, a.name)
        .Bind(2, a.host)
        .Bind(3, static_cast<int64_t>(a.port))
        .Bind(4, a.user)
        .BindBlob(5, sealed)
        .Bind(6, TlsModeName(a.tls))
        .Bind(7, a.ca)
        .Bind(8, a.fingerprint)
        .Bind(9, a.policy.ToString())
        .Bind(10, a.schedule)
        .Bind(11, now)
        .Bind(12, now);
    return st.Run();
  });
}

Status AccountStore::Update(Account a, std::optional<std::string_view> password) {
  MV_RETURN_IF_ERROR(ValidateAccount(&a));
  std::optional<std::string> sealed;
  if (password) {
    if (box_ == nullptr) return Status::Internal("AccountStore::Update without a SecretBox");
    if (password->empty())
      return Status::InvalidArgument("account " + a.name + ": the password is empty");
    MV_ASSIGN_OR_RETURN(sealed, box_->Seal(*password, a.name));
  }
  const int64_t now = clock_->NowUnixSeconds();
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(
        SqliteStatement st,
        c.database().Prepare("UPDATE accounts SET host=?, port=?, user=?, tls=?, ca=?, "
                             "fingerprint=?, policy=?, schedule=?, updated_at=?, "
                             "password=coalesce(?, password) WHERE name=?"));
    st.Bind(1, a.host)
        .Bind(2, static_cast<int64_t>(a.port))
        .Bind(3, a.user)
        .Bind(4, TlsModeName(a.tls))
        .Bind(5, a.ca)
        .Bind(6, a.fingerprint)
        .Bind(7, a.policy.ToString())
        .Bind(8, a.schedule)
        .Bind(9, now)
        .Bind(11, a.name);
    if (sealed) st.BindBlob(10, *sealed);
    MV_RETURN_IF_ERROR(st.Run());
    if (c.database().Changes() == 0) return Status::NotFound("no account named " + a.name);
    return Status::Ok();
  });
}

Result<bool> AccountStore::Put(Account a, std::string_view password) {
  Status updated = Update(a, password);
  if (updated.code() != StatusCode::kNotFound) {
    MV_RETURN_IF_ERROR(updated);
    return false;
  }
  // Two processes putting the same new account race here; the loser sees
  // kAlreadyExists and updates instead.
  Status added = Add(a, password);
  if (added.code() == StatusCode::kAlreadyExists) {
    MV_RETURN_IF_ERROR(Update(std::move(a), password));
    return false;
  }
  MV_RETURN_IF_ERROR(added);
  return true;
}

Result<std::vector<Account>> AccountStore::List() {
  std::vector<Account> out;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st, c.database().Prepare(std::string("SELECT ") + kColumns +
                                                                 " FROM accounts ORDER BY name"));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      MV_ASSIGN_OR_RETURN(Account a, ReadAccount(st));
      out.push_back(std::move(a));
    }
  }));
  return out;
}

Result<Account> AccountStore::Get(std::string_view name) {
  std::optional<Account> out;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st, c.database().Prepare(std::string("SELECT ") + kColumns +
                                                                 " FROM accounts WHERE name=?"));
    st.Bind(1, name);
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    MV_ASSIGN_OR_RETURN(Account a, ReadAccount(st));
    out = std::move(a);
    return Status::Ok();
  }));
  if (!out)
    return Status::NotFound("no account named " + std::string(name) +
                            " (see `mailvault account list`)");
  return *std::move(out);
}

Result<std::string> AccountStore::Password(std::string_view name) {
  if (box_ == nullptr) return Status::Internal("AccountStore::Password without a SecretBox");
  std::optional<std::string> sealed;
  MV_RETURN_IF_ERROR(archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare("SELECT password FROM accounts WHERE name=?"));
    st.Bind(1, name);
    MV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) sealed = std::string(st.ColumnBlob(0));
    return Status::Ok();
  }));
  if (!sealed) return Status::NotFound("no account named " + std::string(name));
  auto plain = box_->Unseal(*sealed, name);
  if (!plain.ok()) return plain.status().WithContext("password of account " + std::string(name));
  return plain;
}

Status AccountStore::Remove(std::string_view name) {
  return archive_->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        c.database().Prepare("DELETE FROM accounts WHERE name=?"));
    st.Bind(1, name);
    MV_RETURN_IF_ERROR(st.Run());
    if (c.database().Changes() == 0)
      return Status::NotFound("no account named " + std::string(name));
    return Status::Ok();
  });
}

}  // namespace mailvault
