// The web UI's user and audit commands of the command line:
//   user add NAME --role admin|auditor|user [--password-file F] [--accounts A,B]
//   user passwd NAME [--password-file F]
//   user remove NAME
//   user list [--json]
//   audit verify
// Thin wrappers over webui/user_store.h and webui/audit_log.h. Without
// --password-file a password is generated and printed once. Every change is
// written to the audit log (address "cli"). Exit status 0 on success, 1 on
// failure (for `audit verify`: a broken chain).
#pragma once

#include <string>

#include "app/archive_commands.h"

namespace mailvault {

struct UserFlags {
  std::string name;
  std::string role;
  std::string password_file;  // empty: generate one
  std::string accounts;       // comma-separated; empty: none
  bool json = false;
};

int RunUserAdd(const GlobalFlags& g, const UserFlags& f);
int RunUserPasswd(const GlobalFlags& g, const UserFlags& f);
int RunUserRemove(const GlobalFlags& g, const UserFlags& f);
int RunUserList(const GlobalFlags& g, const UserFlags& f);
int RunAuditVerify(const GlobalFlags& g);

}  // namespace mailvault
