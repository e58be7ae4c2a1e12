// AccountStore: the POP3 accounts mailvault collects, kept in the catalog's
// `accounts` table (configuration, not derived from packs: Archive::Rebuild
// carries the table over). Passwords are sealed with SecretBox (AES-256-GCM,
// key file in the data directory) and never stored, logged or printed in
// plain text.
//
// Thread-safety: the store is as thread-safe as Archive::WithCatalog (every
// call is serialised there). The Archive and SecretBox are borrowed and must
// outlive the store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "collector/secret_box.h"
#include "config/settings.h"

namespace mailvault {

// One account as stored. The password is not part of it (see Password()).
struct Account {
  std::string name;  // [A-Za-z0-9._@-], 1-64 characters, not starting with '.'
  std::string host;
  int port = 0;  // 0: the TLS mode's default (995 pop3s, 110 otherwise)
  std::string user;
  TlsMode tls = TlsMode::kPop3s;
  std::string ca;           // CA file (PEM); empty: the system store (or the pin)
  std::string fingerprint;  // pinned certificate SHA-256, 64 lowercase hex; empty: none
  DeletePolicy policy;      // default keep
  std::string schedule;     // cron; empty: the [collector] default
  int64_t created_at = 0;
  int64_t updated_at = 0;

  int EffectivePort() const { return port != 0 ? port : (tls == TlsMode::kPop3s ? 995 : 110); }
};

// kInvalidArgument naming the field when `account` cannot be stored (bad name,
// empty host or user, port out of range, a fingerprint that is not SHA-256,
// both CA and fingerprint). Normalises the fingerprint in place.
Status ValidateAccount(Account* account);

class AccountStore {
 public:
  // `box` may be null for a store that only lists and removes.
  AccountStore(Archive* archive, const SecretBox* box, const Clock* clock = nullptr);

  // kAlreadyExists when the name is taken. REQUIRES: a SecretBox.
  Status Add(Account account, std::string_view password);
  // Changes the settings of an existing account (created_at stays), and its
  // password when `password` is given. kNotFound naming the account.
  // REQUIRES: a SecretBox when a password is given.
  Status Update(Account account, std::optional<std::string_view> password);
  // Adds the account, or updates it when it exists (accounts declared in the
  // configuration file). Returns true when it was created. REQUIRES: a SecretBox.
  Result<bool> Put(Account account, std::string_view password);
  // In name order.
  Result<std::vector<Account>> List();
  // kNotFound naming the account.
  Result<Account> Get(std::string_view name);
  // The decrypted password (for a session only: do not keep, log or print it).
  // REQUIRES: a SecretBox.
  Result<std::string> Password(std::string_view name);
  // Removes the account; its archived mail, ledger and run history stay.
  // kNotFound when there is no such account.
  Status Remove(std::string_view name);

 private:
  Archive* archive_;
  const SecretBox* box_;
  const Clock* clock_;
};

}  // namespace mailvault
