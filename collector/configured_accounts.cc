#include "collector/configured_accounts.h"

#include <utility>

#include "base/file.h"

namespace mailvault {

Result<std::string> ReadPasswordFile(const std::string& path) {
  MV_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 4096));
  size_t end = text.find_first_of("\r\n");
  if (end != std::string::npos) text.resize(end);
  if (text.empty()) return Status::InvalidArgument("the password file " + path + " is empty");
  return text;
}

Account AccountFromSettings(const AccountSettings& s) {
  Account a;
  a.name = s.name;
  a.host = s.host;
  a.port = s.port;
  a.user = s.user;
  a.tls = s.tls;
  a.ca = s.ca;
  a.fingerprint = s.fingerprint;
  a.policy = s.policy;
  a.schedule = s.schedule;
  return a;
}

Result<std::vector<PreparedAccount>> PrepareConfiguredAccounts(
    const std::vector<AccountSettings>& accounts, std::string_view config_file) {
  std::vector<PreparedAccount> prepared;
  for (const AccountSettings& s : accounts) {
    std::string where =
        std::string(config_file) + ":" + std::to_string(s.line) + ": [account." + s.name + "]";
    Account a = AccountFromSettings(s);
    Status valid = ValidateAccount(&a);
    if (!valid.ok()) return valid.WithContext(where);
    auto password = ReadPasswordFile(s.password_file);
    if (!password.ok()) return password.status().WithContext(where + ": password_file");
    prepared.push_back({std::move(a), *std::move(password), std::move(where)});
  }
  return prepared;
}

Result<ConfiguredAccountsReport> StoreConfiguredAccounts(AccountStore& store,
                                                         std::vector<PreparedAccount> prepared) {
  ConfiguredAccountsReport report;
  for (PreparedAccount& p : prepared) {
    std::string name = p.account.name;
    auto created = store.Put(std::move(p.account), p.password);
    if (!created.ok()) return created.status().WithContext(p.where);
    (*created ? report.created : report.updated).push_back(std::move(name));
  }
  return report;
}

Result<ConfiguredAccountsReport> ApplyConfiguredAccounts(
    AccountStore& store, const std::vector<AccountSettings>& accounts,
    std::string_view config_file) {
  MV_ASSIGN_OR_RETURN(std::vector<PreparedAccount> prepared,
                      PrepareConfiguredAccounts(accounts, config_file));
  return StoreConfiguredAccounts(store, std::move(prepared));
}

}  // namespace mailvault
