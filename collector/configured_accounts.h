// Accounts declared as code: the [account.NAME] sections of mailvault.ini are
// created or updated in the catalog at start (`serve`, `collect`), so an
// appliance can be configured from a file alone.
//
// All or nothing: every section is validated and its password file read before
// any account is written, so a bad section changes nothing. Errors name the
// file, the section's line and the section, e.g.
//   /etc/mailvault.ini:14: [account.sales]: cannot read password_file ...
// Accounts in the catalog that the file does not name are left alone (they
// were added with `account add` or the web UI).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "collector/account_store.h"
#include "config/settings.h"

namespace mailvault {

// The first line of a password file, without its line end. kInvalidArgument
// when it is empty; the file's own errors otherwise.
Result<std::string> ReadPasswordFile(const std::string& path);

// The Account an [account.NAME] section describes.
Account AccountFromSettings(const AccountSettings& settings);

// An account section checked and its password read, ready to be stored.
struct PreparedAccount {
  Account account;
  std::string password;
  std::string where;  // "file:line: [account.NAME]", for messages
};

// Validates every section and reads its password file; touches nothing.
Result<std::vector<PreparedAccount>> PrepareConfiguredAccounts(
    const std::vector<AccountSettings>& accounts, std::string_view config_file);

struct ConfiguredAccountsReport {
  std::vector<std::string> created;
  std::vector<std::string> updated;
};

// Creates or updates the prepared accounts in `store`, which must have a SecretBox.
Result<ConfiguredAccountsReport> StoreConfiguredAccounts(AccountStore& store,
                                                         std::vector<PreparedAccount> prepared);

// Both steps: prepare, then store.
Result<ConfiguredAccountsReport> ApplyConfiguredAccounts(
    AccountStore& store, const std::vector<AccountSettings>& accounts,
    std::string_view config_file);

}  // namespace mailvault
