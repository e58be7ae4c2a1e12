#include "app/user_commands.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdio>
#include <sstream>

#include "collector/configured_accounts.h"
#include "webui/audit_log.h"
#include "webui/user_store.h"

namespace mailvault {
namespace {

std::vector<std::string> SplitAccounts(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The password from --password-file, or a generated one (printed by the caller).
Result<std::string> PasswordFor(const UserFlags& f, bool* generated) {
  *generated = f.password_file.empty();
  if (*generated) return GeneratePassword();
  return ReadPasswordFile(f.password_file);
}

void Audit(Archive& archive, const std::string& action, const std::string& target,
           const std::string& detail) {
  AuditEntry e;
  e.address = "cli";
  e.action = action;
  e.target = target;
  e.outcome = "ok";
  e.detail = detail;
  auto id = AuditLog(&archive).Append(std::move(e));
  if (!id.ok()) std::fprintf(stderr, "mailvault: warning: %s\n", id.status().ToString().c_str());
}

}  // namespace

int RunUserAdd(const GlobalFlags& g, const UserFlags& f) {
  auto role = ParseRole(f.role);
  if (!role.ok()) return Fail(role.status().WithContext("--role"));
  bool generated = false;
  auto password = PasswordFor(f, &generated);
  if (!password.ok()) return Fail(password.status());
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree, /*create=*/true);
  if (!archive.ok()) return Fail(archive.status());
  UserStore users(archive->get());
  Status s = users.Add(f.name, *role, *password, SplitAccounts(f.accounts));
  if (!s.ok()) return Fail(s);
  Audit(**archive, "user.add", f.name, "role " + f.role + ", accounts " + f.accounts);
  std::printf("user %s added (%s)\n", f.name.c_str(), f.role.c_str());
  if (generated) std::printf("password: %s\n", password->c_str());
  return 0;
}

int RunUserPasswd(const GlobalFlags& g, const UserFlags& f) {
  bool generated = false;
  auto password = PasswordFor(f, &generated);
  if (!password.ok()) return Fail(password.status());
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  Status s = UserStore(archive->get()).SetPassword(f.name, *password);
  if (!s.ok()) return Fail(s);
  Audit(**archive, "user.passwd", f.name, "");
  std::printf("password of %s changed (a running server ends their sessions at its next "
              "check)\n", f.name.c_str());
  if (generated) std::printf("password: %s\n", password->c_str());
  return 0;
}

int RunUserRemove(const GlobalFlags& g, const UserFlags& f) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  Status s = UserStore(archive->get()).Remove(f.name);
  if (!s.ok()) return Fail(s);
  Audit(**archive, "user.remove", f.name, "");
  std::printf("user %s removed\n", f.name.c_str());
  return 0;
}

int RunUserList(const GlobalFlags& g, const UserFlags& f) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto users = UserStore(archive->get()).List();
  if (!users.ok()) return Fail(users.status());
  if (f.json) {
    Poco::JSON::Array list;
    for (const User& u : *users) {
      Poco::JSON::Object o;
      o.set("name", u.name);
      o.set("role", std::string(RoleName(u.role)));
      Poco::JSON::Array accounts;
      for (const std::string& a : u.accounts) accounts.add(a);
      o.set("accounts", accounts);
      list.add(o);
    }
    Poco::JSON::Object doc;
    doc.set("users", list);
    std::ostringstream out;
    doc.stringify(out);
    std::printf("%s\n", out.str().c_str());
    return 0;
  }
  for (const User& u : *users) {
    std::string accounts;
    for (const std::string& a : u.accounts) accounts += (accounts.empty() ? "" : ",") + a;
    std::printf("%-24s %-8s %s\n", u.name.c_str(), std::string(RoleName(u.role)).c_str(),
                accounts.c_str());
  }
  return 0;
}

int RunAuditVerify(const GlobalFlags& g) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto report = AuditLog(archive->get()).Verify();
  if (!report.ok()) return Fail(report.status());
  if (!report->ok) {
    std::fprintf(stderr, "mailvault: audit log broken at entry %lld: %s\n",
                 static_cast<long long>(report->first_broken_id), report->problem.c_str());
    return 1;
  }
  std::printf("audit log ok: %llu entries, last id %lld\n",
              static_cast<unsigned long long>(report->entries),
              static_cast<long long>(report->last_id));
  return 0;
}

}  // namespace mailvault
