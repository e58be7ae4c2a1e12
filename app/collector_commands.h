// The collector commands of the command line: `account add|list|test|remove`
// and `collect`. Thin wrappers over collector/ that print human or JSON output
// and return the exit status (0 success, 1 failure: any run failed).
#pragma once

#include <string>

#include "app/archive_commands.h"

namespace mailvault {

struct AccountAddFlags {
  std::string name;
  std::string host;
  int port = 0;
  std::string user;
  std::string password_file;
  std::string tls;
  std::string ca;
  std::string fingerprint;
  std::string policy = "keep";
  std::string schedule;
};

struct CollectFlags {
  bool json = false;
  std::string account;        // empty: every account
  size_t commit_every = 500;  // messages per durable commit
};

int RunAccountAdd(const GlobalFlags& g, const AccountAddFlags& f);
int RunAccountList(const GlobalFlags& g, bool json);
int RunAccountTest(const GlobalFlags& g, const std::string& name);
int RunAccountRemove(const GlobalFlags& g, const std::string& name);
int RunCollect(const GlobalFlags& g, const CollectFlags& f);

}  // namespace mailvault
